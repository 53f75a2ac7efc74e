package pipeline_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/pipeline"
	"github.com/cairn-mlops/cairn/internal/store/artifacts"
)

// setupFiles is an engine whose local tasks keep their files in a real
// artifact store, as the server's and 'cairn run”s do.
func setupFiles(t *testing.T) (*fixture, artifact.Store) {
	art, err := artifacts.Open(context.Background(), filepath.Join(t.TempDir(), "artifacts"), artifacts.DefaultOptions())
	require.NoError(t, err)
	f := setup(t, nil)
	f.e = newEngine(f.db, filepath.Join(f.dir, "pipelines"), func(o *pipeline.Options) {
		o.Files = pipeline.NewArtifactFiles(f.db, artifacts.NewRoots(art))
	})
	return f, art
}

// stored reads a file a task stored in its tracking run.
func stored(t *testing.T, f *fixture, art artifact.Store, trackingRunID, rel string) string {
	t.Helper()
	run, err := f.db.FindRunByID(context.Background(), trackingRunID)
	require.NoError(t, err)
	_, base, err := artifacts.NewRoots(art).Resolve(run.Info.ArtifactURI)
	require.NoError(t, err)
	r, _, err := art.Get(context.Background(), base+"/"+exec.TaskFilesPrefix+"/"+rel)
	require.NoError(t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

const filesSpec = `
name: files
tasks:
  make:
    run: |
      mkdir -p "$CAIRN_OUTPUTS_DIR/model/weights"
      echo w1 > "$CAIRN_OUTPUTS_DIR/model/weights/w.bin"
      echo meta > "$CAIRN_OUTPUTS_DIR/model/meta.json"
      echo "path=$CAIRN_OUTPUTS_DIR/model" >> "$CAIRN_OUTPUTS"
    outputs: [path]
    artifacts: [model]
  use:
    needs: [make]
    run: |
      test -f FLAG || exit 3
      test "$(cat ${{ tasks.make.outputs.path }}/weights/w.bin)" = w1 || exit 4
      test "$(cat "$CAIRN_INPUTS_DIR/make/model/meta.json")" = meta || exit 5
`

// A local task's files go to the artifact store as a pod's do, and a
// downstream task whose upstream folder is gone or changed on this machine
// gets it back from there, at the same path.
func TestLocalTasksKeepTheirFilesInTheArtifactStore(t *testing.T) {
	f, art := setupFiles(t)
	flag := filepath.Join(f.dir, "FLAG")
	r := f.run(filesSpec, nil)
	require.Equal(t, pipeline.Failed, r.Phase, "use fails until FLAG exists")
	mk := tasks(r)["make"]
	require.Equal(t, pipeline.Succeeded, mk.Phase, mk.Message)
	require.Equal(t, "w1\n", stored(t, f, art, mk.TrackingRunID, "model/weights/w.bin"))
	require.Equal(t, "meta\n", stored(t, f, art, mk.TrackingRunID, "model/meta.json"))
	log, err := os.ReadFile(mk.LogPath)
	require.NoError(t, err)
	require.Contains(t, string(log), "=== stored 2 files of "+mk.OutputDir)

	for _, damage := range []struct {
		name string
		do   func(out string)
	}{
		{"gone", func(out string) { require.NoError(t, os.RemoveAll(out)) }},
		{"changed", func(out string) {
			require.NoError(t, os.WriteFile(filepath.Join(out, "model/weights/w.bin"), []byte("w2\n"), 0o644))
		}},
	} {
		t.Run(damage.name, func(t *testing.T) {
			require.NoError(t, os.RemoveAll(flag))
			r := f.run(filesSpec, nil)
			require.Equal(t, pipeline.Failed, r.Phase)
			mk := tasks(r)["make"]
			damage.do(mk.OutputDir)
			require.NoError(t, os.WriteFile(flag, nil, 0o644))
			_, err := f.e.Retry(context.Background(), r.ID, "")
			require.NoError(t, err)
			got, err := f.e.Execute(context.Background(), r.ID)
			require.NoError(t, err)
			use := tasks(got)["use"]
			require.Equal(t, pipeline.Succeeded, got.Phase, use.Message)
			require.Equal(t, 1, tasks(got)["make"].Attempts, "make is not run again")
			log, err := os.ReadFile(use.LogPath)
			require.NoError(t, err)
			require.Contains(t, string(log), "=== fetched 2 files of task make from run "+mk.TrackingRunID+" into "+mk.OutputDir)
			b, err := os.ReadFile(filepath.Join(mk.OutputDir, "model/weights/w.bin"))
			require.NoError(t, err)
			require.Equal(t, "w1\n", string(b))
		})
	}
}

// A task completed from the cache has its files in the run that made them;
// downstream tasks fetch them from there.
func TestCachedTaskFilesComeFromTheRunThatMadeThem(t *testing.T) {
	f, _ := setupFiles(t)
	src := `
name: cachedfiles
tasks:
  prep:
    run: echo data > "$CAIRN_OUTPUTS_DIR/data"
    cache: true
  use:
    needs: [prep]
    run: test "$(cat "$CAIRN_INPUTS_DIR/prep/data")" = data
`
	first := f.run(src, nil)
	require.Equal(t, pipeline.Succeeded, first.Phase, first.Message)
	require.NoError(t, os.RemoveAll(tasks(first)["prep"].OutputDir))
	second := f.run(src, nil)
	require.Equal(t, pipeline.Succeeded, second.Phase, tasks(second)["use"].Message)
	ts := tasks(second)
	require.Equal(t, first.ID+"/prep", ts["prep"].CachedFrom)
	log, err := os.ReadFile(ts["use"].LogPath)
	require.NoError(t, err)
	require.Contains(t, string(log), "=== fetched 1 files of task prep from run "+tasks(first)["prep"].TrackingRunID)
}

// What cannot be kept as files fails the task, naming the file, rather
// than leaving downstream tasks a folder the store cannot give back.
func TestLocalTaskWithALinkToAFolderFails(t *testing.T) {
	f, _ := setupFiles(t)
	r := f.run(`
name: linked
tasks:
  make:
    run: mkdir "$CAIRN_OUTPUTS_DIR/real" && ln -s "$CAIRN_OUTPUTS_DIR/real" "$CAIRN_OUTPUTS_DIR/alias"
`, nil)
	require.Equal(t, pipeline.Failed, r.Phase)
	require.Contains(t, tasks(r)["make"].Message, "store the task's files: alias is not a file")
}

// A prepared dataset is among its task's files: with the data folder's
// dataset cache and the task's folder gone, the task that trains on it
// still gets it, from the artifact store.
func TestPreparedDatasetTravelsWithTheTaskFiles(t *testing.T) {
	f, _ := setupFiles(t)
	flag := filepath.Join(f.dir, "FLAG")
	r := f.run(`
name: dataset
tasks:
  synth:
    uses: data.synth
    with: {kind: fingers, n: 24, size: 16}
  prepare:
    needs: [synth]
    uses: data.images
    with: {source: "${{ tasks.synth.outputs.path }}", size: 8}
  use:
    needs: [prepare]
    run: test -f FLAG && test -f "${{ tasks.prepare.outputs.dataset }}/manifest.json"
`, nil)
	require.Equal(t, pipeline.Failed, r.Phase)
	prep := tasks(r)["prepare"]
	require.Equal(t, pipeline.Succeeded, prep.Phase, prep.Message)
	require.NoError(t, os.RemoveAll(filepath.Join(f.dir, "cairn-data")), "the dataset cache")
	require.NoError(t, os.RemoveAll(prep.OutputDir))
	require.NoError(t, os.WriteFile(flag, nil, 0o644))
	_, err := f.e.Retry(context.Background(), r.ID, "")
	require.NoError(t, err)
	got, err := f.e.Execute(context.Background(), r.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.Succeeded, got.Phase, tasks(got)["use"].Message)
	log, err := os.ReadFile(tasks(got)["use"].LogPath)
	require.NoError(t, err)
	require.Contains(t, string(log), "files of task prepare from run "+prep.TrackingRunID)
}

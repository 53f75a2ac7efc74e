package pipeline_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/pipeline"
)

// A data.images task split into shards runs its copies at once and merges
// them into the dataset one copy makes: same cache key, same count.
func TestShardedDataImagesMatchesOneCopy(t *testing.T) {
	f := setup(t, nil)
	r := f.run(`
name: sharded
tasks:
  synth:
    uses: data.synth
    with: {kind: fingers, n: 48, size: 24}
  split:
    needs: [synth]
    uses: data.images
    shards: 3
    with: {source: "${{ tasks.synth.outputs.path }}", size: 16}
  whole:
    needs: [split]
    uses: data.images
    with: {source: "${{ tasks.synth.outputs.path }}", size: 16}
`, nil)
	ts := tasks(r)
	require.Equal(t, pipeline.Succeeded, r.Phase, "%s / %s", ts["split"].Message, ts["whole"].Message)
	require.Equal(t, ts["whole"].Outputs["hash"], ts["split"].Outputs["hash"])
	require.Equal(t, "48", ts["split"].Outputs["count"])
	require.Equal(t, filepath.Base(ts["whole"].Outputs["dataset"]), filepath.Base(ts["split"].Outputs["dataset"]))
	require.True(t, strings.HasPrefix(ts["split"].Outputs["dataset"], ts["split"].OutputDir+"/.cairn-data/datasets/"),
		"the dataset is among the task's files, so it travels with them")
	log, err := os.ReadFile(ts["split"].LogPath)
	require.NoError(t, err)
	for _, want := range []string{"=== split: 3 shards at once", "[shard 0] shard 0 of 3: images 0 to 16 of 48",
		"[shard 2] shard 2 of 3: images 32 to 48 of 48", "3 shards succeeded", "merged 3 shards: dataset", "(prepared"} {
		require.Contains(t, string(log), want)
	}
	wlog, err := os.ReadFile(ts["whole"].LogPath)
	require.NoError(t, err)
	require.Contains(t, string(wlog), "cache hit", "one copy finds what the shards made")
	_, err = os.Stat(ts["split"].OutputDir + "/.cairn-shards")
	require.True(t, os.IsNotExist(err), "the merge removes the parts")
}

// A shard that fails fails the attempt, naming the shard; shards: is only
// for steps that can share their work.
func TestShardFailureAndValidation(t *testing.T) {
	f := setup(t, nil)
	r := f.run(`
name: badshards
tasks:
  split:
    uses: data.images
    shards: 2
    with: {source: /nonexistent/images}
`, nil)
	require.Equal(t, pipeline.Failed, r.Phase)
	require.Regexp(t, `attempt 1: shard [01] of 2: exit status 1`, tasks(r)["split"].Message)
	log, err := os.ReadFile(tasks(r)["split"].LogPath)
	require.NoError(t, err)
	require.Regexp(t, `\[shard [01]\] .*/nonexistent/images`, string(log), "the shard's own error, in its lines")

	_, err = f.e.Load("x.yaml", []byte(`
name: x
tasks:
  a: {run: "true", shards: 2}
  b: {uses: data.csv, with: {source: x.csv}, shards: 2}
  c: {uses: data.images, with: {source: x}, shards: 999}
`))
	require.Error(t, err)
	for _, want := range []string{`task "a": shards: splits the work of a step that can share it (data.images); a run: command cannot`,
		`task "b": shards: splits the work of a step that can share it (data.images); step data.csv cannot`,
		`task "c": shards must be from 1 to 256`} {
		require.True(t, strings.Contains(err.Error(), want), "%s\nnot in: %v", want, err)
	}
}

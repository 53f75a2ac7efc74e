package jobs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/webtest"
)

// TestTaskFilesTravelThroughTheServer stores one task's outputs folder in
// its run and fetches it for the next task at the same path, as two pods
// that share no disk do.
func TestTaskFilesTravelThroughTheServer(t *testing.T) {
	srv := webtest.Start(t, web.Options{})
	c, err := client.New(srv.URL, client.DefaultOptions())
	require.NoError(t, err)
	ctx := context.Background()
	exp, err := c.CreateExperiment(ctx, "pods")
	require.NoError(t, err)
	newRun := func() string {
		r, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: exp})
		require.NoError(t, err)
		return r.Info.RunID
	}
	prepare, train, empty := newRun(), newRun(), newRun()
	var log bytes.Buffer

	// The first pod writes a dataset under its outputs folder.
	pod1 := t.TempDir()
	out := filepath.Join(pod1, "tasks", "prepare", "out")
	up := &TaskFiles{Root: pod1, Outputs: out, RunID: prepare, Artifacts: []string{"data"}}
	require.NoError(t, up.FetchInputs(ctx, c, &log))
	require.NoError(t, os.MkdirAll(filepath.Join(out, "data", "shards"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(out, "data", "shards", "0.bin"), []byte("images"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(out, "manifest.json"), []byte(`{"n": 1}`), 0o644))
	require.NoError(t, up.StoreOutputs(ctx, c, &log))
	require.Contains(t, log.String(), "=== stored 2 files of "+out+" in run "+prepare)

	// A task that declares an artifact it did not write fails before storing anything.
	empty2 := t.TempDir()
	bad := &TaskFiles{Root: filepath.Dir(empty2), Outputs: empty2, RunID: train, Artifacts: []string{"model", "data"}}
	require.EqualError(t, bad.StoreOutputs(ctx, c, &log), "the task did not write declared artifacts model, data to $CAIRN_OUTPUTS_DIR")

	// The second pod gets them at the same path (paths in prepare's values
	// hold), linked from its inputs folder; a task that left no files
	// gives an empty folder.
	pod2 := t.TempDir()
	down := &TaskFiles{Root: pod2, Outputs: filepath.Join(pod2, "tasks", "train", "out"), RunID: train, Inputs: []TaskInput{
		{RunID: prepare, Dir: filepath.Join(pod2, "tasks", "prepare", "out"), Link: filepath.Join(pod2, "in", "prepare")},
		{RunID: empty, Dir: filepath.Join(pod2, "tasks", "synth", "out"), Link: filepath.Join(pod2, "in", "synth")},
	}}
	require.NoError(t, down.FetchInputs(ctx, c, &log))
	b, err := os.ReadFile(filepath.Join(pod2, "in", "prepare", "data", "shards", "0.bin"))
	require.NoError(t, err)
	require.Equal(t, "images", string(b))
	entries, err := os.ReadDir(filepath.Join(pod2, "in", "synth"))
	require.NoError(t, err)
	require.Empty(t, entries)
	require.DirExists(t, down.Outputs)

	// A run the token may not read, or one that is gone, fails the task.
	pod3 := t.TempDir()
	gone := &TaskFiles{Root: pod3, Outputs: filepath.Join(pod3, "out"), RunID: train, Inputs: []TaskInput{{RunID: "0123456789abcdef0123456789abcdef", Dir: filepath.Join(pod3, "x")}}}
	err = gone.FetchInputs(ctx, c, &log)
	require.Error(t, err)
	require.Contains(t, err.Error(), "fetch the files of run 0123456789abcdef0123456789abcdef")
}

func TestParseTaskFiles(t *testing.T) {
	f, err := ParseTaskFiles(`{"root": "/cairn", "outputs": "/cairn/tasks/a/out", "run_id": "r1", "inputs": [{"run_id": "r0", "dir": "/cairn/tasks/b/out", "link": "/cairn/in/b"}]}`)
	require.NoError(t, err)
	require.Equal(t, "/cairn/in/b", f.Inputs[0].Link)
	for _, bad := range []string{``, `{`, `{"root": "/cairn", "outputs": "rel", "run_id": "r"}`, `{"root": "/cairn", "outputs": "/cairn/x"}`,
		`{"root": "/cairn", "outputs": "/cairn/x", "run_id": "r", "extra": 1}`, `{"outputs": "/x", "run_id": "r"}`,
		`{"root": "/cairn", "outputs": "/etc", "run_id": "r"}`, `{"root": "/cairn", "outputs": "/cairn", "run_id": "r"}`,
		`{"root": "/cairn", "outputs": "/cairn/../etc", "run_id": "r"}`} {
		_, err := ParseTaskFiles(bad)
		require.Equal(t, errs.Invalid, errs.KindOf(err), "%q", bad)
	}
	// Nothing outside the root is removed, written or linked, however the
	// paths are spelled.
	root := t.TempDir()
	keep := filepath.Join(t.TempDir(), "keep")
	require.NoError(t, os.WriteFile(keep, []byte("precious"), 0o644))
	for _, in := range []TaskInput{{RunID: "r0", Dir: "relative"}, {RunID: "r0", Dir: filepath.Dir(keep)},
		{RunID: "r0", Dir: root + "/../" + filepath.Base(filepath.Dir(keep))}, {RunID: "r0", Dir: root},
		{RunID: "r0", Dir: filepath.Join(root, "in", "a"), Link: keep}} {
		hostile := &TaskFiles{Root: root, Outputs: filepath.Join(root, "out"), RunID: "r", Inputs: []TaskInput{in}}
		require.Equal(t, errs.Invalid, errs.KindOf(hostile.FetchInputs(context.Background(), nil, &bytes.Buffer{})), "%+v", in)
	}
	b, err := os.ReadFile(keep)
	require.NoError(t, err)
	require.Equal(t, "precious", string(b))
}

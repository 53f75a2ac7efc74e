package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/store/meta"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// tuneDataset prepares a tiny synthetic fingers dataset for sweeps.
func tuneDataset(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	_, err := images.GenerateHands(ctx, images.SynthHandsOptions{Out: filepath.Join(dir, "hands"), N: 48, Seed: 1, Size: 32})
	require.NoError(t, err)
	o := images.DefaultPrepareOptions()
	o.Source, o.Image, o.CacheDir = filepath.Join(dir, "hands"), images.Options{Size: 16, Channels: 1}, filepath.Join(dir, "cache")
	res, err := images.Prepare(ctx, o)
	require.NoError(t, err)
	return res.Dir
}

func writeSpec(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sweep.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func runsByTrial(t *testing.T, work string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(work, "sweep", "runs.json"))
	if errors.Is(err, os.ErrNotExist) {
		b, err = os.ReadFile(filepath.Join(work, "runs.json")) // a pipeline task's sweep folder
	}
	require.NoError(t, err)
	var st struct {
		Runs map[string][]string `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(b, &st))
	return st.Runs
}

// TestTuneCommand runs a sweep with a trial that always crashes: it is
// retried once and then Failed, the others finish or are stopped by ASHA,
// each is a child run of the sweep's run, and the best is registered.
func TestTuneCommand(t *testing.T) {
	ds := tuneDataset(t)
	spec := writeSpec(t, fmt.Sprintf(`
metric: val_accuracy
mode: max
space:
  model: {grid: [small, wide, bogus]}
  lr: {grid: [0.003, 0.0003]}
scheduler: {type: asha, max_t: 3, grace_period: 1, reduction_factor: 2}
max_concurrent: 2
max_failures: 1
resources: {cpu: 1}
trial:
  uses: train.cnn
  with: {dataset: %q, epochs: 3, augment: false}
register: {name: fingers, alias: champion}
`, ds))
	dir, work := t.TempDir(), filepath.Join(t.TempDir(), "work")
	out, err := run(t, "tune", spec, "--data", dir, "--work", work, "--json", "--log-level", "warn")
	require.NoError(t, err, out)
	var res map[string]string
	require.NoError(t, json.Unmarshal([]byte(out[strings.LastIndex(out, "{\n"):]), &res), out)
	require.Equal(t, "1", res["version"])
	require.Contains(t, out, "TRIAL")

	runs := runsByTrial(t, work)
	require.Len(t, runs, 6)
	db, err := meta.Open(context.Background(), filepath.Join(dir, "cairn.db"), meta.DefaultOptions())
	require.NoError(t, err)
	defer db.Close()
	var rec struct {
		RunID string `json:"run_id"`
	}
	b, err := os.ReadFile(filepath.Join(work, "run.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &rec))
	failed := 0
	for id, rs := range runs {
		for _, rid := range rs {
			r, err := db.FindRunByID(context.Background(), rid)
			require.NoError(t, err)
			tags := tagMap(r)
			require.Equal(t, rec.RunID, tags["mlflow.parentRunId"], id)
			if strings.Contains(r.Info.RunName, "model=bogus") {
				require.Equal(t, tracking.StatusFailed, r.Info.Status)
				require.Contains(t, tags["cairn.tune.failed"], "exit status")
				failed++
			} else {
				require.Contains(t, []string{tracking.StatusFinished, tracking.StatusKilled}, r.Info.Status)
				if r.Info.Status == tracking.StatusKilled {
					require.Contains(t, tags["cairn.tune.stopped"], "ASHA")
				}
			}
		}
	}
	require.Equal(t, 4, failed, "2 bogus trials x 2 attempts")
	parent, err := db.FindRunByID(context.Background(), rec.RunID)
	require.NoError(t, err)
	require.Equal(t, tracking.StatusFinished, parent.Info.Status)
	require.Equal(t, res["best_run_id"], tagMap(parent)["cairn.tune.best_run_id"])
	v, err := registry.NewService(db, db).Resolve(context.Background(), "models:/fingers@champion")
	require.NoError(t, err)
	require.Equal(t, res["best_run_id"], v.RunID)

	// A spec with mistakes is refused before anything runs.
	bad := writeSpec(t, "metric: val_accuracy\nmode: maxx\nspace: {lrr: {grid: [1]}}\ntrial: {uses: train.cnn, with: {}}\n")
	_, err = run(t, "tune", bad, "--data", dir)
	require.Equal(t, 2, exitCode(err))
	require.ErrorContains(t, err, "mode")
}

func tagMap(r *tracking.Run) map[string]string {
	m := map[string]string{}
	for _, tg := range r.Tags {
		m[tg.Key] = tg.Value
	}
	return m
}

// TestTuneResumesAfterKill9 kills 'cairn tune' once a trial has finished
// and runs the same command again: finished trials are not run again.
func TestTuneResumesAfterKill9(t *testing.T) {
	ds := tuneDataset(t)
	spec := writeSpec(t, fmt.Sprintf(`
metric: val_accuracy
mode: max
space:
  model: {grid: [small, wide]}
  lr: {grid: [0.003, 0.001]}
max_concurrent: 1
trial:
  uses: train.cnn
  with: {dataset: %q, epochs: 2, augment: false}
`, ds))
	dir, work := t.TempDir(), filepath.Join(t.TempDir(), "work")
	args := []string{"tune", spec, "--data", dir, "--work", work}
	require.True(t, killAtLine(t, args, "trial t001 succeeded"), "the sweep never finished two trials")
	before := runsByTrial(t, work)

	out, err := run(t, append(args, "--json")...)
	require.NoError(t, err, out)
	require.Contains(t, out, "resuming sweep run")
	after := runsByTrial(t, work)
	require.Len(t, after, 4)
	for _, id := range []string{"t000", "t001"} {
		require.Equal(t, before[id], after[id], "finished trial %s ran again", id)
		require.Len(t, after[id], 1)
	}
	db, err := meta.Open(context.Background(), filepath.Join(dir, "cairn.db"), meta.DefaultOptions())
	require.NoError(t, err)
	defer db.Close()
	for _, rs := range after {
		for _, rid := range rs {
			r, err := db.FindRunByID(context.Background(), rid)
			require.NoError(t, err)
			require.NotEqual(t, tracking.StatusRunning, r.Info.Status, "a run left RUNNING: %s", r.Info.RunName)
		}
	}
}

// TestTunePacksGPUs runs four trials of half a GPU each on two GPUs: they
// share the devices two by two, each with its own CUDA_VISIBLE_DEVICES.
func TestTunePacksGPUs(t *testing.T) {
	ds := tuneDataset(t)
	spec := writeSpec(t, fmt.Sprintf(`
metric: val_accuracy
mode: max
space:
  model: {grid: [small, wide]}
  lr: {grid: [0.003, 0.001]}
resources: {cpu: 0.5, gpu: 0.5}
trial:
  uses: train.cnn
  with: {dataset: %q, epochs: 1, augment: false}
`, ds))
	dir, work := t.TempDir(), filepath.Join(t.TempDir(), "work")
	out, err := run(t, "tune", spec, "--data", dir, "--work", work, "--cpus", "2", "--gpus", "2", "--json", "--log-level", "warn")
	require.NoError(t, err, out)
	require.Contains(t, out, "4 running")
	db, err := meta.Open(context.Background(), filepath.Join(dir, "cairn.db"), meta.DefaultOptions())
	require.NoError(t, err)
	defer db.Close()
	used := map[string]int{}
	for _, rs := range runsByTrial(t, work) {
		r, err := db.FindRunByID(context.Background(), rs[0])
		require.NoError(t, err)
		used[tagMap(r)["cairn.tune.cuda_visible_devices"]]++
	}
	require.Equal(t, map[string]int{"0": 2, "1": 2}, used)
}

// TestPipelineSweepResumesAfterKill9 kills 'cairn run' while its tune.sweep
// task runs and resumes the pipeline run: the sweep's state survives the
// task's new attempt, so finished trials are not run again.
func TestPipelineSweepResumesAfterKill9(t *testing.T) {
	ds := tuneDataset(t)
	spec := writeSpec(t, fmt.Sprintf(`name: sweep
tasks:
  tune:
    uses: tune.sweep
    with:
      metric: val_accuracy
      mode: max
      space:
        model: {grid: [small, wide]}
        lr: {grid: [0.003, 0.001]}
      max_concurrent: 1
      trial:
        uses: train.cnn
        with: {dataset: %q, epochs: 2, augment: false}
`, ds))
	dir := t.TempDir()
	exe, err := os.Executable()
	require.NoError(t, err)
	child := exec.Command(exe, "run", spec, "--data", dir)
	child.Env = append(os.Environ(), "CAIRN_TEST_AS_CAIRN=1")
	require.NoError(t, child.Start())
	var logPath string
	require.Eventually(t, func() bool {
		logs, _ := filepath.Glob(filepath.Join(dir, "pipelines", "*", "tune", "log"))
		if len(logs) == 0 {
			return false
		}
		logPath = logs[0]
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "trial t001 succeeded")
	}, 60*time.Second, 20*time.Millisecond)
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()
	runID := filepath.Base(filepath.Dir(filepath.Dir(logPath)))
	state := filepath.Join(dir, "tune", runID, "tune")
	before := runsByTrial(t, state)

	out, err := run(t, "run", "--resume", runID, "--data", dir, "--json", "--log-level", "warn")
	require.NoError(t, err, out)
	after := runsByTrial(t, state)
	require.Len(t, after, 4)
	for _, id := range []string{"t000", "t001"} {
		require.Equal(t, before[id], after[id], "finished trial %s ran again", id)
	}
}

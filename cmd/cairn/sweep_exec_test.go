package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/steps"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/tune"
)

// recordingExecutor passes every job to a real executor and keeps what
// it was asked to run.
type recordingExecutor struct {
	next exec.Executor
	mu   sync.Mutex
	jobs [][]string
}

func (r *recordingExecutor) Execute(ctx context.Context, job *exec.Job) exec.Result {
	r.mu.Lock()
	r.jobs = append(r.jobs, job.Args)
	r.mu.Unlock()
	return r.next.Execute(ctx, job)
}

// TestSweepTrialsGoThroughTheExecutor runs a sweep whose trials are
// started by the executor interface the pipeline engine runs its tasks with
// (exec.Executor, here the real exec.Local behind a recorder): the one
// place that will run them elsewhere too.
func TestSweepTrialsGoThroughTheExecutor(t *testing.T) {
	ds := tuneDataset(t)
	cfg := DefaultConfig()
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	url, _, _ := startServer(t, cfg)
	ctx := context.Background()
	c, err := client.New(url, client.DefaultOptions())
	require.NoError(t, err)
	exp, err := c.CreateExperiment(ctx, "sweep-exec")
	require.NoError(t, err)
	parent, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: exp})
	require.NoError(t, err)

	spec, err := tune.ParseSpec([]byte(fmt.Sprintf(`
metric: val_accuracy
mode: max
space:
  lr: {grid: [0.003, 0.001]}
max_concurrent: 2
resources: {cpu: 1}
trial:
  uses: train.cnn
  with: {dataset: %q, model: small, epochs: 1, augment: false}
`, ds)))
	require.NoError(t, err)
	rec := &recordingExecutor{next: exec.NewLocal(exec.DefaultLocalOptions())}
	sw := &steps.Sweep{Spec: *spec, Executor: rec}
	require.NoError(t, sw.Validate())
	res, err := sw.Run(ctx, steps.Env{TrackingURI: url, RunID: parent.Info.RunID, ExperimentID: exp, OutputsDir: t.TempDir(),
		Stdout: os.Stderr, Stderr: os.Stderr, Environ: append(os.Environ(), "CAIRN_DATA_DIR="+cfg.Data)})
	require.NoError(t, err)
	require.NotEmpty(t, res["best_run_id"])
	require.Len(t, rec.jobs, 2, "one job per trial")
	for _, args := range rec.jobs {
		require.Contains(t, args, "train.cnn")
	}
}

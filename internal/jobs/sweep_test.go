package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/tune"
	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/webtest"
)

// The test binary is also a trial: with CAIRN_JOBS_TEST_TRIAL=1 it is a
// training step whose learning curve is known in advance, so that what the
// sweep decides can be checked exactly.
func TestMain(m *testing.M) {
	if os.Getenv("CAIRN_JOBS_TEST_TRIAL") == "1" {
		os.Exit(scriptedTrial(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// scriptedTrial runs as `<step> --inputs FILE`. Its inputs: quality (the
// score it reaches at its last epoch, linearly), epochs, and crash (exit 3
// after logging why). It logs "score" at each epoch and best_score at the
// end, as the training steps log val_accuracy and best_val_accuracy.
func scriptedTrial(args []string) int {
	if len(args) != 3 || args[1] != "--inputs" {
		fmt.Fprintln(os.Stderr, "usage: STEP --inputs FILE")
		return 2
	}
	b, err := os.ReadFile(args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var in struct {
		Quality float64 `json:"quality"`
		Epochs  int     `json:"epochs"`
		Crash   bool    `json:"crash"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if in.Crash {
		fmt.Println("loss is NaN: asked to crash")
		return 3
	}
	c, err := client.New(os.Getenv("MLFLOW_TRACKING_URI"), client.DefaultOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, run := context.Background(), os.Getenv("MLFLOW_RUN_ID")
	for e := 1; e <= in.Epochs; e++ {
		v := in.Quality * float64(e) / float64(in.Epochs)
		if err := c.LogBatch(ctx, run, []tracking.Metric{{Key: "score", Value: v, Step: int64(e), Timestamp: time.Now().UnixMilli()}}, nil, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if err := c.LogBatch(ctx, run, []tracking.Metric{{Key: "best_score", Value: in.Quality, Timestamp: time.Now().UnixMilli()}}, nil, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(os.Getenv("CAIRN_OUTPUTS"), []byte("run_id="+run+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("trained")
	return 0
}

// countingExecutor passes every job to a real executor and counts them.
type countingExecutor struct {
	next exec.Executor
	mu   sync.Mutex
	jobs [][]string
}

func (r *countingExecutor) Execute(ctx context.Context, job *exec.Job) exec.Result {
	r.mu.Lock()
	r.jobs = append(r.jobs, job.Args)
	r.mu.Unlock()
	return r.next.Execute(ctx, job)
}

func (r *countingExecutor) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.jobs)
}

// sweepFixture is a tracking server and a parent run for a sweep.
type sweepFixture struct {
	c      *client.Client
	url    string
	parent string
}

func newSweepFixture(t *testing.T) *sweepFixture {
	t.Helper()
	srv := webtest.Start(t, web.Options{})
	c, err := client.New(srv.URL, client.DefaultOptions())
	require.NoError(t, err)
	ctx := context.Background()
	exp, err := c.CreateExperiment(ctx, "sweep")
	require.NoError(t, err)
	parent, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: exp})
	require.NoError(t, err)
	return &sweepFixture{c: c, url: srv.URL, parent: parent.Info.RunID}
}

// job is a sweep of the scripted trial over space (YAML flow mapping).
func (f *sweepFixture) job(t *testing.T, space string, ex exec.Executor, dir string) SweepJob {
	t.Helper()
	spec, err := tune.ParseSpec([]byte("metric: score\nmode: max\nmax_concurrent: 2\nresources: {cpu: 1}\nspace: " + space + "\n"))
	require.NoError(t, err)
	return SweepJob{
		Spec: *spec, TrialStep: "train.scripted", TrialWith: map[string]any{"epochs": 3},
		Capacity: tune.Resources{CPU: 2}, Dir: dir, Parent: f.parent, TrackingURI: f.url,
		Environ: []string{"CAIRN_JOBS_TEST_TRIAL=1"}, Command: []string{os.Args[0]}, Executor: ex, Poll: 20 * time.Millisecond,
	}
}

func tagOf(r *tracking.Run, key string) string {
	for _, tg := range r.Tags {
		if tg.Key == key {
			return tg.Value
		}
	}
	return ""
}

func TestRunSweepPicksTheBestTrial(t *testing.T) {
	ctx := context.Background()
	f := newSweepFixture(t)
	ex := &countingExecutor{next: exec.NewLocal(exec.DefaultLocalOptions())}
	var changes int
	job := f.job(t, "{quality: {grid: [0.2, 0.9, 0.5]}}", ex, t.TempDir())
	job.OnChange = func([]tune.Trial, tune.Progress) { changes++ }
	res, err := RunSweep(ctx, f.c, job)
	require.NoError(t, err)

	require.Equal(t, 3, ex.count(), "every trial went through the executor")
	for _, args := range ex.jobs {
		require.Equal(t, []string{os.Args[0], "train.scripted", "--inputs"}, args[:3])
	}
	require.Equal(t, 0.9, res.BestValue)
	require.Equal(t, 0.9, res.BestParams["quality"])
	require.Len(t, res.Runs, 3)
	require.Contains(t, res.Runs, res.BestRunID)
	require.Positive(t, changes)
	for _, id := range res.Runs {
		r, err := f.c.GetRun(ctx, id)
		require.NoError(t, err)
		require.Equal(t, f.parent, tagOf(r, "mlflow.parentRunId"))
		require.Equal(t, tracking.StatusFinished, r.Info.Status)
		hist, err := f.c.MetricHistory(ctx, id, "score")
		require.NoError(t, err)
		require.Len(t, hist, 3, "each epoch's point reached the server")
	}
	p, err := f.c.GetRun(ctx, f.parent)
	require.NoError(t, err)
	require.Equal(t, res.BestTrial, tagOf(p, "cairn.tune.best_trial"))
	require.Equal(t, res.BestRunID, tagOf(p, "cairn.tune.best_run_id"))
	require.Equal(t, "train.scripted", tagOf(p, "cairn.tune.trial_step"))
	var best float64
	for _, m := range p.Metrics {
		if m.Key == "best_score" {
			best = m.Value
		}
	}
	require.Equal(t, 0.9, best)
}

func TestRunSweepRecordsCrashes(t *testing.T) {
	ctx := context.Background()
	f := newSweepFixture(t)
	ex := &countingExecutor{next: exec.NewLocal(exec.DefaultLocalOptions())}
	job := f.job(t, "{quality: {grid: [0.4]}, crash: {grid: [false, true]}}", ex, t.TempDir())
	var out safeBuffer
	job.Stdout = &out
	res, err := RunSweep(ctx, f.c, job)
	require.NoError(t, err)
	require.Equal(t, 0.4, res.BestValue)
	require.Equal(t, false, res.BestParams["crash"])
	require.Contains(t, out.String(), "crashed")
	var failed int
	for _, id := range res.Runs {
		r, err := f.c.GetRun(ctx, id)
		require.NoError(t, err)
		if r.Info.Status == tracking.StatusFailed {
			failed++
			require.Contains(t, tagOf(r, "cairn.tune.failed"), "asked to crash", "the log's last lines say why")
		}
	}
	require.Equal(t, 1, failed)

	// A sweep where nothing succeeds fails, and says how the trials ended.
	f2 := newSweepFixture(t)
	_, err = RunSweep(ctx, f2.c, f2.job(t, "{crash: {grid: [true]}}", ex, t.TempDir()))
	require.Equal(t, errs.Invalid, errs.KindOf(err), "%v", err)
	require.ErrorContains(t, err, "no trial succeeded with a score (0 stopped, 1 failed)")
}

func TestRunSweepResumes(t *testing.T) {
	ctx := context.Background()
	f := newSweepFixture(t)
	dir := t.TempDir()
	ex := &countingExecutor{next: exec.NewLocal(exec.DefaultLocalOptions())}
	first, err := RunSweep(ctx, f.c, f.job(t, "{quality: {grid: [0.3, 0.6]}}", ex, dir))
	require.NoError(t, err)
	require.Equal(t, 2, ex.count())

	// Run again on the same folder: every trial had ended, so none runs.
	again := &countingExecutor{next: exec.NewLocal(exec.DefaultLocalOptions())}
	second, err := RunSweep(ctx, f.c, f.job(t, "{quality: {grid: [0.3, 0.6]}}", again, dir))
	require.NoError(t, err)
	require.Zero(t, again.count())
	require.Equal(t, first.BestRunID, second.BestRunID)
	require.Equal(t, first.Runs, second.Runs)

	// A different search in the same folder is refused, not mixed in.
	_, err = RunSweep(ctx, f.c, f.job(t, "{quality: {grid: [0.1]}}", again, dir))
	require.Error(t, err)
	require.Zero(t, again.count())
}

func TestRunSweepRefusesIncompleteJobs(t *testing.T) {
	ctx := context.Background()
	f := newSweepFixture(t)
	good := f.job(t, "{quality: {grid: [0.5]}}", nil, t.TempDir())
	for name, edit := range map[string]func(*SweepJob){
		"no parent":   func(j *SweepJob) { j.Parent = "" },
		"no dir":      func(j *SweepJob) { j.Dir = "" },
		"no step":     func(j *SweepJob) { j.TrialStep = "" },
		"no capacity": func(j *SweepJob) { j.Capacity = tune.Resources{} },
		"no metric":   func(j *SweepJob) { j.Metric = "" },
	} {
		j := good
		edit(&j)
		_, err := RunSweep(ctx, f.c, j)
		require.Equal(t, errs.Invalid, errs.KindOf(err), "%s: %v", name, err)
	}
	_, err := RunSweep(ctx, f.c, func() SweepJob { j := good; j.Parent = "0123456789abcdef0123456789abcdef"; return j }())
	require.Equal(t, errs.NotFound, errs.KindOf(err), "%v", err)
}

// safeBuffer is a bytes.Buffer that trial goroutines may write at once.
type safeBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

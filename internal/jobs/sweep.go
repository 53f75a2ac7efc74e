package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/tune"
)

// SweepJob is a hyperparameter search: trials of a training step, each a
// child tracking run of Parent, run as processes through Executor (the one
// interface a pipeline's tasks run through too). The scheduler reads each
// trial's per-epoch metric from the tracking server and stops a trial
// early when it lags. The sweep keeps its state in Dir, so a sweep run
// again on the same Dir re-runs only the trials that had not ended.
type SweepJob struct {
	tune.Spec
	// TrialStep is the step type each trial runs (a training step, with a
	// run_id output) and TrialWith its fixed inputs; each trial's sampled
	// parameters are added to them.
	TrialStep string
	TrialWith map[string]any
	// Capacity is what the trials may use together (see DefaultCapacity).
	Capacity tune.Resources
	// Dir holds the sweep's state and each attempt's inputs, outputs and log.
	Dir string
	// Parent is the sweep's own tracking run, in experiment ExperimentID
	// ("" to read it from the run).
	Parent, ExperimentID string
	// TrackingURI is the server trials log to; Environ their environment
	// (credentials included: their values are masked in trial logs).
	TrackingURI string
	Environ     []string
	// Stdout gets a line per trial started and ended.
	Stdout io.Writer
	// Command starts a step: Command, the step type, --inputs FILE
	// (default: this executable's "step exec").
	Command []string
	// Executor runs the trials (default: exec.Local, child processes of
	// this one).
	Executor exec.Executor
	// Pod, when set, makes each trial's job one for an Executor that runs
	// it away from this machine (a pod): it fills in the job's name,
	// labels, resources, files and command from the attempt.
	Pod func(job *exec.Job, a TrialAttempt)
	// Poll is how often a running trial's metric is read (default 200ms).
	Poll time.Duration
	// OnChange, when set, is called with the trials whenever one changes.
	OnChange func(trials []tune.Trial, p tune.Progress)
}

// OnExecutor returns s with its trials run by x and made for it by pod,
// where x is not nil and s names no executor of its own.
func (s SweepJob) OnExecutor(x exec.Executor, pod func(*exec.Job, TrialAttempt)) SweepJob {
	if x != nil && s.Executor == nil {
		s.Executor, s.Pod = x, pod
	}
	return s
}

// TrialAttempt is one attempt of a trial, as SweepJob.Pod gets it.
type TrialAttempt struct {
	Trial     string // e.g. t0003
	Attempt   int
	RunID     string // its tracking run
	Parent    string // the sweep's tracking run
	Inputs    []byte // the trial step's inputs, JSON
	Resources tune.Resources
}

// SweepResult is how a sweep ended: its best trial (the best that
// succeeded, by the metric of the model it kept) and every trial's last run.
type SweepResult struct {
	BestTrial, BestRunID string
	BestValue            float64
	BestParams           tune.Params
	Runs                 []string
	Wall, TrialTime      time.Duration
}

// DefaultCapacity is what a machine offers a sweep's trials: its CPUs, and
// the GPUs CUDA_VISIBLE_DEVICES lists in environ.
func DefaultCapacity(environ []string) tune.Resources {
	capacity := tune.Resources{CPU: float64(runtime.NumCPU())}
	if v := envValue(environ, "CUDA_VISIBLE_DEVICES"); v != "" {
		capacity.GPU = float64(len(strings.Split(v, ",")))
	}
	return capacity
}

// sweepState is what the sweep keeps in its folder besides the tune
// snapshot: the tracking runs of each trial's attempts.
type sweepState struct {
	Runs map[string][]string `json:"runs"` // trial ID -> run IDs, oldest first
	// Final is each succeeded trial's metric for the model it packaged
	// (best_<metric>: the epoch training kept), which ranks the trials.
	Final map[string]float64 `json:"final"`
}

// trialEnd is how one attempt of a trial ended.
type trialEnd struct {
	id, runID string
	res       exec.Result
	outputs   map[string]string
	log       string
	took      time.Duration
}

// RunSweep runs the sweep job to its end, logs its result on the parent
// run, and returns it. It fails when no trial succeeded.
func RunSweep(ctx context.Context, c *client.Client, job SweepJob) (*SweepResult, error) {
	s := &job
	if err := s.Spec.Validate(); err != nil {
		return nil, err
	}
	if s.TrialStep == "" || s.Dir == "" || s.Capacity.CPU <= 0 {
		return nil, errs.Invalidf("tune.sweep: a trial step, a state folder and a capacity are needed")
	}
	if s.Stdout == nil {
		s.Stdout = io.Discard
	}
	parent, expID := s.Parent, s.ExperimentID
	if parent == "" {
		return nil, errs.Invalidf("tune.sweep needs its own tracking run (MLFLOW_RUN_ID) to be the trials' parent")
	}
	if expID == "" {
		r, err := c.GetRun(ctx, parent)
		if err != nil {
			return nil, fmt.Errorf("tune.sweep: parent run: %w", err)
		}
		expID = r.Info.ExperimentID
	}
	capacity, dir := s.Capacity, s.Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sw, state, err := s.open(dir, capacity)
	if err != nil {
		return nil, err
	}
	if err := c.LogBatch(ctx, parent, nil, s.sweepParams(), []tracking.Tag{{Key: "cairn.tune.trial_step", Value: s.TrialStep}}); err != nil {
		return nil, fmt.Errorf("tune.sweep: log params: %w", err)
	}
	// Attempts that were running when the sweep was killed are over.
	for id, runs := range state.Runs {
		t, err := sw.Trial(id)
		if err != nil || t.State == tune.Running || len(runs) == 0 {
			continue
		}
		if r, err := c.GetRun(ctx, runs[len(runs)-1]); err == nil && r.Info.Status == tracking.StatusRunning && t.State == tune.Pending {
			s.endRun(ctx, c, r.Info.RunID, tracking.StatusKilled, "cairn.tune.state", "interrupted: the sweep was restarted")
		}
	}

	cmd := s.Command
	if len(cmd) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd = []string{exe, "step", "exec"}
	}
	runner := s.Executor
	if runner == nil {
		runner = exec.NewLocal(exec.DefaultLocalOptions())
	}
	gpus := newGPUPool(int(capacity.GPU), envValue(s.Environ, "CUDA_VISIBLE_DEVICES"))
	need := s.Spec.WithDefaults().Resources.GPU
	devices := map[string][]int{}
	ends := make(chan trialEnd)
	var wg sync.WaitGroup
	cancels := map[string]context.CancelFunc{}
	running := map[string]string{} // trial -> run
	start := time.Now()
	var trialTime time.Duration
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
		wg.Wait()
	}()
	save := func() error {
		snap, err := sw.Snapshot()
		if err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(dir, "sweep.json"), snap); err != nil {
			return err
		}
		b, _ := json.Marshal(state)
		return writeFileAtomic(filepath.Join(dir, "runs.json"), b)
	}
	changed := func() {
		if s.OnChange != nil {
			s.OnChange(sw.Trials(), sw.Progress())
		}
	}

	for {
		for {
			t, err := sw.Next()
			if err != nil {
				return nil, err
			}
			if t == nil {
				break
			}
			var visible string
			if need > 0 {
				devices[t.ID] = gpus.take(need)
				visible = gpus.visible(devices[t.ID])
			}
			runID, err := s.startRun(ctx, c, expID, parent, t, visible)
			if err != nil {
				_ = sw.Fail(t.ID, err.Error())
				return nil, fmt.Errorf("tune.sweep: trial %s: %w", t.ID, err)
			}
			state.Runs[t.ID] = append(state.Runs[t.ID], runID)
			running[t.ID] = runID
			// A trial stopped for any reason is stopped on purpose
			// (exec.ErrCancelled): an executor that would leave it running
			// for a restart to attach to ends it instead.
			tctx, cancelCause := context.WithCancelCause(context.WithoutCancel(ctx))
			cancel := func() { cancelCause(exec.ErrCancelled) }
			stopAfter := context.AfterFunc(ctx, cancel)
			cancels[t.ID] = func() { stopAfter(); cancel() }
			environ := s.Environ
			if need > 0 {
				environ = append(withoutKeys(s.Environ, "CUDA_VISIBLE_DEVICES"), "CUDA_VISIBLE_DEVICES="+visible)
			}
			wg.Add(1)
			go func(t tune.Trial) {
				defer wg.Done()
				ends <- s.runTrial(tctx, c, runner, cmd, environ, t, runID, dir, sw, cancel)
			}(*t)
			fmt.Fprintf(s.Stdout, "trial %s started (run %s): %s\n", t.ID, runID, t.Params)
		}
		if err := save(); err != nil {
			return nil, fmt.Errorf("tune.sweep: save state: %w", err)
		}
		changed()
		if len(running) == 0 {
			if sw.Done() {
				break
			}
			return nil, errs.E(errs.Internal, "tune.sweep: no trial runs and none can start: %s", sw.Progress().Why)
		}
		var end trialEnd
		select {
		case end = <-ends:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		cancels[end.id]()
		delete(cancels, end.id)
		if d, ok := devices[end.id]; ok {
			gpus.give(d, need)
			delete(devices, end.id)
		}
		delete(running, end.id)
		trialTime += end.took
		msg := s.finishTrial(ctx, c, sw, state, end)
		// Durable before it is said: a kill after this line re-runs nothing
		// that was reported as ended.
		if err := save(); err != nil {
			return nil, fmt.Errorf("tune.sweep: save state: %w", err)
		}
		fmt.Fprintln(s.Stdout, msg)
	}
	wall := time.Since(start)
	if err := save(); err != nil {
		return nil, err
	}
	changed()
	return s.conclude(ctx, c, sw, state, parent, wall, trialTime)
}

// envValue returns the value of key in environ, or "".
func envValue(environ []string, key string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// open restores the sweep from dir, or starts a new one.
func (s *SweepJob) open(dir string, capacity tune.Resources) (*tune.Sweep, *sweepState, error) {
	state := &sweepState{Runs: map[string][]string{}, Final: map[string]float64{}}
	snap, err := os.ReadFile(filepath.Join(dir, "sweep.json"))
	if errors.Is(err, os.ErrNotExist) {
		sw, err := tune.NewSweep(&s.Spec, capacity)
		return sw, state, err
	}
	if err != nil {
		return nil, nil, err
	}
	sw, err := tune.RestoreSweep(&s.Spec, capacity, snap)
	if err != nil {
		return nil, nil, fmt.Errorf("tune.sweep: resume from %s: %w", dir, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "runs.json")); err == nil {
		_ = json.Unmarshal(b, state)
		if state.Runs == nil {
			state.Runs = map[string][]string{}
		}
		if state.Final == nil {
			state.Final = map[string]float64{}
		}
	}
	return sw, state, nil
}

func (s *SweepJob) sweepParams() []tracking.Param {
	sp := s.Spec.WithDefaults()
	ps := []tracking.Param{
		{Key: "tune.metric", Value: sp.Metric}, {Key: "tune.mode", Value: string(sp.Mode)},
		{Key: "tune.sampler", Value: sp.Sampler.Type}, {Key: "tune.scheduler", Value: sp.Scheduler.Type},
		{Key: "tune.trials", Value: strconv.Itoa(sp.Size())}, {Key: "tune.max_concurrent", Value: strconv.Itoa(sp.MaxConcurrent)},
		{Key: "tune.trial_step", Value: s.TrialStep},
	}
	if space, err := json.Marshal(sp.Space); err == nil && len(space) <= 6000 {
		ps = append(ps, tracking.Param{Key: "tune.space", Value: string(space)})
	}
	return ps
}

// startRun creates the tracking run of one attempt of a trial.
func (s *SweepJob) startRun(ctx context.Context, c *client.Client, expID, parent string, t *tune.Trial, devices string) (string, error) {
	name := t.ID + " " + t.Params.String()
	tags := []tracking.Tag{
		{Key: "mlflow.parentRunId", Value: parent}, {Key: "cairn.tune.trial", Value: t.ID},
		{Key: "cairn.tune.attempt", Value: strconv.Itoa(t.Attempts)},
	}
	if devices != "" {
		tags = append(tags, tracking.Tag{Key: "cairn.tune.cuda_visible_devices", Value: devices})
	}
	r, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: expID, RunName: name, Tags: tags})
	if err != nil {
		return "", err
	}
	return r.Info.RunID, nil
}

// runTrial runs one attempt as a child process and feeds its metric to
// the sweep until it ends or the scheduler stops it.
func (s *SweepJob) runTrial(ctx context.Context, c *client.Client, runner exec.Executor, cmd []string, environ []string,
	t tune.Trial, runID, dir string, sw *tune.Sweep, stop context.CancelFunc) trialEnd {
	end := trialEnd{id: t.ID, runID: runID}
	tdir := filepath.Join(dir, t.ID, strconv.Itoa(t.Attempts))
	out := filepath.Join(tdir, "outputs")
	if err := os.MkdirAll(out, 0o755); err != nil {
		end.res = exec.Result{ExitCode: -1, Err: err}
		return end
	}
	with := map[string]any{}
	for k, v := range s.TrialWith {
		with[k] = v
	}
	for k, v := range t.Params {
		with[k] = v
	}
	inputs, _ := json.Marshal(with)
	inFile, outFile, logFile := filepath.Join(tdir, "inputs.json"), filepath.Join(tdir, "outputs.txt"), filepath.Join(tdir, "log.txt")
	if err := os.WriteFile(inFile, inputs, 0o644); err != nil {
		end.res = exec.Result{ExitCode: -1, Err: err}
		return end
	}
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		end.res = exec.Result{ExitCode: -1, Err: err}
		return end
	}
	defer f.Close()
	environ = append(withoutKeys(environ, "MLFLOW_RUN_ID", "CAIRN_OUTPUTS_DIR", "CAIRN_OUTPUTS", "MLFLOW_TRACKING_URI"),
		"MLFLOW_TRACKING_URI="+s.TrackingURI, "MLFLOW_RUN_ID="+runID, "CAIRN_OUTPUTS_DIR="+out, "CAIRN_OUTPUTS="+outFile,
		"CAIRN_TUNE_TRIAL="+t.ID)
	logf := exec.NewMaskWriter(f, exec.Secrets(environ))
	defer logf.Close()
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		s.watch(ctx, c, sw, t.ID, runID, done, stop)
	}()
	startAt := time.Now()
	job := &exec.Job{Args: append(append([]string{}, cmd...), s.TrialStep, "--inputs", inFile), Env: environ, Log: logf}
	if s.Pod != nil {
		s.Pod(job, TrialAttempt{Trial: t.ID, Attempt: t.Attempts, RunID: runID, Parent: s.Parent, Inputs: inputs,
			Resources: s.Spec.WithDefaults().Resources})
	}
	end.res = runner.Execute(ctx, job)
	end.took = time.Since(startAt)
	if end.res.Outputs != nil { // from where the trial ran
		_ = os.WriteFile(outFile, end.res.Outputs, 0o644)
	}
	close(done)
	<-watched
	// The last epochs may have landed after the last poll.
	s.report(context.WithoutCancel(ctx), c, sw, t.ID, runID, nil)
	if b, err := os.ReadFile(outFile); err == nil {
		end.outputs, _ = spec.ParseOutputs(bytes.NewReader(b))
	}
	end.log = tail(logFile, 3)
	return end
}

// watch reports the trial's new metric points every Poll until done,
// stopping the trial when the scheduler says so (not when it completes:
// the process ends by itself and uploads its model).
func (s *SweepJob) watch(ctx context.Context, c *client.Client, sw *tune.Sweep, id, runID string, done <-chan struct{}, stop context.CancelFunc) {
	poll := s.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	seen := map[int64]bool{}
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if d := s.report(ctx, c, sw, id, runID, seen); d.Stop && !d.Complete {
			stop()
			return
		}
	}
}

// report sends the metric points not seen yet to the sweep.
func (s *SweepJob) report(ctx context.Context, c *client.Client, sw *tune.Sweep, id, runID string, seen map[int64]bool) tune.Decision {
	hist, err := c.MetricHistory(ctx, runID, s.Metric)
	if err != nil {
		return tune.Decision{}
	}
	sort.Slice(hist, func(i, j int) bool { return hist[i].Step < hist[j].Step })
	var last tune.Decision
	for _, m := range hist {
		if seen != nil && seen[m.Step] {
			continue
		}
		if seen != nil {
			seen[m.Step] = true
		}
		d, err := sw.Report(id, int(m.Step), map[string]float64{s.Metric: m.Value})
		if err != nil {
			continue // the trial already ended
		}
		if d.Stop {
			return d
		}
		last = d
	}
	return last
}

// finishTrial records how an attempt ended, in the sweep and on its run.
func (s *SweepJob) finishTrial(ctx context.Context, c *client.Client, sw *tune.Sweep, state *sweepState, end trialEnd) string {
	t, _ := sw.Trial(end.id)
	switch {
	case t.State == tune.Stopped:
		s.endRun(ctx, c, end.runID, tracking.StatusKilled, "cairn.tune.stopped", t.Reason)
		return fmt.Sprintf("trial %s stopped early: %s", end.id, t.Reason)
	case end.res.Err == nil:
		metrics := map[string]float64{}
		if r, err := c.GetRun(ctx, end.runID); err == nil {
			for _, m := range r.Metrics {
				if m.Key == "best_"+s.Metric {
					metrics[s.Metric] = m.Value
					state.Final[end.id] = m.Value
				}
			}
		}
		_ = sw.Finish(end.id, metrics)
		s.endRun(ctx, c, end.runID, tracking.StatusFinished, "cairn.tune.state", string(tune.Succeeded))
		t, _ = sw.Trial(end.id)
		return fmt.Sprintf("trial %s succeeded: %s %s", end.id, s.Metric, formatValue(t))
	default:
		reason := end.res.Err.Error()
		if end.log != "" {
			reason += ": " + end.log
		}
		_ = sw.Fail(end.id, reason)
		s.endRun(ctx, c, end.runID, tracking.StatusFailed, "cairn.tune.failed", reason)
		t, _ = sw.Trial(end.id)
		return fmt.Sprintf("trial %s crashed (%s); now %s", end.id, reason, t.State)
	}
}

func formatValue(t tune.Trial) string {
	if !t.HasValue {
		return "none"
	}
	return strconv.FormatFloat(t.Value, 'g', 6, 64)
}

func (s *SweepJob) endRun(ctx context.Context, c *client.Client, runID, status, tag, value string) {
	ctx = context.WithoutCancel(ctx)
	if len(value) > 5000 {
		value = value[:5000]
	}
	_ = c.LogBatch(ctx, runID, nil, nil, []tracking.Tag{{Key: tag, Value: value}})
	_ = c.UpdateRun(ctx, runID, status, time.Now().UnixMilli())
}

// conclude logs the sweep's result on the parent run.
func (s *SweepJob) conclude(ctx context.Context, c *client.Client, sw *tune.Sweep, state *sweepState, parent string,
	wall, trialTime time.Duration) (*SweepResult, error) {
	trials := sw.Trials()
	res := &SweepResult{Runs: []string{}, Wall: wall, TrialTime: trialTime}
	var best *tune.Trial
	for i := range trials {
		t := &trials[i]
		if r := state.Runs[t.ID]; len(r) > 0 {
			res.Runs = append(res.Runs, r[len(r)-1])
		}
		// The best trial that ended well (it has a model package), by the
		// value of the model it kept.
		if t.State != tune.Succeeded || !t.HasValue {
			continue
		}
		if v, ok := state.Final[t.ID]; ok {
			t.Value = v
		}
		if best == nil || (s.Mode == tune.Max && t.Value > best.Value) || (s.Mode == tune.Min && t.Value < best.Value) {
			best = t
		}
	}
	p := sw.Progress()
	fmt.Fprintf(s.Stdout, "sweep done: %d succeeded, %d stopped early, %d failed in %s (trials ran %s in all)\n",
		p.Succeeded, p.Stopped, p.Failed, wall.Round(time.Millisecond), trialTime.Round(time.Millisecond))
	if best == nil {
		return nil, errs.Invalidf("tune.sweep: no trial succeeded with a %s (%d stopped, %d failed)", s.Metric, p.Stopped, p.Failed)
	}
	res.BestTrial, res.BestRunID = best.ID, state.Runs[best.ID][len(state.Runs[best.ID])-1]
	res.BestValue, res.BestParams = best.Value, best.Params
	metrics := []tracking.Metric{{Key: "best_" + s.Metric, Value: best.Value, Timestamp: time.Now().UnixMilli()},
		{Key: "tune.trials_succeeded", Value: float64(p.Succeeded)}, {Key: "tune.trials_stopped", Value: float64(p.Stopped)},
		{Key: "tune.trials_failed", Value: float64(p.Failed)}, {Key: "tune.wall_seconds", Value: wall.Seconds()}}
	tags := []tracking.Tag{{Key: "cairn.tune.best_trial", Value: best.ID}, {Key: "cairn.tune.best_run_id", Value: res.BestRunID}}
	if err := c.LogBatch(ctx, parent, metrics, nil, tags); err != nil {
		return nil, err
	}
	fmt.Fprintf(s.Stdout, "best: trial %s (run %s) %s = %s with %s\n", best.ID, res.BestRunID, s.Metric,
		strconv.FormatFloat(best.Value, 'g', -1, 64), best.Params)
	return res, nil
}

// withoutKeys drops the environment entries of keys.
func withoutKeys(environ []string, keys ...string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(keys, k) {
			out = append(out, kv)
		}
	}
	return out
}

// tail returns the last n non-empty lines of a file, joined.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

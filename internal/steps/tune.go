package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/cairn-mlops/cairn/internal/jobs"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/tune"
)

func init() {
	Register(Info{ID: "tune.sweep", Version: "1", Doc: "hyperparameter search: trials of a training step as child runs, early stopping, the best registered",
		Outputs: []string{"best_trial", "best_run_id", "best_value", "best_params", "runs", "model_uri", "version", "wall_seconds", "trial_seconds"},
		New:     func() Step { return &Sweep{} }})
}

// Sweep is the tune.sweep step: a search over a training step's inputs.
// Its inputs are a tune.Spec; the spec's trial names the step each trial
// runs and its fixed inputs ({uses: train.cnn, with: {...}}), and each
// trial's sampled parameters are added to those inputs. Every trial is a
// child process (cairn step exec) with its own tracking run, a child of the
// task's run (tag mlflow.parentRunId); the scheduler reads the trial's
// per-epoch metric from the tracking server and stops it early when it
// lags. The sweep's state is kept in the task's folder, so a resumed task
// re-runs only the trials that had not ended.
type Sweep struct {
	tune.Spec
	// Capacity is what the trials may use together (default: this
	// machine's CPUs, and the GPUs listed in CUDA_VISIBLE_DEVICES).
	Capacity *tune.Resources `json:"capacity,omitempty"`

	// OnChange, when set, is called with the trials whenever one changes
	// (cairn tune's live table).
	OnChange func(trials []tune.Trial, p tune.Progress) `json:"-"`
	// Command starts a step (default: this executable's "step exec").
	Command []string `json:"-"`
	// Poll is how often a running trial's metric is read (default 200ms).
	Poll time.Duration `json:"-"`
	// Executor runs the trials (default: exec.Local, child processes of
	// this one), as a pipeline's executor runs its tasks.
	Executor exec.Executor `json:"-"`
}

// trialSpec is what each trial runs.
type trialSpec struct {
	Uses string         `json:"uses"`
	With map[string]any `json:"with"`
}

func (s *Sweep) trial() (trialSpec, error) {
	var t trialSpec
	b, err := json.Marshal(s.Trial)
	if err != nil {
		return t, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, errs.Invalidf(`input "trial": expected {uses: STEP, with: {...}}: %v`, err)
	}
	return t, nil
}

// Validate implements Validator.
func (s *Sweep) Validate() error {
	var problems []string
	if err := s.Spec.Validate(); err != nil {
		problems = append(problems, errs.MessageOf(err))
	}
	t, err := s.trial()
	if err != nil {
		problems = append(problems, errs.MessageOf(err))
	} else {
		info, ok := Default().info(t.Uses)
		switch {
		case t.Uses == "":
			problems = append(problems, `input "trial.uses" is required: the step each trial runs, e.g. train.cnn`)
		case !ok:
			problems = append(problems, fmt.Sprintf(`input "trial.uses": unknown step type %q`, t.Uses))
		case !slices.Contains(info.Outputs, "run_id"):
			problems = append(problems, fmt.Sprintf(`input "trial.uses": %s is not a training step (it has no run_id output); use train.cnn or train.tabular`, t.Uses))
		default:
			known := info.Inputs()
			for name := range s.Space {
				if !slices.Contains(known, name) {
					problems = append(problems, fmt.Sprintf("space parameter %q is not an input of %s (inputs: %s)", name, t.Uses, strings.Join(known, ", ")))
				}
			}
		}
	}
	if r := s.Register; r != nil && r.Name == "" {
		problems = append(problems, `input "register.name" is required: the registered model the best trial becomes`)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errs.Invalidf("tune.sweep: %s", strings.Join(problems, "; "))
	}
	return nil
}

// info returns a step type's registration.
func (r *Registry) info(id string) (*Info, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i, ok := r.types[id]
	return i, ok
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

// Run implements Step.
func (s *Sweep) Run(ctx context.Context, env Env) (map[string]string, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	ts, _ := s.trial()
	c, err := trackingClient(env)
	if err != nil {
		return nil, err
	}
	parent, expID := env.RunID, env.ExperimentID
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
	capacity := s.capacity(env)
	dir := sweepDir(env)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sw, state, err := s.open(dir, capacity)
	if err != nil {
		return nil, err
	}
	if err := c.LogBatch(ctx, parent, nil, s.sweepParams(ts), []tracking.Tag{{Key: "cairn.tune.trial_step", Value: ts.Uses}}); err != nil {
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
	gpus := newGPUPool(int(capacity.GPU), envValue(env.Environ, "CUDA_VISIBLE_DEVICES"))
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
			tctx, cancel := context.WithCancel(ctx)
			cancels[t.ID] = cancel
			tenv := env
			if need > 0 {
				tenv.Environ = append(withoutKeys(env.Environ, "CUDA_VISIBLE_DEVICES"), "CUDA_VISIBLE_DEVICES="+visible)
			}
			wg.Add(1)
			go func(t tune.Trial) {
				defer wg.Done()
				ends <- s.runTrial(tctx, c, runner, cmd, tenv, ts, t, runID, dir, sw, cancel)
			}(*t)
			fmt.Fprintf(env.Stdout, "trial %s started (run %s): %s\n", t.ID, runID, t.Params)
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
		fmt.Fprintln(env.Stdout, msg)
	}
	wall := time.Since(start)
	if err := save(); err != nil {
		return nil, err
	}
	changed()
	return s.conclude(ctx, c, env, sw, state, parent, wall, trialTime)
}

func (s *Sweep) capacity(env Env) tune.Resources {
	if s.Capacity != nil {
		return *s.Capacity
	}
	capacity := tune.Resources{CPU: float64(runtime.NumCPU())}
	if v := envValue(env.Environ, "CUDA_VISIBLE_DEVICES"); v != "" {
		capacity.GPU = float64(len(strings.Split(v, ",")))
	}
	return capacity
}

// sweepDir is where a sweep keeps its state. In a pipeline task it is
// under the data folder, by pipeline run and task, because the executor
// empties the task's output folder before each attempt and a resumed
// sweep needs what the killed one wrote; elsewhere (cairn tune) it is in
// the output folder the caller chose.
func sweepDir(env Env) string {
	run, task := envValue(env.Environ, "CAIRN_RUN_ID"), envValue(env.Environ, "CAIRN_TASK")
	if run == "" || task == "" {
		return filepath.Join(env.OutputsDir, "sweep")
	}
	if i := envValue(env.Environ, "CAIRN_ITEM_INDEX"); i != "" {
		task += "-" + i
	}
	return filepath.Join(dataDir(env), "tune", run, task)
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
func (s *Sweep) open(dir string, capacity tune.Resources) (*tune.Sweep, *sweepState, error) {
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

func (s *Sweep) sweepParams(ts trialSpec) []tracking.Param {
	sp := s.Spec.WithDefaults()
	ps := []tracking.Param{
		{Key: "tune.metric", Value: sp.Metric}, {Key: "tune.mode", Value: string(sp.Mode)},
		{Key: "tune.sampler", Value: sp.Sampler.Type}, {Key: "tune.scheduler", Value: sp.Scheduler.Type},
		{Key: "tune.trials", Value: strconv.Itoa(sp.Size())}, {Key: "tune.max_concurrent", Value: strconv.Itoa(sp.MaxConcurrent)},
		{Key: "tune.trial_step", Value: ts.Uses},
	}
	if space, err := json.Marshal(sp.Space); err == nil && len(space) <= 6000 {
		ps = append(ps, tracking.Param{Key: "tune.space", Value: string(space)})
	}
	return ps
}

// startRun creates the tracking run of one attempt of a trial.
func (s *Sweep) startRun(ctx context.Context, c *client.Client, expID, parent string, t *tune.Trial, devices string) (string, error) {
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
func (s *Sweep) runTrial(ctx context.Context, c *client.Client, runner exec.Executor, cmd []string, env Env, ts trialSpec,
	t tune.Trial, runID, dir string, sw *tune.Sweep, stop context.CancelFunc) trialEnd {
	end := trialEnd{id: t.ID, runID: runID}
	tdir := filepath.Join(dir, t.ID, strconv.Itoa(t.Attempts))
	out := filepath.Join(tdir, "outputs")
	if err := os.MkdirAll(out, 0o755); err != nil {
		end.res = exec.Result{ExitCode: -1, Err: err}
		return end
	}
	with := map[string]any{}
	for k, v := range ts.With {
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
	environ := append(withoutKeys(env.Environ, "MLFLOW_RUN_ID", "CAIRN_OUTPUTS_DIR", "CAIRN_OUTPUTS", "MLFLOW_TRACKING_URI"),
		"MLFLOW_TRACKING_URI="+env.TrackingURI, "MLFLOW_RUN_ID="+runID, "CAIRN_OUTPUTS_DIR="+out, "CAIRN_OUTPUTS="+outFile,
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
	end.res = runner.Execute(ctx, &exec.Job{Args: append(append([]string{}, cmd...), ts.Uses, "--inputs", inFile), Env: environ, Log: logf})
	end.took = time.Since(startAt)
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
func (s *Sweep) watch(ctx context.Context, c *client.Client, sw *tune.Sweep, id, runID string, done <-chan struct{}, stop context.CancelFunc) {
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
func (s *Sweep) report(ctx context.Context, c *client.Client, sw *tune.Sweep, id, runID string, seen map[int64]bool) tune.Decision {
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
func (s *Sweep) finishTrial(ctx context.Context, c *client.Client, sw *tune.Sweep, state *sweepState, end trialEnd) string {
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

func (s *Sweep) endRun(ctx context.Context, c *client.Client, runID, status, tag, value string) {
	ctx = context.WithoutCancel(ctx)
	if len(value) > 5000 {
		value = value[:5000]
	}
	_ = c.LogBatch(ctx, runID, nil, nil, []tracking.Tag{{Key: tag, Value: value}})
	_ = c.UpdateRun(ctx, runID, status, time.Now().UnixMilli())
}

// conclude logs the sweep's result on the parent run and registers the
// best trial's model when asked.
func (s *Sweep) conclude(ctx context.Context, c *client.Client, env Env, sw *tune.Sweep, state *sweepState, parent string,
	wall, trialTime time.Duration) (map[string]string, error) {
	trials := sw.Trials()
	runs := []string{}
	var best *tune.Trial
	for i := range trials {
		t := &trials[i]
		if r := state.Runs[t.ID]; len(r) > 0 {
			runs = append(runs, r[len(r)-1])
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
	runsJSON, _ := json.Marshal(runs)
	out := map[string]string{"runs": string(runsJSON), "wall_seconds": fmt.Sprintf("%.3f", wall.Seconds()),
		"trial_seconds": fmt.Sprintf("%.3f", trialTime.Seconds()), "model_uri": "", "version": ""}
	p := sw.Progress()
	fmt.Fprintf(env.Stdout, "sweep done: %d succeeded, %d stopped early, %d failed in %s (trials ran %s in all)\n",
		p.Succeeded, p.Stopped, p.Failed, wall.Round(time.Millisecond), trialTime.Round(time.Millisecond))
	if best == nil {
		return nil, errs.Invalidf("tune.sweep: no trial succeeded with a %s (%d stopped, %d failed)", s.Metric, p.Stopped, p.Failed)
	}
	bestRun := state.Runs[best.ID][len(state.Runs[best.ID])-1]
	params, _ := json.Marshal(best.Params)
	out["best_trial"], out["best_run_id"], out["best_params"] = best.ID, bestRun, string(params)
	out["best_value"] = strconv.FormatFloat(best.Value, 'g', -1, 64)
	metrics := []tracking.Metric{{Key: "best_" + s.Metric, Value: best.Value, Timestamp: time.Now().UnixMilli()},
		{Key: "tune.trials_succeeded", Value: float64(p.Succeeded)}, {Key: "tune.trials_stopped", Value: float64(p.Stopped)},
		{Key: "tune.trials_failed", Value: float64(p.Failed)}, {Key: "tune.wall_seconds", Value: wall.Seconds()}}
	tags := []tracking.Tag{{Key: "cairn.tune.best_trial", Value: best.ID}, {Key: "cairn.tune.best_run_id", Value: bestRun}}
	if err := c.LogBatch(ctx, parent, metrics, nil, tags); err != nil {
		return nil, err
	}
	fmt.Fprintf(env.Stdout, "best: trial %s (run %s) %s = %s with %s\n", best.ID, bestRun, s.Metric, out["best_value"], best.Params)
	if s.Register != nil {
		prom := &Promote{Name: s.Register.Name, Runs: bestRun, Metric: s.Metric, Mode: string(s.Mode), Alias: s.Register.Alias, Artifact: jobs.PackageArtifact}
		got, err := prom.Run(ctx, env)
		if err != nil {
			return nil, fmt.Errorf("tune.sweep: register the best trial: %w", err)
		}
		out["model_uri"], out["version"] = got["model_uri"], got["version"]
	}
	return out, nil
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

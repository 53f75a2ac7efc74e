package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/jobs"
	"github.com/cairn-mlops/cairn/internal/tune"
)

func init() {
	Register(Info{ID: "tune.sweep", Version: "1", Doc: "hyperparameter search: trials of a training step as child runs, early stopping, the best registered",
		Outputs: []string{"best_trial", "best_run_id", "best_value", "best_params", "runs", "model_uri", "version", "wall_seconds", "trial_seconds"},
		New:     func() Step { return &Sweep{} }})
}

// Sweep is the tune.sweep step: a search over a training step's inputs,
// run by jobs.RunSweep.
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
	capacity := jobs.DefaultCapacity(env.Environ)
	if s.Capacity != nil {
		capacity = *s.Capacity
	}
	res, err := jobs.RunSweep(ctx, c, jobs.SweepJob{
		Spec: s.Spec, TrialStep: ts.Uses, TrialWith: ts.With, Capacity: capacity, Dir: sweepDir(env),
		Parent: env.RunID, ExperimentID: env.ExperimentID, TrackingURI: env.TrackingURI, Environ: env.Environ, Stdout: env.Stdout,
		Command: s.Command, Executor: s.Executor, Poll: s.Poll, OnChange: s.OnChange,
	}.OnExecutor(env.Trials, env.TrialPod))
	if err != nil {
		return nil, err
	}
	runs, _ := json.Marshal(res.Runs)
	params, _ := json.Marshal(res.BestParams)
	out := map[string]string{"runs": string(runs), "wall_seconds": fmt.Sprintf("%.3f", res.Wall.Seconds()),
		"trial_seconds": fmt.Sprintf("%.3f", res.TrialTime.Seconds()), "model_uri": "", "version": "",
		"best_trial": res.BestTrial, "best_run_id": res.BestRunID, "best_params": string(params),
		"best_value": strconv.FormatFloat(res.BestValue, 'g', -1, 64)}
	if s.Register != nil {
		prom := &Promote{Name: s.Register.Name, Runs: res.BestRunID, Metric: s.Metric, Mode: string(s.Mode), Alias: s.Register.Alias, Artifact: jobs.PackageArtifact}
		got, err := prom.Run(ctx, env)
		if err != nil {
			return nil, fmt.Errorf("tune.sweep: register the best trial: %w", err)
		}
		out["model_uri"], out["version"] = got["model_uri"], got["version"]
	}
	return out, nil
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

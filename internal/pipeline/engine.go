package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// Options configure an Engine.
type Options struct {
	// Root holds each run's task folders: Root/RUN/NODE/{out,in,log,...}.
	Root string
	// Capacity is what the machine offers tasks; a zero CPU means
	// runtime.NumCPU(), a zero Memory means memory is not packed.
	Capacity spec.Resources
	// DefaultCPU is the CPU request of tasks that give none.
	DefaultCPU float64
	// StepCommand starts a built-in step: the step ID, "--inputs" and a file
	// are appended. Default: this executable with "step exec".
	StepCommand []string
	// Shell runs run: commands as Shell -c COMMAND. Default "sh".
	Shell string
	// Environ is the environment every task starts from (cmd passes its own).
	Environ []string
	// TrackingURI is MLFLOW_TRACKING_URI for tasks; empty leaves it unset.
	TrackingURI string
	// Owner names this process in run records; default "HOST:PID".
	Owner string
	// Heartbeat is how often a running run's owner records it is alive and
	// checks for a cancel request; StaleAfter is when a silent owner is
	// presumed dead and its run may be resumed elsewhere.
	Heartbeat  time.Duration
	StaleAfter time.Duration
	// OnTask, when set, is called with a copy of a task run after each of
	// its state changes, from the goroutine that made it; the CLI prints
	// progress with it.
	OnTask func(runID string, t TaskRun)
	// Sandbox, when set, confines every task to what it may read and write
	// (see exec.Sandbox).
	Sandbox *exec.SandboxOptions
	// Credentials, when set, issues each run's tasks their own tracking
	// credential (MLFLOW_TRACKING_TOKEN), acting for the submitting user.
	Credentials Credentials
	// Limits bound what one spec may ask for: tasks, and for_each items per
	// task and per run (zero fields take spec.DefaultLimits).
	Limits spec.Limits
	// Remote are executors that run tasks away from this machine, by the
	// name a spec's executor: gives ("kubernetes"). DefaultExecutor names
	// the one for specs that name none; "" or "local" is the executor
	// NewEngine got.
	Remote          map[string]*RemoteExecutor
	DefaultExecutor string
	// Files, when set, keeps the files of the tasks that run on this
	// machine in the artifact store, as a remote executor's are (see Files).
	Files  Files
	Logger *slog.Logger
}

// RemoteExecutor runs tasks in containers away from this machine. Their
// world is their image's, so the engine packs none of them onto this
// machine's capacity (the cluster schedules them) and sandboxes none (the
// container confines them), and steps start with a command in the image.
type RemoteExecutor struct {
	Executor    exec.Executor
	StepCommand []string // the step ID, "--inputs" and a file are appended
	// Shell runs run: commands (Shell -c COMMAND) in the executor's own
	// image; default sh. A task with an image of its own runs sh -c.
	Shell []string
	// Environ is what every task starts from instead of this process's.
	Environ []string
	// TrackingURI is how tasks reach this server (MLFLOW_TRACKING_URI).
	TrackingURI string
	// MaxRunning caps the attempts of one run running at once; 0 is no cap.
	MaxRunning int
	// ServiceAccounts are those a spec's kubernetes: service_account: may
	// name. A task's pod acts with its account's rights on the cluster, so
	// the operator picks them; none by default.
	ServiceAccounts []string
	// Root is an empty folder every container gets (exec.Job.Scratch):
	// ROOT/in is $CAIRN_INPUTS_DIR, ROOT/tasks/NODE/out a task's
	// $CAIRN_OUTPUTS_DIR (the same path in every pod, so that paths in its
	// output values hold downstream) and ROOT/tasks/NODE/out/.cairn-data
	// its $CAIRN_DATA_DIR (prepared datasets travel with the task's files).
	Root string
	// OutputsFile is $CAIRN_OUTPUTS inside the container; the executor
	// brings it back (exec.Result.Outputs).
	OutputsFile string
	// Wrapper runs a task's command inside its container, fetching the
	// task's input files before and storing its outputs folder after,
	// through the server ($CAIRN_TASK_FILES): cairn pod run --. Init
	// installs it into the container first (exec.Job.Init).
	Wrapper, Init []string
}

// placement is how one execution's tasks start: here, or on a remote
// executor.
type placement struct {
	name        string
	executor    exec.Executor
	stepCommand []string
	shell       []string
	environ     []string
	trackingURI string
	sandbox     *exec.SandboxOptions
	remote      bool
	maxRunning  int
	// inside the container, when remote
	root, outputsFile string
	wrapper, init     []string
	serviceAccounts   []string
}

// checkServiceAccounts refuses a plan whose tasks name a service account
// the operator has not allowed.
func (p *placement) checkServiceAccounts(plan *spec.Plan) error {
	var problems []string
	for _, pt := range plan.Order {
		sa := plan.Spec.Kubernetes.Merge(pt.Kubernetes).ServiceAccount
		if sa != "" && !slices.Contains(p.serviceAccounts, sa) {
			problems = append(problems, fmt.Sprintf("task %q asks for service account %q", pt.Name, sa))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	allowed := "none is"
	if len(p.serviceAccounts) > 0 {
		allowed = strings.Join(p.serviceAccounts, ", ") + " are"
	}
	return errs.E(errs.PermissionDenied, "pipeline %s: %s; on this server %s allowed (--kube-service-accounts)",
		plan.Spec.Name, strings.Join(problems, "; "), allowed)
}

func (p *placement) inputsDir() string { return p.root + "/in" }

// outputsDir is a task node's outputs folder in every container.
func (p *placement) outputsDir(node string) string { return p.root + "/tasks/" + node + "/out" }

// placement returns where plan's tasks run.
func (e *Engine) placement(plan *spec.Plan) (*placement, error) {
	name := plan.Spec.Executor
	if name == "" {
		name = e.opts.DefaultExecutor
	}
	if name == "" || name == "local" {
		return &placement{name: "local", executor: e.executor, stepCommand: e.opts.StepCommand, shell: []string{e.opts.Shell},
			environ: e.opts.Environ, trackingURI: e.opts.TrackingURI, sandbox: e.opts.Sandbox}, nil
	}
	r := e.opts.Remote[name]
	if r == nil {
		return nil, errs.Invalidf("pipeline %s runs on executor %q, which this server does not have (start it with --executor %s, or give %s: in its config file)",
			plan.Spec.Name, name, name, name)
	}
	shell := r.Shell
	if len(shell) == 0 {
		shell = []string{"sh"}
	}
	return &placement{name: name, executor: r.Executor, stepCommand: r.StepCommand, shell: shell, environ: r.Environ,
		trackingURI: r.TrackingURI, remote: true, maxRunning: r.MaxRunning,
		root: r.Root, outputsFile: r.OutputsFile, wrapper: r.Wrapper, init: r.Init, serviceAccounts: r.ServiceAccounts}, nil
}

// Credentials issues the tracking credential of one run's tasks.
type Credentials interface {
	// Issue returns the secret run's tasks authenticate with, acting for
	// run.SubmittedBy, confined to the run and its experiment; commands says
	// whether the run has run: tasks; keep leaves the run's earlier
	// credentials valid (attempts still running in a cluster hold them),
	// otherwise the new one replaces them. Errors: Invalid (no user
	// recorded), NotFound (the user is gone), PermissionDenied (the role).
	Issue(ctx context.Context, run *Run, commands, keep bool) (string, error)
	// Revoke ends the credential of run runID, if any.
	Revoke(ctx context.Context, runID string) error
}

// DefaultOptions returns options with 1 CPU per task by default, a 1 s
// heartbeat and a 15 s stale owner timeout.
func DefaultOptions() Options {
	return Options{DefaultCPU: 1, Shell: "sh", Heartbeat: time.Second, StaleAfter: 15 * time.Second, Logger: slog.Default()}
}

// Engine submits, executes, resumes, retries and cancels pipeline runs.
type Engine struct {
	store    Store
	tracker  Tracker
	executor exec.Executor
	cat      spec.Catalog
	opts     Options
	host     string
	fetching folderLocks
}

// NewEngine returns an engine over its dependencies.
func NewEngine(store Store, tracker Tracker, executor exec.Executor, cat spec.Catalog, opts Options) (*Engine, error) {
	def := DefaultOptions()
	if opts.Root == "" {
		return nil, errors.New("pipeline engine: Options.Root is required")
	}
	if opts.Capacity.CPU <= 0 {
		opts.Capacity.CPU = float64(runtime.NumCPU())
	}
	if opts.DefaultCPU <= 0 {
		opts.DefaultCPU = def.DefaultCPU
	}
	if opts.DefaultCPU > opts.Capacity.CPU {
		opts.DefaultCPU = opts.Capacity.CPU
	}
	if opts.Shell == "" {
		opts.Shell = def.Shell
	}
	if len(opts.StepCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("pipeline engine: find executable: %w", err)
		}
		opts.StepCommand = []string{exe, "step", "exec"}
	}
	if opts.Sandbox != nil && len(opts.Sandbox.Command) == 0 {
		sb := *opts.Sandbox
		sb.Command = []string{opts.StepCommand[0], "sandbox"}
		opts.Sandbox = &sb
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = def.Heartbeat
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = def.StaleAfter
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Limits = opts.Limits.WithDefaults()
	for name, r := range opts.Remote {
		if r == nil || r.Executor == nil || len(r.StepCommand) == 0 || !strings.HasPrefix(r.Root, "/") || r.OutputsFile == "" || len(r.Wrapper) == 0 {
			return nil, fmt.Errorf("pipeline engine: remote executor %q needs an executor, a step command, a wrapper and its container's folders", name)
		}
	}
	host, _ := os.Hostname()
	if opts.Owner == "" {
		opts.Owner = host + ":" + strconv.Itoa(os.Getpid())
	}
	return &Engine{store: store, tracker: tracker, executor: executor, cat: cat, opts: opts, host: host}, nil
}

// Store returns the engine's store, for reads.
func (e *Engine) Store() Store { return e.store }

// Catalog returns the engine's step catalog.
func (e *Engine) Catalog() spec.Catalog { return e.cat }

// Load parses and compiles a spec file's contents against the engine's
// catalog, within its Limits. Errors: Invalid (every problem of the spec).
func (e *Engine) Load(file string, src []byte) (*spec.Plan, error) {
	return spec.Load(file, src, e.cat, e.opts.Limits)
}

// Submission is a request to run a pipeline.
type Submission struct {
	File    string // name for messages, e.g. "fingers.yaml"
	Source  []byte // the spec
	WorkDir string // folder run: commands start in
	Params  map[string]any
	Trigger string // cli, api, schedule
	// User is who submits it; with Options.Credentials, the run's tasks act
	// for this user.
	User string
}

// Register validates a spec and stores it as its pipeline's definition,
// without running it. Errors: Invalid (every problem of the spec).
func (e *Engine) Register(ctx context.Context, s Submission) (*spec.Plan, error) {
	plan, err := e.Load(s.File, s.Source)
	if err != nil {
		return nil, err
	}
	if err := e.checkCapacity(plan); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	def := &Definition{Name: plan.Spec.Name, Source: string(s.Source), File: s.File, Schedule: plan.Spec.Schedule,
		WorkDir: s.WorkDir, RegisteredBy: s.User, Created: now, Updated: now}
	if err := e.store.SavePipeline(ctx, def); err != nil {
		return nil, fmt.Errorf("register pipeline: %w", err)
	}
	return plan, nil
}

// Submit validates a spec and its params, stores the definition and a new
// Pending run with every task, and returns the run; Execute runs it.
// Errors: Invalid (every problem of the spec or params).
func (e *Engine) Submit(ctx context.Context, s Submission) (*Run, error) {
	plan, err := e.Load(s.File, s.Source)
	if err != nil {
		return nil, err
	}
	params, err := plan.ResolveParams(s.Params)
	if err != nil {
		return nil, err
	}
	if _, err := e.Register(ctx, s); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	run := &Run{ID: tracking.NewID(), Pipeline: plan.Spec.Name, Source: string(s.Source), File: s.File, WorkDir: s.WorkDir,
		Params: params, Phase: Pending, Trigger: s.Trigger, SubmittedBy: s.User, Created: now}
	for _, pt := range plan.Order {
		run.Tasks = append(run.Tasks, &TaskRun{Node: pt.Name, Task: pt.Name, Item: -1, Phase: Pending})
	}
	if err := e.store.CreatePipelineRun(ctx, run); err != nil {
		return nil, fmt.Errorf("submit pipeline run: %w", err)
	}
	return run, nil
}

func (e *Engine) checkCapacity(plan *spec.Plan) error {
	where, err := e.placement(plan)
	if err != nil {
		return err
	}
	if where.remote {
		return where.checkServiceAccounts(plan) // resources are the cluster's to say, when it schedules the pods
	}
	var problems []string
	c := e.opts.Capacity
	for _, pt := range plan.Order {
		r := e.request(pt)
		if r.CPU > c.CPU {
			problems = append(problems, fmt.Sprintf("task %q requests %g CPUs; this machine offers %g", pt.Name, r.CPU, c.CPU))
		}
		if c.Memory > 0 && r.Memory > c.Memory {
			problems = append(problems, fmt.Sprintf("task %q requests %d bytes of memory; this machine offers %d", pt.Name, r.Memory, c.Memory))
		}
		if r.GPU > c.GPU {
			problems = append(problems, fmt.Sprintf("task %q requests %d GPUs; this machine offers %d", pt.Name, r.GPU, c.GPU))
		}
	}
	if len(problems) > 0 {
		return errs.Invalidf("pipeline %s cannot run here: %s", plan.Spec.Name, strings.Join(problems, "; "))
	}
	return nil
}

func (e *Engine) request(pt *spec.PlanTask) spec.Resources {
	r := pt.Resources
	if r.CPU == 0 {
		r.CPU = e.opts.DefaultCPU
	}
	return r
}

// ownerAlive reports whether a run's owner may still be executing it.
func (e *Engine) ownerAlive(r *Run, now time.Time) bool {
	if r.Owner == "" {
		return false
	}
	if r.Owner == e.opts.Owner {
		return true
	}
	host, pid, ok := strings.Cut(r.Owner, ":")
	if n, err := strconv.Atoi(pid); ok && err == nil && host == e.host && !exec.ProcessAlive(n) {
		return false
	}
	return now.Sub(r.Heartbeat) < e.opts.StaleAfter
}

// Execute runs a stored run in this process until it ends, resuming it
// when it was interrupted: finished tasks keep their results, interrupted
// ones run again. If ctx ends first, running tasks are killed and the run is
// left to resume (Execute returns ctx's error). Errors: NotFound, Conflict
// (another live process executes the run).
func (e *Engine) Execute(ctx context.Context, id string) (*Run, error) {
	run, err := e.store.FindPipelineRunByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if run.Phase.Done() {
		return run, nil
	}
	now := time.Now().UTC()
	stale := now.Add(-e.opts.StaleAfter)
	if !e.ownerAlive(run, now) {
		stale = now.Add(time.Hour) // the owner is gone: take over at once
	}
	if err := e.store.ClaimPipelineRun(ctx, id, e.opts.Owner, now, stale); err != nil {
		if errs.KindOf(err) == errs.Conflict {
			return nil, errs.Conflictf("pipeline run %s is being executed by %s (last heartbeat %s ago); cancel it or wait",
				id, run.Owner, now.Sub(run.Heartbeat).Round(time.Second))
		}
		return nil, err
	}
	run.Owner, run.Heartbeat = e.opts.Owner, now
	x, err := newExecution(e, run)
	if err != nil {
		return x.fail(ctx, err)
	}
	return x.execute(ctx)
}

// Retry re-runs a finished, failed run for user: its failed and omitted
// tasks go back to Pending (with a fresh retry budget); what succeeded is
// kept. Execute then runs it, its tasks acting for user. Errors: NotFound,
// Conflict (the run has not failed).
func (e *Engine) Retry(ctx context.Context, id, user string) (*Run, error) {
	run, err := e.store.FindPipelineRunByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if run.Phase != Failed && run.Phase != Cancelled {
		return nil, errs.Conflictf("pipeline run %s is %s: only a failed or cancelled run can be retried", id, run.Phase)
	}
	var reset []*TaskRun
	for _, t := range run.Tasks {
		if t.Phase == Failed || t.Phase == Omitted || t.Phase == Cancelled || (t.Item < 0 && t.Phase == Running) {
			t.Phase, t.Attempts, t.Message, t.TrackingRunID, t.PID, t.PIDStart = Pending, 0, "", "", 0, ""
			t.Started, t.Finished = time.Time{}, time.Time{}
			reset = append(reset, t)
		}
	}
	run.Phase, run.Message, run.Finished, run.Trigger, run.SubmittedBy = Pending, "", time.Time{}, "retry", user
	if err := e.store.UpdatePipelineRun(ctx, run, reset...); err != nil {
		return nil, fmt.Errorf("retry pipeline run: %w", err)
	}
	if run.TrackingRunID != "" {
		if err := e.tracker.SetStatus(ctx, run.TrackingRunID, tracking.StatusRunning); err != nil {
			return nil, err
		}
	}
	return run, nil
}

// Cancel asks a run to stop: its owner kills the running tasks within a
// heartbeat and marks the run Cancelled. A run that no live process owns is
// finished here. Errors: NotFound, Conflict (the run has already ended).
func (e *Engine) Cancel(ctx context.Context, id string) error {
	run, err := e.store.FindPipelineRunByID(ctx, id)
	if err != nil {
		return err
	}
	if run.Phase.Done() {
		return errs.Conflictf("pipeline run %s has already ended (%s)", id, run.Phase)
	}
	if err := e.store.RequestCancel(ctx, id); err != nil {
		return err
	}
	if !e.ownerAlive(run, time.Now().UTC()) {
		_, err := e.Execute(ctx, id) // sees the cancel flag and finishes the run
		if errs.KindOf(err) == errs.Conflict {
			return nil // someone took it over meanwhile; they will see the flag
		}
		return err
	}
	return nil
}

// Orphans returns the runs that are not finished and that no live process
// owns: the ones a server resumes at start.
func (e *Engine) Orphans(ctx context.Context) ([]*Run, error) {
	runs, err := e.store.FindPipelineRuns(ctx, RunFilter{Phases: []Phase{Pending, Running}, Limit: 1000})
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	var out []*Run
	for _, r := range runs {
		if !e.ownerAlive(r, now) {
			out = append(out, r)
		}
	}
	return out, nil
}

// ReadLog returns up to max bytes of a task's log from offset, and the
// offset after them. Errors: NotFound (no such task, or no log yet).
func (e *Engine) ReadLog(ctx context.Context, runID, node string, offset int64, max int) ([]byte, int64, *TaskRun, error) {
	run, err := e.store.FindPipelineRunByID(ctx, runID)
	if err != nil {
		return nil, 0, nil, err
	}
	var t *TaskRun
	for _, tr := range run.Tasks {
		if tr.Node == node {
			t = tr
		}
	}
	if t == nil {
		return nil, 0, nil, errs.NotFoundf("pipeline run %s has no task %q", runID, node)
	}
	if t.LogPath == "" {
		return nil, offset, t, nil
	}
	b, next, err := readFrom(t.LogPath, offset, max)
	return b, next, t, err
}

func readFrom(path string, offset int64, max int) ([]byte, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, offset, nil
	}
	if err != nil {
		return nil, offset, fmt.Errorf("read log: %w", err)
	}
	defer f.Close()
	if max <= 0 {
		max = 1 << 20
	}
	buf := make([]byte, max)
	n, err := f.ReadAt(buf, offset)
	if n == 0 && err != nil && !errors.Is(err, io.EOF) {
		return nil, offset, fmt.Errorf("read log: %w", err)
	}
	return buf[:n], offset + int64(n), nil
}

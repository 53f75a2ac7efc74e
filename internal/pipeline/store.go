package pipeline

import (
	"context"
	"time"

	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
)

// Phase is the state of a pipeline run or of one of its tasks, named as Argo
// names node phases.
type Phase string

// The phases. Skipped means the task's when: was false; Omitted means it
// could not run because a task it needs failed or was omitted.
const (
	Pending   Phase = "Pending"
	Running   Phase = "Running"
	Succeeded Phase = "Succeeded"
	Failed    Phase = "Failed"
	Cancelled Phase = "Cancelled" // a cancel was requested
	Skipped   Phase = "Skipped"
	Omitted   Phase = "Omitted"
)

// Done reports whether the phase is final.
func (p Phase) Done() bool { return p != Pending && p != Running }

// satisfies reports whether a task in this phase lets its dependents run.
func (p Phase) satisfies() bool { return p == Succeeded || p == Skipped }

// Definition is a stored pipeline: its latest spec, by name.
type Definition struct {
	Name     string
	Source   string // the YAML
	File     string
	Schedule string
	WorkDir  string // folder run: commands start in
	// RegisteredBy is the user who last stored the spec ("" without
	// --auth); its scheduled runs act for them.
	RegisteredBy string
	Created      time.Time
	Updated      time.Time
}

// Run is one run of a pipeline.
type Run struct {
	ID       string
	Pipeline string
	Source   string // the spec as it ran
	File     string
	WorkDir  string
	Params   spec.Params
	Phase    Phase
	Message  string
	Trigger  string // cli, api, schedule, retry
	// SubmittedBy is the user the run's tasks act for ("" without --auth).
	SubmittedBy   string
	ExperimentID  string
	TrackingRunID string
	// Owner is the process executing the run ("host:pid"), empty when none;
	// Heartbeat is when it last said it is alive.
	Owner     string
	Heartbeat time.Time
	Cancel    bool // a cancel was requested
	Created   time.Time
	Started   time.Time
	Finished  time.Time
	Tasks     []*TaskRun // in plan order; filled by FindPipelineRunByID
}

// TaskRun is the state of one task, or of one item of a for_each task (Node
// "train[2]", Item 2), within a run.
type TaskRun struct {
	Node          string // task name, or task[i] for an item
	Task          string
	Item          int    // -1 for a task, else the item's index
	ItemValue     string // the item as JSON
	Phase         Phase
	Attempts      int
	TrackingRunID string
	CacheKey      string
	CachedFrom    string // "runID/node" of the run whose outputs were reused
	Outputs       map[string]string
	OutputDir     string
	Digest        string // hash of the outputs and the files in OutputDir
	LogPath       string
	Message       string
	ExitCode      int
	PID           int    // process group of the running attempt, 0 when none
	PIDStart      string // which process PID named, see ProcStart; "" when unknown
	Started       time.Time
	Finished      time.Time
}

// RunFilter selects runs for FindPipelineRuns.
type RunFilter struct {
	Pipeline string  // empty for all
	Phases   []Phase // empty for all
	Limit    int     // 0 for the store's default (100)
	Before   string  // page token: list runs created before this run
}

// Store persists pipelines, runs and task runs. Every call is one
// transaction: a run is never stored half-written.
type Store interface {
	// SavePipeline creates or replaces a pipeline definition by name.
	SavePipeline(ctx context.Context, d *Definition) error
	// FindPipelineByName returns a definition. Errors: NotFound.
	FindPipelineByName(ctx context.Context, name string) (*Definition, error)
	// FindPipelines returns every definition, by name.
	FindPipelines(ctx context.Context) ([]*Definition, error)
	// CreatePipelineRun stores a run with all its task rows.
	// Errors: NotFound (no such pipeline), Conflict (ID taken).
	CreatePipelineRun(ctx context.Context, r *Run) error
	// FindPipelineRunByID returns a run with its task runs. Errors: NotFound.
	FindPipelineRunByID(ctx context.Context, id string) (*Run, error)
	// FindPipelineRuns returns runs (without task runs), newest first.
	FindPipelineRuns(ctx context.Context, f RunFilter) ([]*Run, error)
	// UpdatePipelineRun writes a run's phase, message, owner, heartbeat,
	// trigger, tracking IDs and times (not its cancel flag), and creates or
	// replaces the given task runs, in one transaction. Errors: NotFound.
	UpdatePipelineRun(ctx context.Context, r *Run, tasks ...*TaskRun) error
	// ClaimPipelineRun makes owner the run's owner when it has none, already
	// is owner, or its owner's heartbeat is older than staleBefore.
	// Errors: NotFound, Conflict (another live owner).
	ClaimPipelineRun(ctx context.Context, id, owner string, now, staleBefore time.Time) error
	// HeartbeatPipelineRun records that owner is alive and reports whether a
	// cancel was requested. Errors: NotFound, Conflict (owner lost the run).
	HeartbeatPipelineRun(ctx context.Context, id, owner string, now time.Time) (cancel bool, err error)
	// RequestCancel sets a run's cancel flag. Errors: NotFound.
	RequestCancel(ctx context.Context, id string) error
	// SaveTaskRuns creates or replaces task runs of a run, atomically.
	// Errors: NotFound (run).
	SaveTaskRuns(ctx context.Context, runID string, tasks []*TaskRun) error
	// FindCachedTaskRun returns the newest Succeeded task run with this
	// cache key, with its run ID. Errors: NotFound.
	FindCachedTaskRun(ctx context.Context, cacheKey string) (runID string, t *TaskRun, err error)
}

// Tracker records pipeline and task runs as tracking runs.
type Tracker interface {
	// StartRun creates a RUNNING tracking run in the experiment named
	// r.Experiment, creating the experiment when missing, and returns the
	// run's and the experiment's IDs.
	StartRun(ctx context.Context, r TrackedRun) (runID, experimentID string, err error)
	// SetStatus sets a run's status: FINISHED, FAILED or KILLED (which also
	// set its end time), or RUNNING again for a retried run.
	SetStatus(ctx context.Context, runID, status string) error
	// EndDescendants ends with status every run below runID (children by
	// mlflow.parentRunId, and theirs) that is still RUNNING: the trials a
	// killed task's sweep could not end itself.
	EndDescendants(ctx context.Context, runID, status string) error
}

// TrackedRun is a tracking run to create.
type TrackedRun struct {
	Experiment  string
	Name        string
	ParentRunID string // sets the mlflow.parentRunId tag
	Params      map[string]string
	Tags        map[string]string
}

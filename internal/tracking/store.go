package tracking

import "context"

// Store persists tracking data. Implementations enforce integrity inside one
// transaction per call: a call that fails changes nothing.
type Store interface {
	// CreateExperiment stores e and returns its new ID. Errors: Conflict (name taken).
	CreateExperiment(ctx context.Context, e *Experiment) (string, error)
	// FindExperimentByID returns an experiment in any stage. Errors: NotFound.
	FindExperimentByID(ctx context.Context, id string) (*Experiment, error)
	// FindExperimentByName returns an experiment in any stage. Errors: NotFound.
	FindExperimentByName(ctx context.Context, name string) (*Experiment, error)
	// FindExperiments returns a page of experiments and the next page token.
	// Errors: Invalid (filter, order_by or token).
	FindExperiments(ctx context.Context, q ExperimentQuery) ([]*Experiment, string, error)
	// RenameExperiment sets a new name. Errors: NotFound, Conflict.
	RenameExperiment(ctx context.Context, id, name string) error
	// SetExperimentStage moves an experiment, and its runs, to a lifecycle stage.
	// Errors: NotFound.
	SetExperimentStage(ctx context.Context, id, stage string) error
	// SetExperimentTag sets or replaces a tag. Errors: NotFound.
	SetExperimentTag(ctx context.Context, id string, t Tag) error
	// DeleteExperimentTag removes a tag. Errors: NotFound (experiment or tag).
	DeleteExperimentTag(ctx context.Context, id, key string) error

	// CreateRun stores a run with its initial tags. Errors: NotFound (experiment).
	CreateRun(ctx context.Context, r *Run) error
	// FindRunByID returns a run with latest metrics, params, tags and inputs. Errors: NotFound.
	FindRunByID(ctx context.Context, id string) (*Run, error)
	// FindRuns returns a page of runs matching q and the next page token.
	FindRuns(ctx context.Context, q RunQuery) ([]*Run, string, error)
	// UpdateRun changes status, end time or name and returns the new info.
	// Errors: NotFound, Invalid (run not active). Like every run write, it
	// checks the run is active inside its own transaction.
	UpdateRun(ctx context.Context, id string, u RunUpdate) (*RunInfo, error)
	// SetRunStage moves a run to a lifecycle stage. Errors: NotFound.
	SetRunStage(ctx context.Context, id, stage string) error
	// LogBatch writes metrics, params and tags atomically. Errors: NotFound,
	// Invalid (a param already logged with another value, a run that is not active).
	LogBatch(ctx context.Context, runID string, metrics []Metric, params []Param, tags []Tag) error
	// DeleteTag removes a run tag. Errors: NotFound (run or tag), Invalid (run not active).
	DeleteTag(ctx context.Context, runID, key string) error
	// FindMetricHistory returns every logged value of a metric ordered by step
	// and timestamp, a page at a time. Errors: NotFound (run).
	FindMetricHistory(ctx context.Context, runID, key string, p Page) ([]Metric, string, error)
	// LogInputs records dataset and model inputs of a run. Errors: NotFound, Invalid (run not active).
	LogInputs(ctx context.Context, runID string, in RunInputs) error
	// FindDatasetSummaries lists the distinct (experiment, dataset name,
	// digest, context) of the runs in the given experiments, newest first.
	FindDatasetSummaries(ctx context.Context, experimentIDs []string, limit int) ([]DatasetSummary, error)
	// LogOutputs records model outputs of a run. Errors: NotFound, Invalid (run not active).
	LogOutputs(ctx context.Context, runID string, out RunOutputs) error

	// CreateLoggedModel stores m. Errors: NotFound (experiment).
	CreateLoggedModel(ctx context.Context, m *LoggedModel) error
	// FindLoggedModelByID returns a logged model. Errors: NotFound.
	FindLoggedModelByID(ctx context.Context, id string) (*LoggedModel, error)
	// FindLoggedModels returns a page of logged models.
	FindLoggedModels(ctx context.Context, q LoggedModelQuery) ([]*LoggedModel, string, error)
	// UpdateLoggedModel sets the status (and message). Errors: NotFound.
	UpdateLoggedModel(ctx context.Context, id, status, message string) error
	// SetLoggedModelTags sets tags. Errors: NotFound.
	SetLoggedModelTags(ctx context.Context, id string, tags []Tag) error
	// DeleteLoggedModelTag removes a tag. Errors: NotFound.
	DeleteLoggedModelTag(ctx context.Context, id, key string) error
	// DeleteLoggedModel marks a logged model deleted. Errors: NotFound.
	DeleteLoggedModel(ctx context.Context, id string) error
}

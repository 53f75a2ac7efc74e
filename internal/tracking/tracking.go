package tracking

import "math"

// Lifecycle stages of experiments, runs and logged models.
const (
	StageActive  = "active"
	StageDeleted = "deleted"
)

// Run statuses, as MLflow names them.
const (
	StatusRunning   = "RUNNING"
	StatusScheduled = "SCHEDULED"
	StatusFinished  = "FINISHED"
	StatusFailed    = "FAILED"
	StatusKilled    = "KILLED"
)

// ValidStatus reports whether s is one of MLflow's run statuses.
func ValidStatus(s string) bool {
	switch s {
	case StatusRunning, StatusScheduled, StatusFinished, StatusFailed, StatusKilled:
		return true
	}
	return false
}

// ViewType selects runs or experiments by lifecycle stage.
type ViewType int

// View types, as MLflow names them.
const (
	ActiveOnly ViewType = iota + 1
	DeletedOnly
	All
)

// ParseViewType parses "ACTIVE_ONLY", "DELETED_ONLY", "ALL" or "" (active only).
func ParseViewType(s string) (ViewType, bool) {
	switch s {
	case "", "ACTIVE_ONLY", "1":
		return ActiveOnly, true
	case "DELETED_ONLY", "2":
		return DeletedOnly, true
	case "ALL", "3":
		return All, true
	}
	return 0, false
}

// Experiment groups runs.
type Experiment struct {
	ID               string
	Name             string
	ArtifactLocation string
	LifecycleStage   string
	CreationTime     int64 // ms since epoch
	LastUpdateTime   int64
	Tags             []Tag
}

// Tag is a key/value annotation on an experiment, run or model.
type Tag struct {
	Key   string
	Value string
}

// Param is an immutable run input.
type Param struct {
	Key   string
	Value string
}

// Metric is one logged value of a metric at a step. Value may be NaN or ±Inf.
type Metric struct {
	Key                        string
	Value                      float64
	Timestamp                  int64 // ms since epoch
	Step                       int64
	RunID                      string // set by history queries that span runs
	DatasetName, DatasetDigest string
	ModelID                    string
}

// IsNaN reports whether the metric value is NaN.
func (m Metric) IsNaN() bool { return math.IsNaN(m.Value) }

// RunInfo is a run's metadata.
type RunInfo struct {
	RunID          string
	RunName        string
	ExperimentID   string
	UserID         string
	Status         string
	StartTime      int64
	EndTime        *int64
	ArtifactURI    string
	LifecycleStage string
}

// Run is a run with its latest metrics, params and tags.
type Run struct {
	Info    RunInfo
	Metrics []Metric // latest value of each key
	Params  []Param
	Tags    []Tag
	Inputs  RunInputs
	Outputs RunOutputs
}

// Dataset describes data a run consumed.
type Dataset struct {
	Name       string
	Digest     string
	SourceType string
	Source     string
	Schema     string
	Profile    string
}

// DatasetInput is a dataset used by a run, with tags such as mlflow.data.context.
type DatasetInput struct {
	Dataset Dataset
	Tags    []Tag
}

// ModelIO names a logged model a run consumed or produced.
type ModelIO struct {
	ModelID string
	Step    int64
}

// RunInputs are a run's dataset and model inputs.
type RunInputs struct {
	Datasets []DatasetInput
	Models   []ModelIO
}

// RunOutputs are a run's model outputs.
type RunOutputs struct {
	Models []ModelIO
}

// RunUpdate changes a run's mutable fields; nil fields stay unchanged.
type RunUpdate struct {
	Status  *string
	EndTime *int64
	RunName *string
}

// Page asks for one page of results.
type Page struct {
	MaxResults int
	Token      string // opaque; "" for the first page
}

// ExperimentQuery selects experiments.
type ExperimentQuery struct {
	Filter   string
	OrderBy  []string
	ViewType ViewType
	Page     Page
}

// RunQuery selects runs.
type RunQuery struct {
	ExperimentIDs []string
	Filter        string
	OrderBy       []string
	ViewType      ViewType
	Page          Page
}

// LoggedModel is an MLflow 3 model logged by or outside a run.
type LoggedModel struct {
	ModelID        string
	ExperimentID   string
	Name           string
	ArtifactURI    string
	Status         string
	StatusMessage  string
	ModelType      string
	SourceRunID    string
	CreationTime   int64
	LastUpdateTime int64
	LifecycleStage string
	Tags           []Tag
	Params         []Param
	Metrics        []Metric
}

// Logged model statuses.
const (
	ModelPending = "LOGGED_MODEL_PENDING"
	ModelReady   = "LOGGED_MODEL_READY"
	ModelFailed  = "LOGGED_MODEL_UPLOAD_FAILED"
)

// LoggedModelQuery selects logged models.
type LoggedModelQuery struct {
	ExperimentIDs []string
	Filter        string
	OrderBy       []OrderBy
	Page          Page
}

// DatasetSummary is one dataset used in an experiment, in one context.
type DatasetSummary struct {
	ExperimentID string
	Name         string
	Digest       string
	Context      string
}

package wire

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/tracking"
)

// Int64 is a proto-JSON int64: it decodes from a number or a numeric string
// (a whole number in exponent form too, e.g. 1e3) and encodes as a number.
// A value outside int64's range is a type error naming the field, never a
// wrapped or saturated number.
type Int64 int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int64) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	s = strings.Trim(s, `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		// float64(1<<63) is exact, and the first value int64 cannot hold.
		if errors.Is(err, strconv.ErrRange) || ferr != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= 1<<63 {
			return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Int64]()}
		}
		v = int64(f)
	}
	*n = Int64(v)
	return nil
}

// ExpectedJSON says what an Int64 is written as, for error messages.
func (Int64) ExpectedJSON() string {
	return "an integer from -9223372036854775808 to 9223372036854775807"
}

// UnmarshalText implements encoding.TextUnmarshaler, for query strings.
func (n *Int64) UnmarshalText(b []byte) error {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return err
	}
	*n = Int64(v)
	return nil
}

// Float is a proto-JSON double: NaN and ±Infinity travel as the strings
// "NaN", "Infinity" and "-Infinity".
type Float float64

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	s := string(b)
	switch s {
	case "null":
		return nil
	case `"NaN"`, "NaN":
		*f = Float(math.NaN())
		return nil
	case `"Infinity"`, "Infinity", `"inf"`:
		*f = Float(math.Inf(1))
		return nil
	case `"-Infinity"`, "-Infinity", `"-inf"`:
		*f = Float(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(strings.Trim(s, `"`), 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: s, Type: reflect.TypeFor[Float]()}
	}
	*f = Float(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return json.Marshal(v)
}

type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type Param = Tag

type Metric struct {
	Key           string `json:"key"`
	Value         Float  `json:"value"`
	Timestamp     Int64  `json:"timestamp"`
	Step          Int64  `json:"step"`
	RunID         string `json:"run_id,omitempty"`
	DatasetName   string `json:"dataset_name,omitempty"`
	DatasetDigest string `json:"dataset_digest,omitempty"`
	ModelID       string `json:"model_id,omitempty"`
}

type Experiment struct {
	ExperimentID     string `json:"experiment_id"`
	Name             string `json:"name"`
	ArtifactLocation string `json:"artifact_location"`
	LifecycleStage   string `json:"lifecycle_stage"`
	LastUpdateTime   int64  `json:"last_update_time"`
	CreationTime     int64  `json:"creation_time"`
	Tags             []Tag  `json:"tags,omitempty"`
}

type RunInfo struct {
	RunID          string `json:"run_id"`
	RunUUID        string `json:"run_uuid"`
	RunName        string `json:"run_name"`
	ExperimentID   string `json:"experiment_id"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	StartTime      int64  `json:"start_time"`
	EndTime        *int64 `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"`
}

type RunData struct {
	Metrics []Metric `json:"metrics,omitempty"`
	Params  []Param  `json:"params,omitempty"`
	Tags    []Tag    `json:"tags,omitempty"`
}

type Dataset struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`
	SourceType string `json:"source_type"`
	Source     string `json:"source"`
	Schema     string `json:"schema,omitempty"`
	Profile    string `json:"profile,omitempty"`
}

type DatasetInput struct {
	Tags    []Tag   `json:"tags,omitempty"`
	Dataset Dataset `json:"dataset"`
}

type ModelIO struct {
	ModelID string `json:"model_id"`
	Step    Int64  `json:"step"`
}

type RunInputs struct {
	DatasetInputs []DatasetInput `json:"dataset_inputs,omitempty"`
	ModelInputs   []ModelIO      `json:"model_inputs,omitempty"`
}

type RunOutputs struct {
	ModelOutputs []ModelIO `json:"model_outputs,omitempty"`
}

type Run struct {
	Info    RunInfo     `json:"info"`
	Data    RunData     `json:"data"`
	Inputs  RunInputs   `json:"inputs"`
	Outputs *RunOutputs `json:"outputs,omitempty"`
}

func FromTags(tags []tracking.Tag) []Tag {
	if len(tags) == 0 {
		return nil
	}
	out := make([]Tag, len(tags))
	for i, t := range tags {
		out[i] = Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func ToTags(tags []Tag) []tracking.Tag {
	out := make([]tracking.Tag, len(tags))
	for i, t := range tags {
		out[i] = tracking.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func FromExperiment(e *tracking.Experiment) Experiment {
	return Experiment{
		ExperimentID: e.ID, Name: e.Name, ArtifactLocation: e.ArtifactLocation, LifecycleStage: e.LifecycleStage,
		LastUpdateTime: e.LastUpdateTime, CreationTime: e.CreationTime, Tags: FromTags(e.Tags),
	}
}

func FromMetric(m tracking.Metric) Metric {
	return Metric{Key: m.Key, Value: Float(m.Value), Timestamp: Int64(m.Timestamp), Step: Int64(m.Step),
		RunID: m.RunID, DatasetName: m.DatasetName, DatasetDigest: m.DatasetDigest, ModelID: m.ModelID}
}

func FromRunInfo(i tracking.RunInfo) RunInfo {
	return RunInfo{
		RunID: i.RunID, RunUUID: i.RunID, RunName: i.RunName, ExperimentID: i.ExperimentID, UserID: i.UserID,
		Status: i.Status, StartTime: i.StartTime, EndTime: i.EndTime, ArtifactURI: i.ArtifactURI, LifecycleStage: i.LifecycleStage,
	}
}

func FromRun(r *tracking.Run) Run {
	w := Run{Info: FromRunInfo(r.Info)}
	for _, m := range r.Metrics {
		w.Data.Metrics = append(w.Data.Metrics, FromMetric(m))
	}
	for _, p := range r.Params {
		w.Data.Params = append(w.Data.Params, Param{Key: p.Key, Value: p.Value})
	}
	w.Data.Tags = FromTags(r.Tags)
	for _, d := range r.Inputs.Datasets {
		w.Inputs.DatasetInputs = append(w.Inputs.DatasetInputs, FromDatasetInput(d))
	}
	for _, m := range r.Inputs.Models {
		w.Inputs.ModelInputs = append(w.Inputs.ModelInputs, ModelIO{ModelID: m.ModelID, Step: Int64(m.Step)})
	}
	if len(r.Outputs.Models) > 0 {
		w.Outputs = &RunOutputs{}
		for _, m := range r.Outputs.Models {
			w.Outputs.ModelOutputs = append(w.Outputs.ModelOutputs, ModelIO{ModelID: m.ModelID, Step: Int64(m.Step)})
		}
	}
	return w
}

// ToExperiment converts a wire experiment to the domain type.
func ToExperiment(e Experiment) *tracking.Experiment {
	return &tracking.Experiment{ID: e.ExperimentID, Name: e.Name, ArtifactLocation: e.ArtifactLocation,
		LifecycleStage: e.LifecycleStage, CreationTime: e.CreationTime, LastUpdateTime: e.LastUpdateTime, Tags: ToTags(e.Tags)}
}

// ToMetric converts a wire metric to the domain type.
func ToMetric(m Metric) tracking.Metric {
	return tracking.Metric{Key: m.Key, Value: float64(m.Value), Timestamp: int64(m.Timestamp), Step: int64(m.Step),
		RunID: m.RunID, DatasetName: m.DatasetName, DatasetDigest: m.DatasetDigest, ModelID: m.ModelID}
}

// FromDatasetInput converts a domain dataset input to its wire form.
func FromDatasetInput(d tracking.DatasetInput) DatasetInput {
	return DatasetInput{Tags: FromTags(d.Tags), Dataset: Dataset{Name: d.Dataset.Name, Digest: d.Dataset.Digest,
		SourceType: d.Dataset.SourceType, Source: d.Dataset.Source, Schema: d.Dataset.Schema, Profile: d.Dataset.Profile}}
}

// ToDatasetInput converts a wire dataset input to the domain type.
func ToDatasetInput(d DatasetInput) tracking.DatasetInput {
	return tracking.DatasetInput{Tags: ToTags(d.Tags), Dataset: tracking.Dataset{Name: d.Dataset.Name, Digest: d.Dataset.Digest,
		SourceType: d.Dataset.SourceType, Source: d.Dataset.Source, Schema: d.Dataset.Schema, Profile: d.Dataset.Profile}}
}

// ToRun converts a wire run to the domain type.
func ToRun(w Run) *tracking.Run {
	r := &tracking.Run{Info: tracking.RunInfo{RunID: w.Info.RunID, RunName: w.Info.RunName, ExperimentID: w.Info.ExperimentID,
		UserID: w.Info.UserID, Status: w.Info.Status, StartTime: w.Info.StartTime, EndTime: w.Info.EndTime,
		ArtifactURI: w.Info.ArtifactURI, LifecycleStage: w.Info.LifecycleStage}}
	if r.Info.RunID == "" {
		r.Info.RunID = w.Info.RunUUID
	}
	for _, m := range w.Data.Metrics {
		r.Metrics = append(r.Metrics, ToMetric(m))
	}
	for _, p := range w.Data.Params {
		r.Params = append(r.Params, tracking.Param{Key: p.Key, Value: p.Value})
	}
	r.Tags = ToTags(w.Data.Tags)
	for _, d := range w.Inputs.DatasetInputs {
		r.Inputs.Datasets = append(r.Inputs.Datasets, ToDatasetInput(d))
	}
	return r
}

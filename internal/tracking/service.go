package tracking

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// RunNameTag is the tag MLflow keeps in step with a run's name.
const RunNameTag = "mlflow.runName"

// Service validates tracking requests and passes them to a Store.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store.
func NewService(store Store) *Service {
	return &Service{store: store, now: time.Now}
}

// Store returns the underlying store, for reads that need no validation.
func (s *Service) Store() Store { return s.store }

func (s *Service) nowMillis() int64 { return s.now().UnixMilli() }

// NewID returns 32 random hex characters, the shape of MLflow's run IDs.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// CreateExperiment validates and stores a new experiment.
func (s *Service) CreateExperiment(ctx context.Context, name, artifactLocation string, tags []Tag) (string, error) {
	if name == "" {
		return "", errs.Missing("name")
	}
	if len(name) > 500 {
		return "", errs.Invalidf("experiment name had length %d, which exceeded length limit of 500", len(name))
	}
	for _, t := range tags {
		if _, err := validateTag(t, MaxExperimentTagValue); err != nil {
			return "", err
		}
	}
	if artifactLocation != "" && !strings.Contains(artifactLocation, ":") && !filepath.IsAbs(artifactLocation) {
		// A bare relative path means a folder relative to the server, as in MLflow.
		abs, err := filepath.Abs(artifactLocation)
		if err != nil {
			return "", errs.Invalidf("invalid artifact_location '%s': %v", artifactLocation, err)
		}
		artifactLocation = abs
	}
	now := s.nowMillis()
	return s.store.CreateExperiment(ctx, &Experiment{
		Name: name, ArtifactLocation: artifactLocation, LifecycleStage: StageActive,
		CreationTime: now, LastUpdateTime: now, Tags: tags,
	})
}

// RenameExperiment validates and renames an active experiment.
func (s *Service) RenameExperiment(ctx context.Context, id, name string) error {
	if name == "" {
		return errs.Missing("new_name")
	}
	e, err := s.store.FindExperimentByID(ctx, id)
	if err != nil {
		return err
	}
	if e.LifecycleStage != StageActive {
		return errs.Invalidf("cannot rename a non-active experiment %s", id)
	}
	return s.store.RenameExperiment(ctx, id, name)
}

// DeleteExperiment marks an experiment and its runs deleted.
func (s *Service) DeleteExperiment(ctx context.Context, id string) error {
	if id == "0" {
		return errs.Invalidf("cannot delete the default experiment '0'")
	}
	e, err := s.store.FindExperimentByID(ctx, id)
	if err != nil {
		return err
	}
	if e.LifecycleStage == StageDeleted {
		return errs.Invalidf("experiment %s is already deleted", id)
	}
	return s.store.SetExperimentStage(ctx, id, StageDeleted)
}

// RestoreExperiment brings a deleted experiment and its runs back.
func (s *Service) RestoreExperiment(ctx context.Context, id string) error {
	e, err := s.store.FindExperimentByID(ctx, id)
	if err != nil {
		return err
	}
	if e.LifecycleStage != StageDeleted {
		return errs.Invalidf("cannot restore an active experiment %s", id)
	}
	return s.store.SetExperimentStage(ctx, id, StageActive)
}

// SetExperimentTag validates and sets an experiment tag.
func (s *Service) SetExperimentTag(ctx context.Context, id string, t Tag) error {
	if _, err := validateTag(t, MaxExperimentTagValue); err != nil {
		return err
	}
	if err := s.activeExperiment(ctx, id); err != nil {
		return err
	}
	return s.store.SetExperimentTag(ctx, id, t)
}

// DeleteExperimentTag removes an experiment tag.
func (s *Service) DeleteExperimentTag(ctx context.Context, id, key string) error {
	if key == "" {
		return errs.Missing("key")
	}
	if err := s.activeExperiment(ctx, id); err != nil {
		return err
	}
	return s.store.DeleteExperimentTag(ctx, id, key)
}

func (s *Service) activeExperiment(ctx context.Context, id string) error {
	e, err := s.store.FindExperimentByID(ctx, id)
	if err != nil {
		return err
	}
	if e.LifecycleStage != StageActive {
		return errs.Invalidf("The experiment %s must be in the 'active' state. Current state is %s", id, e.LifecycleStage)
	}
	return nil
}

// CreateRunInput is what a client sends to create a run.
type CreateRunInput struct {
	ExperimentID string
	UserID       string
	RunName      string
	StartTime    int64
	Tags         []Tag
}

// CreateRun validates and stores a new run in an active experiment.
func (s *Service) CreateRun(ctx context.Context, in CreateRunInput) (*Run, error) {
	if in.ExperimentID == "" {
		in.ExperimentID = "0"
	}
	for _, t := range in.Tags {
		if _, err := validateTag(t, MaxTagValueLength); err != nil {
			return nil, err
		}
	}
	e, err := s.store.FindExperimentByID(ctx, in.ExperimentID)
	if err != nil {
		return nil, err
	}
	if e.LifecycleStage != StageActive {
		return nil, errs.Invalidf("The experiment %s must be in the 'active' state. Current state is %s", e.ID, e.LifecycleStage)
	}
	tagName := ""
	for _, t := range in.Tags {
		if t.Key == RunNameTag {
			tagName = t.Value
		}
	}
	switch {
	case in.RunName != "" && tagName != "" && in.RunName != tagName:
		return nil, errs.Invalidf("both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='%s', mlflow.runName='%s')", in.RunName, tagName)
	case in.RunName == "" && tagName != "":
		in.RunName = tagName
	case in.RunName == "":
		in.RunName = RandomRunName()
	}
	if len(in.RunName) > MaxRunNameLength {
		return nil, errs.Invalidf("run name had length %d, which exceeded length limit of %d", len(in.RunName), MaxRunNameLength)
	}
	if tagName == "" {
		in.Tags = append(in.Tags, Tag{Key: RunNameTag, Value: in.RunName})
	}
	if in.StartTime == 0 {
		in.StartTime = s.nowMillis()
	}
	id := NewID()
	r := &Run{
		Info: RunInfo{
			RunID: id, RunName: in.RunName, ExperimentID: e.ID, UserID: in.UserID,
			Status: StatusRunning, StartTime: in.StartTime, LifecycleStage: StageActive,
			ArtifactURI: joinURI(e.ArtifactLocation, id, "artifacts"),
		},
		Tags: dedupTags(in.Tags),
	}
	if err := s.store.CreateRun(ctx, r); err != nil {
		return nil, err
	}
	// A new run has nothing but what was just stored: no need to read it back.
	slices.SortFunc(r.Tags, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	return r, nil
}

func dedupTags(tags []Tag) []Tag {
	idx := make(map[string]int, len(tags))
	out := tags[:0:0]
	for _, t := range tags {
		if i, ok := idx[t.Key]; ok {
			out[i] = t
			continue
		}
		idx[t.Key] = len(out)
		out = append(out, t)
	}
	return out
}

func joinURI(base string, parts ...string) string {
	out := base
	for _, p := range parts {
		if len(out) > 0 && out[len(out)-1] != '/' {
			out += "/"
		}
		out += p
	}
	return out
}

// UpdateRun validates and applies a run update.
func (s *Service) UpdateRun(ctx context.Context, id string, u RunUpdate) (*RunInfo, error) {
	if err := ValidateRunID(id); err != nil {
		return nil, err
	}
	if u.Status != nil && !ValidStatus(*u.Status) {
		return nil, errs.Invalidf("invalid value '%s' for parameter 'status': expected one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED", *u.Status)
	}
	if u.RunName != nil && len(*u.RunName) > MaxRunNameLength {
		return nil, errs.Invalidf("run name had length %d, which exceeded length limit of %d", len(*u.RunName), MaxRunNameLength)
	}
	return s.store.UpdateRun(ctx, id, u)
}

// DeleteRun marks a run deleted.
func (s *Service) DeleteRun(ctx context.Context, id string) error {
	if err := ValidateRunID(id); err != nil {
		return err
	}
	return s.store.SetRunStage(ctx, id, StageDeleted)
}

// RestoreRun brings a deleted run back.
func (s *Service) RestoreRun(ctx context.Context, id string) error {
	if err := ValidateRunID(id); err != nil {
		return err
	}
	return s.store.SetRunStage(ctx, id, StageActive)
}

// LogBatch validates and logs metrics, params and tags atomically.
func (s *Service) LogBatch(ctx context.Context, runID string, metrics []Metric, params []Param, tags []Tag) error {
	if err := ValidateRunID(runID); err != nil {
		return err
	}
	if err := ValidateBatch(metrics, params, tags); err != nil {
		return err
	}
	return s.store.LogBatch(ctx, runID, metrics, dedupParams(params), dedupTags(tags))
}

// DeleteTag removes a run tag.
func (s *Service) DeleteTag(ctx context.Context, runID, key string) error {
	if err := ValidateRunID(runID); err != nil {
		return err
	}
	return s.store.DeleteTag(ctx, runID, key)
}

// LogInputs validates and records a run's inputs.
func (s *Service) LogInputs(ctx context.Context, runID string, in RunInputs) error {
	if err := ValidateRunID(runID); err != nil {
		return err
	}
	for i, d := range in.Datasets {
		if d.Dataset.Name == "" {
			return errs.Invalidf("datasets[%d].dataset.name is required", i)
		}
		if d.Dataset.Digest == "" {
			return errs.Invalidf("datasets[%d].dataset.digest is required", i)
		}
		if len(d.Dataset.Name) > 500 || len(d.Dataset.Digest) > 36 {
			return errs.Invalidf("datasets[%d]: name must be at most 500 and digest at most 36 characters", i)
		}
		if len(d.Dataset.Schema) > 1<<20 || len(d.Dataset.Profile) > 16<<10 || len(d.Dataset.Source) > 65535 {
			return errs.Invalidf("datasets[%d]: schema, profile or source is too long", i)
		}
		for _, t := range d.Tags {
			if t.Key == "" || len(t.Key) > 255 || len(t.Value) > 500 {
				return errs.Invalidf("datasets[%d]: tag keys must be 1-255 and values at most 500 characters", i)
			}
		}
	}
	return s.store.LogInputs(ctx, runID, in)
}

// SearchRuns validates a run query and runs it.
func (s *Service) SearchRuns(ctx context.Context, q RunQuery) ([]*Run, string, error) {
	n, err := ClampMaxResults(q.Page.MaxResults, DefaultMaxResults, MaxResultsSearchRuns)
	if err != nil {
		return nil, "", err
	}
	q.Page.MaxResults = n
	if q.ViewType == 0 {
		q.ViewType = ActiveOnly
	}
	return s.store.FindRuns(ctx, q)
}

// SearchExperiments validates an experiment query and runs it.
func (s *Service) SearchExperiments(ctx context.Context, q ExperimentQuery) ([]*Experiment, string, error) {
	n, err := ClampMaxResults(q.Page.MaxResults, DefaultMaxResults, MaxResultsExperiments)
	if err != nil {
		return nil, "", err
	}
	q.Page.MaxResults = n
	if q.ViewType == 0 {
		q.ViewType = ActiveOnly
	}
	return s.store.FindExperiments(ctx, q)
}

// MetricHistory returns a page of a metric's history.
func (s *Service) MetricHistory(ctx context.Context, runID, key string, p Page) ([]Metric, string, error) {
	if err := ValidateRunID(runID); err != nil {
		return nil, "", err
	}
	if key == "" {
		return nil, "", errs.Missing("metric_key")
	}
	n, err := ClampMaxResults(p.MaxResults, MaxResultsMetricHistory, MaxResultsMetricHistory*100)
	if err != nil {
		return nil, "", err
	}
	p.MaxResults = n
	return s.store.FindMetricHistory(ctx, runID, key, p)
}

var nameAdjectives = []string{"able", "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fair",
	"gentle", "glad", "grand", "keen", "kind", "lively", "lucky", "merry", "nimble", "proud", "quick", "quiet",
	"rare", "sharp", "shy", "silent", "smart", "steady", "swift", "tidy", "vast", "warm", "wise", "zesty"}
var nameNouns = []string{"badger", "bear", "crane", "deer", "eagle", "falcon", "finch", "fox", "hare", "heron",
	"ibex", "jay", "koala", "lark", "lynx", "mole", "newt", "otter", "owl", "panda", "puffin", "quail", "raven",
	"seal", "stoat", "swan", "tern", "toad", "vole", "wolf", "wren", "yak"}

// RandomRunName returns a readable name such as "swift-otter-417".
func RandomRunName() string {
	pick := func(n int) int {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
		if err != nil {
			return 0
		}
		return int(v.Int64())
	}
	return nameAdjectives[pick(len(nameAdjectives))] + "-" + nameNouns[pick(len(nameNouns))] + "-" + strconv.Itoa(pick(1000))
}

// LogModelHistoryTag is the run tag MLflow appends logged-model metadata to.
const LogModelHistoryTag = "mlflow.log-model.history"

// LogModel appends an MLmodel description (JSON with artifact_path, flavors,
// utc_time_created and run_id) to the run's log-model history tag.
func (s *Service) LogModel(ctx context.Context, runID, modelJSON string) error {
	var model map[string]any
	if err := json.Unmarshal([]byte(modelJSON), &model); err != nil {
		return errs.Invalidf("invalid value for parameter 'model_json': not a JSON object: %v", err)
	}
	var missing []string
	for _, f := range []string{"artifact_path", "flavors", "utc_time_created", "run_id"} {
		if _, ok := model[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return errs.Invalidf("model json is missing mandatory fields: %v", missing)
	}
	run, err := s.store.FindRunByID(ctx, runID)
	if err != nil {
		return err
	}
	var history []json.RawMessage
	for _, t := range run.Tags {
		if t.Key == LogModelHistoryTag {
			_ = json.Unmarshal([]byte(t.Value), &history)
		}
	}
	history = append(history, json.RawMessage(modelJSON))
	b, err := json.Marshal(history)
	if err != nil {
		return err
	}
	return s.store.LogBatch(ctx, runID, nil, nil, []Tag{{Key: LogModelHistoryTag, Value: string(b)}})
}

package tracking_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// stubStore answers the few Store calls a test sets up and records what the
// Service passed down. Any other call reaches the nil embedded Store and
// panics, which shows a request the Service should have refused. The SQL
// stores are tested in internal/store/meta.
type stubStore struct {
	tracking.Store
	exps   map[string]*tracking.Experiment
	runs   map[string]*tracking.Run
	models map[string]*tracking.LoggedModel

	createdExp *tracking.Experiment
	createdRun *tracking.Run
	createdLM  *tracking.LoggedModel
	renamed    [2]string // id, name
	staged     [2]string // id, stage
	batch      struct {
		runID   string
		metrics []tracking.Metric
		params  []tracking.Param
		tags    []tracking.Tag
	}
	runQuery  tracking.RunQuery
	expQuery  tracking.ExperimentQuery
	page      tracking.Page
	lmUpdated [2]string // id, status
}

func newStub() *stubStore {
	return &stubStore{
		exps: map[string]*tracking.Experiment{
			"0": {ID: "0", Name: "Default", ArtifactLocation: "/srv/mlruns/0", LifecycleStage: tracking.StageActive},
			"1": {ID: "1", Name: "s3", ArtifactLocation: "s3://b/exp/", LifecycleStage: tracking.StageActive},
			"3": {ID: "3", Name: "gone", ArtifactLocation: "/srv/mlruns/3", LifecycleStage: tracking.StageDeleted},
		},
		runs:   map[string]*tracking.Run{},
		models: map[string]*tracking.LoggedModel{},
	}
}

func (s *stubStore) FindExperimentByID(_ context.Context, id string) (*tracking.Experiment, error) {
	if e, ok := s.exps[id]; ok {
		return e, nil
	}
	return nil, errs.NotFoundf("No Experiment with id=%s exists", id)
}

func (s *stubStore) CreateExperiment(_ context.Context, e *tracking.Experiment) (string, error) {
	s.createdExp = e
	return "7", nil
}

func (s *stubStore) RenameExperiment(_ context.Context, id, name string) error {
	s.renamed = [2]string{id, name}
	return nil
}

func (s *stubStore) SetExperimentStage(_ context.Context, id, stage string) error {
	s.staged = [2]string{id, stage}
	return nil
}

func (s *stubStore) SetExperimentTag(context.Context, string, tracking.Tag) error { return nil }

func (s *stubStore) CreateRun(_ context.Context, r *tracking.Run) error {
	s.createdRun = r
	return nil
}

func (s *stubStore) FindRunByID(_ context.Context, id string) (*tracking.Run, error) {
	if r, ok := s.runs[id]; ok {
		return r, nil
	}
	return nil, errs.NotFoundf("Run '%s' not found", id)
}

func (s *stubStore) LogBatch(_ context.Context, runID string, m []tracking.Metric, p []tracking.Param, t []tracking.Tag) error {
	s.batch.runID, s.batch.metrics, s.batch.params, s.batch.tags = runID, m, p, t
	return nil
}

func (s *stubStore) FindRuns(_ context.Context, q tracking.RunQuery) ([]*tracking.Run, string, error) {
	s.runQuery = q
	return nil, "", nil
}

func (s *stubStore) FindExperiments(_ context.Context, q tracking.ExperimentQuery) ([]*tracking.Experiment, string, error) {
	s.expQuery = q
	return nil, "", nil
}

func (s *stubStore) FindMetricHistory(_ context.Context, _, _ string, p tracking.Page) ([]tracking.Metric, string, error) {
	s.page = p
	return nil, "", nil
}

func (s *stubStore) CreateLoggedModel(_ context.Context, m *tracking.LoggedModel) error {
	s.createdLM = m
	s.models[m.ModelID] = m
	return nil
}

func (s *stubStore) FindLoggedModelByID(_ context.Context, id string) (*tracking.LoggedModel, error) {
	if m, ok := s.models[id]; ok {
		return m, nil
	}
	return nil, errs.NotFoundf("Logged model '%s' not found", id)
}

func (s *stubStore) UpdateLoggedModel(_ context.Context, id, status, _ string) error {
	s.lmUpdated = [2]string{id, status}
	return nil
}

func runNameTag(r *tracking.Run) (string, int) {
	v, n := "", 0
	for _, t := range r.Tags {
		if t.Key == tracking.RunNameTag {
			v, n = t.Value, n+1
		}
	}
	return v, n
}

func TestServiceCreateRun(t *testing.T) {
	ctx := context.Background()
	t.Run("defaults", func(t *testing.T) {
		st := newStub()
		before := time.Now().UnixMilli()
		r, err := tracking.NewService(st).CreateRun(ctx, tracking.CreateRunInput{UserID: "ann"})
		after := time.Now().UnixMilli()
		require.NoError(t, err)
		require.Same(t, st.createdRun, r)
		// No experiment means the default one; no name means a random one,
		// kept in step with the mlflow.runName tag.
		require.Equal(t, "0", r.Info.ExperimentID)
		require.Regexp(t, `^[a-z]+-[a-z]+-\d{1,3}$`, r.Info.RunName)
		name, n := runNameTag(r)
		require.Equal(t, 1, n)
		require.Equal(t, r.Info.RunName, name)
		require.Regexp(t, `^[0-9a-f]{32}$`, r.Info.RunID)
		require.Equal(t, "/srv/mlruns/0/"+r.Info.RunID+"/artifacts", r.Info.ArtifactURI)
		require.Equal(t, tracking.StatusRunning, r.Info.Status)
		require.Equal(t, tracking.StageActive, r.Info.LifecycleStage)
		require.Equal(t, "ann", r.Info.UserID)
		require.Nil(t, r.Info.EndTime)
		require.GreaterOrEqual(t, r.Info.StartTime, before)
		require.LessOrEqual(t, r.Info.StartTime, after)
	})
	t.Run("artifact location with a trailing slash", func(t *testing.T) {
		r, err := tracking.NewService(newStub()).CreateRun(ctx, tracking.CreateRunInput{ExperimentID: "1", StartTime: 42})
		require.NoError(t, err)
		require.Equal(t, "s3://b/exp/"+r.Info.RunID+"/artifacts", r.Info.ArtifactURI)
		require.Equal(t, int64(42), r.Info.StartTime)
	})
	t.Run("run_name is copied to the tag", func(t *testing.T) {
		r, err := tracking.NewService(newStub()).CreateRun(ctx, tracking.CreateRunInput{RunName: "mine"})
		require.NoError(t, err)
		require.Equal(t, "mine", r.Info.RunName)
		name, n := runNameTag(r)
		require.Equal(t, "mine", name)
		require.Equal(t, 1, n)
	})
	t.Run("the tag names the run", func(t *testing.T) {
		r, err := tracking.NewService(newStub()).CreateRun(ctx, tracking.CreateRunInput{
			Tags: []tracking.Tag{{Key: tracking.RunNameTag, Value: "tagged"}}})
		require.NoError(t, err)
		require.Equal(t, "tagged", r.Info.RunName)
		_, n := runNameTag(r)
		require.Equal(t, 1, n)
	})
	t.Run("the same name twice is fine", func(t *testing.T) {
		r, err := tracking.NewService(newStub()).CreateRun(ctx, tracking.CreateRunInput{RunName: "x",
			Tags: []tracking.Tag{{Key: tracking.RunNameTag, Value: "x"}}})
		require.NoError(t, err)
		require.Equal(t, "x", r.Info.RunName)
	})
	t.Run("tags are deduplicated, last wins, and sorted", func(t *testing.T) {
		r, err := tracking.NewService(newStub()).CreateRun(ctx, tracking.CreateRunInput{RunName: "r",
			Tags: []tracking.Tag{{Key: "z", Value: "1"}, {Key: "a", Value: "1"}, {Key: "z", Value: "2"}}})
		require.NoError(t, err)
		require.Equal(t, []tracking.Tag{{Key: "a", Value: "1"}, {Key: tracking.RunNameTag, Value: "r"}, {Key: "z", Value: "2"}}, r.Tags)
	})
	for _, tc := range []struct {
		name string
		in   tracking.CreateRunInput
		kind errs.Kind
		msg  string
	}{
		{"names disagree", tracking.CreateRunInput{RunName: "a", Tags: []tracking.Tag{{Key: tracking.RunNameTag, Value: "b"}}}, errs.Invalid,
			"both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='a', mlflow.runName='b')"},
		{"name too long", tracking.CreateRunInput{RunName: strings.Repeat("n", 251)}, errs.Invalid,
			"run name had length 251, which exceeded length limit of 250"},
		{"tag name too long", tracking.CreateRunInput{Tags: []tracking.Tag{{Key: tracking.RunNameTag, Value: strings.Repeat("n", 251)}}}, errs.Invalid,
			"run name had length 251, which exceeded length limit of 250"},
		{"deleted experiment", tracking.CreateRunInput{ExperimentID: "3"}, errs.Invalid,
			"The experiment 3 must be in the 'active' state. Current state is deleted"},
		{"missing experiment", tracking.CreateRunInput{ExperimentID: "9"}, errs.NotFound, "No Experiment with id=9 exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStub()
			_, err := tracking.NewService(st).CreateRun(ctx, tc.in)
			require.Equal(t, tc.kind, errs.KindOf(err), "%v", err)
			require.Equal(t, tc.msg, errs.MessageOf(err))
			require.Nil(t, st.createdRun)
		})
	}
}

func TestServiceExperimentLifecycle(t *testing.T) {
	ctx := context.Background()
	st := newStub()
	s := tracking.NewService(st)

	require.NoError(t, s.RenameExperiment(ctx, "0", "renamed"))
	require.Equal(t, [2]string{"0", "renamed"}, st.renamed)
	requireInvalid(t, s.RenameExperiment(ctx, "3", "x"), "cannot rename a non-active experiment 3")

	require.NoError(t, s.DeleteExperiment(ctx, "1"))
	require.Equal(t, [2]string{"1", tracking.StageDeleted}, st.staged)
	requireInvalid(t, s.DeleteExperiment(ctx, "3"), "experiment 3 is already deleted")
	requireInvalid(t, s.DeleteExperiment(ctx, "0"), "cannot delete the default experiment '0'")

	require.NoError(t, s.RestoreExperiment(ctx, "3"))
	require.Equal(t, [2]string{"3", tracking.StageActive}, st.staged)
	requireInvalid(t, s.RestoreExperiment(ctx, "0"), "cannot restore an active experiment 0")

	require.NoError(t, s.SetExperimentTag(ctx, "0", tracking.Tag{Key: "k", Value: "v"}))
	requireInvalid(t, s.SetExperimentTag(ctx, "3", tracking.Tag{Key: "k", Value: "v"}),
		"The experiment 3 must be in the 'active' state. Current state is deleted")
	requireInvalid(t, s.DeleteExperimentTag(ctx, "3", "k"),
		"The experiment 3 must be in the 'active' state. Current state is deleted")
	for _, err := range []error{s.RenameExperiment(ctx, "9", "x"), s.DeleteExperiment(ctx, "9"), s.RestoreExperiment(ctx, "9")} {
		require.Equal(t, errs.NotFound, errs.KindOf(err))
	}
}

func TestServiceCreateExperiment(t *testing.T) {
	ctx := context.Background()
	abs, err := filepath.Abs("rel/dir")
	require.NoError(t, err)
	for in, want := range map[string]string{
		"":          "",
		"rel/dir":   abs, // relative to the server, as in MLflow
		"/abs/dir":  "/abs/dir",
		"s3://b/x":  "s3://b/x",
		"file:///x": "file:///x",
	} {
		st := newStub()
		before := time.Now().UnixMilli()
		id, err := tracking.NewService(st).CreateExperiment(ctx, "e", in, []tracking.Tag{{Key: "k", Value: "v"}})
		require.NoError(t, err, in)
		require.Equal(t, "7", id)
		e := st.createdExp
		require.Equal(t, want, e.ArtifactLocation, in)
		require.Equal(t, "e", e.Name)
		require.Equal(t, tracking.StageActive, e.LifecycleStage)
		require.Equal(t, e.CreationTime, e.LastUpdateTime)
		require.GreaterOrEqual(t, e.CreationTime, before)
		require.Equal(t, []tracking.Tag{{Key: "k", Value: "v"}}, e.Tags)
	}
	// Experiment tags have MLflow's lower value limit of 5000.
	st := newStub()
	_, err = tracking.NewService(st).CreateExperiment(ctx, strings.Repeat("e", 500), "", []tracking.Tag{{Key: "k", Value: strings.Repeat("v", 5000)}})
	require.NoError(t, err)
}

func TestServiceLogBatchDeduplicates(t *testing.T) {
	st := newStub()
	ms := []tracking.Metric{{Key: "m", Value: 1, Step: 0}, {Key: "m", Value: 2, Step: 1}}
	err := tracking.NewService(st).LogBatch(context.Background(), "r1", ms,
		[]tracking.Param{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "a", Value: "1"}},
		[]tracking.Tag{{Key: "t", Value: "old"}, {Key: "u", Value: "x"}, {Key: "t", Value: "new"}})
	require.NoError(t, err)
	require.Equal(t, "r1", st.batch.runID)
	require.Equal(t, ms, st.batch.metrics, "every metric value is logged, repeats included")
	require.Equal(t, []tracking.Param{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}, st.batch.params)
	require.Equal(t, []tracking.Tag{{Key: "t", Value: "new"}, {Key: "u", Value: "x"}}, st.batch.tags)
}

func TestServiceSearchDefaults(t *testing.T) {
	ctx := context.Background()
	st := newStub()
	s := tracking.NewService(st)

	_, _, err := s.SearchRuns(ctx, tracking.RunQuery{Filter: "metrics.a > 1", ExperimentIDs: []string{"0"}})
	require.NoError(t, err)
	require.Equal(t, tracking.RunQuery{Filter: "metrics.a > 1", ExperimentIDs: []string{"0"}, ViewType: tracking.ActiveOnly,
		Page: tracking.Page{MaxResults: tracking.DefaultMaxResults}}, st.runQuery)
	_, _, err = s.SearchRuns(ctx, tracking.RunQuery{ViewType: tracking.All, Page: tracking.Page{MaxResults: 50000, Token: "t"}})
	require.NoError(t, err)
	require.Equal(t, tracking.RunQuery{ViewType: tracking.All, Page: tracking.Page{MaxResults: 50000, Token: "t"}}, st.runQuery)

	_, _, err = s.SearchExperiments(ctx, tracking.ExperimentQuery{OrderBy: []string{"name"}})
	require.NoError(t, err)
	require.Equal(t, tracking.ExperimentQuery{OrderBy: []string{"name"}, ViewType: tracking.ActiveOnly,
		Page: tracking.Page{MaxResults: tracking.DefaultMaxResults}}, st.expQuery)
	_, _, err = s.SearchExperiments(ctx, tracking.ExperimentQuery{ViewType: tracking.DeletedOnly})
	require.NoError(t, err)
	require.Equal(t, tracking.DeletedOnly, st.expQuery.ViewType)

	_, _, err = s.MetricHistory(ctx, "r1", "loss", tracking.Page{})
	require.NoError(t, err)
	require.Equal(t, tracking.MaxResultsMetricHistory, st.page.MaxResults)
	_, _, err = s.MetricHistory(ctx, "r1", "loss", tracking.Page{MaxResults: 7, Token: "x"})
	require.NoError(t, err)
	require.Equal(t, tracking.Page{MaxResults: 7, Token: "x"}, st.page)
}

func TestServiceLogModelAppendsHistory(t *testing.T) {
	ctx := context.Background()
	st := newStub()
	st.runs["r1"] = &tracking.Run{Info: tracking.RunInfo{RunID: "r1"}}
	s := tracking.NewService(st)
	first := `{"artifact_path":"model","flavors":{"python_function":{}},"utc_time_created":"2024-01-01","run_id":"r1"}`
	require.NoError(t, s.LogModel(ctx, "r1", first))
	require.Equal(t, []tracking.Tag{{Key: tracking.LogModelHistoryTag, Value: "[" + first + "]"}}, st.batch.tags)
	require.Nil(t, st.batch.metrics)
	require.Nil(t, st.batch.params)

	st.runs["r1"].Tags = st.batch.tags
	second := `{"artifact_path":"m2","flavors":{},"utc_time_created":"2024-01-02","run_id":"r1"}`
	require.NoError(t, s.LogModel(ctx, "r1", second))
	var history []map[string]any
	require.NoError(t, json.Unmarshal([]byte(st.batch.tags[0].Value), &history))
	require.Len(t, history, 2)
	require.Equal(t, "model", history[0]["artifact_path"])
	require.Equal(t, "m2", history[1]["artifact_path"])

	err := s.LogModel(ctx, "nope", first)
	require.Equal(t, errs.NotFound, errs.KindOf(err))
}

func TestServiceLoggedModels(t *testing.T) {
	ctx := context.Background()
	st := newStub()
	st.runs["r1"] = &tracking.Run{Info: tracking.RunInfo{RunID: "r1"}}
	s := tracking.NewService(st)

	before := time.Now().UnixMilli()
	m, err := s.CreateLoggedModel(ctx, tracking.LoggedModel{ExperimentID: "0", SourceRunID: "r1",
		Tags: []tracking.Tag{{Key: "k", Value: "v"}}, Params: []tracking.Param{{Key: "p", Value: "1"}}})
	require.NoError(t, err)
	require.Same(t, st.createdLM, m)
	require.Regexp(t, `^m-[0-9a-f]{32}$`, m.ModelID)
	require.Equal(t, tracking.ModelPending, m.Status)
	require.Equal(t, tracking.StageActive, m.LifecycleStage)
	require.Regexp(t, `^[a-z]+-[a-z]+-\d{1,3}$`, m.Name)
	require.Equal(t, m.CreationTime, m.LastUpdateTime)
	require.GreaterOrEqual(t, m.CreationTime, before)

	named, err := s.CreateLoggedModel(ctx, tracking.LoggedModel{ExperimentID: "0", Name: "clf"})
	require.NoError(t, err)
	require.Equal(t, "clf", named.Name)
	require.NotEqual(t, m.ModelID, named.ModelID)

	_, err = s.CreateLoggedModel(ctx, tracking.LoggedModel{ExperimentID: "0", SourceRunID: "missing"})
	require.Equal(t, errs.NotFound, errs.KindOf(err))
	_, err = s.CreateLoggedModel(ctx, tracking.LoggedModel{ExperimentID: "3"})
	requireInvalid(t, err, "The experiment 3 must be in the 'active' state. Current state is deleted")

	for _, status := range []string{tracking.ModelReady, tracking.ModelFailed} {
		got, err := s.FinalizeLoggedModel(ctx, m.ModelID, status)
		require.NoError(t, err)
		require.Same(t, m, got)
		require.Equal(t, [2]string{m.ModelID, status}, st.lmUpdated)
	}
}

// TestServiceRejectsBeforeTheStore sends requests the Service must refuse
// on their own: it has no store, so reaching one would panic.
func TestServiceRejectsBeforeTheStore(t *testing.T) {
	ctx := context.Background()
	s := tracking.NewService(nil)
	status := "DONE"
	long := strings.Repeat("n", 251)
	ds := func(d tracking.Dataset, tags ...tracking.Tag) tracking.RunInputs {
		return tracking.RunInputs{Datasets: []tracking.DatasetInput{{Dataset: tracking.Dataset{Name: "ok", Digest: "d"}}, {Dataset: d, Tags: tags}}}
	}
	missing := func(p string) string {
		return "Missing value for required parameter '" + p + "'. See the API docs for more information about request parameters."
	}
	for _, tc := range []struct {
		name string
		call func() error
		msg  string
	}{
		{"experiment: no name", func() error { _, err := s.CreateExperiment(ctx, "", "", nil); return err }, missing("name")},
		{"experiment: long name", func() error { _, err := s.CreateExperiment(ctx, strings.Repeat("e", 501), "", nil); return err },
			"experiment name had length 501, which exceeded length limit of 500"},
		{"experiment: long tag", func() error {
			_, err := s.CreateExperiment(ctx, "e", "", []tracking.Tag{{Key: "k", Value: strings.Repeat("v", 5001)}})
			return err
		}, "tag 'k' had value length 5001, which exceeded length limit of 5000"},
		{"experiment: bad tag key", func() error { _, err := s.CreateExperiment(ctx, "e", "", []tracking.Tag{{Key: "a;b"}}); return err },
			"invalid tag name: 'a;b'. " + badChars},
		{"rename: no name", func() error { return s.RenameExperiment(ctx, "1", "") }, missing("new_name")},
		{"delete default", func() error { return s.DeleteExperiment(ctx, "0") }, "cannot delete the default experiment '0'"},
		{"experiment tag: long value", func() error {
			return s.SetExperimentTag(ctx, "1", tracking.Tag{Key: "k", Value: strings.Repeat("v", 5001)})
		}, "tag 'k' had value length 5001, which exceeded length limit of 5000"},
		{"experiment tag: no key", func() error { return s.DeleteExperimentTag(ctx, "1", "") }, missing("key")},
		{"run: bad tag", func() error {
			_, err := s.CreateRun(ctx, tracking.CreateRunInput{Tags: []tracking.Tag{{Key: "t", Value: strings.Repeat("v", 8001)}}})
			return err
		}, "tag 't' had value length 8001, which exceeded length limit of 8000"},
		{"update: bad id", func() error { _, err := s.UpdateRun(ctx, "../r", tracking.RunUpdate{}); return err },
			"invalid value '../r' for parameter 'run_id': expected letters, digits, '_' or '-'"},
		{"update: bad status", func() error { _, err := s.UpdateRun(ctx, "r1", tracking.RunUpdate{Status: &status}); return err },
			"invalid value 'DONE' for parameter 'status': expected one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED"},
		{"update: long name", func() error { _, err := s.UpdateRun(ctx, "r1", tracking.RunUpdate{RunName: &long}); return err },
			"run name had length 251, which exceeded length limit of 250"},
		{"delete run: no id", func() error { return s.DeleteRun(ctx, "") }, missing("run_id")},
		{"restore run: no id", func() error { return s.RestoreRun(ctx, "") }, missing("run_id")},
		{"delete tag: bad id", func() error { return s.DeleteTag(ctx, "a b", "k") },
			"invalid value 'a b' for parameter 'run_id': expected letters, digits, '_' or '-'"},
		{"batch: no run", func() error { return s.LogBatch(ctx, "", nil, nil, nil) }, missing("run_id")},
		{"batch: bad entry", func() error { return s.LogBatch(ctx, "r1", []tracking.Metric{{Key: "ok"}, {Key: "/m"}}, nil, nil) },
			"metrics[1].key: invalid metric name: '/m'. " + notClean},
		{"batch: conflicting params", func() error {
			return s.LogBatch(ctx, "r1", nil, []tracking.Param{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}, nil)
		}, "params[1].value: duplicate parameter keys with different values in the batch: 'a'"},
		{"inputs: no run", func() error { return s.LogInputs(ctx, "", tracking.RunInputs{}) }, missing("run_id")},
		{"inputs: no name", func() error { return s.LogInputs(ctx, "r1", ds(tracking.Dataset{Digest: "d"})) }, "datasets[1].dataset.name is required"},
		{"inputs: no digest", func() error { return s.LogInputs(ctx, "r1", ds(tracking.Dataset{Name: "n"})) }, "datasets[1].dataset.digest is required"},
		{"inputs: long name", func() error {
			return s.LogInputs(ctx, "r1", ds(tracking.Dataset{Name: strings.Repeat("n", 501), Digest: "d"}))
		}, "datasets[1]: name must be at most 500 and digest at most 36 characters"},
		{"inputs: long digest", func() error {
			return s.LogInputs(ctx, "r1", ds(tracking.Dataset{Name: "n", Digest: strings.Repeat("d", 37)}))
		}, "datasets[1]: name must be at most 500 and digest at most 36 characters"},
		{"inputs: long schema", func() error {
			return s.LogInputs(ctx, "r1", ds(tracking.Dataset{Name: "n", Digest: "d", Schema: strings.Repeat("s", 1<<20+1)}))
		}, "datasets[1]: schema, profile or source is too long"},
		{"inputs: long profile", func() error {
			return s.LogInputs(ctx, "r1", ds(tracking.Dataset{Name: "n", Digest: "d", Profile: strings.Repeat("p", 16<<10+1)}))
		}, "datasets[1]: schema, profile or source is too long"},
		{"inputs: long source", func() error {
			return s.LogInputs(ctx, "r1", ds(tracking.Dataset{Name: "n", Digest: "d", Source: strings.Repeat("s", 65536)}))
		}, "datasets[1]: schema, profile or source is too long"},
		{"inputs: empty tag key", func() error {
			return s.LogInputs(ctx, "r1", ds(tracking.Dataset{Name: "n", Digest: "d"}, tracking.Tag{Value: "v"}))
		}, "datasets[1]: tag keys must be 1-255 and values at most 500 characters"},
		{"inputs: long tag key", func() error {
			return s.LogInputs(ctx, "r1", ds(tracking.Dataset{Name: "n", Digest: "d"}, tracking.Tag{Key: strings.Repeat("k", 256)}))
		}, "datasets[1]: tag keys must be 1-255 and values at most 500 characters"},
		{"inputs: long tag value", func() error {
			return s.LogInputs(ctx, "r1", ds(tracking.Dataset{Name: "n", Digest: "d"}, tracking.Tag{Key: "k", Value: strings.Repeat("v", 501)}))
		}, "datasets[1]: tag keys must be 1-255 and values at most 500 characters"},
		{"outputs: bad id", func() error { return s.LogOutputs(ctx, "-r", tracking.RunOutputs{}) },
			"invalid value '-r' for parameter 'run_id': expected letters, digits, '_' or '-'"},
		{"search runs: too many", func() error {
			_, _, err := s.SearchRuns(ctx, tracking.RunQuery{Page: tracking.Page{MaxResults: 50001}})
			return err
		}, "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000"},
		{"search runs: negative", func() error {
			_, _, err := s.SearchRuns(ctx, tracking.RunQuery{Page: tracking.Page{MaxResults: -5}})
			return err
		}, "Invalid value -5 for parameter 'max_results' supplied. It must be a positive number"},
		{"search experiments: too many", func() error {
			_, _, err := s.SearchExperiments(ctx, tracking.ExperimentQuery{Page: tracking.Page{MaxResults: 50001}})
			return err
		}, "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000"},
		{"history: no run", func() error { _, _, err := s.MetricHistory(ctx, "", "m", tracking.Page{}); return err }, missing("run_id")},
		{"history: no key", func() error { _, _, err := s.MetricHistory(ctx, "r1", "", tracking.Page{}); return err }, missing("metric_key")},
		{"history: too many", func() error {
			_, _, err := s.MetricHistory(ctx, "r1", "m", tracking.Page{MaxResults: 2_500_001})
			return err
		}, "Invalid value 2500001 for parameter 'max_results' supplied. It must be at most 2500000"},
		{"log model: missing fields", func() error { return s.LogModel(ctx, "r1", `{"artifact_path":"m","utc_time_created":"t"}`) },
			"model json is missing mandatory fields: [flavors run_id]"},
		{"logged model: no experiment", func() error { _, err := s.CreateLoggedModel(ctx, tracking.LoggedModel{}); return err }, missing("experiment_id")},
		{"logged model: bad tag", func() error {
			_, err := s.CreateLoggedModel(ctx, tracking.LoggedModel{ExperimentID: "0", Tags: []tracking.Tag{{Key: "../t"}}})
			return err
		}, "invalid tag name: '../t'. " + notClean},
		{"logged model: long param", func() error {
			_, err := s.CreateLoggedModel(ctx, tracking.LoggedModel{ExperimentID: "0",
				Params: []tracking.Param{{Key: "p", Value: strings.Repeat("v", 6001)}}})
			return err
		}, "param 'p' had value length 6001, which exceeded length limit of 6000"},
		{"finalize: bad status", func() error { _, err := s.FinalizeLoggedModel(ctx, "m-1", "READY"); return err },
			"invalid value 'READY' for parameter 'status': expected LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED"},
		{"logged model tags: bad key", func() error { return s.SetLoggedModelTags(ctx, "m-1", []tracking.Tag{{Key: "a;b"}}) },
			"invalid tag name: 'a;b'. " + badChars},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireInvalid(t, tc.call(), tc.msg)
		})
	}
	for _, bad := range []string{"", "not json", "[1, 2]", `"a string"`} {
		err := s.LogModel(ctx, "r1", bad)
		require.Equal(t, errs.Invalid, errs.KindOf(err), bad)
		require.True(t, strings.HasPrefix(errs.MessageOf(err), "invalid value for parameter 'model_json': not a JSON object: "), errs.MessageOf(err))
	}
}

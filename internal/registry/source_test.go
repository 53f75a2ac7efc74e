package registry_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

func localSourceMsg(src string) string {
	return "Invalid model version source: '" + src + "'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id."
}

func remoteFileMsg(src string) string {
	return "Invalid model version source: '" + src + "'. " + src + " is not a valid remote uri: a file:// source must name this machine"
}

func relativeSourceMsg(src string) string {
	return "Invalid model version source: '" + src + "'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path."
}

func createVersion(s *registry.Service, in registry.CreateModelVersionInput) (*registry.ModelVersion, error) {
	if in.Name == "" {
		in.Name = "m"
	}
	return s.CreateModelVersion(context.Background(), in)
}

func TestCreateModelVersionRecordsTheRequest(t *testing.T) {
	st := newStubStore()
	st.next = 4
	before := time.Now().UnixMilli()
	tags := []registry.Tag{{Key: "k", Value: "v"}}
	v, err := registry.NewService(st, newStubRuns()).CreateModelVersion(context.Background(), registry.CreateModelVersionInput{
		Name: "m", Source: "s3://b/x", RunID: "r1", RunLink: "http://ci/1", Description: "d", Tags: tags, UserID: "ann"})
	require.NoError(t, err)
	require.Same(t, st.created, v)
	within(t, before, v.CreationTime)
	require.Equal(t, &registry.ModelVersion{Name: "m", Version: 4, Source: "s3://b/x", RunID: "r1", RunLink: "http://ci/1",
		Description: "d", Tags: tags, UserID: "ann", CreationTime: v.CreationTime, LastUpdatedTime: v.CreationTime,
		CurrentStage: registry.StageNone, Status: registry.StatusReady, StorageLocation: "s3://b/x"}, v)
	require.Equal(t, []string{"CreateModelVersion m"}, st.calls)

	// A store failure comes back as it is.
	st.fail = errs.NotFoundf("Registered Model with name=m not found")
	_, err = registry.NewService(st, nil).CreateModelVersion(context.Background(), registry.CreateModelVersionInput{Name: "m", Source: "s3://b/x"})
	requireKindMsg(t, errs.NotFound, "Registered Model with name=m not found", err, "store")
}

func TestValidateSourceAccepts(t *testing.T) {
	for _, tc := range []struct{ source, runID string }{
		// A local path inside the run's artifact folder, however written.
		{"/srv/mlruns/0/r1/artifacts/model", "r1"},
		{"/srv/mlruns/0/r1/artifacts", "r1"},
		{"/srv/mlruns/0/r1/artifacts/model/", "r1"},
		{"/srv/mlruns/0/r1/artifacts/./model", "r1"},
		{"/srv/mlruns/0/r1/artifacts/sub/../model", "r1"},
		{"file:///srv/mlruns/0/r1/artifacts/model", "r1"},
		{"FILE:///srv/mlruns/0/r1/artifacts/model", "r1"},
		{"file://localhost/srv/mlruns/0/r1/artifacts/model", "r1"},
		{"file://localhost:5000/srv/mlruns/0/r1/artifacts/model", "r1"},
		{"file://127.0.0.1/srv/mlruns/0/r1/artifacts/model", "r1"},
		{"file:///srv/mlruns/0/r1/artifacts/my%20model", "r1"},
		// The run's folder may itself be a file:// URI, on this machine.
		{"/srv/mlruns/0/r2/artifacts/model", "r2"},
		{"/srv/a/b", "rl"},
		// %-escapes in the run's folder are decoded before comparing.
		{"/srv/my dir/x", "space"},
		{"/srv/my%20dir/x", "space"},
		// A run whose artifacts are at / holds every absolute path.
		{"/etc/anything", "root"},
		// Remote sources need no run, only a clean absolute path.
		{"s3://bucket/path/model", ""},
		{"s3://bucket/path/model", "r1"},
		{"https://host/a/b", ""},
		{"http://host:8080/api/2.0/mlflow-artifacts/artifacts/x", ""},
		{"mlflow-artifacts:/0/r1/artifacts/model", ""},
		{"mlflow-artifacts://host:80/a/b", ""},
		{"gs://b/a//c/", ""},
		{"s3://b/a+b", ""},
		{"s3://b/a%20b/c", ""},
		{"s3://b/a?x=../y", ""}, // the query is not part of the path
		{"hdfs://nn:8020/user/x", ""},
		{"dbfs:/databricks/x", ""},
	} {
		st := newStubStore()
		v, err := createVersion(registry.NewService(st, newStubRuns()), registry.CreateModelVersionInput{Source: tc.source, RunID: tc.runID})
		require.NoError(t, err, "%s (run %q)", tc.source, tc.runID)
		require.Equal(t, tc.source, v.Source)
		require.Equal(t, tc.source, v.StorageLocation, "a source that is not runs:/ or models:/ is stored as given")
	}
}

func TestValidateSourceRejects(t *testing.T) {
	for _, tc := range []struct{ source, runID, msg string }{
		// Local paths outside the run's artifact folder.
		{"/srv/mlruns/0/r1/artifacts-evil/x", "r1", localSourceMsg("/srv/mlruns/0/r1/artifacts-evil/x")},
		{"/srv/mlruns/0/r1", "r1", localSourceMsg("/srv/mlruns/0/r1")},
		{"/srv/mlruns/0/r1/artifacts/../../r9/artifacts", "r1", localSourceMsg("/srv/mlruns/0/r1/artifacts/../../r9/artifacts")},
		{"/srv/mlruns/0/r1/artifacts/%2e%2e/%2e%2e/r9", "r1", localSourceMsg("/srv/mlruns/0/r1/artifacts/%2e%2e/%2e%2e/r9")},
		{"file:///srv/mlruns/0/r1/artifacts/%2E%2E/x", "r1", localSourceMsg("file:///srv/mlruns/0/r1/artifacts/%2E%2E/x")},
		{"/etc/passwd", "r1", localSourceMsg("/etc/passwd")},
		{"model", "r1", localSourceMsg("model")},
		{"./model", "r1", localSourceMsg("./model")},
		// A run whose artifacts are remote holds no local path.
		{"/srv/mlruns/0/r3/artifacts/x", "r3", localSourceMsg("/srv/mlruns/0/r3/artifacts/x")},
		// A local path needs a run.
		{"/srv/mlruns/0/r1/artifacts/x", "", localSourceMsg("/srv/mlruns/0/r1/artifacts/x")},
		{"file:///srv/mlruns/0/r1/artifacts/x", "", localSourceMsg("file:///srv/mlruns/0/r1/artifacts/x")},
		// file:// must name this machine.
		{"file://evil.example/srv/mlruns/0/r1/artifacts/x", "r1", remoteFileMsg("file://evil.example/srv/mlruns/0/r1/artifacts/x")},
		{"FILE://Evil/x", "r1", remoteFileMsg("FILE://Evil/x")},
		{"file://user@evil:22/x", "", remoteFileMsg("file://user@evil:22/x")},
		// Remote sources with relative segments, plain or %-encoded (any depth),
		// with NUL, or with no absolute path at all.
		{"https://h/a/../../b", "", relativeSourceMsg("https://h/a/../../b")},
		{"http://h/api/2.0/mlflow-artifacts/artifacts/../../../../etc", "", relativeSourceMsg("http://h/api/2.0/mlflow-artifacts/artifacts/../../../../etc")},
		{"s3://b/a/./c", "", relativeSourceMsg("s3://b/a/./c")},
		{"s3://b/a/..", "", relativeSourceMsg("s3://b/a/..")},
		{"mlflow-artifacts://h:80/..%2f..%2fx", "", relativeSourceMsg("mlflow-artifacts://h:80/..%2f..%2fx")},
		{"s3://b/%252e%252e/x", "", relativeSourceMsg("s3://b/%252e%252e/x")},
		{"s3://b/a%00", "", relativeSourceMsg("s3://b/a%00")},
		{"s3:relative/path", "", relativeSourceMsg("s3:relative/path")},
		{"s3://bucket", "", relativeSourceMsg("s3://bucket")}, // MLflow: Path("").resolve() is the cwd, not ""
		{"runs:/r3/../../x", "", relativeSourceMsg("runs:/r3/../../x")},
		{"models:/m/../x", "", relativeSourceMsg("models:/m/../x")},
	} {
		st := newStubStore()
		_, err := createVersion(registry.NewService(st, newStubRuns()), registry.CreateModelVersionInput{Source: tc.source, RunID: tc.runID})
		requireKindMsg(t, errs.Invalid, tc.msg, err, tc.source)
		require.Empty(t, st.calls, tc.source)
	}

	// Without tracking no local path can be checked, so none is accepted.
	_, err := createVersion(registry.NewService(newStubStore(), nil), registry.CreateModelVersionInput{Source: "/srv/mlruns/0/r1/artifacts/x", RunID: "r1"})
	requireKindMsg(t, errs.Invalid, localSourceMsg("/srv/mlruns/0/r1/artifacts/x"), err, "no tracking")
	// The run must exist, and a tracking failure is not hidden.
	_, err = createVersion(registry.NewService(newStubStore(), newStubRuns()), registry.CreateModelVersionInput{Source: "/srv/x", RunID: "nope"})
	requireKindMsg(t, errs.NotFound, "Run 'nope' not found", err, "no run")
	runs := newStubRuns()
	runs.fail = errs.E(errs.Unavailable, "database is locked")
	_, err = createVersion(registry.NewService(newStubStore(), runs), registry.CreateModelVersionInput{Source: "/srv/x", RunID: "r1"})
	requireKindMsg(t, errs.Unavailable, "database is locked", err, "tracking down")
}

func TestResolveSource(t *testing.T) {
	st := newStubStore()
	for _, v := range []*registry.ModelVersion{
		{Name: "other", Version: 2, Source: "s3://bucket/src", StorageLocation: "s3://bucket/other/2"},
		{Name: "other", Version: 3, Source: "runs:/r3/model"},
	} {
		st.versions[v.String()] = v
	}
	st.aliases["other@champ"] = 2
	s := registry.NewService(st, newStubRuns())
	for _, tc := range []struct {
		in              registry.CreateModelVersionInput
		loc, run, model string
	}{
		{registry.CreateModelVersionInput{Source: "runs:/r3/model"}, "s3://bucket/0/r3/artifacts/model", "", ""},
		{registry.CreateModelVersionInput{Source: "runs:/r3/model", RunID: "r3"}, "s3://bucket/0/r3/artifacts/model", "r3", ""},
		{registry.CreateModelVersionInput{Source: "runs:/r3"}, "s3://bucket/0/r3/artifacts", "", ""},
		{registry.CreateModelVersionInput{Source: "runs:/rs/model/"}, "s3://bucket/0/rs/artifacts/model", "", ""},
		// A run that does not exist yet leaves the source for later, as MLflow does.
		{registry.CreateModelVersionInput{Source: "runs:/r9/model"}, "runs:/r9/model", "", ""},
		// A logged model gives its artifacts, its ID and its run.
		{registry.CreateModelVersionInput{Source: "models:/m-abc"}, "s3://bucket/0/models/m-abc/artifacts", "r3", "m-abc"},
		{registry.CreateModelVersionInput{Source: "models:/m-abc/"}, "s3://bucket/0/models/m-abc/artifacts", "r3", "m-abc"},
		{registry.CreateModelVersionInput{Source: "models:/m-abc", RunID: "r1"}, "s3://bucket/0/models/m-abc/artifacts", "r1", "m-abc"},
		// A registered version gives where its files are.
		{registry.CreateModelVersionInput{Source: "models:/other/2"}, "s3://bucket/other/2", "", ""},
		{registry.CreateModelVersionInput{Source: "models:/other@champ"}, "s3://bucket/other/2", "", ""},
		{registry.CreateModelVersionInput{Source: "models:/other/3"}, "s3://bucket/0/r3/artifacts/model", "", ""},
		// A model ID with a plain source names the run.
		{registry.CreateModelVersionInput{Source: "s3://b/x", ModelID: "m-abc"}, "s3://b/x", "r3", "m-abc"},
		{registry.CreateModelVersionInput{Source: "s3://b/x", ModelID: "m-abc", RunID: "r1"}, "s3://b/x", "r1", "m-abc"},
	} {
		v, err := createVersion(s, tc.in)
		require.NoError(t, err, tc.in.Source)
		require.Equal(t, tc.in.Source, v.Source, "the source is kept as sent")
		require.Equal(t, tc.loc, v.StorageLocation, tc.in.Source)
		require.Equal(t, tc.run, v.RunID, tc.in.Source)
		require.Equal(t, tc.model, v.ModelID, tc.in.Source)
	}

	unable := func(src, msg string) string {
		return "Unable to fetch model from model URI source artifact location '" + src + "'. Error: " + msg
	}
	for _, tc := range []struct {
		in   registry.CreateModelVersionInput
		kind errs.Kind
		msg  string
	}{
		{registry.CreateModelVersionInput{Source: "models:/m-missing"}, errs.Invalid,
			unable("models:/m-missing", "Logged model with ID 'm-missing' not found.")},
		{registry.CreateModelVersionInput{Source: "models:/other/9"}, errs.Invalid,
			unable("models:/other/9", "Model Version (name=other, version=9) not found")},
		{registry.CreateModelVersionInput{Source: "models:/other@ghost"}, errs.Invalid,
			unable("models:/other@ghost", "Registered model alias ghost not found.")},
		{registry.CreateModelVersionInput{Source: "models:/other/shipped"}, errs.Invalid,
			unable("models:/other/shipped", "invalid model URI 'models:/other/shipped': 'shipped' is not a version, a stage (None, Staging, Production, Archived) or 'latest'")},
		{registry.CreateModelVersionInput{Source: "models:/other"}, errs.Invalid,
			unable("models:/other", "invalid model URI 'models:/other': expected models:/<name>/<version|stage|latest> or models:/<name>@<alias>")},
		{registry.CreateModelVersionInput{Source: "models:/other@latest"}, errs.Invalid,
			unable("models:/other@latest", "'latest' alias name (case insensitive) is reserved.")},
		{registry.CreateModelVersionInput{Source: "runs://"}, errs.Invalid, relativeSourceMsg("runs://")},
		// A model ID that names nothing is the client's NotFound, not a source error.
		{registry.CreateModelVersionInput{Source: "s3://b/x", ModelID: "m-missing"}, errs.NotFound, "Logged model with ID 'm-missing' not found."},
	} {
		before := len(st.calls)
		_, err := createVersion(s, tc.in)
		requireKindMsg(t, tc.kind, tc.msg, err, tc.in.Source)
		for _, c := range st.calls[before:] {
			require.NotContains(t, c, "CreateModelVersion", tc.in.Source)
		}
	}

	// Without tracking, runs:/ and models:/m- sources are stored as given.
	for _, src := range []string{"runs:/r3/model", "models:/m-abc"} {
		v, err := createVersion(registry.NewService(newStubStore(), nil), registry.CreateModelVersionInput{Source: src})
		require.NoError(t, err)
		require.Equal(t, src, v.StorageLocation)
		require.Empty(t, v.ModelID)
	}
	// A failing tracking store is not reported as a bad source.
	runs := newStubRuns()
	runs.fail = errs.E(errs.Unavailable, "database is locked")
	for _, src := range []string{"runs:/r3/model", "models:/m-abc"} {
		_, err := createVersion(registry.NewService(newStubStore(), runs), registry.CreateModelVersionInput{Source: src})
		requireKindMsg(t, errs.Unavailable, "database is locked", err, src)
	}
	failing := newStubStore()
	failing.fail = errs.E(errs.Unavailable, "database is locked")
	_, err := createVersion(registry.NewService(failing, nil), registry.CreateModelVersionInput{Source: "models:/other/latest"})
	requireKindMsg(t, errs.Unavailable, "database is locked", err, "registry down")
}

// MLflow fixed CVE-2024-1558 by rejecting a ".." segment anywhere in the
// decoded source, not only in its path: "%23" decodes to '#', and the
// urlparse path then ends before the traversal.
func TestValidateSourceRejectsTraversalBehindAFragment(t *testing.T) {
	for _, src := range []string{
		"http://host/api/2.0/mlflow-artifacts/artifacts/x%23/../../../../etc/passwd",
		"mlflow-artifacts://host/x%23/../../../secret",
		"s3://b/model#/../../other",
	} {
		_, err := createVersion(registry.NewService(newStubStore(), nil), registry.CreateModelVersionInput{Source: src})
		requireKindMsg(t, errs.Invalid, relativeSourceMsg(src), err, src)
	}
}

// MLflow 3 checks a local source given with a model_id against the logged
// model's artifact folder (handlers._validate_source_model), not a run's.
func TestValidateSourceUsesTheLoggedModelFolder(t *testing.T) {
	t.Skip("bug: CreateModelVersion validates a local source only against RunID's artifact folder, so a local source inside a logged model's folder, sent with model_id as MLflow 3 clients do, is rejected")
	runs := newStubRuns()
	runs.models["m-loc"] = &tracking.LoggedModel{ModelID: "m-loc", ArtifactURI: "/srv/mlruns/0/models/m-loc/artifacts", SourceRunID: "r1"}
	v, err := createVersion(registry.NewService(newStubStore(), runs), registry.CreateModelVersionInput{
		Source: "/srv/mlruns/0/models/m-loc/artifacts/model", ModelID: "m-loc"})
	require.NoError(t, err)
	require.Equal(t, "r1", v.RunID)
}

package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/webtest"
)

// counter is an http.RoundTripper that counts requests by path prefix.
type counter struct {
	mu    sync.Mutex
	paths []string
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.paths = append(c.paths, r.URL.Path)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// count returns how many requests went to paths starting with prefix.
func (c *counter) count(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.paths {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

// fixture is a server with model "m": version 1 from run1's "model" folder
// and version 2 from run2's, each holding MLmodel, weights/w.bin and
// data/nested/x.txt (whose content names the run).
type fixture struct {
	c          *client.Client
	hits       *counter
	run1, run2 *tracking.Run
}

var modelFiles = []string{"MLmodel", "weights/w.bin", "data/nested/x.txt"}

func newFixture(t *testing.T) *fixture {
	ctx := context.Background()
	srv := webtest.Start(t, web.Options{})
	hits := &counter{}
	opts := client.DefaultOptions()
	opts.HTTPClient = &http.Client{Transport: hits}
	c, err := client.New(srv.URL, opts)
	require.NoError(t, err)
	expID, err := c.CreateExperiment(ctx, "registry-test")
	require.NoError(t, err)
	f := &fixture{c: c, hits: hits}
	for i, run := range []**tracking.Run{&f.run1, &f.run2} {
		r, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: expID})
		require.NoError(t, err)
		for _, p := range modelFiles {
			require.NoError(t, c.UploadArtifact(ctx, r, "model/"+p, strings.NewReader(p+" of run "+string(rune('1'+i)))))
		}
		require.NoError(t, c.UploadArtifact(ctx, r, "other.txt", strings.NewReader("not the model")))
		*run = r
	}
	_, err = c.EnsureRegisteredModel(ctx, "m", "a model", []registry.Tag{{Key: "team", Value: "ml"}})
	require.NoError(t, err)
	for _, r := range []*tracking.Run{f.run1, f.run2} {
		v, err := c.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m",
			Source: "runs:/" + r.Info.RunID + "/model", RunID: r.Info.RunID, Description: "from " + r.Info.RunID,
			Tags: []registry.Tag{{Key: "k", Value: "v"}}})
		require.NoError(t, err)
		require.Equal(t, r.Info.RunID, v.RunID)
		require.Equal(t, []registry.Tag{{Key: "k", Value: "v"}}, v.Tags)
	}
	return f
}

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.c

	// EnsureRegisteredModel is idempotent; CreateRegisteredModel is not.
	m, err := c.EnsureRegisteredModel(ctx, "m", "other", nil)
	require.NoError(t, err)
	require.Equal(t, "a model", m.Description)
	require.Equal(t, []registry.Tag{{Key: "team", Value: "ml"}}, m.Tags)
	_, err = c.CreateRegisteredModel(ctx, "m", "", nil)
	require.Equal(t, errs.Conflict, errs.KindOf(err))
	_, err = c.GetRegisteredModel(ctx, "nope")
	require.Equal(t, errs.NotFound, errs.KindOf(err))

	v, err := c.WaitForModelVersionReady(ctx, "m", 2)
	require.NoError(t, err)
	require.Equal(t, registry.StatusReady, v.Status)
	require.Equal(t, "from "+f.run2.Info.RunID, v.Description)
	_, err = c.GetModelVersion(ctx, "m", 9)
	require.Equal(t, errs.NotFound, errs.KindOf(err))

	// Aliases: set, move, delete.
	require.NoError(t, c.SetRegisteredModelAlias(ctx, "m", "champion", 1))
	v, err = c.GetModelVersionByAlias(ctx, "m", "champion")
	require.NoError(t, err)
	require.Equal(t, int64(1), v.Version)
	require.Equal(t, []string{"champion"}, v.Aliases)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, "m", "champion", 2))
	v, err = c.GetModelVersionByAlias(ctx, "m", "champion")
	require.NoError(t, err)
	require.Equal(t, int64(2), v.Version)
	m, err = c.GetRegisteredModel(ctx, "m")
	require.NoError(t, err)
	require.Equal(t, []registry.Alias{{Alias: "champion", Version: 2}}, m.Aliases)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, "m", "old", 1))
	require.NoError(t, c.DeleteRegisteredModelAlias(ctx, "m", "old"))
	_, err = c.GetModelVersionByAlias(ctx, "m", "old")
	require.Equal(t, errs.NotFound, errs.KindOf(err))
	require.Equal(t, errs.Invalid, errs.KindOf(c.SetRegisteredModelAlias(ctx, "m", "v1", 1)))
	require.Equal(t, errs.NotFound, errs.KindOf(c.SetRegisteredModelAlias(ctx, "m", "x", 9)))

	// Tags and search.
	require.NoError(t, c.SetModelVersionTag(ctx, "m", 1, registry.Tag{Key: "stage", Value: "prod"}))
	v, err = c.GetModelVersion(ctx, "m", 1)
	require.NoError(t, err)
	require.Contains(t, v.Tags, registry.Tag{Key: "stage", Value: "prod"})
	require.Equal(t, errs.NotFound, errs.KindOf(c.SetModelVersionTag(ctx, "m", 9, registry.Tag{Key: "a", Value: "b"})))
	vs, _, err := c.SearchModelVersions(ctx, registry.Query{Filter: "name='m'", OrderBy: []string{"version_number DESC"}})
	require.NoError(t, err)
	require.Len(t, vs, 2)
	require.Equal(t, int64(2), vs[0].Version)
	vs, _, err = c.SearchModelVersions(ctx, registry.Query{Filter: "run_id='" + f.run1.Info.RunID + "'"})
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.Equal(t, int64(1), vs[0].Version)
	_, _, err = c.SearchModelVersions(ctx, registry.Query{Filter: "nope ="})
	require.Equal(t, errs.Invalid, errs.KindOf(err))

	loc, err := c.GetModelVersionDownloadURI(ctx, "m", 1)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc, "mlflow-artifacts:/"), loc)
	require.True(t, strings.HasSuffix(loc, f.run1.Info.RunID+"/artifacts/model"), loc)
}

func TestResolveModelURI(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.c
	require.NoError(t, c.SetRegisteredModelAlias(ctx, "m", "champion", 1))
	require.NoError(t, c.Do(ctx, "POST", "/api/2.0/mlflow/model-versions/transition-stage",
		map[string]any{"name": "m", "version": "1", "stage": "Production"}, nil))

	for uri, want := range map[string]*tracking.Run{
		"models:/m/1": f.run1, "models:/m/2": f.run2, "models:/m@champion": f.run1,
		"models:/m/latest": f.run2, "models:/m/Latest/": f.run2, "models:/m/Production": f.run1, "models:/m/production": f.run1,
	} {
		v, loc, err := c.ResolveModelURI(ctx, uri)
		require.NoError(t, err, uri)
		require.Equal(t, want.Info.RunID, v.RunID, uri)
		require.Equal(t, want.Info.ArtifactURI+"/model", loc, uri)
	}
	for uri, kind := range map[string]errs.Kind{
		"runs:/x/model": errs.Invalid, "models:/": errs.Invalid, "models:/m": errs.Invalid, "models:/@a": errs.Invalid,
		"models:/m@": errs.Invalid, "models:/m/Nightly": errs.Invalid, "s3://b/m": errs.Invalid,
		"models:/nope/1": errs.NotFound, "models:/m/9": errs.NotFound, "models:/m@nope": errs.NotFound,
		"models:/m/Staging": errs.NotFound, "models:/nope/latest": errs.NotFound,
	} {
		_, _, err := c.ResolveModelURI(ctx, uri)
		require.Equal(t, kind, errs.KindOf(err), "%s: %v", uri, err)
	}
}

func TestWaitForModelVersionReady(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	statuses := map[string][]string{"1": {"PENDING_REGISTRATION", "PENDING_REGISTRATION", "READY"}, "2": {"PENDING_REGISTRATION", "FAILED_REGISTRATION"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		v := r.URL.Query().Get("version")
		st := statuses[v][0]
		if len(statuses[v]) > 1 {
			statuses[v] = statuses[v][1:]
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"model_version": map[string]any{"name": "m", "version": v,
			"status": st, "status_message": "copy failed"}})
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.DefaultOptions())
	require.NoError(t, err)
	v, err := c.WaitForModelVersionReady(ctx, "m", 1)
	require.NoError(t, err)
	require.Equal(t, registry.StatusReady, v.Status)
	_, err = c.WaitForModelVersionReady(ctx, "m", 2)
	require.Equal(t, errs.Conflict, errs.KindOf(err))
	require.ErrorContains(t, err, "copy failed")
}

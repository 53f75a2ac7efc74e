package jobs

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/store/artifacts"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/webtest"
)

// localRegistry is a server's registry and artifact store, without the
// server: a SQLite database and a local store in temporary folders.
type localRegistry struct {
	reg   *registry.Service
	track *tracking.Service
	store artifacts.Store
	opens atomic.Int64 // calls of Files
}

func newLocalRegistry(t *testing.T) *localRegistry {
	t.Helper()
	srv := webtest.Start(t, web.Options{})
	return &localRegistry{reg: registry.NewService(srv.DB, srv.DB), track: tracking.NewService(srv.DB), store: srv.Artifacts}
}

func (l *localRegistry) source() LocalModels {
	roots := artifacts.NewRoots(l.store)
	return LocalModels{Registry: l.reg, Files: func(ctx context.Context, uri string) (fs.FS, error) {
		l.opens.Add(1)
		st, p, err := roots.Resolve(uri)
		if err != nil {
			return nil, err
		}
		return artifacts.FS(ctx, st, p), nil
	}}
}

// logModel stores files as a run's "model" artifacts and registers them as
// a new version of name; it returns the version.
func (l *localRegistry) logModel(t *testing.T, name string, files map[string]string) int64 {
	t.Helper()
	ctx := context.Background()
	run, err := l.track.CreateRun(ctx, tracking.CreateRunInput{})
	require.NoError(t, err)
	u, err := url.Parse(run.Info.ArtifactURI)
	require.NoError(t, err)
	root := strings.TrimPrefix(u.Path, "/")
	for p, data := range files {
		require.NoError(t, l.store.Put(ctx, root+"/model/"+p, strings.NewReader(data)))
	}
	if _, err := l.reg.FindRegisteredModel(ctx, name); errs.Is(err, errs.NotFound) {
		_, err = l.reg.CreateRegisteredModel(ctx, name, "", nil)
		require.NoError(t, err)
	}
	v, err := l.reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: name, Source: "runs:/" + run.Info.RunID + "/model", RunID: run.Info.RunID})
	require.NoError(t, err)
	return v.Version
}

func TestLocalModelsFetch(t *testing.T) {
	ctx := context.Background()
	l := newLocalRegistry(t)
	src := l.source()
	v1 := l.logModel(t, "m", map[string]string{"package.json": `{"v":1}`, "weights/w.bin": "one"})
	v2 := l.logModel(t, "m", map[string]string{"package.json": `{"v":2}`, "weights/w.bin": "two"})
	require.NoError(t, l.reg.SetAlias(ctx, "m", "champion", v1))
	cache := t.TempDir()

	mv, err := src.ResolveModel(ctx, "models:/m@champion")
	require.NoError(t, err)
	require.Equal(t, v1, mv.Version)
	mv, err = src.ResolveModel(ctx, "models:/m/latest")
	require.NoError(t, err)
	require.Equal(t, v2, mv.Version)

	dir, err := src.FetchModel(ctx, "models:/m@champion", cache)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(cache, "m", "1"), dir)
	b, err := os.ReadFile(filepath.Join(dir, "weights", "w.bin"))
	require.NoError(t, err)
	require.Equal(t, "one", string(b))
	require.FileExists(t, filepath.Join(dir, client.CompleteMarker))
	require.EqualValues(t, 1, l.opens.Load())

	// A complete folder is reused without reading the store again.
	again, err := src.FetchModel(ctx, "models:/m/1", cache)
	require.NoError(t, err)
	require.Equal(t, dir, again)
	require.EqualValues(t, 1, l.opens.Load())

	// Fetchers racing for one version all get the one folder.
	var wg sync.WaitGroup
	dirs, errsOf := make([]string, 4), make([]error, 4)
	for i := range dirs {
		wg.Go(func() { dirs[i], errsOf[i] = src.FetchModel(ctx, "models:/m/2", cache) })
	}
	wg.Wait()
	for i := range dirs {
		require.NoError(t, errsOf[i])
		require.Equal(t, filepath.Join(cache, "m", "2"), dirs[i])
	}
	b, err = os.ReadFile(filepath.Join(cache, "m", "2", "weights", "w.bin"))
	require.NoError(t, err)
	require.Equal(t, "two", string(b))
	leftovers, _ := filepath.Glob(filepath.Join(cache, "m", ".*"))
	require.Empty(t, leftovers, "temporary folders are removed")
}

func TestLocalModelsErrors(t *testing.T) {
	ctx := context.Background()
	l := newLocalRegistry(t)
	src := l.source()
	cache := t.TempDir()
	l.logModel(t, "m", map[string]string{"package.json": "{}"})

	for uri, kind := range map[string]errs.Kind{
		"models:/nope@champion": errs.NotFound,
		"models:/m/7":           errs.NotFound,
		"models:/m@nobody":      errs.NotFound,
		"models:/":              errs.Invalid,
	} {
		_, err := src.FetchModel(ctx, uri, cache)
		require.Equal(t, kind, errs.KindOf(err), "%s: %v", uri, err)
	}

	// A folder in the way that is not a complete fetch is not overwritten.
	require.NoError(t, os.MkdirAll(filepath.Join(cache, "m", "1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(cache, "m", "1", "mine"), []byte("x"), 0o644))
	_, err := src.FetchModel(ctx, "models:/m/1", cache)
	require.Equal(t, errs.Conflict, errs.KindOf(err), "%v", err)
	require.FileExists(t, filepath.Join(cache, "m", "1", "mine"))
	require.NoError(t, os.RemoveAll(filepath.Join(cache, "m", "1")))

	// What the store cannot give fails the fetch and leaves no folder.
	failing := LocalModels{Registry: l.reg, Files: func(context.Context, string) (fs.FS, error) {
		return nil, errs.E(errs.PermissionDenied, "outside the roots")
	}}
	_, err = failing.FetchModel(ctx, "models:/m/1", cache)
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "%v", err)
	broken := LocalModels{Registry: l.reg, Files: func(context.Context, string) (fs.FS, error) { return brokenFS{}, nil }}
	_, err = broken.FetchModel(ctx, "models:/m/1", cache)
	require.Error(t, err)
	require.NoDirExists(t, filepath.Join(cache, "m", "1"))
	leftovers, _ := filepath.Glob(filepath.Join(cache, "m", ".*"))
	require.Empty(t, leftovers)

	// A version whose files lie outside every store the server serves is
	// refused by the roots, not copied: here an experiment (made past the
	// API, which would refuse it) keeps its artifacts in another folder.
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o600))
	exp, err := l.track.CreateExperiment(ctx, "elsewhere", "file://"+outside, nil)
	require.NoError(t, err)
	run, err := l.track.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: exp})
	require.NoError(t, err)
	_, err = l.reg.CreateRegisteredModel(ctx, "escape", "", nil)
	require.NoError(t, err)
	_, err = l.reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "escape", Source: "runs:/" + run.Info.RunID + "/model", RunID: run.Info.RunID})
	require.NoError(t, err)
	_, err = src.FetchModel(ctx, "models:/escape/1", cache)
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "%v", err)
	require.NoDirExists(t, filepath.Join(cache, "escape", "1"))

	// Without a source, models:/ URIs need a tracking server.
	_, err = ModelLoader{}.Resolve(ctx, "models:/m/1")
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.ErrorContains(t, err, "tracking server")
	_, err = LoadModel(ctx, nil, "models:/m/1", cache, "")
	require.Equal(t, errs.Invalid, errs.KindOf(err))
}

// brokenFS fails every read, as a store that goes away mid-copy.
type brokenFS struct{}

func (brokenFS) Open(string) (fs.File, error) { return nil, errors.New("store unavailable") }

// TestLocalModelsLoad serves a registered version read in process, through
// the loader the model server uses.
func TestLocalModelsLoad(t *testing.T) {
	ctx := context.Background()
	pkg, _ := fingersPackage(t)
	l := newLocalRegistry(t)
	files := map[string]string{}
	require.NoError(t, filepath.WalkDir(pkg, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(pkg, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	}))
	v := l.logModel(t, "fingers", files)
	require.NoError(t, l.reg.SetAlias(ctx, "fingers", "champion", v))
	loader := ModelLoader{Models: l.source(), CacheDir: t.TempDir()}
	version, err := loader.Resolve(ctx, "models:/fingers@champion")
	require.NoError(t, err)
	require.Equal(t, "1", version)
	m, err := loader.Load(ctx, "models:/fingers@champion", version)
	require.NoError(t, err)
	require.Equal(t, "image", m.Info().Kind)
	require.Len(t, m.Info().Classes, 6)
}

package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
)

const proxy = "/api/2.0/mlflow-artifacts/"

// readTree returns the files under dir by slash path, with their contents.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = string(b)
		return err
	}))
	return got
}

func modelTree(run string) map[string]string {
	m := map[string]string{}
	for _, p := range modelFiles {
		m[p] = p + " of run " + run
	}
	return m
}

// entries returns the names of a folder, to check no temp folder is left.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestArtifacts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c, runID := f.c, f.run1.Info.RunID
	loc, err := c.GetModelVersionDownloadURI(ctx, "m", 1)
	require.NoError(t, err)

	want := []client.FileInfo{{Path: "model/MLmodel", Size: 16}, {Path: "model/data", IsDir: true}, {Path: "model/weights", IsDir: true}}
	files, err := c.ListArtifacts(ctx, runID, "model")
	require.NoError(t, err)
	require.Equal(t, want, files)
	files, err = c.ListArtifacts(ctx, "runs:/"+runID+"/model", "")
	require.NoError(t, err)
	require.Equal(t, want, files)
	files, err = c.ListArtifacts(ctx, loc, "")
	require.NoError(t, err)
	require.Equal(t, []client.FileInfo{{Path: "MLmodel", Size: 16}, {Path: "data", IsDir: true}, {Path: "weights", IsDir: true}}, files)
	files, err = c.ListArtifacts(ctx, loc, "data/nested")
	require.NoError(t, err)
	require.Equal(t, []client.FileInfo{{Path: "data/nested/x.txt", Size: 26}}, files)
	_, err = c.ListArtifacts(ctx, runID, "../x")
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	_, err = c.ListArtifacts(ctx, "s3://bucket/x", "")
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	_, err = c.ListArtifacts(ctx, "ffffffffffffffffffffffffffffffff", "")
	require.Equal(t, errs.NotFound, errs.KindOf(err))

	var buf bytes.Buffer
	require.NoError(t, c.DownloadArtifact(ctx, runID, "model/weights/w.bin", &buf))
	require.Equal(t, "weights/w.bin of run 1", buf.String())
	require.Equal(t, errs.NotFound, errs.KindOf(c.DownloadArtifact(ctx, runID, "model/nope", &buf)))
	require.Equal(t, errs.Invalid, errs.KindOf(c.DownloadArtifact(ctx, runID, "/etc/passwd", &buf)))

	dst := t.TempDir()
	require.NoError(t, c.DownloadArtifacts(ctx, runID, "model", filepath.Join(dst, "a")))
	require.Equal(t, modelTree("1"), readTree(t, filepath.Join(dst, "a")))
	require.NoError(t, c.DownloadArtifacts(ctx, runID, "", filepath.Join(dst, "all")))
	all := readTree(t, filepath.Join(dst, "all"))
	require.Equal(t, "not the model", all["other.txt"])
	require.Len(t, all, 4)
	require.NoError(t, c.DownloadArtifacts(ctx, runID, "model/MLmodel", filepath.Join(dst, "one")))
	require.Equal(t, map[string]string{"MLmodel": "MLmodel of run 1"}, readTree(t, filepath.Join(dst, "one")))
	err = c.DownloadArtifacts(ctx, runID, "model", filepath.Join(dst, "a"))
	require.Equal(t, errs.Conflict, errs.KindOf(err), err)
	err = c.DownloadArtifacts(ctx, runID, "nope", filepath.Join(dst, "nope"))
	require.Equal(t, errs.NotFound, errs.KindOf(err), err)
	require.Equal(t, []string{"a", "all", "one"}, entries(t, dst), "no temp folders left")

	require.NoError(t, c.DownloadURI(ctx, loc, filepath.Join(dst, "uri")))
	require.Equal(t, modelTree("1"), readTree(t, filepath.Join(dst, "uri")))
	require.NoError(t, c.DownloadURI(ctx, loc+"/weights/w.bin", filepath.Join(dst, "urifile")))
	require.Equal(t, map[string]string{"w.bin": "weights/w.bin of run 1"}, readTree(t, filepath.Join(dst, "urifile")))
	for _, uri := range []string{"s3://bucket/model", "file:///tmp/model", "runs:/" + runID + "/model", "mlflow-artifacts:/1/../x"} {
		err := c.DownloadURI(ctx, uri, filepath.Join(dst, "bad"))
		require.Equal(t, errs.Invalid, errs.KindOf(err), "%s: %v", uri, err)
	}
	require.ErrorContains(t, c.DownloadURI(ctx, "s3://bucket/model", filepath.Join(dst, "bad")), "scheme s3")
	require.NoDirExists(t, filepath.Join(dst, "bad"))
}

func TestFetchModel(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := f.c
	cache := t.TempDir()
	require.NoError(t, c.SetRegisteredModelAlias(ctx, "m", "champion", 1))

	dir, v, err := c.FetchModel(ctx, "models:/m@champion", cache)
	require.NoError(t, err)
	require.Equal(t, int64(1), v.Version)
	require.Equal(t, filepath.Join(cache, "m", "1"), dir)
	got := readTree(t, dir)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(got[client.CompleteMarker]), &rec))
	require.Equal(t, "m", rec["name"])
	delete(got, client.CompleteMarker)
	require.Equal(t, modelTree("1"), got)

	// A second fetch, by another URI form, is a cache hit: no artifact requests.
	before := f.hits.count(proxy) + f.hits.count("/api/2.0/mlflow/artifacts/")
	dir2, v, err := c.FetchModel(ctx, "models:/m/1", cache)
	require.NoError(t, err)
	require.Equal(t, dir, dir2)
	require.Equal(t, int64(1), v.Version)
	require.Equal(t, before, f.hits.count(proxy)+f.hits.count("/api/2.0/mlflow/artifacts/"))
	require.Equal(t, 1, f.hits.count("/api/2.0/mlflow/model-versions/get-download-uri"), "download URI asked once")

	// Moving the alias fetches the other version.
	require.NoError(t, c.SetRegisteredModelAlias(ctx, "m", "champion", 2))
	dir, v, err = c.FetchModel(ctx, "models:/m@champion", cache)
	require.NoError(t, err)
	require.Equal(t, int64(2), v.Version)
	require.Equal(t, filepath.Join(cache, "m", "2"), dir)
	require.Equal(t, "MLmodel of run 2", readTree(t, dir)["MLmodel"])

	// Fetchers racing for one version all get the same complete folder.
	race := t.TempDir()
	var wg sync.WaitGroup
	dirs, fetchErrs := make([]string, 4), make([]error, 4)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], _, fetchErrs[i] = c.FetchModel(ctx, "models:/m/latest", race)
		}()
	}
	wg.Wait()
	for i := range dirs {
		require.NoError(t, fetchErrs[i])
		require.Equal(t, filepath.Join(race, "m", "2"), dirs[i])
	}
	require.Len(t, readTree(t, dirs[0]), len(modelFiles)+1)
	require.Equal(t, []string{"2"}, entries(t, filepath.Join(race, "m")), "losers leave no temp folders")

	// A folder in the way without the marker is not taken for a download.
	junk := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(junk, "m", "2", "junk"), 0o755))
	_, _, err = c.FetchModel(ctx, "models:/m/2", junk)
	require.Equal(t, errs.Conflict, errs.KindOf(err), err)
	require.Equal(t, []string{"2"}, entries(t, filepath.Join(junk, "m")))

	_, _, err = c.FetchModel(ctx, "models:/m/9", cache)
	require.Equal(t, errs.NotFound, errs.KindOf(err))
	_, _, err = c.FetchModel(ctx, "models:/m", cache)
	require.Equal(t, errs.Invalid, errs.KindOf(err))
}

// TestDownloadRejectsUnsafeListing checks that paths a malicious server lists
// cannot make the client write outside the destination.
func TestDownloadRejectsUnsafeListing(t *testing.T) {
	ctx := context.Background()
	for name, listing := range map[string]map[string][]map[string]any{
		"parent":   {"": {{"path": "../evil"}}},
		"absolute": {"": {{"path": "/tmp/evil"}}},
		"climb":    {"": {{"path": "ok/../../evil"}}},
		"dotdot":   {"": {{"path": "..", "is_dir": true}}},
		"nested":   {"": {{"path": "sub", "is_dir": true}}, "sub": {{"path": "sub/../../evil"}}},
		"other":    {"": {{"path": "sub", "is_dir": true}}, "sub": {{"path": "elsewhere/evil"}}},
		"self":     {"": {{"path": "sub", "is_dir": true}}, "sub": {{"path": "sub", "is_dir": true}}},
		"proxy":    {"proxy": {{"path": "../evil"}}},
		"proxyabs": {"proxy": {{"path": "/evil"}}},
		"proxydir": {"proxy": {{"path": "a/evil"}}},
	} {
		t.Run(name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("GET /api/2.0/mlflow/artifacts/list", func(w http.ResponseWriter, r *http.Request) {
				_ = json.NewEncoder(w).Encode(map[string]any{"root_uri": "mlflow-artifacts:/1/r/artifacts",
					"files": listing[r.URL.Query().Get("path")]})
			})
			mux.HandleFunc("GET "+proxy+"artifacts", func(w http.ResponseWriter, r *http.Request) {
				_ = json.NewEncoder(w).Encode(map[string]any{"files": listing["proxy"]})
			})
			mux.HandleFunc("GET "+proxy+"artifacts/{path...}", func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte("pwned"))
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			c, err := client.New(srv.URL, client.DefaultOptions())
			require.NoError(t, err)

			base := t.TempDir()
			dst := filepath.Join(base, "in", "dst")
			if _, ok := listing["proxy"]; ok {
				err = c.DownloadURI(ctx, "mlflow-artifacts:/1/r/artifacts/model", dst)
			} else {
				err = c.DownloadArtifacts(ctx, "r", "", dst)
			}
			require.Equal(t, errs.Invalid, errs.KindOf(err), err)
			require.ErrorContains(t, err, "unsafe artifact path")
			require.NoDirExists(t, dst)
			require.Equal(t, []string{"in"}, entries(t, base))
			require.Empty(t, entries(t, filepath.Join(base, "in")))
		})
	}
}

// TestCacheModelStaysInTheCache names cache folders after registered
// models: a name cannot climb out of the cache or land beside it.
func TestCacheModelStaysInTheCache(t *testing.T) {
	cache := t.TempDir()
	fill := func() (string, func(*os.Root) error, error) {
		return "mlflow-artifacts:/x", func(r *os.Root) error { return r.WriteFile("f", []byte("x"), 0o644) }, nil
	}
	for _, bad := range []string{"..", "."} {
		_, err := client.CacheModel(cache, &registry.ModelVersion{Name: bad, Version: 1}, fill)
		require.Equal(t, errs.Invalid, errs.KindOf(err), "%q: %v", bad, err)
	}
	for _, name := range []string{"../up", "a/b", "/abs", `back\slash`} {
		dir, err := client.CacheModel(cache, &registry.ModelVersion{Name: name, Version: 1}, fill)
		require.NoError(t, err, name)
		rel, err := filepath.Rel(cache, dir)
		require.NoError(t, err)
		require.Equal(t, 2, len(strings.Split(rel, string(filepath.Separator))), "%q -> %s", name, rel)
		require.FileExists(t, filepath.Join(dir, "f"))
	}
	entries, err := os.ReadDir(filepath.Dir(cache))
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing was written beside the cache")
}

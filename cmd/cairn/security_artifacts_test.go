package main

// Security tests for artifact storage, against a real `cairn server`
// process: locations that escape the artifact root, symbolic links out of
// it, the modes of the data folder and database, and uploads a crash left.

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/store/meta"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

const secret = "SECRET-OUTSIDE-THE-ROOT"

// postJSON sends a JSON request and decodes the answer into out (when not nil).
func (p *serverProcess) postJSON(t *testing.T, path string, body, out any) (int, string) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	status, resp := p.send(t, "POST", path, string(b), jsonType)
	if out != nil && status == 200 {
		require.NoError(t, json.Unmarshal([]byte(resp), out), resp)
	}
	return status, resp
}

// createRun starts a run in experiment exp and returns its ID.
func (p *serverProcess) createRun(t *testing.T, exp string) string {
	t.Helper()
	var out struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	status, body := p.postJSON(t, "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": exp}, &out)
	require.Equal(t, 200, status, body)
	return out.Run.Info.RunID
}

// refused asserts a request was refused as the client's fault (400 or 403)
// and served nothing from outside the root.
func refused(t *testing.T, what string, status int, body string) {
	t.Helper()
	require.Contains(t, []int{400, 403}, status, "%s: %s", what, body)
	require.NotContains(t, body, secret, what)
}

// TestSecurityArtifactLocationEscapes reproduces experiments whose
// artifact_location climbs out of the default artifact root, in every
// spelling: creating one is refused, and rows of that kind already in the
// database (put there by an older version) are refused at every use:
// download, upload, listing, and model versions and logged models built on
// them.
func TestSecurityArtifactLocationEscapes(t *testing.T) {
	ctx := context.Background()
	base, data := t.TempDir(), t.TempDir()
	root := filepath.Join(base, "root")
	require.NoError(t, os.MkdirAll(filepath.Join(base, "rootevil"), 0o755))
	for _, p := range []string{filepath.Join(base, "secret"), filepath.Join(base, "rootevil", "secret")} {
		require.NoError(t, os.WriteFile(p, []byte(secret), 0o600))
	}
	rootURI := "file://" + root
	escapes := []string{
		rootURI + "/..?", rootURI + "/../..?", rootURI + "/..", rootURI + "/x/../..", rootURI + "/..#", rootURI + "/..;x",
		rootURI + "/%2e%2e", rootURI + "/%2E%2E/%2e%2e", rootURI + "/%252e%252e", rootURI + "/..%2f..%2f", rootURI + "/x%2f..%2f..",
		rootURI + "/x?y=1", rootURI + "/x#f", rootURI + "evil", "file://" + base, root + "/..", root + "evil",
		"file://user@localhost" + root, "file://evil.example" + root, "file://localhost:22" + root,
		"relative/path", "s3://some-bucket/p", "gs://b/p", "runs:/abc/model", "mlflow-artifacts:/../..", "mlflow-artifacts:/%2e%2e",
	}

	// Rows an older version accepted, written straight to the database.
	db, err := meta.Open(ctx, filepath.Join(data, "cairn.db"), meta.DefaultOptions())
	require.NoError(t, err)
	legacy := map[string]string{} // experiment ID -> location
	for i, loc := range []string{rootURI + "/..?", rootURI + "/%2e%2e?", rootURI + "evil", "file://" + base + "?", "file://" + base} {
		id, err := tracking.NewService(db).CreateExperiment(ctx, "legacy-"+string(rune('a'+i)), loc, nil)
		require.NoError(t, err)
		legacy[id] = loc
	}
	now := time.Now().UnixMilli()
	require.NoError(t, db.CreateRegisteredModel(ctx, &registry.RegisteredModel{Name: "legacy", CreationTime: now, LastUpdatedTime: now}))
	_, err = db.CreateModelVersion(ctx, &registry.ModelVersion{Name: "legacy", Source: rootURI + "/..?", Status: "READY",
		CurrentStage: "None", CreationTime: now, LastUpdatedTime: now})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	p := startServerProcess(t, data, "--default-artifact-root", rootURI)

	for _, loc := range escapes {
		status, body := p.postJSON(t, "/api/2.0/mlflow/experiments/create", map[string]any{"name": "evil " + loc, "artifact_location": loc}, nil)
		require.Equal(t, 400, status, "%s: %s", loc, body)
		require.Contains(t, body, `"error_code":"INVALID_PARAMETER_VALUE"`, loc)
		require.Contains(t, body, "'artifact_location'", loc)
	}
	status, body := p.postJSON(t, "/api/2.0/mlflow/experiments/create", map[string]any{"name": "inside", "artifact_location": rootURI + "/team"}, nil)
	require.Equal(t, 200, status, "a location inside the root is fine: %s", body)

	for exp, loc := range legacy {
		run := p.createRun(t, exp)
		status, body := p.send(t, "GET", "/get-artifact?run_id="+run+"&path=secret", "", nil)
		refused(t, "download under "+loc, status, body)
		status, body = p.send(t, "GET", "/get-artifact?run_id="+run+"&path=rootevil/secret", "", nil)
		refused(t, "download under "+loc, status, body)
		status, body = p.send(t, "GET", "/api/2.0/mlflow/artifacts/list?run_id="+run, "", nil)
		refused(t, "listing under "+loc, status, body)
		require.NotContains(t, body, `"secret"`)
		status, body = p.send(t, "POST", "/ajax-api/2.0/mlflow/upload-artifact?run_uuid="+run+"&path=planted", "pwned",
			map[string]string{"Content-Type": "application/octet-stream"})
		refused(t, "upload under "+loc, status, body)

		var lm struct {
			Model struct {
				Info struct {
					ModelID string `json:"model_id"`
				} `json:"info"`
			} `json:"model"`
		}
		status, body = p.postJSON(t, "/api/2.0/mlflow/logged-models", map[string]any{"experiment_id": exp, "name": "m"}, &lm)
		require.Equal(t, 200, status, body)
		name := "from-logged-" + exp
		status, body = p.postJSON(t, "/api/2.0/mlflow/registered-models/create", map[string]any{"name": name}, nil)
		require.Equal(t, 200, status, body)
		status, body = p.postJSON(t, "/api/2.0/mlflow/model-versions/create", map[string]any{"name": name, "source": "models:/" + lm.Model.Info.ModelID}, nil)
		require.Equal(t, 200, status, body)
		status, body = p.send(t, "GET", "/model-versions/get-artifact?name="+name+"&version=1&path=secret", "", nil)
		refused(t, "logged model under "+loc, status, body)
	}
	status, body = p.send(t, "GET", "/model-versions/get-artifact?name=legacy&version=1&path=secret", "", nil)
	refused(t, "model version source", status, body)
	for _, src := range []string{rootURI + "/..?", rootURI + "/%2e%2e/secret", "file://" + base + "/secret", "/etc/passwd"} {
		status, body = p.postJSON(t, "/api/2.0/mlflow/model-versions/create", map[string]any{"name": "legacy", "source": src}, nil)
		require.Equal(t, 400, status, "%s: %s", src, body)
		require.Contains(t, body, `"error_code":"INVALID_PARAMETER_VALUE"`, src)
	}

	// The proxy routes take paths, not locations; encoded escapes in them
	// are refused too.
	for _, path := range []string{"..%2f..%2fsecret", "%2e%2e/%2e%2e/secret", "0/..%2f..%2f..%2fsecret", "..%5c..%5csecret"} {
		status, body := p.send(t, "GET", "/api/2.0/mlflow-artifacts/artifacts/"+path, "", nil)
		require.NotEqual(t, 200, status, path)
		require.NotContains(t, body, secret, path)
		status, _ = p.send(t, "PUT", "/api/2.0/mlflow-artifacts/artifacts/"+strings.Replace(path, "secret", "planted", 1), "pwned",
			map[string]string{"Content-Type": "application/octet-stream"})
		require.NotEqual(t, 200, status, path)
	}
	for _, dir := range []string{base, filepath.Dir(base), filepath.Join(base, "rootevil")} {
		_, err := os.Stat(filepath.Join(dir, "planted"))
		require.ErrorIs(t, err, fs.ErrNotExist, "nothing was written to %s", dir)
	}
}

// TestSecurityAllowedArtifactRoots: --allowed-artifact-roots lets
// experiments keep artifacts in another folder, which the server then
// serves, and nowhere else.
func TestSecurityAllowedArtifactRoots(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "shared")
	p := startServerProcess(t, t.TempDir(), "--allowed-artifact-roots", "file://"+shared)
	var exp struct {
		ExperimentID string `json:"experiment_id"`
	}
	status, body := p.postJSON(t, "/api/2.0/mlflow/experiments/create", map[string]any{"name": "shared", "artifact_location": "file://" + shared + "/team"}, &exp)
	require.Equal(t, 200, status, body)
	runID := p.createRun(t, exp.ExperimentID)
	status, body = p.send(t, "POST", "/ajax-api/2.0/mlflow/upload-artifact?run_uuid="+runID+"&path=notes.txt", "hello",
		map[string]string{"Content-Type": "application/octet-stream"})
	require.Equal(t, 200, status, body)
	b, err := os.ReadFile(filepath.Join(shared, "team", runID, "artifacts", "notes.txt"))
	require.NoError(t, err)
	require.Equal(t, "hello", string(b))
	status, body = p.send(t, "GET", "/get-artifact?run_id="+runID+"&path=notes.txt", "", nil)
	require.Equal(t, 200, status, body)
	require.Equal(t, "hello", body)

	status, body = p.postJSON(t, "/api/2.0/mlflow/experiments/create", map[string]any{"name": "other", "artifact_location": "file://" + shared + "2/x"}, nil)
	require.Equal(t, 400, status, body)

	_, err = run(t, "server", "--allowed-artifact-roots", "file:///srv/../etc", "--data", t.TempDir())
	require.ErrorContains(t, err, "--allowed-artifact-roots")
	require.Equal(t, 2, exitCode(err))
	_, err = run(t, "server", "--allowed-artifact-roots", "mlflow-artifacts:/x", "--data", t.TempDir())
	require.ErrorContains(t, err, "is not a file:// or s3:// URI")
}

// TestSecuritySymlinkOutOfRoot: a symbolic link inside the artifact root
// that leads out of it is refused as a bad path (400), not a server error,
// and serves and takes nothing.
func TestSecuritySymlinkOutOfRoot(t *testing.T) {
	outside, data := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte(secret), 0o600))
	p := startServerProcess(t, data)
	run := p.createRun(t, "0")
	arts := filepath.Join(data, "artifacts", "0", run, "artifacts")
	require.NoError(t, os.MkdirAll(arts, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(arts, "model.pkl")))
	require.NoError(t, os.Symlink(outside, filepath.Join(arts, "out")))
	proxied := "/api/2.0/mlflow-artifacts/artifacts/0/" + run + "/artifacts/"

	for _, req := range []struct{ method, path string }{
		{"GET", "/get-artifact?run_id=" + run + "&path=model.pkl"},
		{"GET", "/get-artifact?run_id=" + run + "&path=out/secret"},
		{"GET", "/api/2.0/mlflow/artifacts/list?run_id=" + run + "&path=out"},
		{"GET", proxied + "model.pkl"},
		{"GET", proxied + "out/secret"},
		{"GET", "/api/2.0/mlflow-artifacts/artifacts?path=" + url.QueryEscape("0/"+run+"/artifacts/out")},
		{"PUT", proxied + "out/planted"},
	} {
		var upload string
		if req.method == "PUT" {
			upload = "pwned"
		}
		status, body := p.send(t, req.method, req.path, upload, map[string]string{"Content-Type": "application/octet-stream"})
		require.Equal(t, 400, status, "%s %s: %s", req.method, req.path, body)
		require.NotContains(t, body, secret)
		require.Contains(t, body, "symbolic link")
	}
	_, err := os.Stat(filepath.Join(outside, "planted"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	status, body := p.send(t, "GET", "/api/2.0/mlflow/artifacts/list?run_id="+run, "", nil)
	require.Equal(t, 200, status, body)
	require.NotContains(t, body, "model.pkl", "links are not listed")
}

// TestSecurityDataPermissions: the data folder and the database, which
// holds password hashes, are for the server's user only, from the first
// start on; an older, looser data folder is tightened at start with a
// warning, and uploads a crash left there are removed.
func TestSecurityDataPermissions(t *testing.T) {
	mode := func(p string) fs.FileMode {
		fi, err := os.Stat(p)
		require.NoError(t, err, p)
		return fi.Mode().Perm()
	}
	fresh := filepath.Join(t.TempDir(), "data")
	p := startServerProcess(t, fresh)
	require.Equal(t, fs.FileMode(0o700), mode(fresh))
	db := filepath.Join(fresh, "cairn.db")
	for _, f := range []string{db, db + "-wal", db + "-shm"} {
		require.Equal(t, fs.FileMode(0o600), mode(f), f)
	}
	require.NotContains(t, p.Log(), "restricted")

	// A data folder as an older version left it, with uploads it never finished.
	old := t.TempDir()
	mdb, err := meta.Open(context.Background(), filepath.Join(old, "cairn.db"), meta.DefaultOptions())
	require.NoError(t, err)
	require.NoError(t, mdb.Close())
	require.NoError(t, os.Chmod(old, 0o755))
	require.NoError(t, os.Chmod(filepath.Join(old, "cairn.db"), 0o644))
	private := filepath.Join(old, "artifacts", ".cairn")
	stale, current := filepath.Join(private, "tmp", "crashed"), filepath.Join(private, "tmp", "uploading")
	staleUpload := filepath.Join(private, "multipart", "ABANDONED")
	require.NoError(t, os.MkdirAll(staleUpload, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Dir(stale), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(staleUpload, "1"), []byte("part"), 0o644))
	for _, f := range []string{stale, current} {
		require.NoError(t, os.WriteFile(f, []byte("partial"), 0o644))
	}
	day := time.Now().Add(-25 * time.Hour)
	for _, f := range []string{stale, staleUpload} {
		require.NoError(t, os.Chtimes(f, day, day))
	}

	p = startServerProcess(t, old)
	require.Equal(t, fs.FileMode(0o700), mode(old))
	require.Equal(t, fs.FileMode(0o600), mode(filepath.Join(old, "cairn.db")))
	log := p.Log()
	require.Contains(t, log, "data folder was open to others; restricted it to its owner")
	require.Contains(t, log, "database file was readable by others; restricted it to its owner")
	require.Contains(t, log, "removed unfinished uploads")
	for _, f := range []string{stale, staleUpload} {
		_, err := os.Stat(f)
		require.ErrorIs(t, err, fs.ErrNotExist, f)
	}
	_, err = os.Stat(current)
	require.NoError(t, err, "an upload still going is kept")
}

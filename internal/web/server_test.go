package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/auth"
	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/webtest"
)

type authAdapter struct{ s *auth.Service }

func (a *authAdapter) Authorize(r *http.Request, need web.Access) (context.Context, error) {
	p, err := a.s.Authorize(r, auth.Level(need))
	return auth.WithPrincipal(r.Context(), p), err
}

func TestAccessFor(t *testing.T) {
	tests := []struct {
		method, path string
		want         web.Access
	}{
		{"GET", "/health", web.Public},
		{"GET", "/version", web.Public},
		{"GET", "/api/2.0/mlflow/runs/get", web.Read},
		{"POST", "/api/2.0/mlflow/runs/search", web.Read},
		{"POST", "/ajax-api/2.0/mlflow/experiments/search", web.Read},
		{"POST", "/api/2.0/mlflow/registered-models/get-latest-versions", web.Read},
		{"POST", "/api/2.0/mlflow/runs/log-batch", web.Write},
		{"POST", "/serve/fingers/", web.Read},
		{"POST", "/v2/models/fingers/infer", web.Read},
		{"POST", "/api/2.0/cairn/deployments/create", web.Write},
		{"PUT", "/api/2.0/mlflow-artifacts/artifacts/1/x", web.Write},
		{"DELETE", "/api/2.0/mlflow/registered-models/delete", web.Write},
		{"GET", "/api/2.0/cairn/users", web.Admin},
		// A search route's name at the end of another path is no search.
		{"POST", "/api/2.0/mlflow-artifacts/mpu/create/x/runs/search", web.Write},
		{"POST", "/api/2.0/mlflow-artifacts/mpu/complete/1/runs/search", web.Write},
		{"POST", "/api/2.0/mlflow/experiments/search-datasets", web.Read},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		require.Equal(t, tt.want, web.AccessFor(r), tt.method+" "+tt.path)
	}
}

// TestAuth runs a server with --auth semantics: tokens and basic auth as the
// MLflow client sends them, roles, and MLflow's error format for 401 and 403.
func TestAuth(t *testing.T) {
	ctx := context.Background()
	opts := web.DefaultOptions()
	var authn authAdapter
	opts.Auth = &authn
	srv := webtest.Start(t, opts)
	db := srv.DB
	svc := auth.NewService(db, auth.DefaultOptions())
	_, err := svc.CreateUser(ctx, "alice", "alice-password", auth.RoleAdmin)
	require.NoError(t, err)
	_, err = svc.CreateUser(ctx, "reader", "reader-password", auth.RoleRead)
	require.NoError(t, err)
	readToken, _, err := svc.CreateToken(ctx, "reader", "ci", 0)
	require.NoError(t, err)

	authn.s = svc

	do := func(method, path, body string, setAuth func(*http.Request)) (int, map[string]any) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if method == "POST" {
			req.Header.Set("Content-Type", "application/json")
		}
		if setAuth != nil {
			setAuth(req)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }

	status, _ := do("GET", "/health", "", nil)
	require.Equal(t, 200, status)
	status, body := do("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", "", nil)
	require.Equal(t, 401, status)
	require.Equal(t, "UNAUTHENTICATED", body["error_code"])
	require.Contains(t, body["message"], "MLFLOW_TRACKING_TOKEN")
	status, body = do("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", "", bearer("cairn_wrong"))
	require.Equal(t, 401, status, body)
	status, _ = do("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", "", bearer(readToken))
	require.Equal(t, 200, status)
	status, _ = do("POST", "/api/2.0/mlflow/runs/search", `{"experiment_ids":["0"]}`, bearer(readToken))
	require.Equal(t, 200, status)
	status, body = do("POST", "/api/2.0/mlflow/experiments/create", `{"name":"x"}`, bearer(readToken))
	require.Equal(t, 403, status)
	require.Equal(t, "PERMISSION_DENIED", body["error_code"])
	status, _ = do("POST", "/api/2.0/mlflow/experiments/create", `{"name":"x"}`, basic("reader", "reader-password"))
	require.Equal(t, 403, status)
	status, _ = do("POST", "/api/2.0/mlflow/experiments/create", `{"name":"x"}`, basic("alice", "wrong-password"))
	require.Equal(t, 401, status)
	status, body = do("POST", "/api/2.0/mlflow/experiments/create", `{"name":"x"}`, basic("alice", "alice-password"))
	require.Equal(t, 200, status, body)
	require.NotEmpty(t, body["experiment_id"])
}

func TestRequestPathsAndIDs(t *testing.T) {
	srv := httptest.NewServer(web.NewServer(web.DefaultOptions()).Handler())
	defer srv.Close()
	for _, p := range []string{"/api/2.0/mlflow-artifacts/artifacts/1/a/../../etc", "/api/./x", "//x/../../y"} {
		req, _ := http.NewRequest("GET", srv.URL+p, nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 400, resp.StatusCode, p)
	}
	resp, err := http.Get(srv.URL + "//health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "repeated slashes are merged")
	req, _ := http.NewRequest("GET", srv.URL+"/health", nil)
	req.Header.Set("X-Request-Id", "abc123")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "abc123", resp.Header.Get("X-Request-Id"))
}

type mountFunc func(mux *http.ServeMux)

func (f mountFunc) Register(mux *http.ServeMux) { f(mux) }

// TestAccessLog logs requests under the AccessLog prefixes at info, with
// their request ID, and the rest at debug.
func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	opts := web.DefaultOptions()
	opts.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts.AccessLog = []string{"/serve/"}
	h := web.NewServer(opts, mountFunc(func(mux *http.ServeMux) {
		mux.HandleFunc("/serve/x/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	})).Handler()
	for _, p := range []string{"/serve/x/", "/health"} {
		req := httptest.NewRequest("GET", "http://127.0.0.1:5000"+p, nil)
		req.Header.Set("X-Request-Id", "req-"+strings.Trim(p, "/"))
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 1, buf.String())
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	require.Equal(t, "request", rec["msg"])
	require.Equal(t, "req-serve/x", rec["request_id"])
	require.Equal(t, "/serve/x/", rec["path"])
	require.EqualValues(t, 204, rec["status"])
}

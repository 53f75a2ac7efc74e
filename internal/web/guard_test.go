package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/web"
)

// TestGuard sends what a web page on another site can make a browser send,
// and what real clients send, to a server on 127.0.0.1:5000.
func TestGuard(t *testing.T) {
	opts := web.DefaultOptions()
	opts.AllowedHosts = []string{"cairn.example.com", "*.corp.example", "pinned.example:5000"}
	opts.AllowedOrigins = []string{"https://notebook.example.com"}
	h := web.NewServer(opts, mountFunc(func(mux *http.ServeMux) {
		ok := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }
		mux.HandleFunc("POST /api/2.0/cairn/pipelines/runs/submit", ok)
		mux.HandleFunc("POST /api/2.0/mlflow/experiments/create", ok)
		mux.HandleFunc("POST /api/2.0/mlflow/runs/search", ok)
		mux.HandleFunc("PUT /api/2.0/mlflow-artifacts/artifacts/{p...}", ok)
		mux.HandleFunc("POST /serve/fingers/", ok)
		mux.HandleFunc("GET /api/2.0/mlflow/experiments/get", ok)
	})).Handler()

	const submit = "/api/2.0/cairn/pipelines/runs/submit"
	tests := []struct {
		name, method, host, path string
		header                   map[string]string
		status                   int
		code, msg                string
	}{
		// Cross-site requests that run commands: a text/plain "simple" POST,
		// a form, a body-less POST with the query string.
		{"text/plain from another site", "POST", "127.0.0.1:5000", submit,
			map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
			403, "PERMISSION_DENIED", "cross-origin POST from 'https://evil.example' refused"},
		{"only Sec-Fetch-Site", "POST", "127.0.0.1:5000", submit,
			map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403, "PERMISSION_DENIED", "Sec-Fetch-Site: cross-site"},
		{"JSON from another site", "POST", "127.0.0.1:5000", submit,
			map[string]string{"Content-Type": "application/json", "Origin": "http://localhost:3000"}, 403, "PERMISSION_DENIED", "--allowed-origins"},
		{"null origin (sandboxed frame)", "POST", "127.0.0.1:5000", submit,
			map[string]string{"Content-Type": "application/json", "Origin": "null"}, 403, "PERMISSION_DENIED", ""},
		{"text/plain without Origin", "POST", "127.0.0.1:5000", submit,
			map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, 415, "BAD_REQUEST", "needs Content-Type: application/json (got 'text/plain;charset=UTF-8')"},
		{"HTML form", "POST", "127.0.0.1:5000", "/api/2.0/mlflow/experiments/create?name=x",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "BAD_REQUEST", ""},
		{"multipart form", "POST", "127.0.0.1:5000", submit,
			map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, 415, "BAD_REQUEST", ""},
		{"no body, no type", "POST", "127.0.0.1:5000", "/api/2.0/mlflow/experiments/create?name=x", nil, 415, "BAD_REQUEST", "(got none)"},
		{"unparsable type", "POST", "127.0.0.1:5000", submit, map[string]string{"Content-Type": "a/b; ="}, 415, "BAD_REQUEST", ""},

		// DNS rebinding: the page's own name now resolves to 127.0.0.1.
		{"rebound name", "POST", "evil.example:5000", submit,
			map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example:5000"}, 403, "PERMISSION_DENIED", "Host 'evil.example:5000' is not allowed"},
		{"rebound name, GET", "GET", "evil.example:5000", "/api/2.0/mlflow/experiments/get", nil, 403, "PERMISSION_DENIED", "--allowed-hosts evil.example"},
		{"suffix is not a subdomain", "GET", "evilcorp.example", "/api/2.0/mlflow/experiments/get", nil, 403, "PERMISSION_DENIED", ""},
		{"pinned port differs", "GET", "pinned.example:6000", "/api/2.0/mlflow/experiments/get", nil, 403, "PERMISSION_DENIED", ""},

		// What real clients and the UI send.
		{"MLflow client", "POST", "127.0.0.1:5000", "/api/2.0/mlflow/experiments/create",
			map[string]string{"Content-Type": "application/json"}, 204, "", ""},
		{"the UI, same origin", "POST", "localhost:5000", submit,
			map[string]string{"Content-Type": "application/json", "Origin": "http://localhost:5000", "Sec-Fetch-Site": "same-origin"}, 204, "", ""},
		{"JSON with charset", "POST", "[::1]:5000", submit, map[string]string{"Content-Type": "application/json; charset=utf-8"}, 204, "", ""},
		{"allowed origin", "POST", "127.0.0.1:5000", submit,
			map[string]string{"Content-Type": "application/json", "Origin": "https://notebook.example.com", "Sec-Fetch-Site": "cross-site"}, 204, "", ""},
		{"artifact upload as text/plain (PUT needs a preflight)", "PUT", "127.0.0.1:5000", "/api/2.0/mlflow-artifacts/artifacts/1/r/a.txt",
			map[string]string{"Content-Type": "text/plain"}, 204, "", ""},
		{"search reads", "POST", "127.0.0.1:5000", "/api/2.0/mlflow/runs/search", map[string]string{"Content-Type": "text/plain"}, 204, "", ""},
		{"inference reads: curl -d", "POST", "127.0.0.1:5000", "/serve/fingers/",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 204, "", ""},
		{"cross-site GET (a link)", "GET", "127.0.0.1:5000", "/api/2.0/mlflow/experiments/get", map[string]string{"Sec-Fetch-Site": "cross-site"}, 204, "", ""},
		{"any IP", "GET", "10.1.2.3:5000", "/api/2.0/mlflow/experiments/get", nil, 204, "", ""},
		{"IPv6", "GET", "[fd00::1]:5000", "/api/2.0/mlflow/experiments/get", nil, 204, "", ""},
		{"localhost names", "GET", "app.localhost:5000", "/api/2.0/mlflow/experiments/get", nil, 204, "", ""},
		{"allowed host, any case", "GET", "Cairn.Example.COM", "/api/2.0/mlflow/experiments/get", nil, 204, "", ""},
		{"allowed subdomain", "GET", "a.b.corp.example:443", "/api/2.0/mlflow/experiments/get", nil, 204, "", ""},
		{"pinned port", "GET", "pinned.example:5000", "/api/2.0/mlflow/experiments/get", nil, 204, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://"+tt.host+tt.path, strings.NewReader(`{"name":"x"}`))
			r.Host = tt.host
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, tt.status, w.Code, w.Body.String())
			require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
			require.Equal(t, "SAMEORIGIN", w.Header().Get("X-Frame-Options"))
			if tt.code != "" {
				var body map[string]string
				require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
				require.Equal(t, tt.code, body["error_code"])
				require.Contains(t, body["message"], tt.msg)
			}
		})
	}
}

// TestGuardCORS answers an allowed origin's preflight and marks its
// responses readable; other origins get no CORS headers.
func TestGuardCORS(t *testing.T) {
	opts := web.DefaultOptions()
	opts.AllowedOrigins = []string{"https://notebook.example.com"}
	h := web.NewServer(opts, mountFunc(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /api/2.0/mlflow/experiments/get", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	})).Handler()
	send := func(method, origin string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "http://127.0.0.1:5000/api/2.0/mlflow/experiments/get", nil)
		r.Header.Set("Origin", origin)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	pre := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
	w := send("OPTIONS", "https://notebook.example.com", pre)
	require.Equal(t, 204, w.Code)
	require.Equal(t, "https://notebook.example.com", w.Header().Get("Access-Control-Allow-Origin"))
	require.Contains(t, w.Header().Get("Access-Control-Allow-Methods"), "POST")

	w = send("OPTIONS", "https://evil.example", pre)
	require.Empty(t, w.Header().Get("Access-Control-Allow-Origin"))

	w = send("GET", "https://notebook.example.com", nil)
	require.Equal(t, 204, w.Code)
	require.Equal(t, "https://notebook.example.com", w.Header().Get("Access-Control-Allow-Origin"))
	w = send("GET", "https://evil.example", nil)
	require.Empty(t, w.Header().Get("Access-Control-Allow-Origin"))
}

func TestParseGuardSettings(t *testing.T) {
	for _, s := range []string{"https://a.example", "http://a.example:8080", "HTTPS://A.example/"} {
		_, err := web.ParseOrigin(s)
		require.NoError(t, err, s)
	}
	for _, s := range []string{"a.example", "ftp://a.example", "https://a.example/path", "https://u@a.example", "https://a.example?q", "*"} {
		_, err := web.ParseOrigin(s)
		require.Error(t, err, s)
	}
	for _, s := range []string{"cairn.example.com", "cairn:5000", "*.example.com", "*", "10.0.0.1"} {
		_, err := web.ParseAllowedHost(s)
		require.NoError(t, err, s)
	}
	for _, s := range []string{"", "a/b", "a*b.example", "http://a.example", "*."} {
		_, err := web.ParseAllowedHost(s)
		require.Error(t, err, s)
	}
}

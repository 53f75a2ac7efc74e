package ui_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/web/ui"
	"github.com/cairn-mlops/cairn/internal/webtest"
)

const (
	indexHTML = `<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="app"></div></body></html>`
	appJS     = "console.log('cairn');\n"
)

var appFS = fstest.MapFS{
	"index.html":              {Data: []byte(indexHTML)},
	"assets/index-abc123.js":  {Data: []byte(strings.Repeat(appJS, 200))},
	"assets/index-abc123.css": {Data: []byte("body{color:red}")},
	"favicon.svg":             {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
}

// newServer mounts the UI beside the real MLflow API, as cairn server does,
// so a pattern conflict or a shadowed API route shows here.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	return webtest.Start(t, web.Options{}, ui.NewHandler(appFS)).Server
}

func TestRoutes(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name, method, path string
		status             int
		ctype              string // prefix
		body               string // substring
		cache              string
	}{
		{"root is the app", "GET", "/", 200, "text/html", `<div id="app">`, "no-cache"},
		{"client route", "GET", "/experiments/1/runs", 200, "text/html", `<div id="app">`, "no-cache"},
		{"client route with a dot", "GET", "/models/my.model", 200, "text/html", `<div id="app">`, "no-cache"},
		{"index by name", "GET", "/index.html", 200, "text/html", `<div id="app">`, "no-cache"},
		{"hashed script", "GET", "/assets/index-abc123.js", 200, "text/javascript", "console.log", "public, max-age=31536000, immutable"},
		{"hashed style", "GET", "/assets/index-abc123.css", 200, "text/css", "color:red", "public, max-age=31536000, immutable"},
		{"unhashed file", "GET", "/favicon.svg", 200, "image/svg+xml", "<svg", "no-cache"},
		{"missing asset is not the app", "GET", "/assets/index-old.js", 404, "text/plain", "no such asset", ""},
		{"HEAD", "HEAD", "/runs/abc", 200, "text/html", "", "no-cache"},
		{"POST to a page", "POST", "/experiments", 405, "application/json", "only GET and HEAD", ""},
		{"health", "GET", "/health", 200, "text/plain", "OK", ""},
		{"version", "GET", "/version", 200, "text/plain", "", ""},
		{"metrics off is not the app", "GET", "/metrics", 404, "application/json", "ENDPOINT_NOT_FOUND", ""},
		{"MLflow API", "POST", "/api/2.0/mlflow/experiments/search", 200, "application/json", "experiments", ""},
		{"ajax API", "GET", "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0", 200, "application/json", "Default", ""},
		{"unknown MLflow endpoint", "GET", "/api/2.0/mlflow/nope", 404, "application/json", "ENDPOINT_NOT_FOUND", ""},
		{"unknown Cairn endpoint", "GET", "/api/2.0/cairn/deployments/list", 404, "application/json", "ENDPOINT_NOT_FOUND", ""},
		{"serving", "POST", "/serve/fingers/", 404, "application/json", "ENDPOINT_NOT_FOUND", ""},
		{"open inference protocol", "GET", "/v2/models/fingers", 404, "application/json", "ENDPOINT_NOT_FOUND", ""},
		{"artifact download", "GET", "/get-artifact?run_id=nope&path=x", 404, "application/json", "RESOURCE_DOES_NOT_EXIST", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept-Encoding", "identity")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tt.status, resp.StatusCode, string(b))
			require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), tt.ctype), "Content-Type %q", resp.Header.Get("Content-Type"))
			require.Contains(t, string(b), tt.body)
			if tt.cache != "" {
				require.Equal(t, tt.cache, resp.Header.Get("Cache-Control"))
			}
			if tt.method == "HEAD" {
				require.Empty(t, b)
			}
		})
	}
}

func TestIndexHeaders(t *testing.T) {
	srv := newServer(t)
	resp, err := http.Get(srv.URL + "/pipelines")
	require.NoError(t, err)
	resp.Body.Close()
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
	require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.NotEmpty(t, resp.Header.Get("ETag"))
}

func TestGzipAndETag(t *testing.T) {
	srv := newServer(t)
	get := func(h map[string]string) (*http.Response, []byte) {
		req, err := http.NewRequest("GET", srv.URL+"/assets/index-abc123.js", nil)
		require.NoError(t, err)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		// A transport of its own, so Go does not add and undo gzip itself.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}
	resp, b := get(map[string]string{"Accept-Encoding": "gzip, br"})
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	require.Contains(t, resp.Header.Values("Vary"), "Accept-Encoding")
	zr, err := gzip.NewReader(strings.NewReader(string(b)))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, strings.Repeat(appJS, 200), string(plain))
	gzTag := resp.Header.Get("ETag")

	resp, b = get(map[string]string{"Accept-Encoding": "gzip;q=0"})
	require.Empty(t, resp.Header.Get("Content-Encoding"))
	require.Equal(t, strings.Repeat(appJS, 200), string(b))
	plainTag := resp.Header.Get("ETag")
	require.NotEqual(t, gzTag, plainTag, "the two encodings need their own ETags")

	resp, b = get(map[string]string{"If-None-Match": plainTag})
	require.Equal(t, http.StatusNotModified, resp.StatusCode)
	require.Empty(t, b)
}

func TestUnknownAPIPathIsJSON(t *testing.T) {
	srv := newServer(t)
	resp, err := http.Get(srv.URL + "/api/2.0/cairn/nothing")
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "ENDPOINT_NOT_FOUND", body.ErrorCode)
	require.Contains(t, body.Message, "/api/2.0/cairn/nothing")
}

func TestIsReserved(t *testing.T) {
	for p, want := range map[string]bool{
		"/api/2.0/mlflow/runs/get": true, "/ajax-api/x": true, "/serve/fingers": true, "/serve": true,
		"/v2/health/ready": true, "/health": true, "/version": true, "/metrics": true,
		"/": false, "/experiments": false, "/servers": false, "/v2x": false, "/healthy": false, "/models/v2": false,
	} {
		require.Equal(t, want, ui.IsReserved(p), p)
	}
}

// TestEmbeddedAssets checks that the embedded UI, built or not, has an
// index page: the built app, or the placeholder that says how to build it.
func TestEmbeddedAssets(t *testing.T) {
	b, err := fs.ReadFile(ui.Assets(), "index.html")
	require.NoError(t, err)
	if ui.Built() {
		require.Contains(t, string(b), `<div id="app">`)
	} else {
		require.Contains(t, string(b), "make ui")
	}
	srv := httptest.NewServer(web.NewServer(web.DefaultOptions(), ui.NewHandler(ui.Assets())).Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/models")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
}

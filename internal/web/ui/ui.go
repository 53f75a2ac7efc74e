package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/cairn-mlops/cairn/internal/api"
)

// The build writes into dist/app (git-ignored); dist/README.md is tracked so
// that a clean clone, without Node.js, still compiles.
//
//go:embed placeholder.html all:dist
var embedded embed.FS

// Assets returns the embedded UI: the built app, or a one-page placeholder
// saying how to build it when the binary was built without it.
func Assets() fs.FS {
	if app, err := fs.Sub(embedded, "dist/app"); err == nil {
		if _, err := fs.Stat(app, "index.html"); err == nil {
			return app
		}
	}
	return placeholderFS{}
}

// Built reports whether the binary embeds the built UI.
func Built() bool {
	_, ok := Assets().(placeholderFS)
	return !ok
}

// placeholderFS serves placeholder.html as its index.html.
type placeholderFS struct{}

func (placeholderFS) Open(name string) (fs.File, error) {
	if name == "index.html" {
		return embedded.Open("placeholder.html")
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// reserved are the path prefixes of the APIs: the UI never answers for them,
// so a mistyped API call gets a JSON 404 rather than the app's HTML.
var reserved = []string{"/api/", "/ajax-api/", "/serve/", "/v2/", "/get-artifact", "/model-versions/"}

// reservedExact are API paths served only when their feature is on (metrics
// need a registry, serving its own package).
var reservedExact = []string{"/api", "/ajax-api", "/serve", "/v2", "/health", "/version", "/metrics"}

// IsReserved reports whether p belongs to an API rather than to the UI.
func IsReserved(p string) bool {
	for _, s := range reservedExact {
		if p == s {
			return true
		}
	}
	for _, s := range reserved {
		if strings.HasPrefix(p, s) {
			return true
		}
	}
	return false
}

// Handler serves the single-page app from an fs.FS holding index.html and
// its assets.
type Handler struct {
	fsys  fs.FS
	mu    sync.Mutex
	files map[string]*file // loaded on first use
}

// NewHandler returns a Handler serving fsys (Assets() for the embedded UI).
func NewHandler(fsys fs.FS) *Handler {
	return &Handler{fsys: fsys, files: map[string]*file{}}
}

// Register implements web.Mounter: the UI takes every path no API claims.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("/", h)
}

// file is one asset, read once, with its ETag and, for text, a gzip copy.
type file struct {
	name  string
	data  []byte
	gz    []byte
	etag  string
	ctype string
}

// indexCSP keeps the app to its own origin; images may be data: or blob:
// URLs (previews, camera snapshots), styles inline (the chart library sets them).
const indexCSP = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; " +
	"style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if IsReserved(p) {
		api.JSON(w, http.StatusNotFound, api.ErrorBody{ErrorCode: "ENDPOINT_NOT_FOUND",
			Message: "no endpoint " + r.Method + " " + p})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		api.JSON(w, http.StatusMethodNotAllowed, api.ErrorBody{ErrorCode: "ENDPOINT_NOT_FOUND",
			Message: "the web UI answers only GET and HEAD; no endpoint " + r.Method + " " + p})
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	f := h.load(name)
	switch {
	case f != nil && name != "index.html":
		if strings.HasPrefix(name, "assets/") {
			// Vite names these by content hash: a new build gets new names.
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
	case strings.HasPrefix(name, "assets/"):
		// A stale or mistyped asset: index.html here would be parsed as
		// script and fail confusingly.
		http.Error(w, "no such asset: "+p, http.StatusNotFound)
		return
	default:
		// A client-side route (or "/"): the app decides what to show.
		if f = h.load("index.html"); f == nil {
			http.Error(w, "the web UI has no index.html", http.StatusNotFound)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", indexCSP)
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "same-origin")
	}
	h.send(w, r, f)
}

func (h *Handler) send(w http.ResponseWriter, r *http.Request, f *file) {
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	data, etag := f.data, f.etag
	if f.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hd.Set("Content-Encoding", "gzip")
			data, etag = f.gz, f.etag[:len(f.etag)-1]+`-gz"`
		}
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(data))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// load returns the named file, or nil when there is none (or it is a folder).
func (h *Handler) load(name string) *file {
	if name == "" {
		name = "index.html"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if f, ok := h.files[name]; ok {
		return f
	}
	f := h.read(name)
	h.files[name] = f // nil too: misses of a fixed FS stay misses
	return f
}

func (h *Handler) read(name string) *file {
	if !fs.ValidPath(name) {
		return nil
	}
	st, err := fs.Stat(h.fsys, name)
	if err != nil || st.IsDir() {
		return nil
	}
	data, err := fs.ReadFile(h.fsys, name)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(data)
	f := &file{name: name, data: data, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: contentType(name)}
	if compressible(f.ctype) && len(data) > 1024 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = io.Copy(zw, bytes.NewReader(data))
		if zw.Close() == nil && buf.Len() < len(data) {
			f.gz = buf.Bytes()
		}
	}
	return f
}

// contentTypes pins the types the app needs, whatever the host's mime tables say.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".json":  "application/json",
	".map":   "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
	".wasm":  "application/wasm",
}

func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "application/json") ||
		strings.HasPrefix(ctype, "image/svg")
}

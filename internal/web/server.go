package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/metrics"
)

// Version is the server's version, set by cmd at build time.
var Version = "0.1.0-dev"

// Mounter registers routes on a mux; each API package provides one.
type Mounter interface {
	Register(mux *http.ServeMux)
}

// Authenticator decides who a request comes from and whether they may make it.
// A nil Authenticator means the server is open (the loopback default).
type Authenticator interface {
	// Authorize returns the context the request proceeds with (it may carry
	// who sent it, for the handlers) when the request may proceed. Errors:
	// Unauthenticated (no or bad credentials), PermissionDenied (role too low).
	Authorize(r *http.Request, access Access) (context.Context, error)
}

// Access is what a request needs.
type Access int

// Access levels, lowest first.
const (
	Public Access = iota // health and version: no credentials
	Read                 // reads and searches
	Write                // anything that changes state
	Admin                // user and token management
)

// Options configure the server.
type Options struct {
	Addr              string
	Logger            *slog.Logger
	Registerer        prometheus.Registerer
	Gatherer          prometheus.Gatherer
	Auth              Authenticator
	ReadHeaderTimeout time.Duration
	ShutdownTimeout   time.Duration
	// AllowedHosts are names (ParseAllowedHost) accepted in the Host header
	// besides IP addresses, localhost and the host of Addr.
	AllowedHosts []string
	// AllowedOrigins are browser origins (ParseOrigin) that may call the API
	// from pages served elsewhere; they get CORS headers.
	AllowedOrigins []string
	// ReadPosts are more POST paths that only read, such as a lone model's
	// inference routes at the root ("/", "/predict").
	ReadPosts []string
	// AccessLog lists path prefixes whose requests are logged at info
	// level (others at debug; a 5xx is always a warning), e.g. "/serve/".
	AccessLog []string
}

// DefaultOptions returns options for a local server on loopback.
func DefaultOptions() Options {
	return Options{
		Addr:              "127.0.0.1:5000",
		Logger:            slog.Default(),
		ReadHeaderTimeout: 10 * time.Second,
		ShutdownTimeout:   15 * time.Second,
	}
}

// Server serves Cairn's HTTP APIs.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	handler http.Handler
	metrics *metrics.Requests
}

// NewServer returns a server with the given APIs mounted.
func NewServer(opts Options, apis ...Mounter) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	if opts.Registerer != nil {
		s.metrics = httpMetrics(opts.Registerer)
	}
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("OK"))
	})
	s.mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(Version))
	})
	if opts.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	}
	for _, a := range apis {
		a.Register(s.mux)
	}
	s.handler = s.middleware(newGuard(opts, s.access).wrap(s.authorize(s.mux)))
	return s
}

// Handler returns the server's root handler, for tests.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on l until ctx is done, then shuts down
// gracefully: in-flight requests get ShutdownTimeout to finish.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	timeout := s.opts.ShutdownTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	return err
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware adds a request ID and security headers, recovers panics, logs and counts.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(api.WithRequestID(r.Context(), id, s.opts.Logger))
		sw := &statusWriter{ResponseWriter: w}
		if p := r.URL.Path; p != "/" && path.Clean(p) != strings.TrimSuffix(p, "/") {
			// The mux would redirect to the cleaned path. Repeated slashes are
			// harmless and merged (as MLflow's server does); "." and ".."
			// segments are a mistake or an attack, so say so.
			for strings.Contains(p, "//") {
				p = strings.ReplaceAll(p, "//", "/")
			}
			if path.Clean(p) != strings.TrimSuffix(p, "/") {
				api.Error(sw, r, errs.Invalidf("Invalid path"))
				return
			}
			r.URL.Path, r.URL.RawPath = p, ""
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.opts.Logger.Error("panic serving request", "request_id", id, "panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					api.Error(sw, r, &errs.Error{Kind: errs.Internal, Err: fmt.Errorf("panic: %v", p)})
				}
			}
			elapsed := time.Since(start)
			route := routeOf(r)
			if s.metrics != nil {
				s.metrics.Observe(sw.status, elapsed, r.Method, route)
			}
			level := slog.LevelDebug
			for _, p := range s.opts.AccessLog {
				if strings.HasPrefix(r.URL.Path, p) {
					level = slog.LevelInfo
				}
			}
			if sw.status >= 500 {
				level = slog.LevelWarn
			}
			s.opts.Logger.Log(r.Context(), level, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "bytes", sw.bytes, "duration_ms", float64(elapsed.Microseconds())/1000)
		}()
		h := sw.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(sw, r)
	})
}

// authorize refuses requests the Authenticator does not allow.
func (s *Server) authorize(next http.Handler) http.Handler {
	if s.opts.Auth == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, err := s.opts.Auth.Authorize(r, s.access(r))
		if err != nil {
			if errs.KindOf(err) == errs.Unauthenticated {
				w.Header().Set("WWW-Authenticate", `Basic realm="cairn", Bearer`)
			}
			api.Error(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		if i := strings.IndexByte(r.Pattern, ' '); i >= 0 {
			return r.Pattern[i+1:]
		}
		return r.Pattern
	}
	return "unmatched"
}

// readOnlyPosts are the MLflow API's POST endpoints that only read, under
// either API prefix.
var readOnlyPosts = map[string]bool{
	"experiments/search": true, "runs/search": true, "registered-models/search": true, "model-versions/search": true,
	"registered-models/get-latest-versions": true, "logged-models/search": true, "experiments/search-datasets": true,
}

// AccessFor classifies a request by what it needs: health and version are
// public; GET, HEAD, inference and the MLflow API's searching POSTs read
// (matched by exact path); user and token management is admin; everything
// else writes.
func AccessFor(r *http.Request) Access {
	p := r.URL.Path
	switch {
	case p == "/health" || p == "/version":
		return Public
	case strings.HasPrefix(p, "/api/2.0/cairn/users") || strings.HasPrefix(p, "/api/2.0/cairn/tokens"):
		return Admin
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return Read
	case r.Method == http.MethodPost && (strings.HasPrefix(p, "/serve/") || strings.HasPrefix(p, "/v2/models/")):
		// Inference reads: it changes nothing stored.
		return Read
	case r.Method == http.MethodPost:
		for _, prefix := range []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"} {
			if rest, ok := strings.CutPrefix(p, prefix); ok && readOnlyPosts[rest] {
				return Read
			}
		}
	}
	return Write
}

// access is AccessFor, with the server's own read-only POST paths.
func (s *Server) access(r *http.Request) Access {
	if r.Method == http.MethodPost && slices.Contains(s.opts.ReadPosts, r.URL.Path) {
		return Read
	}
	return AccessFor(r)
}

// httpMetrics are every request's count and latency, by method and
// route.
func httpMetrics(reg prometheus.Registerer) *metrics.Requests {
	return metrics.NewRequests(reg, metrics.RequestsOpts{
		Count: "cairn_http_requests_total", CountHelp: "HTTP requests by method, route and status.",
		Duration: "cairn_http_request_duration_seconds", DurationHelp: "HTTP request latency by method and route.",
		Labels: []string{"method", "route"}, Status: "status",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})
}

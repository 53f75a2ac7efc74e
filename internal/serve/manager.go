package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// Store keeps deployments across restarts.
type Store interface {
	// SaveDeployment creates or replaces a deployment's configuration.
	SaveDeployment(ctx context.Context, cfg Config) error
	// DeleteDeployment removes one. Errors: NotFound.
	DeleteDeployment(ctx context.Context, name string) error
	// ListDeployments returns every saved deployment.
	ListDeployments(ctx context.Context) ([]Config, error)
}

// Options configure a Manager.
type Options struct {
	Loader     Loader
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Store, when set, keeps deployments across restarts.
	Store Store
	// CPUs sizes the default replicas per deployment.
	CPUs int
	// Decoders is how many images the server's deployments decode at
	// once, together (0: CPUs); a request waits for one within its
	// timeout.
	Decoders int
	// Wrap, when set, wraps the handler of a deployment served on its own
	// address (the server's middleware: request IDs, logs).
	Wrap func(http.Handler) http.Handler
}

// DefaultOptions returns options with replicas sized to this machine.
func DefaultOptions() Options {
	return Options{Logger: slog.Default(), CPUs: runtime.GOMAXPROCS(0)}
}

// Manager runs the deployments of one server.
type Manager struct {
	opts     Options
	metrics  *metrics
	decoders chan struct{}   // one slot per image being decoded
	ctx      context.Context // the manager's lifetime
	cancel   context.CancelFunc

	mu    sync.RWMutex
	deps  map[string]*Deployment
	ports map[string]*http.Server
}

// NewManager returns a manager; Close stops its deployments.
func NewManager(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CPUs <= 0 {
		opts.CPUs = runtime.GOMAXPROCS(0)
	}
	if opts.Decoders <= 0 {
		opts.Decoders = opts.CPUs
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		opts: opts, metrics: newMetrics(opts.Registerer), decoders: make(chan struct{}, opts.Decoders), ctx: ctx, cancel: cancel,
		deps: map[string]*Deployment{}, ports: map[string]*http.Server{},
	}
}

// Restore starts the deployments kept in the Store; they load in the
// background. A deployment that fails to start is logged and skipped.
func (m *Manager) Restore(ctx context.Context) error {
	if m.opts.Store == nil {
		return nil
	}
	cfgs, err := m.opts.Store.ListDeployments(ctx)
	if err != nil {
		return fmt.Errorf("list deployments: %w", err)
	}
	for _, c := range cfgs {
		if _, err := m.deploy(ctx, c, false, false); err != nil {
			m.opts.Logger.Warn("deployment not restored", "deployment", c.Name, "err", err)
		}
	}
	return nil
}

// Deploy creates a deployment or updates the one with that name. With
// wait, it returns once the model has loaded (or failed to: then a new
// deployment is removed, and an updated one keeps serving its previous
// version and configuration). Errors: Invalid (config), those of the
// Loader, Unavailable (the address is taken).
func (m *Manager) Deploy(ctx context.Context, cfg Config, wait bool) (Status, error) {
	return m.deploy(ctx, cfg, wait, true)
}

func (m *Manager) deploy(ctx context.Context, cfg Config, wait, save bool) (Status, error) {
	if err := cfg.Validate(); err != nil {
		return Status{}, err
	}
	cfg = cfg.withDefaults(m.opts.CPUs)
	m.mu.Lock()
	d, exists := m.deps[cfg.Name]
	if !exists {
		d = newDeployment(cfg, m.opts.Loader, m.opts.Logger, m.metrics, m.decoders)
		if m.opts.Store != nil {
			d.onServed = m.saveLastGood
		}
		m.deps[cfg.Name] = d
	}
	m.mu.Unlock()
	if exists {
		prev := d.Config()
		if prev.Addr != cfg.Addr {
			if err := m.listen(cfg.Name, cfg.Addr, d); err != nil {
				return Status{}, err
			}
		}
		if wait {
			if err := d.update(ctx, cfg); err != nil {
				d.mu.Lock()
				d.cfg = prev
				d.mu.Unlock()
				if prev.Addr != cfg.Addr {
					_ = m.listen(cfg.Name, prev.Addr, d)
				}
				return d.Status(), err
			}
		} else {
			go func() {
				if err := d.update(m.ctx, cfg); err != nil {
					m.opts.Logger.Warn("deployment update failed; the previous version keeps serving", "deployment", cfg.Name, "err", err)
				}
			}()
		}
	} else {
		if err := m.listen(cfg.Name, cfg.Addr, d); err != nil {
			m.remove(cfg.Name)
			return Status{}, err
		}
		if wait {
			if err := d.Refresh(ctx); err != nil {
				m.remove(cfg.Name)
				return Status{}, err
			}
		}
		d.start(m.ctx)
	}
	if save && m.opts.Store != nil {
		if err := m.opts.Store.SaveDeployment(ctx, d.Config()); err != nil {
			return d.Status(), fmt.Errorf("save deployment %s: %w", cfg.Name, err)
		}
	}
	return d.Status(), nil
}

// saveLastGood keeps the version a deployment now serves, for restarts.
func (m *Manager) saveLastGood(name string) {
	d, err := m.Get(name)
	if err != nil {
		return
	}
	if err := m.opts.Store.SaveDeployment(m.ctx, d.Config()); err != nil && m.ctx.Err() == nil {
		m.opts.Logger.Warn("deployment not saved", "deployment", name, "err", err)
	}
}

// listen serves d alone on addr ("" stops its own listener).
func (m *Manager) listen(name, addr string, d *Deployment) error {
	m.mu.Lock()
	old := m.ports[name]
	delete(m.ports, name)
	m.mu.Unlock()
	if old != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = old.Shutdown(sctx)
		cancel()
	}
	if addr == "" {
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return &errs.Error{Kind: errs.Unavailable, Message: fmt.Sprintf("deployment %s: listen on %s: %v", name, addr, err)}
	}
	var h http.Handler = d.Handler()
	if m.opts.Wrap != nil {
		h = m.opts.Wrap(h)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	m.mu.Lock()
	m.ports[name] = srv
	m.mu.Unlock()
	d.mu.Lock()
	d.listenAddr = l.Addr().String()
	d.mu.Unlock()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.opts.Logger.Warn("deployment listener stopped", "deployment", name, "addr", addr, "err", err)
		}
	}()
	m.opts.Logger.Info("deployment listening on its own address", "deployment", name, "addr", l.Addr().String())
	return nil
}

// remove stops a deployment and forgets it (not in the Store).
func (m *Manager) remove(name string) bool {
	m.mu.Lock()
	d := m.deps[name]
	delete(m.deps, name)
	srv := m.ports[name]
	delete(m.ports, name)
	m.mu.Unlock()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	if d == nil {
		return false
	}
	d.stop()
	return true
}

// Delete stops and removes a deployment. Errors: NotFound.
func (m *Manager) Delete(ctx context.Context, name string) error {
	if !m.remove(name) {
		return errs.NotFoundf("deployment %q does not exist", name)
	}
	if m.opts.Store != nil {
		if err := m.opts.Store.DeleteDeployment(ctx, name); err != nil && errs.KindOf(err) != errs.NotFound {
			return err
		}
	}
	return nil
}

// Get returns a deployment. Errors: NotFound.
func (m *Manager) Get(name string) (*Deployment, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d, ok := m.deps[name]
	if !ok {
		return nil, errs.NotFoundf("deployment %q does not exist", name)
	}
	return d, nil
}

// List returns the deployments sorted by name.
func (m *Manager) List() []*Deployment {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Deployment, 0, len(m.deps))
	for _, d := range m.deps {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Close stops every deployment; requests in flight finish first.
func (m *Manager) Close() {
	m.cancel()
	for _, d := range m.List() {
		m.remove(d.Name())
	}
}

// Prefix is where the server mounts deployments: /serve/<name>/...
const Prefix = "/serve/"

// APIPrefix is the deployments' management API.
const APIPrefix = "/api/2.0/cairn/deployments/"

// Register mounts /serve/<name>/..., the management API and the Open
// Inference Protocol's server-wide endpoints (/v2/...) on mux.
func (m *Manager) Register(mux *http.ServeMux) {
	mux.HandleFunc(Prefix+"{name}/{rest...}", m.dispatch)
	mux.HandleFunc(Prefix+"{name}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusPermanentRedirect)
	})
	mux.HandleFunc("GET /v2", func(w http.ResponseWriter, r *http.Request) { api.JSON(w, http.StatusOK, serverMetadata()) })
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /v2/health/ready", m.ready)
	mux.HandleFunc("/v2/models/{model}/{rest...}", m.dispatchOIP)
	mux.HandleFunc("GET /v2/models/{model}", m.dispatchOIP)
	mux.Handle("GET "+APIPrefix+"list", api.Handler(m.apiList))
	mux.Handle("GET "+APIPrefix+"get", api.Handler(m.apiGet))
	mux.Handle("POST "+APIPrefix+"create", api.Handler(m.apiCreate))
	mux.Handle("POST "+APIPrefix+"delete", api.Handler(m.apiDelete))
	mux.Handle("POST "+APIPrefix+"refresh", api.Handler(m.apiRefresh))
}

func (m *Manager) dispatch(w http.ResponseWriter, r *http.Request) {
	d, err := m.Get(r.PathValue("name"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + r.PathValue("rest")
	r2.URL.RawPath = ""
	d.Handler().ServeHTTP(w, r2)
}

// dispatchOIP sends /v2/models/{model}/... to the deployment of that name.
func (m *Manager) dispatchOIP(w http.ResponseWriter, r *http.Request) {
	d, err := m.Get(r.PathValue("model"))
	if err != nil {
		writeError(w, r, errs.NotFoundf("model %q is not served; deployments: %s", r.PathValue("model"), m.names()))
		return
	}
	d.Handler().ServeHTTP(w, r)
}

func (m *Manager) names() string {
	var n []string
	for _, d := range m.List() {
		n = append(n, d.Name())
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}

// ready is the server-wide readiness: every deployment has a model.
func (m *Manager) ready(w http.ResponseWriter, r *http.Request) {
	for _, d := range m.List() {
		if !d.Ready() {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// DeploymentJSON is a deployment as the management API shows it.
type DeploymentJSON struct {
	Status
	Kind       string   `json:"kind,omitempty"`
	Classes    []string `json:"classes,omitempty"`
	InputShape []int    `json:"input_shape,omitempty"`
	Inputs     []Field  `json:"inputs,omitempty"`
	URL        string   `json:"url"`
	// OwnURL is where the deployment also serves alone (with addr).
	OwnURL    string `json:"own_url,omitempty"`
	UpdatedMS int64  `json:"updated_at_ms"`
}

func deploymentJSON(d *Deployment) DeploymentJSON {
	st := d.Status()
	out := DeploymentJSON{Status: st, URL: Prefix + st.Name, UpdatedMS: st.UpdatedAt.UnixMilli()}
	if st.ListenAddr != "" {
		out.OwnURL = "http://" + st.ListenAddr + "/"
	}
	if st.Info != nil {
		out.Kind, out.Classes, out.InputShape, out.Inputs = st.Info.Kind, st.Info.Classes, st.Info.InputShape, st.Info.Inputs
	}
	return out
}

func (m *Manager) apiList(r *http.Request) (any, error) {
	out := []DeploymentJSON{}
	for _, d := range m.List() {
		out = append(out, deploymentJSON(d))
	}
	return map[string]any{"deployments": out}, nil
}

func (m *Manager) apiGet(r *http.Request) (any, error) {
	name := r.URL.Query().Get("name")
	if name == "" {
		return nil, errs.Missing("name")
	}
	d, err := m.Get(name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"deployment": deploymentJSON(d)}, nil
}

// createRequest is a deployment's Config plus whether to wait for the load.
type createRequest struct {
	Config
	Wait bool `json:"wait"`
}

func (m *Manager) apiCreate(r *http.Request) (any, error) {
	var req createRequest
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if _, err := m.Deploy(r.Context(), req.Config, req.Wait); err != nil {
		return nil, err
	}
	d, err := m.Get(req.Name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"deployment": deploymentJSON(d)}, nil
}

func (m *Manager) apiDelete(r *http.Request) (any, error) {
	var req struct {
		Name string `json:"name"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, errs.Missing("name")
	}
	return map[string]any{}, m.Delete(r.Context(), req.Name)
}

// apiRefresh resolves a deployment's URI now (after moving an alias).
func (m *Manager) apiRefresh(r *http.Request) (any, error) {
	var req struct {
		Name string `json:"name"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	d, err := m.Get(req.Name)
	if err != nil {
		return nil, err
	}
	if err := d.Refresh(r.Context()); err != nil {
		return nil, err
	}
	return map[string]any{"deployment": deploymentJSON(d)}, nil
}

package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Deployment states.
const (
	StateLoading = "LOADING" // no version has loaded yet
	StateReady   = "READY"   // serving a version
	StateFailed  = "FAILED"  // the first load failed; nothing is served
)

// Status is what a deployment reports about itself.
type Status struct {
	Config
	// ModelName and ModelVersion say what is served now.
	ModelName    string     `json:"model_name,omitempty"`
	ModelVersion string     `json:"model_version,omitempty"`
	State        string     `json:"state"`
	Info         *ModelInfo `json:"info,omitempty"`
	// LastError is the latest failed load, e.g. a broken new version that
	// was rejected while the previous one kept serving.
	LastError string `json:"last_error,omitempty"`
	// Rejected lists versions that failed to load and are not retried.
	Rejected  []string  `json:"rejected_versions,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// ListenAddr is the bound address of the deployment's own listener.
	ListenAddr string `json:"listen_addr,omitempty"`
}

// Deployment serves one model URI and follows it to new versions: a new
// version loads in the background, then takes over atomically; requests
// in flight finish on the version they started on. A version that fails to
// load is rejected and the current one keeps serving.
type Deployment struct {
	name    string // never changes
	loader  Loader
	log     *slog.Logger
	metrics *metrics
	// decoders holds a slot per image being decoded, shared by the
	// server's deployments.
	decoders chan struct{}

	mu       sync.RWMutex
	cfg      Config
	cur      *served
	state    string
	lastErr  string
	rejected map[string]string
	updated  time.Time
	// listenAddr is the bound address of the deployment's own listener.
	listenAddr string

	onServed    func(name string) // after a version takes over
	handlerOnce sync.Once
	handler     http.Handler
	loadMu      sync.Mutex // one load at a time
	running     atomic.Bool
	stopOnce    sync.Once
	stopc       chan struct{}
	done        chan struct{}
}

// served is one loaded version with its batcher; inflight counts the
// requests that hold it.
type served struct {
	version string
	model   Model
	info    ModelInfo
	// counts holds the classes as numbers when they all are (finger
	// counts), answered as numbers; nil otherwise.
	counts   []int
	b        *batcher
	inflight sync.WaitGroup
	// unknown counts a record field whose category training never saw.
	unknown func(field string)
}

// prepareRecord applies the model's preprocessing to one record, counting
// the fields whose category value training never saw (UnknownNoter).
func (s *served) prepareRecord(rec map[string]any) ([]float32, error) {
	noter, ok := s.model.(UnknownNoter)
	if !ok {
		return s.model.PrepareRecord(rec)
	}
	x, unknown, err := noter.PrepareRecordNoting(rec)
	if err == nil && s.unknown != nil {
		for _, f := range unknown {
			s.unknown(f)
		}
	}
	return x, err
}

func newDeployment(cfg Config, loader Loader, log *slog.Logger, m *metrics, decoders chan struct{}) *Deployment {
	return &Deployment{
		name: cfg.Name, cfg: cfg, loader: loader, log: log.With("deployment", cfg.Name), metrics: m, decoders: decoders,
		state: StateLoading, rejected: map[string]string{}, updated: time.Now(),
		stopc: make(chan struct{}), done: make(chan struct{}),
	}
}

// Name returns the deployment's name.
func (d *Deployment) Name() string { return d.name }

// Config returns the deployment's configuration, defaults applied.
func (d *Deployment) Config() Config {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cfg
}

// Status reports the deployment's state.
func (d *Deployment) Status() Status {
	d.mu.RLock()
	defer d.mu.RUnlock()
	st := Status{Config: d.cfg, State: d.state, LastError: d.lastErr, UpdatedAt: d.updated, ListenAddr: d.listenAddr}
	st.ModelName = modelName(d.cfg.ModelURI)
	if d.cur != nil {
		st.ModelVersion = d.cur.version
		info := d.cur.info
		st.Info = &info
	}
	for v := range d.rejected {
		st.Rejected = append(st.Rejected, v)
	}
	return st
}

// Ready tells whether a version has loaded and run once.
func (d *Deployment) Ready() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cur != nil
}

// start loads the first version in the background, unless one is loaded,
// and then follows the URI every Poll until stop.
func (d *Deployment) start(ctx context.Context) {
	d.running.Store(true)
	go func() {
		defer close(d.done)
		if !d.Ready() { // Deploy with wait has loaded it already
			if err := d.Refresh(ctx); err != nil {
				d.log.Warn("model did not load", "err", err)
			}
		}
		poll := time.Duration(d.Config().Poll)
		if poll <= 0 {
			<-d.stopc
			return
		}
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-d.stopc:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := d.Refresh(ctx); err != nil {
					d.log.Debug("refresh", "err", err)
				}
			}
		}
	}()
}

// Refresh resolves the model URI and, when it points at a version other
// than the one served, loads that version and swaps it in. A version that
// failed before is not tried again. Errors: those of the Loader.
func (d *Deployment) Refresh(ctx context.Context) error {
	d.loadMu.Lock()
	defer d.loadMu.Unlock()
	cfg := d.Config()
	version, err := d.loader.Resolve(ctx, cfg.ModelURI)
	if err != nil {
		d.fail(fmt.Errorf("resolve %s: %w", cfg.ModelURI, err))
		return err
	}
	d.mu.RLock()
	cur, reason := d.cur, d.rejected[version]
	d.mu.RUnlock()
	if cur != nil && cur.version == version {
		return nil
	}
	if reason != "" {
		return nil // rejected before; wait for the URI to move on
	}
	err = d.load(ctx, cfg, version)
	if err != nil && cur == nil && cfg.LastGood != "" && cfg.LastGood != version && ctx.Err() == nil {
		// Nothing serves yet (a restart): fall back to the last version
		// that did, and report the rejection.
		if d.load(ctx, cfg, cfg.LastGood) == nil {
			d.log.Warn("serving the last good version instead", "version", cfg.LastGood, "rejected", version)
		}
	}
	return err
}

// load loads version and swaps it in, or rejects it.
func (d *Deployment) load(ctx context.Context, cfg Config, version string) error {
	start := time.Now()
	m, err := d.loader.Load(ctx, cfg.ModelURI, version)
	if err == nil {
		err = checkInfo(m.Info())
	}
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		kind := errs.KindOf(err)
		if kind == errs.Internal {
			kind = errs.Invalid // the package is broken; retrying will not help
		}
		msg := fmt.Sprintf("load %s version %s: %v", cfg.ModelURI, version, err)
		d.mu.Lock()
		d.rejected[version] = msg
		if d.cur != nil {
			msg += fmt.Sprintf("; version %s keeps serving", d.cur.version)
		}
		d.mu.Unlock()
		err = &errs.Error{Kind: kind, Message: msg, Err: err}
		d.metrics.swap(cfg.Name, "rejected")
		d.fail(err)
		d.log.Warn("model version rejected; the current one keeps serving", "version", version, "err", err)
		return err
	}
	s := &served{version: version, model: m, info: m.Info(), unknown: func(f string) { d.metrics.unknownCategory(cfg.Name, f) }}
	s.counts = numericClasses(s.info.Classes)
	s.b = newBatcher(m, cfg, d.metrics.observer(cfg.Name))
	d.mu.Lock()
	old := d.cur
	d.cur, d.state, d.lastErr, d.updated = s, StateReady, "", time.Now()
	d.cfg.LastGood = version
	onServed := d.onServed
	d.mu.Unlock()
	if onServed != nil {
		onServed(d.name)
	}
	d.metrics.served(cfg.Name, old, s)
	d.metrics.swap(cfg.Name, "ok")
	d.log.Info("serving model version", "uri", cfg.ModelURI, "version", version, "load_ms", time.Since(start).Milliseconds())
	if old != nil {
		go retire(old)
	}
	return nil
}

// retire stops a replaced version once its in-flight requests finish.
func retire(s *served) {
	s.inflight.Wait()
	s.b.stop()
}

func checkInfo(i ModelInfo) error {
	if i.Kind != KindImage && i.Kind != KindTable {
		return errs.Invalidf("model kind %q: expected %s or %s", i.Kind, KindImage, KindTable)
	}
	if len(i.Classes) == 0 || i.exampleSize() <= 0 {
		return errs.Invalidf("model has no classes or no input shape")
	}
	for _, m := range i.Marginals {
		if m.Name == "" || len(m.Values) != len(i.Classes) {
			return errs.Invalidf("model marginal %q: expected a name and one value per class (%d), got %d", m.Name, len(i.Classes), len(m.Values))
		}
	}
	return nil
}

func (d *Deployment) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastErr, d.updated = err.Error(), time.Now()
	if d.cur == nil {
		d.state = StateFailed
	}
}

// acquire returns the version to serve a request with; release it after.
// Errors: Unavailable while loading or after a failed first load.
func (d *Deployment) acquire() (*served, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.cur == nil {
		if d.state == StateFailed {
			return nil, &errs.Error{Kind: errs.Unavailable, Message: fmt.Sprintf("deployment %s has no model: %s", d.name, d.lastErr)}
		}
		return nil, &errs.Error{Kind: errs.Unavailable, Message: fmt.Sprintf("deployment %s is loading its model; retry shortly", d.name)}
	}
	d.cur.inflight.Add(1)
	return d.cur, nil
}

// update applies a new configuration: the model is loaded again with it
// and swapped in as for a new version; until then the old one serves.
func (d *Deployment) update(ctx context.Context, cfg Config) error {
	d.loadMu.Lock()
	defer d.loadMu.Unlock()
	d.mu.Lock()
	d.cfg = cfg
	d.rejected = map[string]string{}
	d.mu.Unlock()
	version, err := d.loader.Resolve(ctx, cfg.ModelURI)
	if err != nil {
		d.fail(fmt.Errorf("resolve %s: %w", cfg.ModelURI, err))
		return err
	}
	return d.load(ctx, cfg, version)
}

// stop ends polling and, once requests in flight finish, the replicas.
func (d *Deployment) stop() {
	d.stopOnce.Do(func() { close(d.stopc) })
	if d.running.Load() {
		<-d.done
	}
	d.loadMu.Lock()
	defer d.loadMu.Unlock()
	d.mu.Lock()
	cur := d.cur
	d.cur, d.state = nil, StateLoading
	d.mu.Unlock()
	if cur != nil {
		retire(cur)
		d.metrics.served(d.name, cur, nil)
	}
}

// predict runs one prepared example on the current version.
func (d *Deployment) predict(ctx context.Context, s *served, x []float32) ([]float32, error) {
	out, err := s.b.do(ctx, x)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, &errs.Error{Kind: errs.Unavailable, Message: fmt.Sprintf("request timed out after %s", time.Duration(d.Config().Timeout)), Err: err}
	}
	return out, err
}

// modelName is the registered model's name in a models:/ URI, else "".
func modelName(uri string) string {
	const p = "models:/"
	if len(uri) <= len(p) || uri[:len(p)] != p {
		return ""
	}
	rest := uri[len(p):]
	for i, r := range rest {
		if r == '/' || r == '@' {
			return rest[:i]
		}
	}
	return rest
}

// numericClasses returns the classes as integers when every one is, else nil.
func numericClasses(classes []string) []int {
	out := make([]int, len(classes))
	for i, c := range classes {
		n, err := strconv.Atoi(c)
		if err != nil {
			return nil
		}
		out[i] = n
	}
	return out
}

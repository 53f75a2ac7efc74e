package tune

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// State is where a trial is in its life.
type State string

// The trial states. Succeeded, Failed and Stopped are final.
const (
	Pending   State = "pending"   // waiting to start (again: a retry, or a trial resumed from a snapshot)
	Running   State = "running"   // handed out by Next
	Succeeded State = "succeeded" // finished, or reached the scheduler's max_t
	Failed    State = "failed"    // crashed more than max_failures times
	Stopped   State = "stopped"   // stopped early by the scheduler
)

func (s State) final() bool { return s == Succeeded || s == Failed || s == Stopped }

// Point is the metric's value at a step.
type Point struct {
	Step  int     `json:"step"`
	Value float64 `json:"value"`
}

// Trial is one configuration and what became of it. The Sweep hands out copies.
type Trial struct {
	ID     string `json:"id"` // "t000", "t001", ... in creation order
	Params Params `json:"params"`
	State  State  `json:"state"`
	// Why says, for a Pending trial, what it waits for, e.g. "waiting:
	// max_concurrent 2 reached" or "waiting: needs gpu 0.5, 0 free".
	Why string `json:"-"`
	// Reason says why a trial stopped (the scheduler's sentence), failed (the
	// last failure) or, Pending again, why its last attempt ended.
	Reason   string `json:"reason,omitempty"`
	Attempts int    `json:"attempts,omitempty"` // times started
	Failures int    `json:"failures,omitempty"`
	// Curve holds the metric at each reported step.
	Curve []Point `json:"curve,omitempty"`
	// Metrics holds the latest value of every metric reported or finished with.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Value is the best value of the spec's metric the trial reported (by
	// Report or Finish), by the spec's mode; HasValue says whether it has one.
	Value    float64 `json:"value,omitempty"`
	HasValue bool    `json:"has_value,omitempty"`
}

func (t *Trial) clone() *Trial {
	c := *t
	c.Params = t.Params.clone()
	c.Curve = append([]Point(nil), t.Curve...)
	if t.Metrics != nil {
		c.Metrics = make(map[string]float64, len(t.Metrics))
		for k, v := range t.Metrics {
			c.Metrics[k] = v
		}
	}
	return &c
}

func trialID(n int) string { return fmt.Sprintf("t%03d", n) }

// Progress counts a sweep's trials.
type Progress struct {
	// Pending, Running, Succeeded, Failed and Stopped count the trials created so far by state.
	Pending, Running, Succeeded, Failed, Stopped int

	ToCome int    // configurations the sampler has yet to propose
	Total  int    // trials the spec asks for (see Spec.Size)
	Why    string // why no more trials start now; "" when one could or none is left
}

// usage is an amount of resources in exact units: thousandths of a core or
// of a device, and bytes.
type usage struct{ cpu, gpu, mem int64 }

func usageOf(r Resources) usage {
	return usage{int64(math.Round(r.CPU * 1000)), int64(math.Round(r.GPU * 1000)), int64(r.Memory)}
}

// Sweep owns the trials of one search: it asks the sampler for
// configurations, hands out trials as concurrency and resources allow,
// records their results, asks the scheduler whether they go on, retries
// crashes and keeps the best. The executor drives it:
//
//	for !sw.Done() {
//		for t, _ := sw.Next(); t != nil; t, _ = sw.Next() {
//			go run(t) // calls sw.Report each step, then sw.Finish or sw.Fail
//		}
//		wait for a trial to end
//	}
//
// A Sweep is safe for concurrent use.
type Sweep struct {
	mu        sync.Mutex
	spec      Spec // with defaults
	request   usage
	capacity  usage
	sampler   Sampler
	scheduler Scheduler
	size      int
	exhausted bool
	trials    []*Trial
	byID      map[string]*Trial
}

// NewSweep returns a sweep of spec on a machine offering capacity (a zero
// field means none of that resource). Errors: Invalid (the spec does not
// validate, or one trial's resources exceed the capacity, so no trial could
// ever start).
func NewSweep(spec *Spec, capacity Resources) (*Sweep, error) {
	if spec == nil {
		return nil, errs.Invalidf("new sweep: no spec")
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	v := &validator{}
	v.resources("capacity", capacity)
	d := spec.WithDefaults()
	req, c := usageOf(d.Resources), usageOf(capacity)
	for _, r := range []struct {
		name      string
		need, has int64
		show      func(int64) string
	}{{"cpu", req.cpu, c.cpu, milli}, {"gpu", req.gpu, c.gpu, milli}, {"memory", req.mem, c.mem, bytesOf}} {
		if r.need > r.has {
			v.addf("resources."+r.name, "a trial needs %s %s but the capacity has %s: no trial could start", r.name, r.show(r.need), r.show(r.has))
		}
	}
	if len(v.problems) > 0 {
		return nil, invalidSpec(v.problems)
	}
	s := &Sweep{spec: d, request: req, capacity: c, byID: map[string]*Trial{}}
	s.sampler, _ = NewSampler(&d)
	s.scheduler, _ = NewScheduler(&d)
	s.size = d.Size()
	return s, nil
}

func milli(v int64) string   { return fmt.Sprintf("%g", float64(v)/1000) }
func bytesOf(v int64) string { return Bytes(v).String() }

// Next returns the trial to start now, Running, or nil when none can start:
// then each Pending trial's Why, and Progress().Why, say what they wait for.
// Trials to retry or resume go first; otherwise it creates a trial from the
// sampler, only when it can start (so TPE learns from every result in by
// then). When no trial is running and the sweep is not Done, Next always
// returns a trial. Errors: Internal (the sampler failed).
func (s *Sweep) Next() (*Trial, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.refresh()
	if s.blocked() != "" {
		return nil, nil
	}
	for _, t := range s.trials {
		if t.State == Pending {
			s.start(t)
			return t.clone(), nil
		}
	}
	if s.exhausted || len(s.trials) >= s.size {
		return nil, nil
	}
	p, ok, err := s.sampler.Suggest(len(s.trials), s.history())
	if err != nil {
		return nil, errs.Wrap("next trial", err)
	}
	if !ok {
		s.exhausted = true
		return nil, nil
	}
	t := &Trial{ID: trialID(len(s.trials)), Params: p, State: Pending}
	s.trials = append(s.trials, t)
	s.byID[t.ID] = t
	s.start(t)
	return t.clone(), nil
}

func (s *Sweep) start(t *Trial) {
	t.State = Running
	t.Attempts++
	t.Why = ""
}

// blocked says why no trial can start now, or "".
func (s *Sweep) blocked() string {
	running := int64(0)
	for _, t := range s.trials {
		if t.State == Running {
			running++
		}
	}
	if m := s.spec.MaxConcurrent; m > 0 && running >= int64(m) {
		return fmt.Sprintf("waiting: max_concurrent %d reached", m)
	}
	r, c := s.request, s.capacity
	switch {
	case r.cpu > c.cpu-running*r.cpu:
		return fmt.Sprintf("waiting: needs cpu %s, %s free", milli(r.cpu), milli(c.cpu-running*r.cpu))
	case r.gpu > c.gpu-running*r.gpu:
		return fmt.Sprintf("waiting: needs gpu %s, %s free", milli(r.gpu), milli(c.gpu-running*r.gpu))
	case r.mem > c.mem-running*r.mem:
		return fmt.Sprintf("waiting: needs memory %s, %s free", bytesOf(r.mem), bytesOf(c.mem-running*r.mem))
	}
	return ""
}

// refresh sets every trial's Why.
func (s *Sweep) refresh() {
	why := s.blocked()
	if why == "" {
		why = "ready to start"
	}
	for _, t := range s.trials {
		t.Why = ""
		if t.State == Pending {
			t.Why = why
		}
	}
}

// history returns the observations of the ended trials, in trial order.
// Trials that have not ended count as the worst value seen so far (the
// "constant liar" of parallel Bayesian optimisation), so a model-based
// sampler does not propose the neighbours of trials still running.
func (s *Sweep) history() []Observation {
	var out []Observation
	worst, seen := 0.0, false
	for _, t := range s.trials {
		if (t.State == Succeeded || t.State == Stopped) && t.HasValue {
			out = append(out, Observation{Params: t.Params.clone(), Value: t.Value})
			if !seen || (s.spec.Mode == Max && t.Value < worst) || (s.spec.Mode == Min && t.Value > worst) {
				worst, seen = t.Value, true
			}
		}
	}
	if !seen {
		return out
	}
	for _, t := range s.trials {
		if t.State == Running || t.State == Pending {
			out = append(out, Observation{Params: t.Params.clone(), Value: worst, Pending: true})
		}
	}
	return out
}

func (s *Sweep) find(op, id string) (*Trial, error) {
	t, ok := s.byID[id]
	if !ok {
		return nil, errs.NotFoundf("%s: no trial %q", op, id)
	}
	return t, nil
}

// record merges metrics into t's latest values and, if the spec's metric is
// there, returns it. A value that is not finite is dropped from Metrics.
func (s *Sweep) record(t *Trial, metrics map[string]float64) (float64, bool) {
	for k, v := range metrics {
		if !finite(v) {
			continue
		}
		if t.Metrics == nil {
			t.Metrics = map[string]float64{}
		}
		t.Metrics[k] = v
	}
	v, ok := metrics[s.spec.Metric]
	return v, ok
}

func (s *Sweep) improve(t *Trial, v float64) {
	if !t.HasValue || s.spec.Mode.better(v, t.Value) {
		t.Value, t.HasValue = v, true
	}
}

// Report records a running trial's metrics at a step and asks the
// scheduler whether it goes on. When the decision is Stop the trial is
// already Stopped (or Succeeded, if Complete) and its resources free; the
// executor should end it, and need not call Finish or Fail. A report
// without the spec's metric is recorded and the trial goes on; a value of
// the metric that is NaN or infinite stops it. A step at or before the
// trial's last one restarts its curve there (a retry, or a resume). A late
// report for a trial that was stopped gets the same Stop again. Errors:
// NotFound (no such trial), Conflict (the trial is not running), Invalid (a
// negative step).
func (s *Sweep) Report(id string, step int, metrics map[string]float64) (Decision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.find("report", id)
	if err != nil {
		return Decision{}, err
	}
	switch t.State {
	case Stopped, Succeeded:
		return Decision{Stop: true, Complete: t.State == Succeeded, Reason: t.Reason}, nil
	case Pending, Failed:
		return Decision{}, errs.Conflictf("report: trial %s is %s, not running", id, t.State)
	}
	if step < 0 {
		return Decision{}, errs.Invalidf("report: trial %s: step %d is negative", id, step)
	}
	v, ok := s.record(t, metrics)
	if !ok {
		return Decision{}, nil
	}
	if !finite(v) {
		t.State, t.Reason = Stopped, fmt.Sprintf("%s is %v at step %d", s.spec.Metric, v, step)
		s.refresh()
		return Decision{Stop: true, Reason: t.Reason}, nil
	}
	s.addPoint(t, Point{Step: step, Value: v})
	d := s.scheduler.Report(id, step, v)
	if d.Stop {
		t.State, t.Reason = Stopped, d.Reason
		if d.Complete {
			t.State = Succeeded
		}
		s.refresh()
	}
	return d, nil
}

// addPoint appends p to t's curve, first dropping the points at or after
// p's step (a restart), and keeps Value the best of the curve.
func (s *Sweep) addPoint(t *Trial, p Point) {
	c := t.Curve
	cut := false
	for len(c) > 0 && c[len(c)-1].Step >= p.Step {
		c, cut = c[:len(c)-1], true
	}
	t.Curve = append(c, p)
	if cut {
		t.HasValue = false
		for _, q := range t.Curve[:len(t.Curve)-1] {
			s.improve(t, q.Value)
		}
	}
	s.improve(t, p.Value)
}

// Finish records that a running trial ended well, with its final metrics
// (which may be nil). For a trial the scheduler already ended it only
// records the metrics. Errors: NotFound (no such trial), Conflict (the
// trial is pending or failed).
func (s *Sweep) Finish(id string, metrics map[string]float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.find("finish", id)
	if err != nil {
		return err
	}
	if t.State == Pending || t.State == Failed {
		return errs.Conflictf("finish: trial %s is %s, not running", id, t.State)
	}
	if v, ok := s.record(t, metrics); ok && finite(v) {
		s.improve(t, v)
	}
	if t.State == Running {
		t.State = Succeeded
		s.refresh()
	}
	return nil
}

// Fail records that a running trial crashed. It goes back to Pending for
// another attempt while it has failed at most max_failures times, and is
// Failed after that. Failing a trial the scheduler already ended changes
// nothing (it was being killed). Errors: NotFound (no such trial), Conflict
// (the trial is pending or failed).
func (s *Sweep) Fail(id, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.find("fail", id)
	if err != nil {
		return err
	}
	switch t.State {
	case Stopped, Succeeded:
		return nil
	case Pending, Failed:
		return errs.Conflictf("fail: trial %s is %s, not running", id, t.State)
	}
	t.Failures++
	if t.Failures <= s.spec.MaxFailures {
		t.State = Pending
		t.Reason = fmt.Sprintf("attempt %d failed (retry %d of %d): %s", t.Attempts, t.Failures, s.spec.MaxFailures, reason)
	} else {
		t.State = Failed
		t.Reason = reason
		if t.Attempts > 1 {
			t.Reason = fmt.Sprintf("failed %d attempts, the last: %s", t.Attempts, reason)
		}
	}
	s.refresh()
	return nil
}

// Done reports whether every trial the spec asks for has ended.
func (s *Sweep) Done() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.trials {
		if !t.State.final() {
			return false
		}
	}
	return s.exhausted || len(s.trials) >= s.size
}

// Best returns a copy of the trial with the best Value by the spec's mode,
// the earliest on a tie. Trials of every state but Failed count (a stopped
// trial's best value counts; while the sweep runs, so do running ones).
// ok is false when no trial has a value yet.
func (s *Sweep) Best() (best *Trial, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b *Trial
	for _, t := range s.trials {
		if t.State == Failed || !t.HasValue {
			continue
		}
		if b == nil || s.spec.Mode.better(t.Value, b.Value) {
			b = t
		}
	}
	if b == nil {
		return nil, false
	}
	return b.clone(), true
}

// Trials returns copies of the trials created so far, in ID order.
func (s *Sweep) Trials() []Trial {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Trial, len(s.trials))
	for i, t := range s.trials {
		out[i] = *t.clone()
	}
	return out
}

// Trial returns a copy of the trial id. Errors: NotFound.
func (s *Sweep) Trial(id string) (Trial, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.find("trial", id)
	if err != nil {
		return Trial{}, err
	}
	return *t.clone(), nil
}

// Progress counts the trials by state.
func (s *Sweep) Progress() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := Progress{Total: s.size}
	for _, t := range s.trials {
		switch t.State {
		case Pending:
			p.Pending++
		case Running:
			p.Running++
		case Succeeded:
			p.Succeeded++
		case Failed:
			p.Failed++
		case Stopped:
			p.Stopped++
		}
	}
	if !s.exhausted && len(s.trials) < s.size {
		p.ToCome = s.size - len(s.trials)
	}
	if p.Pending+p.ToCome > 0 {
		p.Why = s.blocked()
	}
	return p
}

const snapshotVersion = 1

type snapshot struct {
	Version     int     `json:"version"`
	Fingerprint string  `json:"fingerprint"`
	Exhausted   bool    `json:"exhausted,omitempty"`
	Trials      []Trial `json:"trials"`
}

// Snapshot returns the sweep's state as JSON, for RestoreSweep after a
// crash or a restart. Errors: Internal.
func (s *Sweep) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := snapshot{Version: snapshotVersion, Fingerprint: s.spec.fingerprint(), Exhausted: s.exhausted,
		Trials: make([]Trial, len(s.trials))}
	for i, t := range s.trials {
		snap.Trials[i] = *t
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("snapshot sweep: %w", err)
	}
	return b, nil
}

// RestoreSweep returns the sweep a snapshot was taken of, to carry on:
// ended trials stay as they were and never run again; trials that were
// running go back to Pending with the same ID and params; the scheduler
// relearns every curve; the sampler goes on with the next suggestion
// number, so a grid or random sweep ends up with the same configurations as
// one never interrupted. The spec may change samples, the scheduler,
// max_concurrent, max_failures and resources, but not the metric, mode,
// sampler or space. Errors: Invalid (a bad spec, capacity or snapshot),
// Conflict (the snapshot was taken with another metric, mode, sampler or
// space).
func RestoreSweep(spec *Spec, capacity Resources, data []byte) (*Sweep, error) {
	s, err := NewSweep(spec, capacity)
	if err != nil {
		return nil, err
	}
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return nil, errs.Invalidf("restore sweep: the snapshot is not valid JSON: %v", err)
	}
	if snap.Version != snapshotVersion {
		return nil, errs.Invalidf("restore sweep: snapshot version %d, want %d", snap.Version, snapshotVersion)
	}
	if snap.Fingerprint != s.spec.fingerprint() {
		return nil, errs.Conflictf("restore sweep: the snapshot was taken with another metric, mode, sampler or space")
	}
	s.exhausted = snap.Exhausted
	var bad []string
	for i := range snap.Trials {
		t := snap.Trials[i]
		p, err := s.spec.Space.coerce(t.Params)
		switch {
		case t.ID != trialID(i):
			bad = append(bad, fmt.Sprintf("trial %d has ID %q, want %q", i, t.ID, trialID(i)))
		case t.State != Pending && t.State != Running && !t.State.final():
			bad = append(bad, fmt.Sprintf("trial %s has an unknown state %q", t.ID, t.State))
		case err != nil:
			bad = append(bad, fmt.Sprintf("trial %s: %v", t.ID, err))
		}
		t.Params = p
		if t.State == Running {
			t.State = Pending
			t.Reason = "it was running when the sweep was interrupted"
		}
		for _, pt := range t.Curve {
			s.scheduler.Report(t.ID, pt.Step, pt.Value)
		}
		s.trials = append(s.trials, &t)
		s.byID[t.ID] = &t
	}
	if len(bad) > 0 {
		return nil, errs.Invalidf("restore sweep: %s", strings.Join(bad, "; "))
	}
	s.refresh()
	return s, nil
}

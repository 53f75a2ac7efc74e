package tune

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/strictyaml"
)

// Mode says whether a higher or a lower value of the metric is better.
type Mode string

// The modes.
const (
	Max Mode = "max"
	Min Mode = "min"
)

// better reports whether a is strictly better than b.
func (m Mode) better(a, b float64) bool {
	if m == Min {
		return a < b
	}
	return a > b
}

// orient turns v into a value where higher is better.
func (m Mode) orient(v float64) float64 {
	if m == Min {
		return -v
	}
	return v
}

// The sampler types.
const (
	GridSampler   = "grid"
	RandomSampler = "random"
	TPESampler    = "tpe"
)

// The scheduler types.
const (
	FIFOScheduler   = "fifo"
	ASHAScheduler   = "asha"
	MedianScheduler = "median"
)

// Defaults for the fields a spec leaves at zero; see Spec.WithDefaults.
const (
	defaultRandomSamples   = 10
	defaultStartup         = 10
	defaultGamma           = 0.25
	defaultCandidates      = 24
	defaultMaxT            = 100
	defaultGracePeriod     = 1
	defaultReductionFactor = 4
	defaultMinSamples      = 3
	defaultCPU             = 1
	maxGridPoints          = 100000
	// maxExact is the largest integer a float64 holds exactly: integer
	// bounds, and bounds counted in steps of q, stay within it so that a
	// draw's arithmetic fits in an int64.
	maxExact = 1 << 53
)

// Spec is a hyperparameter search: what to optimise, the search space, how to
// sample it, when to stop trials early and how many run at once. A zero field
// takes the default documented on it (see WithDefaults). The JSON tags are the
// wire form: a pipeline step may embed Spec in its inputs struct.
type Spec struct {
	// Metric is the name of the reported metric to optimise, e.g. "val_accuracy". Required.
	Metric string `json:"metric"`
	// Mode says whether Metric is maximised or minimised. Required.
	Mode Mode `json:"mode"`
	// Samples is the number of trials for the random and tpe samplers (default
	// 10), and the number of repeats of the full grid for the grid sampler
	// (default 1).
	Samples int `json:"samples,omitempty"`
	// Sampler picks the configurations.
	Sampler SamplerSpec `json:"sampler,omitzero"`
	// Scheduler stops unpromising trials early.
	Scheduler SchedulerSpec `json:"scheduler,omitzero"`
	// MaxConcurrent caps the trials running at once; 0 means only resources limit them.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// MaxFailures is how many times a crashed trial is retried before it is Failed.
	MaxFailures int `json:"max_failures,omitempty"`
	// Resources is what one trial needs while it runs (default cpu 1).
	Resources Resources `json:"resources,omitzero"`
	// Space is the search space: parameter name -> distribution. Required.
	Space Space `json:"space"`
	// Trial says what each trial runs; this package keeps it for the
	// executor, which reads it (e.g. {uses: train.cnn, with: {...}}).
	Trial map[string]any `json:"trial,omitempty"`
	// Register, when set, registers the best trial's model under Name and
	// points Alias at it.
	Register *Register `json:"register,omitempty"`

	lines map[string]int // field path -> YAML line, set by ParseSpec
}

// Register names the registered model (and alias) the best trial becomes.
type Register struct {
	Name  string `json:"name"`
	Alias string `json:"alias,omitempty"`
}

// SamplerSpec configures the sampler.
type SamplerSpec struct {
	// Type is grid (default), random or tpe.
	Type string `json:"type,omitempty"`
	// Seed makes the sampling reproducible: the same seed gives the same configurations.
	Seed int64 `json:"seed,omitempty"`
	// Startup is, for tpe, how many observed trials are needed before TPE
	// replaces random sampling (default 10).
	Startup int `json:"startup,omitempty"`
	// Gamma is, for tpe, the fraction of observed trials counted as good (default 0.25).
	Gamma float64 `json:"gamma,omitempty"`
	// Candidates is, for tpe, how many candidates are drawn from the good
	// density per parameter (default 24).
	Candidates int `json:"candidates,omitempty"`
}

// SchedulerSpec configures the trial scheduler.
type SchedulerSpec struct {
	// Type is fifo (default: never stops a trial), asha or median.
	Type string `json:"type,omitempty"`
	// MaxT is, for asha, the most steps a trial may run (default 100).
	MaxT int `json:"max_t,omitempty"`
	// GracePeriod is, for asha, the first rung, and for median the first step
	// at which a trial may be stopped (default 1).
	GracePeriod int `json:"grace_period,omitempty"`
	// ReductionFactor is, for asha, the ratio between rungs: only the top
	// 1/ReductionFactor of the trials at a rung go on (default 4).
	ReductionFactor float64 `json:"reduction_factor,omitempty"`
	// MinSamples is, for median, how many other trials must have reached a
	// step before a trial can be stopped there (default 3).
	MinSamples int `json:"min_samples,omitempty"`
	// ASHA and Median hold settings for that scheduler only: they apply
	// when Type chooses it and are ignored (but still checked) otherwise, so
	// a pipeline can make the type a parameter and carry each scheduler's
	// settings: {type: ${{ params.scheduler }}, asha: {max_t: 6}}.
	ASHA   *SchedulerSettings `json:"asha,omitempty"`
	Median *SchedulerSettings `json:"median,omitempty"`
}

// SchedulerSettings are the settings of one scheduler (see SchedulerSpec).
type SchedulerSettings struct {
	MaxT            int     `json:"max_t,omitempty"`
	GracePeriod     int     `json:"grace_period,omitempty"`
	ReductionFactor float64 `json:"reduction_factor,omitempty"`
	MinSamples      int     `json:"min_samples,omitempty"`
}

// resolved is the scheduler with the chosen type's own settings merged in
// and the per-type blocks dropped; conflicts names the settings given both
// at the top and in the chosen type's block.
func (sc SchedulerSpec) resolved() (out SchedulerSpec, conflicts []string) {
	out = sc
	out.ASHA, out.Median = nil, nil
	var own *SchedulerSettings
	switch sc.Type {
	case ASHAScheduler:
		own = sc.ASHA
	case MedianScheduler:
		own = sc.Median
	}
	if own == nil {
		return out, nil
	}
	mergeInt := func(name string, top *int, v int) {
		if v != 0 {
			if *top != 0 && *top != v {
				conflicts = append(conflicts, name)
			}
			*top = v
		}
	}
	mergeInt("max_t", &out.MaxT, own.MaxT)
	mergeInt("grace_period", &out.GracePeriod, own.GracePeriod)
	mergeInt("min_samples", &out.MinSamples, own.MinSamples)
	if own.ReductionFactor != 0 {
		if out.ReductionFactor != 0 && out.ReductionFactor != own.ReductionFactor {
			conflicts = append(conflicts, "reduction_factor")
		}
		out.ReductionFactor = own.ReductionFactor
	}
	return out, conflicts
}

// Resources is what a trial needs, or what a machine offers to a sweep.
type Resources struct {
	CPU    float64 `json:"cpu,omitempty"`    // cores, may be fractional (precision 0.001)
	GPU    float64 `json:"gpu,omitempty"`    // devices, may be fractional (precision 0.001)
	Memory Bytes   `json:"memory,omitempty"` // bytes; in JSON a number or a size such as "1GiB"
}

// WithDefaults returns a copy of s with every zero field set to its default.
// The copy shares s's Space.
func (s Spec) WithDefaults() Spec {
	if s.Sampler.Type == "" {
		s.Sampler.Type = GridSampler
	}
	if s.Samples == 0 {
		s.Samples = 1
		if s.Sampler.Type != GridSampler {
			s.Samples = defaultRandomSamples
		}
	}
	if s.Sampler.Type == TPESampler {
		if s.Sampler.Startup == 0 {
			s.Sampler.Startup = defaultStartup
		}
		if s.Sampler.Gamma == 0 {
			s.Sampler.Gamma = defaultGamma
		}
		if s.Sampler.Candidates == 0 {
			s.Sampler.Candidates = defaultCandidates
		}
	}
	s.Scheduler, _ = s.Scheduler.resolved()
	sc := &s.Scheduler
	if sc.Type == "" {
		sc.Type = FIFOScheduler
	}
	switch sc.Type {
	case ASHAScheduler:
		if sc.MaxT == 0 {
			sc.MaxT = defaultMaxT
		}
		if sc.GracePeriod == 0 {
			sc.GracePeriod = defaultGracePeriod
		}
		if sc.ReductionFactor == 0 {
			sc.ReductionFactor = defaultReductionFactor
		}
	case MedianScheduler:
		if sc.GracePeriod == 0 {
			sc.GracePeriod = defaultGracePeriod
		}
		if sc.MinSamples == 0 {
			sc.MinSamples = defaultMinSamples
		}
	}
	if s.Resources.CPU == 0 {
		s.Resources.CPU = defaultCPU
	}
	return s
}

// Size returns how many trials the spec asks for: samples times the number of
// grid points for the grid sampler, samples otherwise. It is 0 for a spec
// that does not validate.
func (s *Spec) Size() int {
	if s.Validate() != nil {
		return 0
	}
	d := s.WithDefaults()
	if d.Sampler.Type != GridSampler {
		return d.Samples
	}
	return d.Samples * len(d.Space.points())
}

// fingerprint identifies what decides a sweep's configurations and its best
// trial: a snapshot only restores under the same fingerprint.
func (s *Spec) fingerprint() string {
	b, _ := json.Marshal(struct {
		Metric  string      `json:"metric"`
		Mode    Mode        `json:"mode"`
		Sampler SamplerSpec `json:"sampler"`
		Space   Space       `json:"space"`
	}{s.Metric, s.Mode, s.Sampler, s.Space})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Problem is one thing wrong with a spec: the field path (e.g.
// "space.model.choice.small.lr"; "" for the spec itself), its YAML line (0
// for a spec decoded from JSON or built in Go) and the message.
type Problem = strictyaml.Problem

// ValidationError lists every problem found in a spec.
type ValidationError struct {
	Problems []Problem
}

// Error implements error: one problem per line.
func (e *ValidationError) Error() string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.String()
	}
	return strings.Join(out, "\n")
}

// invalidSpec wraps problems into an errs.Invalid whose message lists them all.
func invalidSpec(problems []Problem) error {
	sort.SliceStable(problems, func(i, j int) bool {
		li, lj := problems[i].Line, problems[j].Line
		return li > 0 && (lj == 0 || li < lj)
	})
	ve := &ValidationError{Problems: problems}
	return &errs.Error{Kind: errs.Invalid, Message: "invalid tune spec:\n" + ve.Error(), Err: ve}
}

// Validate checks the spec and returns an errs.Invalid wrapping a
// *ValidationError that lists every problem, each with its field path (and
// line, for a spec read by ParseSpec), or nil.
func (s *Spec) Validate() error {
	v := &validator{lines: s.lines}
	v.spec(s, false)
	if len(v.problems) > 0 {
		return invalidSpec(v.problems)
	}
	return nil
}

type validator struct {
	lines    map[string]int
	problems []Problem
}

// addf records a problem at path, with the line of path or of its nearest
// parent that has one.
func (v *validator) addf(path, format string, args ...any) {
	line := 0
	for p := path; p != "" && line == 0; {
		line = v.lines[p]
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	v.problems = append(v.problems, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// spec checks every field. spaceBroken is set when decoding already
// reported problems in the space (so an empty space is no news).
func (v *validator) spec(s *Spec, spaceBroken bool) {
	if s.Metric == "" {
		v.addf("metric", "is required: the name of the reported metric to optimise")
	}
	if s.Mode != Max && s.Mode != Min {
		v.addf("mode", "must be max or min, got %q", s.Mode)
	}
	if s.Samples < 0 {
		v.addf("samples", "must not be negative, got %d", s.Samples)
	}
	sm := s.Sampler
	switch sm.Type {
	case "", GridSampler, RandomSampler:
		if sm.Startup != 0 || sm.Gamma != 0 || sm.Candidates != 0 {
			v.addf("sampler", "startup, gamma and candidates apply to the tpe sampler only")
		}
	case TPESampler:
		if sm.Startup < 0 {
			v.addf("sampler.startup", "must not be negative, got %d", sm.Startup)
		}
		if sm.Gamma < 0 || sm.Gamma >= 1 || !finite(sm.Gamma) {
			v.addf("sampler.gamma", "must be between 0 and 1, got %g", sm.Gamma)
		}
		if sm.Candidates < 0 {
			v.addf("sampler.candidates", "must not be negative, got %d", sm.Candidates)
		}
	default:
		v.addf("sampler.type", "must be grid, random or tpe, got %q", sm.Type)
	}
	v.scheduler(s.Scheduler)
	if s.MaxConcurrent < 0 {
		v.addf("max_concurrent", "must not be negative, got %d", s.MaxConcurrent)
	}
	if s.MaxFailures < 0 {
		v.addf("max_failures", "must not be negative, got %d", s.MaxFailures)
	}
	v.resources("resources", s.Resources)
	if len(s.Space) == 0 {
		if !spaceBroken {
			v.addf("space", "is required: at least one parameter")
		}
		return
	}
	v.space("space", s.Space)
	v.names("space", s.Space, nil)
	if n := s.Space.gridSize(); n > maxGridPoints {
		v.addf("space", "the grid has %d points, more than the %d allowed", n, maxGridPoints)
	}
}

func (v *validator) scheduler(given SchedulerSpec) {
	const p = "scheduler"
	// Each per-type block is checked as that scheduler's own settings,
	// chosen or not, so a mistake shows before the type is switched to it.
	for _, b := range []struct {
		typ string
		set *SchedulerSettings
	}{{ASHAScheduler, given.ASHA}, {MedianScheduler, given.Median}} {
		if b.set == nil {
			continue
		}
		sub := &validator{lines: v.lines}
		s := b.set
		sub.scheduler(SchedulerSpec{Type: b.typ, MaxT: s.MaxT, GracePeriod: s.GracePeriod, ReductionFactor: s.ReductionFactor, MinSamples: s.MinSamples})
		for _, pr := range sub.problems {
			if !strings.HasPrefix(pr.Path, p) {
				v.problems = append(v.problems, pr)
				continue
			}
			v.addf(p+"."+b.typ+strings.TrimPrefix(pr.Path, p), "%s", pr.Msg)
		}
	}
	sc, conflicts := given.resolved()
	for _, c := range conflicts {
		v.addf(p+"."+c, "is given both here and under %s.%s: give it once", p, sc.Type)
	}
	switch sc.Type {
	case "", FIFOScheduler:
		if sc != (SchedulerSpec{Type: sc.Type}) {
			v.addf(p, "the fifo scheduler takes no settings")
		}
	case ASHAScheduler:
		if sc.MinSamples != 0 {
			v.addf(p+".min_samples", "applies to the median scheduler only")
		}
		if sc.MaxT < 0 {
			v.addf(p+".max_t", "must not be negative, got %d", sc.MaxT)
		}
		if sc.GracePeriod < 0 {
			v.addf(p+".grace_period", "must not be negative, got %d", sc.GracePeriod)
		}
		if sc.ReductionFactor != 0 && (sc.ReductionFactor <= 1 || !finite(sc.ReductionFactor)) {
			v.addf(p+".reduction_factor", "must be above 1, got %g", sc.ReductionFactor)
		}
		d := Spec{Scheduler: sc}.WithDefaults().Scheduler
		if d.GracePeriod > d.MaxT {
			v.addf(p+".grace_period", "%d must not exceed max_t %d", d.GracePeriod, d.MaxT)
		}
	case MedianScheduler:
		if sc.MaxT != 0 || sc.ReductionFactor != 0 {
			v.addf(p, "max_t and reduction_factor apply to the asha scheduler only")
		}
		if sc.GracePeriod < 0 {
			v.addf(p+".grace_period", "must not be negative, got %d", sc.GracePeriod)
		}
		if sc.MinSamples < 0 {
			v.addf(p+".min_samples", "must not be negative, got %d", sc.MinSamples)
		}
	default:
		v.addf(p+".type", "must be fifo, asha or median, got %q", sc.Type)
	}
}

func (v *validator) resources(p string, r Resources) {
	if r.CPU < 0 || !finite(r.CPU) {
		v.addf(p+".cpu", "must not be negative, got %g", r.CPU)
	}
	if r.GPU < 0 || !finite(r.GPU) {
		v.addf(p+".gpu", "must not be negative, got %g", r.GPU)
	}
	if r.Memory < 0 {
		v.addf(p+".memory", "must not be negative, got %d", r.Memory)
	}
}

// space checks every parameter of sp, in name order.
func (v *validator) space(path string, sp Space) {
	for _, name := range sp.names() {
		p := path + "." + name
		if name == "" {
			v.addf(path, "a parameter name must not be empty")
			continue
		}
		v.param(p, sp[name])
	}
}

func (v *validator) param(p string, prm Param) {
	k := prm.Kind
	switch k {
	case Const:
		if !scalar(prm.Value) {
			v.addf(p, "a constant must be a string, a number or a boolean, got %T", prm.Value)
		}
	case Grid, Choice:
		if len(prm.Values) == 0 {
			v.addf(p, "%s needs at least one value", k)
		}
		seen := map[any]bool{}
		for _, val := range prm.Values {
			if !scalar(val) {
				v.addf(p, "%s values must be strings, numbers or booleans, got %T", k, val)
				continue
			}
			key := valueKey(val)
			if seen[key] {
				v.addf(p, "%s lists %v twice", k, val)
			}
			seen[key] = true
		}
		if prm.Options != nil {
			for _, val := range prm.Values {
				if name, ok := val.(string); !ok {
					v.addf(p, "%s option %v must be a string", k, val)
				} else if _, ok := prm.Options[name]; !ok {
					v.addf(p, "%s option %q has no entry in Options", k, name)
				}
			}
			for _, name := range sortedKeys(prm.Options) {
				if !seen[valueKey(name)] {
					v.addf(p, "%s option %q is missing from Values", k, name)
				}
				v.space(p+"."+string(k)+"."+name, prm.Options[name])
			}
		}
	case Uniform, LogUniform, RandInt, QUniform, QLogUniform, QRandInt:
		v.bounds(p, prm)
		if prm.Options != nil {
			v.addf(p, "%s takes no options: only grid and choice do", k)
		}
	case "":
		v.addf(p, "the kind is missing (known: %s)", strings.Join(kindNames(), ", "))
	default:
		v.addf(p, "unknown kind %q (known: %s)", k, strings.Join(kindNames(), ", "))
	}
}

// bounds checks a range parameter: low, high and q.
func (v *validator) bounds(p string, prm Param) {
	k, lo, hi, q := prm.Kind, prm.Low, prm.High, prm.Q
	if !finite(lo) || !finite(hi) || !finite(q) {
		v.addf(p, "%s bounds must be finite numbers", k)
		return
	}
	ok := true
	if lo >= hi {
		v.addf(p, "%s low %g must be below high %g", k, lo, hi)
		ok = false
	} else if !finite(hi - lo) {
		v.addf(p, "%s range %g to %g is wider than a number holds", k, lo, hi)
		ok = false
	}
	if (k == LogUniform || k == QLogUniform) && lo <= 0 {
		v.addf(p, "%s low must be above 0, got %g", k, lo)
		ok = false
	}
	if k == RandInt || k == QRandInt {
		if lo != math.Trunc(lo) || hi != math.Trunc(hi) {
			v.addf(p, "%s bounds must be integers, got %g and %g", k, lo, hi)
			ok = false
		} else if math.Abs(lo) > maxExact || math.Abs(hi) > maxExact {
			v.addf(p, "%s bounds must lie within -2^53 and 2^53, got %g and %g", k, lo, hi)
			ok = false
		}
	}
	if k.quantised() {
		switch {
		case q <= 0:
			v.addf(p, "%s q must be above 0, got %g", k, q)
			ok = false
		case k == QRandInt && q != math.Trunc(q):
			v.addf(p, "%s q must be an integer, got %g", k, q)
			ok = false
		case math.Abs(lo/q) > maxExact || math.Abs(hi/q) > maxExact:
			v.addf(p, "%s bounds %g and %g are more than 2^53 multiples of q %g from 0", k, lo, hi, q)
			ok = false
		}
	} else if q != 0 {
		v.addf(p, "%s takes no q (use q%s)", k, k)
	}
	if ok && k.quantised() && math.Ceil(lo/q) > math.Floor(hi/q) {
		v.addf(p, "%s has no multiple of %g between %g and %g", k, q, lo, hi)
	}
}

// names reports a name that two parameters of one configuration would share:
// parameters flatten into one Params map. Options of one parameter exclude
// each other, so they may reuse names; outer holds the names of the
// parameters sp is nested under.
func (v *validator) names(path string, sp Space, outer map[string]bool) {
	owner := map[string]string{} // name -> the parameter at this level that brings it
	for _, name := range sp.names() {
		if outer[name] {
			v.addf(path+"."+name, "parameter %q is nested under a parameter of the same name: configurations are flat, names must be unique", name)
		}
		for n := range sp[name].allNames(name) {
			if o, dup := owner[n]; dup {
				v.addf(path+"."+name, "parameter %q is also given under %q: configurations are flat, names must be unique", n, o)
				continue
			}
			owner[n] = name
		}
	}
	for _, name := range sp.names() {
		prm := sp[name]
		if prm.Options == nil {
			continue
		}
		inner := map[string]bool{name: true}
		for n := range outer {
			inner[n] = true
		}
		for _, opt := range sortedKeys(prm.Options) {
			v.names(path+"."+name+"."+string(prm.Kind)+"."+opt, prm.Options[opt], inner)
		}
	}
}

// allNames returns name and every name in the parameter's option sub-spaces.
func (prm Param) allNames(name string) map[string]bool {
	out := map[string]bool{name: true}
	for _, sub := range prm.Options {
		for n, p := range sub {
			for m := range p.allNames(n) {
				out[m] = true
			}
		}
	}
	return out
}

// scalar reports whether v is a value a configuration may hold.
func scalar(v any) bool {
	switch x := v.(type) {
	case string, bool, int, int64:
		return true
	case float64:
		return finite(x)
	}
	return false
}

// valueKey makes numbers that are equal compare equal (32 and 32.0).
func valueKey(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Bytes is a size in bytes. In JSON and YAML it is a number or a string such
// as "512Mi", "2GiB" or "1.5G".
type Bytes int64

// ParseBytes parses a size such as "512Mi", "2GiB", "1.5G" or "1048576"
// (decimal units are powers of 1000, "i" units powers of 1024).
func ParseBytes(s string) (Bytes, error) {
	n, err := humanize.ParseBytes(strings.TrimSpace(s))
	if err != nil || n > math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size such as 512Mi, 2GiB or 1G", s)
	}
	return Bytes(n), nil
}

// String formats b with the largest binary unit that keeps it at least 1, e.g. "1.5GiB".
func (b Bytes) String() string {
	units := []struct {
		name string
		size float64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if float64(b) >= u.size {
			return strconv.FormatFloat(math.Round(float64(b)/u.size*100)/100, 'f', -1, 64) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// UnmarshalJSON accepts a number of bytes or a size string.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		v, err := ParseBytes(s)
		if err != nil {
			return err
		}
		*b = v
		return nil
	}
	var n float64
	if err := json.Unmarshal(data, &n); err != nil || n < 0 || n != math.Trunc(n) {
		return fmt.Errorf("memory must be a whole number of bytes or a size such as 1GiB, got %s", data)
	}
	*b = Bytes(n)
	return nil
}

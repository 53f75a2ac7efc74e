package tune

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// Kind is the kind of a parameter's distribution.
type Kind string

// The parameter kinds. Range kinds use Low and High; quantised kinds also Q.
const (
	// Const is a fixed value, written as a bare scalar: `epochs: 10`.
	Const Kind = "const"
	// Grid is every one of Values: the grid sampler expands grid parameters as
	// a cross product; random and tpe treat a grid like a choice.
	Grid Kind = "grid"
	// Choice is one of Values, drawn uniformly.
	Choice Kind = "choice"
	// Uniform is a float in [Low, High).
	Uniform Kind = "uniform"
	// LogUniform is a float in [Low, High) with a uniform logarithm; Low > 0.
	LogUniform Kind = "loguniform"
	// RandInt is an integer in [Low, High): High is excluded, as in Ray Tune and numpy.
	RandInt Kind = "randint"
	// QUniform is a multiple of Q in [Low, High], each equally likely.
	QUniform Kind = "quniform"
	// QLogUniform is a loguniform value rounded to the nearest multiple of Q in [Low, High].
	QLogUniform Kind = "qloguniform"
	// QRandInt is an integer multiple of Q in [Low, High]: High is included, as in Ray Tune.
	QRandInt Kind = "qrandint"
)

func kindNames() []string {
	return []string{"grid", "choice", "uniform", "loguniform", "randint", "quniform", "qloguniform", "qrandint"}
}

func (k Kind) quantised() bool { return k == QUniform || k == QLogUniform || k == QRandInt }

func (k Kind) log() bool { return k == LogUniform || k == QLogUniform }

func (k Kind) integer() bool { return k == RandInt || k == QRandInt }

func (k Kind) categorical() bool { return k == Grid || k == Choice }

// Param is one dimension of a search space.
type Param struct {
	Kind Kind
	// Values are a grid's or a choice's values (strings, numbers or booleans),
	// in the order written. With Options they are the option names, sorted.
	Values []any
	// Options gives each option of a grid or a choice its own sub-space,
	// whose parameters are only part of a configuration that picked it. Nil
	// for plain values.
	Options map[string]Space
	// Low and High bound a range kind; Q is a quantised kind's step.
	Low, High, Q float64
	// Value is a Const's value.
	Value any
}

// Space is a search space: parameter name -> distribution. Parameters are
// visited in name order, each option's sub-space right after its parameter,
// so sampling does not depend on the order a spec was written in.
type Space map[string]Param

// Params is one configuration: parameter name -> value. Names of option
// sub-spaces are flattened as they are ("model" and "lr", not "model.lr").
// Values are string, bool, int (randint, qrandint and integer grid/choice
// values) or float64.
type Params map[string]any

// String formats p as "name=value" pairs in name order, e.g. "lr=0.001 model=small".
func (p Params) String() string {
	parts := make([]string, 0, len(p))
	for _, k := range sortedKeys(p) {
		parts = append(parts, k+"="+formatValue(p[k]))
	}
	return strings.Join(parts, " ")
}

func formatValue(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

func (p Params) clone() Params {
	out := make(Params, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

func (s Space) names() []string { return sortedKeys(s) }

// cond is an option picked on the way to a sub-space.
type cond struct {
	name  string
	value string
}

// walk fills p with one configuration: for each active parameter, in order,
// pick returns its value; an option's sub-space is walked right after it.
func (s Space) walk(p Params, conds []cond, pick func(name string, prm Param, conds []cond) any) {
	for _, name := range s.names() {
		prm := s[name]
		v := pick(name, prm, conds)
		p[name] = v
		if prm.Options != nil {
			opt, _ := v.(string)
			sub := append(conds[:len(conds):len(conds)], cond{name, opt})
			prm.Options[opt].walk(p, sub, pick)
		}
	}
}

// draw samples the parameter's prior.
func (prm Param) draw(rng *rand.Rand) any {
	lo, hi, q := prm.Low, prm.High, prm.Q
	switch prm.Kind {
	case Const:
		return prm.Value
	case Grid, Choice:
		return prm.Values[rng.IntN(len(prm.Values))]
	case Uniform:
		return lo + (hi-lo)*rng.Float64()
	case LogUniform:
		return math.Exp(math.Log(lo) + (math.Log(hi)-math.Log(lo))*rng.Float64())
	case RandInt:
		return int(lo) + rng.IntN(int(hi-lo))
	case QUniform, QRandInt:
		first, last := int64(math.Ceil(lo/q)), int64(math.Floor(hi/q))
		k := first + rng.Int64N(last-first+1)
		if prm.Kind == QRandInt {
			return int(k) * int(q)
		}
		return clean(float64(k) * q)
	case QLogUniform:
		return prm.fromInternal(math.Log(lo) + (math.Log(hi)-math.Log(lo))*rng.Float64())
	}
	return nil
}

// internal maps a numeric value to the space TPE models it in: the logarithm
// for log kinds, the value itself otherwise. It returns the range too.
func (prm Param) internal(v float64) (x, lo, hi float64) {
	if prm.Kind.log() {
		return math.Log(v), math.Log(prm.Low), math.Log(prm.High)
	}
	return v, prm.Low, prm.High
}

// fromInternal maps an internal value back to a valid parameter value:
// exponentiated, rounded or quantised and kept in range.
func (prm Param) fromInternal(x float64) any {
	if prm.Kind.log() {
		x = math.Exp(x)
	}
	lo, hi := prm.Low, prm.High
	switch prm.Kind {
	case RandInt:
		return int(math.Max(lo, math.Min(math.Floor(x), hi-1)))
	case QRandInt:
		return int(quantize(x, prm.Q, lo, hi))
	case QUniform, QLogUniform:
		return quantize(x, prm.Q, lo, hi)
	}
	return math.Max(lo, math.Min(x, hi))
}

// quantize rounds x to the nearest multiple of q, stepping inside [lo, hi]
// when the nearest multiple falls outside.
func quantize(x, q, lo, hi float64) float64 {
	k := math.Round(x / q)
	if k*q < lo {
		k = math.Ceil(lo / q)
	}
	if k*q > hi {
		k = math.Floor(hi / q)
	}
	return clean(k * q)
}

// clean drops the binary noise of a product such as 3*0.1, giving 0.3.
func clean(f float64) float64 {
	c, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 12, 64), 64)
	return c
}

// points returns the grid: one assignment per point, of every grid
// parameter reached through grid parameters alone. Grid parameters are
// nested loops in name order, the first the outermost; values go in the
// order written; an option's sub-grid is expanded under that option. A space
// without grid parameters has one empty point.
func (s Space) points() []Params {
	out := []Params{{}}
	for _, name := range s.names() {
		prm := s[name]
		if prm.Kind != Grid {
			continue
		}
		var expansions []Params
		for _, v := range prm.Values {
			if prm.Options == nil {
				expansions = append(expansions, Params{name: v})
				continue
			}
			opt := v.(string)
			for _, sub := range prm.Options[opt].points() {
				e := sub.clone()
				e[name] = opt
				expansions = append(expansions, e)
			}
		}
		next := make([]Params, 0, len(out)*len(expansions))
		for _, o := range out {
			for _, e := range expansions {
				p := o.clone()
				for k, v := range e {
					p[k] = v
				}
				next = append(next, p)
			}
		}
		out = next
	}
	return out
}

// gridSize counts the grid's points without building them, saturating
// above maxGridPoints.
func (s Space) gridSize() int {
	n := 1
	for _, prm := range s {
		if prm.Kind != Grid {
			continue
		}
		m := 0
		for _, v := range prm.Values {
			if prm.Options == nil {
				m++
			} else if name, ok := v.(string); ok {
				m += prm.Options[name].gridSize()
			}
		}
		n *= m
		if n > maxGridPoints {
			return maxGridPoints + 1
		}
	}
	return n
}

// coerce checks that p is a configuration of s and returns it with each
// value of the type s gives it (a JSON round trip turns 3 into 3.0 and
// loses ints).
func (s Space) coerce(p Params) (Params, error) {
	out := Params{}
	var problem error
	s.walk(out, nil, func(name string, prm Param, _ []cond) any {
		v, ok := p[name]
		if !ok {
			if problem == nil {
				problem = fmt.Errorf("parameter %q is missing", name)
			}
			return nil
		}
		c, err := prm.coerce(v)
		if err != nil && problem == nil {
			problem = fmt.Errorf("parameter %q: %w", name, err)
		}
		return c
	})
	for name := range p {
		if _, ok := out[name]; !ok && problem == nil {
			problem = fmt.Errorf("parameter %q is not in the space", name)
		}
	}
	return out, problem
}

func (prm Param) coerce(v any) (any, error) {
	switch prm.Kind {
	case Const:
		if valueKey(v) == valueKey(prm.Value) {
			return prm.Value, nil
		}
		return prm.Value, fmt.Errorf("%v is not the constant %v", v, prm.Value)
	case Grid, Choice:
		for _, want := range prm.Values {
			if valueKey(v) == valueKey(want) {
				return want, nil
			}
		}
		return prm.Values[0], fmt.Errorf("%v is not one of %v", v, prm.Values)
	}
	f, ok := valueKey(v).(float64)
	if !ok {
		return prm.Low, fmt.Errorf("%v is not a number", v)
	}
	if f < prm.Low || f > prm.High || (prm.Kind == RandInt && f >= prm.High) {
		return prm.Low, fmt.Errorf("%v is out of the %s range [%g, %g]", v, prm.Kind, prm.Low, prm.High)
	}
	if prm.Kind.integer() {
		if f != math.Trunc(f) {
			return prm.Low, fmt.Errorf("%v is not an integer", v)
		}
		return int(f), nil
	}
	return f, nil
}

// MarshalJSON writes the parameter in the spec form: a bare value for a
// Const, {"KIND": ARGS} otherwise.
func (prm Param) MarshalJSON() ([]byte, error) {
	switch {
	case prm.Kind == Const:
		return json.Marshal(prm.Value)
	case prm.Kind.categorical() && prm.Options != nil:
		return json.Marshal(map[string]any{string(prm.Kind): prm.Options})
	case prm.Kind.categorical():
		return json.Marshal(map[string]any{string(prm.Kind): prm.Values})
	case prm.Kind.quantised():
		return json.Marshal(map[string]any{string(prm.Kind): []float64{prm.Low, prm.High, prm.Q}})
	}
	return json.Marshal(map[string]any{string(prm.Kind): []float64{prm.Low, prm.High}})
}

// UnmarshalJSON decodes a space strictly, reporting every problem with its
// path under "space".
func (s *Space) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	d := newDecoder()
	*s = d.space(fromJSON(v), "space")
	if len(d.problems) > 0 {
		return invalidSpec(d.problems)
	}
	return nil
}

// UnmarshalJSON decodes one parameter in the spec form.
func (prm *Param) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	d := newDecoder()
	p, _ := d.param(fromJSON(v), "param", 0)
	if len(d.problems) > 0 {
		return invalidSpec(d.problems)
	}
	*prm = p
	return nil
}

// sortValues orders option names.
func sortValues(names []string) []any {
	sort.Strings(names)
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out
}

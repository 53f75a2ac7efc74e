package tune

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cairn-mlops/cairn/internal/strictyaml"
)

// ParseSpec decodes a YAML (or JSON) spec strictly and validates it. An
// unknown or repeated field, a value of the wrong type or a bad distribution
// is a problem naming the field path and line; the error is an errs.Invalid
// wrapping a *ValidationError that lists every problem at once.
func ParseSpec(b []byte) (*Spec, error) {
	root, p := strictyaml.Document(b, strictyaml.Names{Empty: "the spec is empty", One: "a tune spec holds one YAML document"})
	if p != nil {
		return nil, invalidSpec([]Problem{*p})
	}
	d := newDecoder()
	s := d.spec(d.fromYAML(root))
	s.lines = d.lines
	v := &validator{lines: d.lines}
	v.spec(s, d.spaceBroken)
	problems := d.problems
	for _, p := range v.problems {
		if !d.brokenPath(p.Path) {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, invalidSpec(problems)
	}
	return s, nil
}

// node is a decoded YAML or JSON value with its line (0 for JSON), so one
// decoder serves both.
type node struct {
	kind     nodeKind
	line     int
	value    any // scalarNode: string, bool, int or float64
	items    []*node
	keys     []string // mapNode, in order
	keyLines []int
	vals     []*node
}

type nodeKind uint8

const (
	nullNode nodeKind = iota
	scalarNode
	listNode
	mapNode
)

func (n *node) describe() string {
	switch n.kind {
	case nullNode:
		return "nothing"
	case listNode:
		return "a list"
	case mapNode:
		return "a mapping"
	}
	if s, ok := n.value.(string); ok {
		return strconv.Quote(s)
	}
	return formatValue(n.value)
}

type decoder struct {
	problems    []Problem
	lines       map[string]int
	broken      map[string]bool // paths whose value could not be decoded
	spaceBroken bool            // a parameter could not be decoded
}

func newDecoder() *decoder {
	return &decoder{lines: map[string]int{}, broken: map[string]bool{}}
}

func (d *decoder) addf(line int, path, format string, args ...any) {
	d.broken[path] = true
	d.problems = append(d.problems, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// brokenPath reports whether path or a parent of it failed to decode, so
// that validation does not repeat the news.
func (d *decoder) brokenPath(path string) bool {
	for p := path; p != ""; {
		if d.broken[p] {
			return true
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
	return false
}

func (d *decoder) fromYAML(y *yaml.Node) *node {
	if y.Kind == yaml.DocumentNode && len(y.Content) == 1 {
		y = y.Content[0]
	}
	n := &node{line: y.Line}
	switch y.Kind {
	case yaml.ScalarNode:
		n.kind = scalarNode
		switch y.Tag {
		case "!!null":
			n.kind = nullNode
		case "!!bool":
			var b bool
			_ = y.Decode(&b)
			n.value = b
		case "!!int":
			var i int
			if err := y.Decode(&i); err != nil {
				d.addf(y.Line, "", "%q is out of range", y.Value)
			}
			n.value = i
		case "!!float":
			var f float64
			_ = y.Decode(&f)
			n.value = f
		default:
			n.value = y.Value
		}
	case yaml.SequenceNode:
		n.kind = listNode
		for _, c := range y.Content {
			n.items = append(n.items, d.fromYAML(c))
		}
	case yaml.MappingNode:
		n.kind = mapNode
		seen := map[string]bool{}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if seen[k.Value] {
				d.addf(k.Line, "", "field %q is given twice", k.Value)
				continue
			}
			seen[k.Value] = true
			n.keys = append(n.keys, k.Value)
			n.keyLines = append(n.keyLines, k.Line)
			n.vals = append(n.vals, d.fromYAML(v))
		}
	default:
		d.addf(y.Line, "", "aliases are not supported")
	}
	return n
}

// fromJSON converts a value decoded with UseNumber. Object keys are sorted:
// JSON objects have no order.
func fromJSON(v any) *node {
	n := &node{kind: scalarNode}
	switch x := v.(type) {
	case nil:
		n.kind = nullNode
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.Atoi(s); err == nil {
				n.value = i
				return n
			}
		}
		n.value, _ = x.Float64()
	case float64:
		n.value = x
	case []any:
		n.kind = listNode
		for _, e := range x {
			n.items = append(n.items, fromJSON(e))
		}
	case map[string]any:
		n.kind = mapNode
		for _, k := range sortedKeys(x) {
			n.keys = append(n.keys, k)
			n.keyLines = append(n.keyLines, 0)
			n.vals = append(n.vals, fromJSON(x[k]))
		}
	default:
		n.value = x // string, bool
	}
	return n
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fields walks a mapping, calling set for each known key and reporting
// unknown ones with their line.
func (d *decoder) fields(n *node, path string, known []string, set func(key string, v *node, path string)) {
	if n.kind != mapNode {
		d.addf(n.line, path, "must be a mapping, got %s", n.describe())
		return
	}
	for i, key := range n.keys {
		p := join(path, key)
		d.lines[p] = n.keyLines[i]
		if !slices.Contains(known, key) {
			where := ""
			if path != "" {
				where = " of " + path
			}
			d.problems = append(d.problems, Problem{Line: n.keyLines[i], Path: path,
				Msg: fmt.Sprintf("unknown field %q%s (known: %s)", key, where, strings.Join(known, ", "))})
			continue
		}
		set(key, n.vals[i], p)
	}
}

func (d *decoder) str(n *node, path string) string {
	s, ok := n.value.(string)
	if n.kind != scalarNode || !ok {
		d.addf(n.line, path, "must be a string, got %s", n.describe())
	}
	return s
}

func (d *decoder) integer(n *node, path string) int {
	i, ok := n.value.(int)
	if n.kind != scalarNode || !ok {
		d.addf(n.line, path, "must be an integer, got %s", n.describe())
	}
	return i
}

func (d *decoder) number(n *node, path string) float64 {
	if n.kind == scalarNode {
		switch x := n.value.(type) {
		case int:
			return float64(x)
		case float64:
			return x
		}
	}
	d.addf(n.line, path, "must be a number, got %s", n.describe())
	return 0
}

var (
	specFields      = []string{"metric", "mode", "samples", "sampler", "scheduler", "max_concurrent", "max_failures", "resources", "space", "trial", "register"}
	registerFields  = []string{"name", "alias"}
	samplerFields   = []string{"type", "seed", "startup", "gamma", "candidates"}
	schedulerFields = []string{"type", "max_t", "grace_period", "reduction_factor", "min_samples", "asha", "median"}
	settingFields   = []string{"max_t", "grace_period", "reduction_factor", "min_samples"}
	resourceFields  = []string{"cpu", "gpu", "memory"}
)

func (d *decoder) spec(n *node) *Spec {
	s := &Spec{}
	if n.kind != mapNode {
		d.addf(n.line, "", "a tune spec must be a mapping with metric, mode and space, got %s", n.describe())
		return s
	}
	d.fields(n, "", specFields, func(key string, v *node, p string) {
		switch key {
		case "metric":
			s.Metric = d.str(v, p)
		case "mode":
			s.Mode = Mode(d.str(v, p))
		case "samples":
			s.Samples = d.integer(v, p)
		case "sampler":
			d.fields(v, p, samplerFields, func(key string, v *node, p string) {
				switch key {
				case "type":
					s.Sampler.Type = d.str(v, p)
				case "seed":
					s.Sampler.Seed = int64(d.integer(v, p))
				case "startup":
					s.Sampler.Startup = d.integer(v, p)
				case "gamma":
					s.Sampler.Gamma = d.number(v, p)
				case "candidates":
					s.Sampler.Candidates = d.integer(v, p)
				}
			})
		case "scheduler":
			d.fields(v, p, schedulerFields, func(key string, v *node, p string) {
				switch key {
				case "type":
					s.Scheduler.Type = d.str(v, p)
				case "max_t":
					s.Scheduler.MaxT = d.integer(v, p)
				case "grace_period":
					s.Scheduler.GracePeriod = d.integer(v, p)
				case "reduction_factor":
					s.Scheduler.ReductionFactor = d.number(v, p)
				case "min_samples":
					s.Scheduler.MinSamples = d.integer(v, p)
				case "asha", "median":
					set := &SchedulerSettings{}
					d.fields(v, p, settingFields, func(key string, v *node, p string) {
						switch key {
						case "max_t":
							set.MaxT = d.integer(v, p)
						case "grace_period":
							set.GracePeriod = d.integer(v, p)
						case "reduction_factor":
							set.ReductionFactor = d.number(v, p)
						case "min_samples":
							set.MinSamples = d.integer(v, p)
						}
					})
					if key == "asha" {
						s.Scheduler.ASHA = set
					} else {
						s.Scheduler.Median = set
					}
				}
			})
		case "max_concurrent":
			s.MaxConcurrent = d.integer(v, p)
		case "max_failures":
			s.MaxFailures = d.integer(v, p)
		case "resources":
			d.fields(v, p, resourceFields, func(key string, v *node, p string) {
				switch key {
				case "cpu":
					s.Resources.CPU = d.number(v, p)
				case "gpu":
					s.Resources.GPU = d.number(v, p)
				case "memory":
					s.Resources.Memory = d.bytes(v, p)
				}
			})
		case "space":
			s.Space = d.space(v, p)
		case "trial":
			if v.kind != mapNode {
				d.addf(v.line, p, "must be a mapping (what each trial runs), got %s", v.describe())
				return
			}
			s.Trial, _ = v.toAny().(map[string]any)
		case "register":
			s.Register = &Register{}
			d.fields(v, p, registerFields, func(key string, v *node, p string) {
				switch key {
				case "name":
					s.Register.Name = d.str(v, p)
				case "alias":
					s.Register.Alias = d.str(v, p)
				}
			})
		}
	})
	return s
}

// toAny returns the node as JSON-like Go values.
func (n *node) toAny() any {
	switch n.kind {
	case listNode:
		out := make([]any, len(n.items))
		for i, it := range n.items {
			out[i] = it.toAny()
		}
		return out
	case mapNode:
		out := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			out[k] = n.vals[i].toAny()
		}
		return out
	case nullNode:
		return nil
	}
	return n.value
}

func (d *decoder) bytes(n *node, path string) Bytes {
	if s, ok := n.value.(string); ok && n.kind == scalarNode {
		b, err := ParseBytes(s)
		if err != nil {
			d.addf(n.line, path, "%v", err)
		}
		return b
	}
	f := d.number(n, path)
	if f < 0 || f != math.Trunc(f) {
		d.addf(n.line, path, "must be a whole number of bytes or a size such as 1GiB, got %s", n.describe())
	}
	return Bytes(f)
}

// space decodes parameter name -> distribution. Null is an empty space (an
// option without parameters).
func (d *decoder) space(n *node, path string) Space {
	if n.kind == nullNode {
		return nil
	}
	if n.kind != mapNode {
		d.addf(n.line, path, "must be a mapping of parameter name to distribution, got %s", n.describe())
		d.spaceBroken = true
		return nil
	}
	sp := Space{}
	for i, name := range n.keys {
		p := path + "." + name
		if n.keyLines[i] > 0 {
			d.lines[p] = n.keyLines[i]
		}
		line := n.keyLines[i]
		if line == 0 {
			line = n.vals[i].line
		}
		if prm, ok := d.param(n.vals[i], p, line); ok {
			sp[name] = prm
		} else {
			d.spaceBroken = true
		}
	}
	return sp
}

// param decodes one distribution: a bare scalar (Const) or {KIND: ARGS}.
// ok is false when the parameter itself could not be decoded; a problem
// inside an option's sub-space only drops that sub-parameter.
func (d *decoder) param(n *node, path string, line int) (prm Param, ok bool) {
	ok = true
	fail := func(format string, args ...any) {
		d.addf(line, path, format, args...)
		ok = false
	}
	switch n.kind {
	case scalarNode:
		return Param{Kind: Const, Value: n.value}, true
	case nullNode:
		fail("has no value: give a distribution such as {uniform: [0, 1]} or a constant")
	case listNode:
		fail("a list of values must be written {grid: [...]} or {choice: [...]}")
	case mapNode:
		if len(n.keys) != 1 {
			fail("must be one distribution such as {uniform: [0, 1]}, got the fields %s", strings.Join(n.keys, ", "))
			break
		}
		prm.Kind = Kind(n.keys[0])
		v := n.vals[0]
		k := prm.Kind
		switch {
		case k.categorical() && v.kind == listNode:
			prm.Values = []any{}
			for _, e := range v.items {
				if e.kind != scalarNode {
					fail("%s values must be strings, numbers or booleans, got %s", k, e.describe())
					continue
				}
				prm.Values = append(prm.Values, e.value)
			}
		case k.categorical() && v.kind == mapNode:
			prm.Options = map[string]Space{}
			for i, name := range v.keys {
				p := path + "." + string(k) + "." + name
				if v.keyLines[i] > 0 {
					d.lines[p] = v.keyLines[i]
				}
				prm.Options[name] = d.space(v.vals[i], p)
			}
			prm.Values = sortValues(append([]string(nil), v.keys...))
		case k.categorical():
			fail("%s takes a list of values or a mapping of option to sub-space, got %s", k, v.describe())
		case k == Uniform || k == LogUniform || k == RandInt:
			if nums := numbers(v, 2); nums != nil {
				prm.Low, prm.High = nums[0], nums[1]
			} else {
				fail("%s takes [low, high] as numbers, got %s", k, describeList(v))
			}
		case k.quantised():
			if nums := numbers(v, 3); nums != nil {
				prm.Low, prm.High, prm.Q = nums[0], nums[1], nums[2]
			} else {
				fail("%s takes [low, high, q] as numbers, got %s", k, describeList(v))
			}
		default:
			fail("unknown kind %q (known: %s)", k, strings.Join(kindNames(), ", "))
		}
	}
	return prm, ok
}

// numbers returns the count numbers of list n, or nil.
func numbers(n *node, count int) []float64 {
	if n.kind == listNode && len(n.items) == count {
		out := make([]float64, count)
		ok := true
		for i, e := range n.items {
			switch x := e.value.(type) {
			case int:
				out[i] = float64(x)
			case float64:
				out[i] = x
			default:
				ok = false
			}
		}
		if ok {
			return out
		}
	}
	return nil
}

func describeList(n *node) string {
	if n.kind != listNode {
		return n.describe()
	}
	parts := make([]string, len(n.items))
	for i, e := range n.items {
		parts[i] = e.describe()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

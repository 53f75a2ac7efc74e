package spec

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"go.yaml.in/yaml/v3"

	"github.com/cairn-mlops/cairn/internal/strictyaml"
)

// ParamType is the type of a pipeline parameter.
type ParamType string

// The parameter types.
const (
	String ParamType = "string"
	Int    ParamType = "int"
	Float  ParamType = "float"
	Bool   ParamType = "bool"
	List   ParamType = "list"
)

// Spec is a decoded pipeline file.
type Spec struct {
	Name        string
	Description string
	// Schedule is a standard five-field cron expression (or a descriptor such
	// as "@hourly"); empty means the pipeline runs only when triggered.
	Schedule string
	Params   []*Param // in the order written
	Tasks    []*Task  // in the order written
	// Executor names where the tasks run ("local", "kubernetes"); empty
	// means the server's default.
	Executor   string
	Kubernetes Kubernetes // every task's placement on the kubernetes executor
	// File names the source in messages, e.g. "fingers.yaml".
	File string
	// Source is the YAML the spec was decoded from.
	Source []byte

	lines map[string]int // top-level field -> line
}

// Param is a typed pipeline parameter.
type Param struct {
	Name        string
	Type        ParamType
	Default     any // nil when the parameter is required
	Description string
	// Enum, when set, lists the only values the parameter takes (of its
	// type; not for bool or list params): a form offers them as a choice.
	Enum []any
	Line int
}

// Task is one node of the pipeline graph: a built-in step (Uses) or a shell
// command (Run).
type Task struct {
	Name      string
	Line      int
	Needs     []string
	Uses      string         // step type ID, e.g. "data.images"
	Run       string         // shell command, run with sh -c
	With      map[string]any // step inputs; strings may hold templates
	Env       map[string]string
	Outputs   []string // small values the task writes to $CAIRN_OUTPUTS
	Artifacts []string // files or folders the task writes to $CAIRN_OUTPUTS_DIR
	// Writable are more paths (absolute, or relative to the run's working
	// folder) the task's sandbox lets it write; asking for any needs a role
	// that may run commands.
	Writable []string
	Retries  Retry
	Timeout  time.Duration // per attempt; 0 means none
	When     string        // condition; empty means always
	// ForEach is a list, a map of lists (their cartesian product, as maps),
	// or a string holding one template that resolves to a list.
	ForEach     any
	Concurrency int // cap on parallel items of a for_each; 0 means no cap
	// Shards splits the work of a step that can share it (Sharder) over
	// that many copies running at once (a Kubernetes Indexed Job), whose
	// parts the step then merges; 0 or 1 is one copy.
	Shards    int
	Resources Resources
	Cache     bool
	// Image is the container image a run: task runs in on an executor
	// that runs containers; empty means Cairn's image (with its shell).
	Image      string
	Kubernetes Kubernetes

	lines map[string]int // field -> line
}

// LineOf returns the line of a task field, or of the task itself.
func (t *Task) LineOf(field string) int {
	if l, ok := t.lines[field]; ok {
		return l
	}
	return t.Line
}

// Retry is a task's retry policy: up to Limit more attempts after the first,
// waiting Backoff, then Backoff*Factor, ... never more than Max.
type Retry struct {
	Limit   int
	Backoff time.Duration
	Factor  float64
	Max     time.Duration
}

// Delay returns the wait before retry number n (1 for the first retry).
func (r Retry) Delay(n int) time.Duration {
	if n < 1 || r.Backoff <= 0 {
		return r.Backoff
	}
	f := r.Factor
	if f < 1 {
		f = 1
	}
	d := float64(r.Backoff) * math.Pow(f, float64(n-1))
	if r.Max > 0 && d > float64(r.Max) {
		return r.Max
	}
	if d > float64(math.MaxInt64) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}

// DefaultRetry is the backoff used when a task sets only a retry limit.
var DefaultRetry = Retry{Backoff: time.Second, Factor: 2, Max: time.Minute}

// Resources is what a task needs while it runs.
type Resources struct {
	CPU    float64 // cores, may be fractional
	Memory int64   // bytes
	GPU    int
}

// Problem is one thing wrong with a spec (its Path is unused: messages
// name the task and field).
type Problem = strictyaml.Problem

// ValidationError lists every problem found in a spec.
type ValidationError struct {
	File     string
	Problems []Problem
}

// Error implements error: one problem per line, "file:line: message".
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": " + p.Msg)
	}
	return b.String()
}

type decoder struct {
	problems []Problem
}

func (d *decoder) addf(line int, format string, args ...any) {
	d.problems = append(d.problems, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// Parse decodes a pipeline spec strictly: an unknown field, a value of the
// wrong type or broken YAML is a problem with its line number. It returns a
// *ValidationError listing every problem; it does not check the graph (see
// Validate).
func Parse(file string, src []byte) (*Spec, error) {
	if file == "" {
		file = "pipeline.yaml"
	}
	root, p := strictyaml.Document(src, strictyaml.Names{Empty: "the file is empty", One: "a pipeline file holds one YAML document"})
	if p != nil {
		return nil, &ValidationError{File: file, Problems: []Problem{*p}}
	}
	d := &decoder{}
	s := &Spec{File: file, Source: src, lines: map[string]int{}}
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	d.spec(doc, s)
	if len(d.problems) > 0 {
		return s, &ValidationError{File: file, Problems: d.problems}
	}
	return s, nil
}

// fields walks a mapping node, calling set for each known key and reporting
// unknown and duplicate keys.
func (d *decoder) fields(n *yaml.Node, where string, known []string, set func(key string, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "%s must be a mapping, got %s", where, describe(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if seen[key] {
			d.addf(k.Line, "%s: field %q is given twice", where, key)
			continue
		}
		seen[key] = true
		ok := false
		for _, f := range known {
			if f == key {
				ok = true
			}
		}
		if !ok {
			d.addf(k.Line, "%s: unknown field %q (known: %s)", where, key, strings.Join(known, ", "))
			continue
		}
		set(key, v)
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

func (d *decoder) str(n *yaml.Node, where string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.addf(n.Line, "%s must be a string, got %s", where, describe(n))
		return ""
	}
	return n.Value
}

func (d *decoder) strList(n *yaml.Node, where string) []string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value} // a single name is a list of one
	}
	if n.Kind != yaml.SequenceNode {
		d.addf(n.Line, "%s must be a list of strings, got %s", where, describe(n))
		return nil
	}
	var out []string
	for _, e := range n.Content {
		out = append(out, d.str(e, where+" entry"))
	}
	return out
}

func (d *decoder) integer(n *yaml.Node, where string) int {
	var v int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
		d.addf(n.Line, "%s must be an integer, got %s", where, describe(n))
	}
	return v
}

func (d *decoder) number(n *yaml.Node, where string) float64 {
	var v float64
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&v) != nil {
		d.addf(n.Line, "%s must be a number, got %s", where, describe(n))
	}
	return v
}

func (d *decoder) duration(n *yaml.Node, where string) time.Duration {
	s := d.str(n, where)
	if s == "" {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		d.addf(n.Line, "%s must be a duration such as 30s, 5m or 1h30m, got %q", where, s)
	}
	return v
}

// value decodes any YAML value to Go: string, int64, float64, bool, nil,
// []any or map[string]any.
func (d *decoder) value(n *yaml.Node, where string) any {
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			_ = n.Decode(&b)
			return b
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				d.addf(n.Line, "%s: %q is out of range", where, n.Value)
			}
			return i
		case "!!float":
			var f float64
			_ = n.Decode(&f)
			return f
		}
		return n.Value
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			out = append(out, d.value(e, where))
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			out[n.Content[i].Value] = d.value(n.Content[i+1], where+"."+n.Content[i].Value)
		}
		return out
	}
	d.addf(n.Line, "%s: aliases are not supported", where)
	return nil
}

func (d *decoder) spec(n *yaml.Node, s *Spec) {
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "a pipeline must be a mapping with name and tasks, got %s", describe(n))
		return
	}
	d.fields(n, "pipeline", []string{"name", "description", "schedule", "params", "tasks", "executor", "kubernetes"}, func(key string, v *yaml.Node) {
		s.lines[key] = v.Line
		switch key {
		case "name":
			s.Name = d.str(v, "name")
		case "description":
			s.Description = d.str(v, "description")
		case "schedule":
			s.Schedule = d.str(v, "schedule")
		case "params":
			d.params(v, s)
		case "tasks":
			d.tasks(v, s)
		case "executor":
			s.Executor = d.executor(v, "executor")
		case "kubernetes":
			s.Kubernetes = d.kubernetes(v, "kubernetes")
		}
	})
}

func (d *decoder) params(n *yaml.Node, s *Spec) {
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "params must be a mapping of name to {type, default}, got %s", describe(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := &Param{Name: k.Value, Line: k.Line}
		where := fmt.Sprintf("param %q", p.Name)
		if v.Kind == yaml.MappingNode {
			var def *yaml.Node
			d.fields(v, where, []string{"type", "default", "description", "enum"}, func(key string, v *yaml.Node) {
				switch key {
				case "type":
					p.Type = ParamType(d.str(v, where+" type"))
				case "default":
					def = v
				case "description":
					p.Description = d.str(v, where+" description")
				case "enum":
					if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
						d.addf(v.Line, "%s: enum must be a non-empty list of the values it may take, got %s", where, describe(v))
						return
					}
					for _, e := range v.Content {
						p.Enum = append(p.Enum, d.value(e, where+" enum"))
					}
				}
			})
			if def != nil {
				p.Default = d.value(def, where+" default")
				if p.Default == nil {
					d.addf(def.Line, "%s: default must not be null; leave it out to make the parameter required", where)
				}
			}
		} else {
			// The short form: "lr: 0.01" is a param whose type is its default's.
			p.Default = d.value(v, where)
		}
		if p.Type == "" {
			p.Type = typeOf(p.Default)
		}
		s.Params = append(s.Params, p)
	}
}

func typeOf(v any) ParamType {
	switch v.(type) {
	case int64:
		return Int
	case float64:
		return Float
	case bool:
		return Bool
	case []any:
		return List
	}
	return String
}

var taskFields = []string{"needs", "uses", "run", "with", "env", "outputs", "artifacts", "retries", "timeout",
	"when", "for_each", "concurrency", "shards", "resources", "cache", "writable", "image", "kubernetes"}

func (d *decoder) tasks(n *yaml.Node, s *Spec) {
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "tasks must be a mapping of task name to task, got %s", describe(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		t := &Task{Name: k.Value, Line: k.Line, lines: map[string]int{}}
		if seen[t.Name] {
			d.addf(k.Line, "task %q is defined twice", t.Name)
			continue
		}
		seen[t.Name] = true
		d.task(v, t)
		s.Tasks = append(s.Tasks, t)
	}
}

func (d *decoder) task(n *yaml.Node, t *Task) {
	where := fmt.Sprintf("task %q", t.Name)
	d.fields(n, where, taskFields, func(key string, v *yaml.Node) {
		t.lines[key] = v.Line
		w := where + " " + key
		switch key {
		case "needs":
			t.Needs = d.strList(v, w)
		case "uses":
			t.Uses = d.str(v, w)
		case "run":
			t.Run = d.str(v, w)
		case "with":
			if v.Kind != yaml.MappingNode {
				d.addf(v.Line, "%s must be a mapping of input name to value, got %s", w, describe(v))
				return
			}
			t.With, _ = d.value(v, w).(map[string]any)
			for i := 0; i+1 < len(v.Content); i += 2 {
				t.lines["with."+v.Content[i].Value] = v.Content[i].Line
			}
		case "env":
			if v.Kind != yaml.MappingNode {
				d.addf(v.Line, "%s must be a mapping of variable to value, got %s", w, describe(v))
				return
			}
			t.Env = map[string]string{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				ev := v.Content[i+1]
				if ev.Kind != yaml.ScalarNode {
					d.addf(ev.Line, "%s %s must be a string, got %s", w, v.Content[i].Value, describe(ev))
					continue
				}
				t.Env[v.Content[i].Value] = ev.Value
			}
		case "outputs":
			t.Outputs = d.strList(v, w)
		case "artifacts":
			t.Artifacts = d.strList(v, w)
		case "writable":
			t.Writable = d.strList(v, w)
			for _, p := range t.Writable {
				if p == "" {
					d.addf(v.Line, "%s: a path must not be empty", w)
				}
			}
		case "retries":
			d.retry(v, t, w)
		case "timeout":
			t.Timeout = d.duration(v, w)
		case "when":
			t.When = d.str(v, w)
		case "for_each":
			t.ForEach = d.value(v, w)
		case "concurrency":
			t.Concurrency = d.integer(v, w)
		case "shards":
			t.Shards = d.integer(v, w)
		case "resources":
			d.resources(v, t, w)
		case "image":
			t.Image = d.str(v, w)
			if strings.TrimSpace(t.Image) != t.Image || t.Image == "" || strings.ContainsAny(t.Image, " \t\n") {
				d.addf(v.Line, "%s: %q is not an image reference such as python:3.11 or registry.example.com/team/trainer@sha256:...", w, t.Image)
			}
		case "kubernetes":
			t.Kubernetes = d.kubernetes(v, w)
		case "cache":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
				d.addf(v.Line, "%s must be true or false, got %s", w, describe(v))
				return
			}
			_ = v.Decode(&t.Cache)
		}
	})
}

func (d *decoder) retry(v *yaml.Node, t *Task, w string) {
	t.Retries = DefaultRetry
	if v.Kind == yaml.ScalarNode {
		t.Retries.Limit = d.integer(v, w)
		return
	}
	d.fields(v, w, []string{"limit", "backoff", "factor", "max"}, func(key string, v *yaml.Node) {
		t.lines["retries."+key] = v.Line
		switch key {
		case "limit":
			t.Retries.Limit = d.integer(v, w+" limit")
		case "backoff":
			t.Retries.Backoff = d.duration(v, w+" backoff")
		case "factor":
			t.Retries.Factor = d.number(v, w+" factor")
		case "max":
			t.Retries.Max = d.duration(v, w+" max")
		}
	})
}

func (d *decoder) resources(v *yaml.Node, t *Task, w string) {
	d.fields(v, w, []string{"cpu", "memory", "gpu"}, func(key string, v *yaml.Node) {
		t.lines["resources."+key] = v.Line
		switch key {
		case "cpu":
			t.Resources.CPU = d.number(v, w+" cpu")
		case "memory":
			s := d.str(v, w+" memory")
			b, err := ParseBytes(s)
			if err != nil {
				d.addf(v.Line, "%s memory: %v", w, err)
			}
			t.Resources.Memory = b
		case "gpu":
			t.Resources.GPU = d.integer(v, w+" gpu")
		}
	})
}

// ParseBytes parses a size such as "512Mi", "2GiB", "1.5G" or "1048576"
// (decimal units are powers of 1000, "i" units powers of 1024).
func ParseBytes(s string) (int64, error) {
	n, err := humanize.ParseBytes(strings.TrimSpace(s))
	if err != nil || n > math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size such as 512Mi, 2GiB or 1G", s)
	}
	return int64(n), nil
}

package pipeline

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/robfig/cron/v3"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Catalog resolves the built-in step types that `uses:` names.
type Catalog interface {
	// Lookup returns the step type registered under id, e.g. "data.images".
	Lookup(id string) (StepType, bool)
}

// StepType is what validation and caching need to know of a built-in step.
type StepType interface {
	// Version is part of every cache key: a new version never reuses results.
	Version() string
	// Outputs names the small values the step writes.
	Outputs() []string
	// Artifacts names the files or folders the step writes to its output folder.
	Artifacts() []string
	// CheckInputs checks a task's `with:`. Inputs named in dynamic hold
	// templates resolved only at run time: only their names are checked. It
	// returns every problem, each naming the input.
	CheckInputs(with map[string]any, dynamic map[string]bool) []error
}

// ShellStep is the step ID of the `run:` form: a task with `run: CMD` is the
// same as `uses: core.shell` with `with: {command: CMD}`.
const ShellStep = "core.shell"

// cronParser accepts the standard five fields and descriptors (@hourly).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a five-field cron expression or a descriptor.
func ParseSchedule(s string) (cron.Schedule, error) { return cronParser.Parse(s) }

// Plan is a validated spec, ready to run: tasks in topological order with
// their templates compiled.
type Plan struct {
	Spec  *Spec
	Order []*PlanTask // every task, needs before dependents, then as written
	tasks map[string]*PlanTask
}

// PlanTask is a task with its compiled templates.
type PlanTask struct {
	*Task
	Level     int      // 0 for tasks without needs
	Step      StepType // nil for run:
	Ancestors map[string]bool

	with    any // the `with:` tree with strings compiled to *Template
	run     *Template
	env     map[string]*Template
	when    *Expr
	forEach any // literal list, map of lists, or *Template
}

// Task returns the planned task named name, or nil.
func (p *Plan) Task(name string) *PlanTask { return p.tasks[name] }

// CodeHash identifies what a task runs: its command, or its step ID and version.
func (t *PlanTask) CodeHash() string {
	if t.Step != nil {
		return "step:" + t.Uses + "@" + t.Step.Version()
	}
	return "run:" + t.Run
}

// valueOutputs returns the value outputs a task declares, its step's included.
func (t *PlanTask) valueOutputs() []string {
	out := slices.Clone(t.Outputs)
	if t.Step != nil {
		out = append(out, t.Step.Outputs()...)
	}
	return out
}

func (t *PlanTask) artifactNames() []string {
	out := slices.Clone(t.Artifacts)
	if t.Step != nil {
		out = append(out, t.Step.Artifacts()...)
	}
	return out
}

// Compile validates spec against the catalog and returns its plan. The error
// is an errs.Invalid wrapping a *ValidationError that lists every problem.
func Compile(spec *Spec, cat Catalog) (*Plan, error) {
	v := &validator{spec: spec, cat: cat, plan: &Plan{Spec: spec, tasks: map[string]*PlanTask{}}}
	v.run()
	if len(v.problems) > 0 {
		sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
		return nil, invalidSpec(&ValidationError{File: spec.File, Problems: v.problems})
	}
	return v.plan, nil
}

// Load parses and compiles a spec file's contents.
func Load(file string, src []byte, cat Catalog) (*Plan, error) {
	spec, err := Parse(file, src)
	if spec == nil {
		return nil, invalidSpec(err)
	}
	plan, cerr := Compile(spec, cat)
	if err == nil {
		return plan, cerr
	}
	// Report decoding and graph problems together, in line order.
	ve := err.(*ValidationError)
	var more *ValidationError
	if errors.As(cerr, &more) {
		ve.Problems = append(ve.Problems, more.Problems...)
		sort.SliceStable(ve.Problems, func(i, j int) bool { return ve.Problems[i].Line < ve.Problems[j].Line })
	}
	return nil, invalidSpec(ve)
}

func invalidSpec(err error) error {
	return &errs.Error{Kind: errs.Invalid, Message: "invalid pipeline:\n" + err.Error(), Err: err}
}

type validator struct {
	spec     *Spec
	cat      Catalog
	plan     *Plan
	problems []Problem
}

func (v *validator) addf(line int, format string, args ...any) {
	v.problems = append(v.problems, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) run() {
	s := v.spec
	if s.Name == "" {
		v.addf(s.lines["name"], "name is required")
	} else if !nameRE.MatchString(s.Name) || len(s.Name) > 200 {
		v.addf(s.lines["name"], "name %q must start with a letter or _ and hold only letters, digits, _ and - (at most 200)", s.Name)
	}
	if s.Schedule != "" {
		if _, err := ParseSchedule(s.Schedule); err != nil {
			v.addf(s.lines["schedule"], "schedule %q: %v", s.Schedule, err)
		}
	}
	params := map[string]*Param{}
	for _, p := range s.Params {
		params[p.Name] = p
		if !nameRE.MatchString(p.Name) {
			v.addf(p.Line, "param %q: names hold only letters, digits, _ and -", p.Name)
		}
		switch p.Type {
		case String, Int, Float, Bool, List:
		default:
			v.addf(p.Line, "param %q: unknown type %q (expected string, int, float, bool or list)", p.Name, p.Type)
			continue
		}
		if p.Default != nil {
			if _, err := coerce(p.Type, p.Default); err != nil {
				v.addf(p.Line, "param %q: default %v", p.Name, err)
			}
		}
	}
	if len(s.Tasks) == 0 {
		v.addf(s.lines["tasks"], "a pipeline needs at least one task")
	}
	for _, t := range s.Tasks {
		pt := &PlanTask{Task: t}
		v.plan.tasks[t.Name] = pt
	}
	for _, t := range s.Tasks {
		v.task(v.plan.tasks[t.Name])
	}
	cyclic := v.cycles()
	if cyclic {
		return
	}
	v.order()
	for _, pt := range v.plan.Order {
		v.compile(pt, params)
	}
}

func (v *validator) task(pt *PlanTask) {
	t := pt.Task
	if !nameRE.MatchString(t.Name) || len(t.Name) > 100 {
		v.addf(t.Line, "task %q: names start with a letter or _ and hold only letters, digits, _ and - (at most 100)", t.Name)
	}
	switch {
	case t.Uses == "" && t.Run == "":
		v.addf(t.Line, "task %q: give either uses: (a step type) or run: (a shell command)", t.Name)
	case t.Uses != "" && t.Run != "":
		v.addf(t.LineOf("run"), "task %q: give uses: or run:, not both", t.Name)
	case t.Run != "" && t.With != nil:
		v.addf(t.LineOf("with"), "task %q: with: gives inputs to a uses: step; a run: command takes values from templates and env:", t.Name)
	case t.Uses != "":
		st, ok := v.cat.Lookup(t.Uses)
		if !ok {
			v.addf(t.LineOf("uses"), "task %q: unknown step type %q", t.Name, t.Uses)
		} else {
			pt.Step = st
		}
	}
	seen := map[string]bool{}
	for _, n := range t.Needs {
		switch {
		case n == t.Name:
			v.addf(t.LineOf("needs"), "task %q needs itself", t.Name)
		case v.plan.tasks[n] == nil:
			v.addf(t.LineOf("needs"), "task %q needs unknown task %q", t.Name, n)
		case seen[n]:
			v.addf(t.LineOf("needs"), "task %q lists %q in needs twice", t.Name, n)
		}
		seen[n] = true
	}
	if t.Retries.Limit < 0 {
		v.addf(t.LineOf("retries"), "task %q: retries must be 0 or more", t.Name)
	}
	if t.Retries.Factor != 0 && t.Retries.Factor < 1 {
		v.addf(t.LineOf("retries.factor"), "task %q: retries factor must be 1 or more", t.Name)
	}
	if t.Concurrency < 0 {
		v.addf(t.LineOf("concurrency"), "task %q: concurrency must be 0 (no cap) or more", t.Name)
	}
	if t.Concurrency > 0 && t.ForEach == nil {
		v.addf(t.LineOf("concurrency"), "task %q: concurrency caps the items of a for_each, and the task has none", t.Name)
	}
	r := t.Resources
	if r.CPU < 0 || r.Memory < 0 || r.GPU < 0 {
		v.addf(t.LineOf("resources"), "task %q: resources must not be negative", t.Name)
	}
	names := map[string]bool{}
	for _, o := range t.Outputs {
		if !nameRE.MatchString(o) {
			v.addf(t.LineOf("outputs"), "task %q: output %q: names hold only letters, digits, _ and -", t.Name, o)
		}
		if names[o] {
			v.addf(t.LineOf("outputs"), "task %q: output %q is declared twice", t.Name, o)
		}
		names[o] = true
	}
	for _, a := range t.Artifacts {
		if a == "" || strings.HasPrefix(a, "/") || path.Clean(a) != a || strings.HasPrefix(a, "..") || strings.ContainsAny(a, "\\\x00") {
			v.addf(t.LineOf("artifacts"), "task %q: artifact %q must be a relative path inside the output folder", t.Name, a)
		}
	}
}

// cycles reports each cycle once, with its path, and says whether any exist.
func (v *validator) cycles() bool {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	seen := map[string]bool{}
	found := false
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		t := v.plan.tasks[n]
		for _, d := range t.Needs {
			if v.plan.tasks[d] == nil || d == n {
				continue
			}
			switch color[d] {
			case white:
				visit(d)
			case grey:
				i := slices.Index(stack, d)
				cyc := slices.Clone(stack[i:])
				// Name the cycle from its smallest task so each is reported once.
				m := 0
				for j := range cyc {
					if cyc[j] < cyc[m] {
						m = j
					}
				}
				cyc = append(cyc[m:], cyc[:m]...)
				key := strings.Join(cyc, ",")
				if !seen[key] {
					seen[key] = true
					found = true
					// needs point from dependent to dependency: show run order.
					slices.Reverse(cyc)
					cyc = append(cyc, cyc[0])
					v.addf(v.plan.tasks[cyc[0]].LineOf("needs"), "cycle: %s", strings.Join(cyc, " -> "))
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, t := range v.spec.Tasks {
		if color[t.Name] == white {
			visit(t.Name)
		}
	}
	return found
}

// order fills Plan.Order (level, then as written) and each task's ancestors.
func (v *validator) order() {
	index := map[string]int{}
	for i, t := range v.spec.Tasks {
		index[t.Name] = i
	}
	done := map[string]bool{}
	var level func(pt *PlanTask) int
	level = func(pt *PlanTask) int {
		if done[pt.Name] {
			return pt.Level
		}
		pt.Ancestors = map[string]bool{}
		for _, n := range pt.Needs {
			d := v.plan.tasks[n]
			if d == nil {
				continue
			}
			if l := level(d) + 1; l > pt.Level {
				pt.Level = l
			}
			pt.Ancestors[n] = true
			for a := range d.Ancestors {
				pt.Ancestors[a] = true
			}
		}
		done[pt.Name] = true
		return pt.Level
	}
	for _, t := range v.spec.Tasks {
		pt := v.plan.tasks[t.Name]
		level(pt)
		v.plan.Order = append(v.plan.Order, pt)
	}
	sort.SliceStable(v.plan.Order, func(i, j int) bool {
		a, b := v.plan.Order[i], v.plan.Order[j]
		if a.Level != b.Level {
			return a.Level < b.Level
		}
		return index[a.Name] < index[b.Name]
	})
}

// compile parses a task's templates and checks every reference.
func (v *validator) compile(pt *PlanTask, params map[string]*Param) {
	t := pt.Task
	tmpl := func(field, s string) *Template {
		tp, err := ParseTemplate(s)
		if err != nil {
			v.addf(t.LineOf(field), "task %q %s: %v", t.Name, field, err)
			return nil
		}
		v.refs(pt, field, tp.Refs(), params)
		return tp
	}
	if t.Run != "" {
		pt.run = tmpl("run", t.Run)
	}
	dynamic := map[string]bool{}
	if t.With != nil {
		pt.with = v.compileValue(t.With, func(s string) *Template {
			return tmpl("with", s)
		})
		for k, val := range pt.with.(map[string]any) {
			if hasTemplate(val) {
				dynamic[k] = true
			}
		}
	}
	if pt.Step != nil {
		for _, err := range pt.Step.CheckInputs(t.With, dynamic) {
			v.addf(t.LineOf("with"), "task %q (%s): %v", t.Name, t.Uses, err)
		}
	}
	if len(t.Env) > 0 {
		pt.env = map[string]*Template{}
		for k, s := range t.Env {
			if !envNameRE.MatchString(k) {
				v.addf(t.LineOf("env"), "task %q env: %q is not a variable name", t.Name, k)
			}
			pt.env[k] = tmpl("env", s)
		}
	}
	if t.When != "" {
		e, err := whenExpr(t.When)
		if err != nil {
			v.addf(t.LineOf("when"), "task %q when: %v", t.Name, err)
		} else {
			pt.when = e
			v.refs(pt, "when", e.Refs(), params)
		}
	}
	switch fe := t.ForEach.(type) {
	case nil:
	case string:
		tp := tmpl("for_each", fe)
		if tp != nil && !tp.IsDynamic() {
			v.addf(t.LineOf("for_each"), "task %q for_each: expected a list, a map of lists or a ${{ }} reference to a list", t.Name)
		}
		pt.forEach = tp
	case []any:
		if len(fe) == 0 {
			v.addf(t.LineOf("for_each"), "task %q for_each: the list is empty", t.Name)
		}
		pt.forEach = v.compileValue(fe, func(s string) *Template { return tmpl("for_each", s) })
	case map[string]any:
		for k, l := range fe {
			if ll, ok := l.([]any); !ok || len(ll) == 0 {
				v.addf(t.LineOf("for_each"), "task %q for_each.%s: expected a non-empty list", t.Name, k)
			}
		}
		pt.forEach = v.compileValue(fe, func(s string) *Template { return tmpl("for_each", s) })
	default:
		v.addf(t.LineOf("for_each"), "task %q for_each: expected a list, a map of lists or a ${{ }} reference to a list", t.Name)
	}
}

func hasTemplate(v any) bool {
	switch x := v.(type) {
	case *Template:
		return x != nil && x.IsDynamic()
	case []any:
		for _, e := range x {
			if hasTemplate(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasTemplate(e) {
				return true
			}
		}
	}
	return false
}

// compileValue copies a YAML value with each string compiled as a template.
func (v *validator) compileValue(val any, tmpl func(string) *Template) any {
	switch x := val.(type) {
	case string:
		if !strings.Contains(x, "${{") {
			return x
		}
		if t := tmpl(x); t != nil {
			return t
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = v.compileValue(e, tmpl)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = v.compileValue(e, tmpl)
		}
		return out
	}
	return val
}

// refs checks the references of one field of a task.
func (v *validator) refs(pt *PlanTask, field string, refs [][]string, params map[string]*Param) {
	t := pt.Task
	line := t.LineOf(field)
	for _, r := range refs {
		ref := strings.Join(r, ".")
		switch r[0] {
		case "params":
			if len(r) < 2 {
				v.addf(line, "task %q %s: %q needs a parameter name (params.NAME)", t.Name, field, ref)
				continue
			}
			p := params[r[1]]
			if p == nil {
				v.addf(line, "task %q %s: unknown parameter %q", t.Name, field, r[1])
			} else if len(r) > 2 && p.Type != List {
				v.addf(line, "task %q %s: %q indexes parameter %q, which is not a list", t.Name, field, ref, r[1])
			}
		case "item":
			if field == "when" {
				v.addf(line, "task %q when: is decided once for the whole task, so it cannot use %q", t.Name, ref)
			} else if t.ForEach == nil {
				v.addf(line, "task %q %s: %q is only defined in a task with for_each", t.Name, field, ref)
			}
		case "run", "pipeline":
			ok := len(r) == 2 && ((r[0] == "run" && r[1] == "id") || (r[0] == "pipeline" && r[1] == "name"))
			if !ok {
				v.addf(line, "task %q %s: unknown reference %q (expected run.id or pipeline.name)", t.Name, field, ref)
			}
		case "tasks":
			v.taskRef(pt, field, line, r)
		default:
			v.addf(line, "task %q %s: unknown reference %q (expected params.NAME, tasks.TASK.outputs.NAME, tasks.TASK.artifacts[.NAME], item, run.id or pipeline.name)", t.Name, field, ref)
		}
	}
}

func (v *validator) taskRef(pt *PlanTask, field string, line int, r []string) {
	t := pt.Task
	ref := strings.Join(r, ".")
	if len(r) < 3 || (r[2] != "outputs" && r[2] != "artifacts") {
		v.addf(line, "task %q %s: %q: expected tasks.TASK.outputs.NAME or tasks.TASK.artifacts[.NAME]", t.Name, field, ref)
		return
	}
	up := v.plan.tasks[r[1]]
	switch {
	case up == nil:
		v.addf(line, "task %q %s: %q refers to unknown task %q", t.Name, field, ref, r[1])
		return
	case up == pt:
		v.addf(line, "task %q %s: %q refers to the task itself", t.Name, field, ref)
		return
	case !pt.Ancestors[r[1]]:
		v.addf(line, "task %q %s: %q refers to task %q, which it does not need (add it to needs)", t.Name, field, ref, r[1])
		return
	}
	if r[2] == "outputs" {
		if len(r) != 4 {
			v.addf(line, "task %q %s: %q: expected tasks.%s.outputs.NAME", t.Name, field, ref, r[1])
			return
		}
		if !slices.Contains(up.valueOutputs(), r[3]) {
			v.addf(line, "task %q %s: task %q declares no output %q (declared: %s)", t.Name, field, r[1], r[3], listOrNone(up.valueOutputs()))
		}
		return
	}
	if len(r) > 4 {
		v.addf(line, "task %q %s: %q: expected tasks.%s.artifacts or tasks.%s.artifacts.NAME", t.Name, field, ref, r[1], r[1])
		return
	}
	if len(r) == 4 && !slices.Contains(up.artifactNames(), r[3]) {
		v.addf(line, "task %q %s: task %q declares no artifact %q (declared: %s)", t.Name, field, r[1], r[3], listOrNone(up.artifactNames()))
	}
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// coerce converts a value (from YAML, JSON or a -p flag string) to a param type.
func coerce(t ParamType, v any) (any, error) {
	s, isString := v.(string)
	switch t {
	case String:
		switch v.(type) {
		case []any, map[string]any:
			return nil, fmt.Errorf("must be a string, got %s", Render(v))
		}
		return Render(v), nil
	case Int:
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			// A whole number int64 holds: float64(1<<63) is the first it
			// does not (converting it is implementation-defined).
			if x == math.Trunc(x) && x >= math.MinInt64 && x < 1<<63 {
				return int64(x), nil
			}
		}
		if isString {
			if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				return n, nil
			}
		}
		return nil, fmt.Errorf("must be an integer, got %s", quoteValue(v))
	case Float:
		if f, ok := asNumber(v); ok {
			return f, nil
		}
		return nil, fmt.Errorf("must be a number, got %s", quoteValue(v))
	case Bool:
		if b, err := truth(v); err == nil {
			return b, nil
		}
		return nil, fmt.Errorf("must be true or false, got %s", quoteValue(v))
	case List:
		switch x := v.(type) {
		case []any:
			return x, nil
		case string:
			return parseList(x)
		}
		return nil, fmt.Errorf("must be a list, got %s", quoteValue(v))
	}
	return nil, fmt.Errorf("has unknown type %q", t)
}

package spec

import (
	"encoding/json"
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

// MaxShards is the most copies shards: may split a task into.
const MaxShards = 256

// Sharder is implemented by step types that can split their work over
// copies of themselves (shards:): each copy gets JOB_COMPLETION_INDEX
// (0..N-1) and CAIRN_SHARDS=N, and once all have succeeded one more run
// with CAIRN_SHARDS=N and no index merges their parts into the outputs.
type Sharder interface {
	Shardable() bool
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

// ScheduleParser is the parser of ParseSchedule, for a cron.Cron that runs
// the schedules (cron.WithParser).
func ScheduleParser() cron.ScheduleParser { return cronParser }

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
	// Compiled is what the runtime evaluates: the task's fields with their
	// templates compiled.
	Compiled Compiled
}

// Compiled holds a task's fields with their `${{ }}` templates compiled.
type Compiled struct {
	With    any // the `with:` tree with strings compiled to *Template
	Run     *Template
	Env     map[string]*Template
	When    *Expr
	ForEach any // literal list, map of lists, or *Template
}

// Task returns the planned task named name, or nil.
func (p *Plan) Task(name string) *PlanTask { return p.tasks[name] }

// CodeHash identifies what a task runs: its command, or its step ID and version.
func (t *PlanTask) CodeHash() string {
	if t.Step != nil {
		return "step:" + t.Uses + "@" + t.Step.Version()
	}
	if t.Image != "" {
		return "run:" + t.Image + "\n" + t.Run
	}
	return "run:" + t.Run
}

// ValueOutputs returns the value outputs a task declares, its step's included.
func (t *PlanTask) ValueOutputs() []string {
	out := slices.Clone(t.Outputs)
	if t.Step != nil {
		out = append(out, t.Step.Outputs()...)
	}
	return out
}

// ArtifactNames returns the artifacts a task declares, its step's included.
func (t *PlanTask) ArtifactNames() []string {
	out := slices.Clone(t.Artifacts)
	if t.Step != nil {
		out = append(out, t.Step.Artifacts()...)
	}
	return out
}

// Limits bound what one spec may ask for, so that neither validating it nor
// running it takes memory without bound. A zero field takes its
// DefaultLimits value.
type Limits struct {
	// Tasks caps the tasks of one pipeline.
	Tasks int
	// TaskItems caps the for_each items of one task.
	TaskItems int
	// RunItems caps the for_each items of one run, its tasks' together.
	RunItems int
}

// DefaultLimits returns 1,000 tasks a pipeline and 10,000 for_each items a
// task and a run: each item is a task run with its own folder and process.
func DefaultLimits() Limits {
	return Limits{Tasks: 1000, TaskItems: 10000, RunItems: 10000}
}

// WithDefaults returns l with each zero field set to its DefaultLimits value.
func (l Limits) WithDefaults() Limits {
	def := DefaultLimits()
	if l.Tasks <= 0 {
		l.Tasks = def.Tasks
	}
	if l.TaskItems <= 0 {
		l.TaskItems = def.TaskItems
	}
	if l.RunItems <= 0 {
		l.RunItems = def.RunItems
	}
	return l
}

// maxProblems caps the problems an error lists: a spec can hold a mistake
// every few bytes, and the report should not be many times its size.
const maxProblems = 100

// Compile validates spec against the catalog, within DefaultLimits, and
// returns its plan. The error is an errs.Invalid wrapping a
// *ValidationError that lists every problem (the first hundred).
func Compile(spec *Spec, cat Catalog) (*Plan, error) {
	plan, problems := compile(spec, cat, DefaultLimits())
	if len(problems) > 0 {
		return nil, invalidSpec(&ValidationError{File: spec.File, Problems: problems})
	}
	return plan, nil
}

// compile returns spec's plan, or its problems in line order.
func compile(spec *Spec, cat Catalog, lim Limits) (*Plan, []Problem) {
	v := &validator{spec: spec, cat: cat, lim: lim.WithDefaults(), plan: &Plan{Spec: spec, tasks: map[string]*PlanTask{}}}
	v.run()
	if len(v.problems) > 0 {
		sortProblems(v.problems)
		return nil, v.problems
	}
	return v.plan, nil
}

func sortProblems(p []Problem) {
	sort.SliceStable(p, func(i, j int) bool { return p[i].Line < p[j].Line })
}

// Load parses and compiles a spec file's contents within lim (a zero field
// takes its DefaultLimits value). The error is an errs.Invalid wrapping a
// *ValidationError that lists every problem (the first hundred).
func Load(file string, src []byte, cat Catalog, lim Limits) (*Plan, error) {
	spec, err := Parse(file, src)
	if spec == nil {
		return nil, invalidSpec(err)
	}
	plan, problems := compile(spec, cat, lim)
	if err == nil && len(problems) == 0 {
		return plan, nil
	}
	// Report decoding and graph problems together, in line order.
	if err != nil {
		problems = append(err.(*ValidationError).Problems, problems...)
		sortProblems(problems)
	}
	return nil, invalidSpec(&ValidationError{File: spec.File, Problems: problems})
}

func invalidSpec(err error) error {
	var ve *ValidationError
	if errors.As(err, &ve) && len(ve.Problems) > maxProblems {
		more := len(ve.Problems) - maxProblems
		ve.Problems = append(ve.Problems[:maxProblems:maxProblems], Problem{Msg: fmt.Sprintf("and %d more problems", more)})
	}
	return &errs.Error{Kind: errs.Invalid, Message: "invalid pipeline:\n" + err.Error(), Err: err}
}

type validator struct {
	spec     *Spec
	cat      Catalog
	lim      Limits
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
		v.paramEnum(p)
	}
	if len(s.Tasks) == 0 {
		v.addf(s.lines["tasks"], "a pipeline needs at least one task")
	}
	if len(s.Tasks) > v.lim.Tasks {
		v.addf(s.lines["tasks"], "the pipeline has %d tasks, more than the %d a pipeline may have", len(s.Tasks), v.lim.Tasks)
		return
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
	v.fanOut()
}

// fanOut checks the for_each items known before the run (literal lists and
// maps of lists) against the limits; ForEachItems checks at run time those
// a template gives.
func (v *validator) fanOut() {
	total, over := 0, false
	for _, t := range v.spec.Tasks {
		n, known := staticItems(t.ForEach)
		if !known {
			continue
		}
		if n > v.lim.TaskItems {
			v.addf(t.LineOf("for_each"), "task %q for_each: %s items, more than the %d a task may fan out to", t.Name, countText(n), v.lim.TaskItems)
			over = true
		}
		total = addSat(total, n)
	}
	if !over && total > v.lim.RunItems {
		v.addf(v.spec.lines["tasks"], "the for_each tasks have %s items together, more than the %d a run may have", countText(total), v.lim.RunItems)
	}
}

// staticItems returns how many items a for_each written as a list or a map
// of lists has (at most math.MaxInt), or false when a template gives them.
func staticItems(fe any) (int, bool) {
	switch x := fe.(type) {
	case []any:
		return len(x), true
	case map[string]any:
		return mapItems(x, func(v any) (int, bool) {
			l, ok := v.([]any)
			return len(l), ok
		})
	}
	return 0, false
}

// ForEachItems returns the items of a for_each whose templates are
// resolved: a list, a JSON list in a string, or a map of lists (their
// cartesian product, as maps, keys in order). More than limit items is an
// error, counted before a product is built.
func ForEachItems(v any, limit int) ([]any, error) {
	tooMany := func(n int) error {
		return fmt.Errorf("%s items, more than the %d a task may fan out to", countText(n), limit)
	}
	switch l := v.(type) {
	case []any:
		if len(l) > limit {
			return nil, tooMany(len(l))
		}
		return l, nil
	case string:
		var out []any
		if err := json.Unmarshal([]byte(l), &out); err != nil {
			return nil, fmt.Errorf("expected a list, got %q", l)
		}
		if len(out) > limit {
			return nil, tooMany(len(out))
		}
		return NormalizeJSON(out).([]any), nil
	case map[string]any:
		// Count the product before building it.
		n, _ := mapItems(l, func(v any) (int, bool) {
			vals, _ := v.([]any)
			return len(vals), true
		})
		if n > limit {
			return nil, tooMany(n)
		}
		keys := make([]string, 0, len(l))
		for k := range l {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := []any{map[string]any{}}
		for _, k := range keys {
			vals, ok := l[k].([]any)
			if !ok {
				return nil, fmt.Errorf("%s: expected a list", k)
			}
			var next []any
			for _, prev := range out {
				for _, val := range vals {
					m := map[string]any{}
					for pk, pv := range prev.(map[string]any) {
						m[pk] = pv
					}
					m[k] = val
					next = append(next, m)
				}
			}
			out = next
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected a list, got %s", Render(v))
}

// mapItems returns the size of the cartesian product of a map's lists
// without building it, saturating at math.MaxInt; lenOf gives each list's
// length, or false for a value that is not a list.
func mapItems(m map[string]any, lenOf func(any) (int, bool)) (int, bool) {
	n := 1
	for _, v := range m {
		l, ok := lenOf(v)
		if !ok {
			return 0, false
		}
		n = mulSat(n, l)
	}
	return n, true
}

func mulSat(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt/b {
		return math.MaxInt
	}
	return a * b
}

func addSat(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// countText writes a count that may have saturated.
func countText(n int) string {
	if n == math.MaxInt {
		return "more than " + strconv.Itoa(math.MaxInt)
	}
	return strconv.Itoa(n)
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
	case t.Uses != "" && t.Image != "":
		v.addf(t.LineOf("image"), "task %q: image: is for run: commands; a uses: step runs in Cairn's own image", t.Name)
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
	if t.Shards < 0 || t.Shards > MaxShards {
		v.addf(t.LineOf("shards"), "task %q: shards must be from 1 to %d", t.Name, MaxShards)
	} else if t.Shards > 1 {
		if sh, ok := pt.Step.(Sharder); !ok || !sh.Shardable() {
			v.addf(t.LineOf("shards"), "task %q: shards: splits the work of a step that can share it (data.images); %s cannot", t.Name, describeTask(t))
		}
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

// maxCycles caps the cycles reported: a spec whose tasks all need each
// other holds more cycles than anyone reads.
const maxCycles = 10

// maxCycleNames caps the tasks a cycle's message names.
const maxCycleNames = 20

// cycles reports each cycle once, with its path (the first maxCycles), and
// says whether any exist, a task that needs itself included (task reports
// that one). The walk keeps its own stack: a long chain of needs must not
// grow the goroutine's.
func (v *validator) cycles() bool {
	const (
		white = iota
		grey
		black
	)
	type frame struct {
		name string
		next int // index of the next need to follow
	}
	color := map[string]int{}
	depth := map[string]int{} // grey task -> its index on the stack
	var stack []frame
	seen := map[string]bool{}
	found := false
	report := func(from int) {
		cyc := make([]string, 0, len(stack)-from)
		for _, f := range stack[from:] {
			cyc = append(cyc, f.name)
		}
		// Name the cycle from its smallest task so each is reported once.
		m := 0
		for j := range cyc {
			if cyc[j] < cyc[m] {
				m = j
			}
		}
		cyc = append(cyc[m:], cyc[:m]...)
		key := strings.Join(cyc, ",")
		if seen[key] {
			return
		}
		seen[key] = true
		if len(seen) > maxCycles {
			if len(seen) == maxCycles+1 {
				v.addf(0, "more than %d cycles: only the first %d are shown", maxCycles, maxCycles)
			}
			return
		}
		// needs point from dependent to dependency: show run order.
		slices.Reverse(cyc)
		first, path := cyc[0], cyc
		if len(path) > maxCycleNames {
			path = append(path[:maxCycleNames:maxCycleNames], fmt.Sprintf("... (%d tasks in all)", len(cyc)))
		}
		v.addf(v.plan.tasks[first].LineOf("needs"), "cycle: %s -> %s", strings.Join(path, " -> "), first)
	}
	for _, t := range v.spec.Tasks {
		if color[t.Name] != white {
			continue
		}
		color[t.Name], depth[t.Name] = grey, 0
		stack = append(stack[:0], frame{name: t.Name})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			needs := v.plan.tasks[top.name].Needs
			if top.next == len(needs) {
				color[top.name] = black
				stack = stack[:len(stack)-1]
				continue
			}
			d := needs[top.next]
			top.next++
			switch {
			case d == top.name:
				found = true
			case v.plan.tasks[d] == nil:
			case color[d] == white:
				color[d], depth[d] = grey, len(stack)
				stack = append(stack, frame{name: d})
			case color[d] == grey:
				found = true
				report(depth[d])
			}
		}
	}
	return found
}

// order fills Plan.Order (level, then as written) and each task's
// ancestors. It places a task once every task it needs is placed (Kahn's
// algorithm), without recursion; run calls it only on a graph without
// cycles.
func (v *validator) order() {
	index := map[string]int{}
	for i, t := range v.spec.Tasks {
		index[t.Name] = i
	}
	waiting := map[string]int{} // task -> needs not yet placed
	dependents := map[string][]*PlanTask{}
	var ready []*PlanTask
	for _, t := range v.spec.Tasks {
		pt := v.plan.tasks[t.Name]
		pt.Ancestors = map[string]bool{}
		for _, n := range pt.distinctNeeds(v.plan.tasks) {
			waiting[pt.Name]++
			dependents[n] = append(dependents[n], pt)
		}
		if waiting[pt.Name] == 0 {
			ready = append(ready, pt)
		}
	}
	for len(ready) > 0 {
		pt := ready[0]
		ready = ready[1:]
		for _, n := range pt.distinctNeeds(v.plan.tasks) {
			d := v.plan.tasks[n]
			if l := d.Level + 1; l > pt.Level {
				pt.Level = l
			}
			pt.Ancestors[n] = true
			for a := range d.Ancestors {
				pt.Ancestors[a] = true
			}
		}
		v.plan.Order = append(v.plan.Order, pt)
		for _, dep := range dependents[pt.Name] {
			if waiting[dep.Name]--; waiting[dep.Name] == 0 {
				ready = append(ready, dep)
			}
		}
	}
	sort.SliceStable(v.plan.Order, func(i, j int) bool {
		a, b := v.plan.Order[i], v.plan.Order[j]
		if a.Level != b.Level {
			return a.Level < b.Level
		}
		return index[a.Name] < index[b.Name]
	})
}

// distinctNeeds returns the tasks pt needs that exist, each once, itself left out.
func (pt *PlanTask) distinctNeeds(tasks map[string]*PlanTask) []string {
	out := make([]string, 0, len(pt.Needs))
	seen := make(map[string]bool, len(pt.Needs))
	for _, n := range pt.Needs {
		if n != pt.Name && tasks[n] != nil && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
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
		pt.Compiled.Run = tmpl("run", t.Run)
	}
	dynamic := map[string]bool{}
	if t.With != nil {
		pt.Compiled.With = v.compileValue(t.With, func(s string) *Template {
			return tmpl("with", s)
		})
		for k, val := range pt.Compiled.With.(map[string]any) {
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
		pt.Compiled.Env = map[string]*Template{}
		for k, s := range t.Env {
			if !envNameRE.MatchString(k) {
				v.addf(t.LineOf("env"), "task %q env: %q is not a variable name", t.Name, k)
			}
			pt.Compiled.Env[k] = tmpl("env", s)
		}
	}
	if t.When != "" {
		e, err := whenExpr(t.When)
		if err != nil {
			v.addf(t.LineOf("when"), "task %q when: %v", t.Name, err)
		} else {
			pt.Compiled.When = e
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
		pt.Compiled.ForEach = tp
	case []any:
		if len(fe) == 0 {
			v.addf(t.LineOf("for_each"), "task %q for_each: the list is empty", t.Name)
		}
		pt.Compiled.ForEach = v.compileValue(fe, func(s string) *Template { return tmpl("for_each", s) })
	case map[string]any:
		for k, l := range fe {
			if ll, ok := l.([]any); !ok || len(ll) == 0 {
				v.addf(t.LineOf("for_each"), "task %q for_each.%s: expected a non-empty list", t.Name, k)
			}
		}
		pt.Compiled.ForEach = v.compileValue(fe, func(s string) *Template { return tmpl("for_each", s) })
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
		if !slices.Contains(up.ValueOutputs(), r[3]) {
			v.addf(line, "task %q %s: task %q declares no output %q (declared: %s)", t.Name, field, r[1], r[3], listOrNone(up.ValueOutputs()))
		}
		return
	}
	if len(r) > 4 {
		v.addf(line, "task %q %s: %q: expected tasks.%s.artifacts or tasks.%s.artifacts.NAME", t.Name, field, ref, r[1], r[1])
		return
	}
	if len(r) == 4 && !slices.Contains(up.ArtifactNames(), r[3]) {
		v.addf(line, "task %q %s: task %q declares no artifact %q (declared: %s)", t.Name, field, r[1], r[3], listOrNone(up.ArtifactNames()))
	}
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// paramEnum checks a param's enum: scalar values of its type, each once,
// holding the default.
func (v *validator) paramEnum(p *Param) {
	if p.Enum == nil {
		return
	}
	if p.Type == Bool || p.Type == List {
		v.addf(p.Line, "param %q: enum applies to string, int and float params, not %s", p.Name, p.Type)
		return
	}
	var seen []any
	for i, e := range p.Enum {
		c, err := coerce(p.Type, e)
		if err != nil || e == nil {
			v.addf(p.Line, "param %q: enum value %d (%s) is not of type %s", p.Name, i+1, quoteValue(e), p.Type)
			return
		}
		if slices.Contains(seen, c) {
			v.addf(p.Line, "param %q: enum lists %s twice", p.Name, quoteValue(c))
			return
		}
		seen = append(seen, c)
		p.Enum[i] = c
	}
	if p.Default != nil {
		if d, err := coerce(p.Type, p.Default); err == nil && !slices.Contains(seen, d) {
			v.addf(p.Line, "param %q: default %s is not one of its enum %s", p.Name, quoteValue(d), enumList(seen))
		}
	}
}

// enumList renders enum values for a message: "asha", "median", "fifo".
func enumList(vals []any) string {
	parts := make([]string, len(vals))
	for i, x := range vals {
		parts[i] = quoteValue(x)
	}
	return strings.Join(parts, ", ")
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

func describeTask(t *Task) string {
	if t.Uses != "" {
		return "step " + t.Uses
	}
	return "a run: command"
}

package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

var (
	errCancelled = exec.ErrCancelled
	errLostRun   = errors.New("another process took over the run")
)

// execution is one Execute call: the scheduler loop owns its maps; a task
// row belongs to the goroutine running its attempt until the attempt's
// event comes back.
type execution struct {
	e       *Engine
	run     *Run
	plan    *spec.Plan
	rows    map[string]*TaskRun
	items   map[string][]string // for_each task -> its item nodes
	phase   map[string]Phase
	active  map[string]bool // queued, running or waiting to retry
	ready   []string
	running map[string]spec.Resources
	perTask map[string]int
	used    spec.Resources
	gpuFree []bool
	gpus    map[string][]int
	timers  map[string]*time.Timer
	events  chan jobEvent
	retries chan string
	done    chan struct{}
	where   *placement
	// reattach are tasks whose attempt was left running on a remote
	// executor by the last owner: they run the same attempt again, which
	// attaches to it; detached counts attempts this owner left running.
	reattach map[string]bool
	detached int
	token    string // the tasks' tracking credential, when Options.Credentials issues one
	revoke   func() // ends token; finish calls it before the run reads as ended
}

type jobEvent struct {
	node     string
	retryIn  time.Duration
	retry    bool
	detached bool // the attempt runs on remotely without this process
}

func newExecution(e *Engine, run *Run) (*execution, error) {
	x := &execution{e: e, run: run, rows: map[string]*TaskRun{}, items: map[string][]string{}, phase: map[string]Phase{},
		active: map[string]bool{}, running: map[string]spec.Resources{}, perTask: map[string]int{}, gpus: map[string][]int{},
		timers: map[string]*time.Timer{}, events: make(chan jobEvent), retries: make(chan string), done: make(chan struct{}),
		gpuFree: make([]bool, e.opts.Capacity.GPU), reattach: map[string]bool{}}
	for i := range x.gpuFree {
		x.gpuFree[i] = true
	}
	for _, t := range run.Tasks {
		x.rows[t.Node] = t
		x.phase[t.Node] = t.Phase
		if t.Item >= 0 {
			x.items[t.Task] = append(x.items[t.Task], t.Node)
		}
	}
	for task, nodes := range x.items {
		sort.Slice(nodes, func(i, j int) bool { return x.rows[nodes[i]].Item < x.rows[nodes[j]].Item })
		x.items[task] = nodes
	}
	plan, err := e.Load(run.File, []byte(run.Source))
	if err != nil {
		return x, err
	}
	x.plan = plan
	if x.where, err = e.placement(plan); err != nil {
		return x, err
	}
	if x.where.remote {
		x.gpuFree = nil // the cluster gives pods their GPUs
	}
	return x, nil
}

// fail ends a run that cannot execute at all.
func (x *execution) fail(ctx context.Context, cause error) (*Run, error) {
	ctx = context.WithoutCancel(ctx)
	now := time.Now().UTC()
	var changed []*TaskRun
	for _, t := range x.run.Tasks {
		if !t.Phase.Done() {
			t.Phase, t.Message, t.Finished = Omitted, "the run failed: "+errs.MessageOf(cause), now
			changed = append(changed, t)
		}
	}
	msg := errs.MessageOf(cause)
	if msg == "" {
		msg = cause.Error()
	}
	x.run.Phase, x.run.Message, x.run.Owner, x.run.Finished = Failed, msg, "", now
	if err := x.e.store.UpdatePipelineRun(ctx, x.run, changed...); err != nil {
		return x.run, err
	}
	if x.run.TrackingRunID != "" {
		_ = x.e.tracker.SetStatus(ctx, x.run.TrackingRunID, tracking.StatusFailed)
	}
	return x.run, cause
}

func (x *execution) execute(parent context.Context) (*Run, error) {
	e, run := x.e, x.run
	bg := context.WithoutCancel(parent)
	if run.Cancel {
		return x.finish(bg, true)
	}
	now := time.Now().UTC()
	if run.TrackingRunID == "" {
		params := map[string]string{}
		for k, v := range run.Params {
			params[k] = spec.Render(v)
		}
		id, expID, err := e.tracker.StartRun(parent, TrackedRun{Experiment: run.Pipeline, Name: run.Pipeline + "-" + run.ID[:8],
			Params: params, Tags: map[string]string{"cairn.pipeline": run.Pipeline, "cairn.pipelineRun": run.ID, "cairn.trigger": run.Trigger}})
		if err != nil {
			return x.fail(parent, err)
		}
		run.TrackingRunID, run.ExperimentID = id, expID
	}
	if c := e.opts.Credentials; c != nil {
		token, err := c.Issue(parent, run, len(x.plan.CommandTasks()) > 0, len(x.reattach) > 0)
		if err != nil {
			return x.fail(parent, fmt.Errorf("tasks' credential: %w", err))
		}
		x.token = token
		var once sync.Once
		x.revoke = func() {
			once.Do(func() {
				if err := c.Revoke(bg, run.ID); err != nil {
					e.opts.Logger.Warn("revoke the tasks' credential", "run", run.ID, "err", err)
				}
			})
		}
		defer func() {
			// Attempts left running in a cluster hold the token; it ends
			// with the run, whoever finishes it.
			if x.detached == 0 || run.Phase.Done() {
				x.revoke()
			}
		}()
	}
	if run.Started.IsZero() {
		run.Started = now
	}
	run.Phase = Running
	// Tasks that were running when the last owner died run again; their
	// process groups, if any survived, are killed first.
	var resumed []*TaskRun
	for _, t := range run.Tasks {
		if t.Phase == Running && t.Item < 0 && x.items[t.Task] != nil {
			continue // a for_each task whose items are tracked one by one
		}
		if t.Phase == Running && t.PID == 0 && t.Attempts > 0 && x.where.remote {
			// Its attempt may still be running in the cluster: the same
			// attempt runs again, and the executor attaches to it.
			t.Phase, t.Message = Pending, "attaching again to the attempt left running"
			x.phase[t.Node] = Pending
			x.reattach[t.Node] = true
			resumed = append(resumed, t)
			continue
		}
		if t.Phase == Running {
			if t.PID > 0 && !exec.KillGroup(t.PID, t.PIDStart) {
				e.opts.Logger.Info("interrupted task's process is gone or no longer its own; nothing killed",
					"run", run.ID, "task", t.Node, "pid", t.PID)
			}
			t.Phase, t.PID, t.PIDStart, t.Message = Pending, 0, "", "interrupted; running again"
			x.phase[t.Node] = Pending
			resumed = append(resumed, t)
		}
	}
	if err := e.store.UpdatePipelineRun(parent, run, resumed...); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	defer close(x.done)
	go x.heartbeat(ctx, cancel)

	doneCh := ctx.Done()
	for {
		if ctx.Err() == nil {
			x.advance(bg)
			x.launch(ctx)
		}
		if len(x.running) == 0 && len(x.timers) == 0 {
			break
		}
		select {
		case ev := <-x.events:
			x.handle(ev)
		case node := <-x.retries:
			delete(x.timers, node)
			if ctx.Err() == nil {
				x.enqueue(node)
			} else {
				delete(x.active, node)
			}
		case <-doneCh:
			doneCh = nil
			for node, t := range x.timers {
				t.Stop()
				delete(x.timers, node)
				delete(x.active, node)
			}
			x.ready = nil
		}
	}
	cause := context.Cause(ctx)
	if ctx.Err() != nil && !errors.Is(cause, errCancelled) {
		// Interrupted (Ctrl-C, shutdown, lost ownership): leave it to resume.
		run.Owner = ""
		run.Message = "interrupted; resume with: cairn run --resume " + run.ID
		if err := e.store.UpdatePipelineRun(bg, run); err != nil {
			return run, err
		}
		return run, cause
	}
	return x.finish(bg, errors.Is(cause, errCancelled))
}

// heartbeat records that this process owns the run, and cancels the run when
// a cancel is requested or another process took it over.
func (x *execution) heartbeat(ctx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTicker(x.e.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-x.done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			c, err := x.e.store.HeartbeatPipelineRun(ctx, x.run.ID, x.e.opts.Owner, time.Now().UTC())
			switch {
			case c:
				cancel(errCancelled)
			case errs.KindOf(err) == errs.Conflict:
				cancel(errLostRun)
			case err != nil && ctx.Err() == nil:
				x.e.opts.Logger.Warn("pipeline heartbeat failed", "run", x.run.ID, "err", err)
			}
		}
	}
}

// finish marks what did not run, sets the run's final phase and ends its
// tracking run, in one transaction.
func (x *execution) finish(ctx context.Context, cancelled bool) (*Run, error) {
	if x.revoke != nil {
		x.revoke() // whoever sees the run ended may rely on its tasks' token being dead
	}
	now := time.Now().UTC()
	var changed []*TaskRun
	for _, t := range x.run.Tasks {
		if t.Phase.Done() {
			continue
		}
		if t.Item < 0 && x.items[t.Task] != nil && !cancelled {
			continue // aggregated below
		}
		t.Phase, t.Finished, t.PID, t.PIDStart = Omitted, now, 0, ""
		if cancelled {
			t.Message = "cancelled"
		}
		changed = append(changed, t)
	}
	for task := range x.items {
		if p := x.rows[task]; !p.Phase.Done() {
			x.aggregate(task)
			changed = append(changed, p)
		}
	}
	var failed []string
	for _, t := range x.run.Tasks {
		if t.Item < 0 && !t.Phase.satisfies() && t.Phase != Omitted {
			failed = append(failed, t.Node)
		}
	}
	x.run.Phase, x.run.Finished, x.run.Owner = Succeeded, now, ""
	status := tracking.StatusFinished
	switch {
	case cancelled:
		x.run.Phase, x.run.Message, status = Cancelled, "cancelled", tracking.StatusKilled
	case len(failed) > 0:
		x.run.Phase, x.run.Message, status = Failed, "failed: "+strings.Join(failed, ", "), tracking.StatusFailed
	default:
		for _, t := range x.run.Tasks {
			if t.Phase == Omitted || t.Phase == Failed || t.Phase == Cancelled {
				x.run.Phase, status = Failed, tracking.StatusFailed
			}
		}
	}
	if err := x.e.store.UpdatePipelineRun(ctx, x.run, changed...); err != nil {
		return x.run, err
	}
	for _, t := range changed {
		x.notify(t)
	}
	if x.run.TrackingRunID != "" {
		// Runs the tasks started and could not end (a killed sweep's trials)
		// end with the run: none stays RUNNING.
		if err := x.e.tracker.EndDescendants(ctx, x.run.TrackingRunID, tracking.StatusKilled); err != nil {
			x.e.opts.Logger.Warn("end the runs of a pipeline run's tasks", "run", x.run.ID, "err", err)
		}
		if err := x.e.tracker.SetStatus(ctx, x.run.TrackingRunID, status); err != nil {
			return x.run, err
		}
	}
	return x.run, nil
}

func (x *execution) notify(t *TaskRun) {
	if x.e.opts.OnTask != nil {
		x.e.opts.OnTask(x.run.ID, *t)
	}
}

func (x *execution) save(ctx context.Context, t *TaskRun) {
	if err := x.e.store.SaveTaskRuns(ctx, x.run.ID, []*TaskRun{t}); err != nil {
		x.e.opts.Logger.Error("save task run", "run", x.run.ID, "task", t.Node, "err", err)
	}
	x.notify(t)
}

// setPhase changes a row the loop owns and stores it.
func (x *execution) setPhase(ctx context.Context, t *TaskRun, p Phase, msg string) {
	t.Phase, t.Message, t.Finished = p, msg, time.Now().UTC()
	x.phase[t.Node] = p
	x.save(ctx, t)
}

// advance settles every task whose needs have ended: omitted after a failed
// need, skipped when its condition is false, expanded into items, or queued.
func (x *execution) advance(ctx context.Context) {
	for changed := true; changed; {
		changed = false
		for _, pt := range x.plan.Order {
			row := x.rows[pt.Name]
			if row == nil {
				continue
			}
			if nodes, ok := x.items[pt.Name]; ok && x.phase[pt.Name] == Running {
				all := true
				for _, n := range nodes {
					if !x.phase[n].Done() {
						all = false
						if x.phase[n] == Pending && !x.active[n] {
							x.enqueue(n)
						}
					}
				}
				if all {
					x.aggregate(pt.Name)
					x.phase[pt.Name] = row.Phase
					x.save(ctx, row)
					changed = true
				}
				continue
			}
			if x.phase[pt.Name] != Pending || x.active[pt.Name] {
				continue
			}
			blocked, failed := false, ""
			for _, n := range pt.Needs {
				switch p := x.phase[n]; {
				case p == Failed || p == Omitted || p == Cancelled:
					failed = n
				case !p.satisfies():
					blocked = true
				}
			}
			if failed != "" {
				x.setPhase(ctx, row, Omitted, fmt.Sprintf("needs %s, which did not succeed", failed))
				changed = true
				continue
			}
			if blocked {
				continue
			}
			sc := x.scope(pt, nil, false, false)
			if pt.Compiled.When != nil {
				ok, err := pt.Compiled.When.EvalBool(sc)
				if err != nil {
					x.setPhase(ctx, row, Failed, "when: "+err.Error())
					changed = true
					continue
				}
				if !ok {
					x.setPhase(ctx, row, Skipped, "when: "+pt.When+" is false")
					changed = true
					continue
				}
			}
			if pt.Compiled.ForEach == nil {
				x.enqueue(pt.Name)
				continue
			}
			if _, expanded := x.items[pt.Name]; expanded {
				// A retried task keeps its items: Retry reset the ones
				// that did not succeed, and only those run again.
				row.Phase, row.Started, row.Finished = Running, time.Now().UTC(), time.Time{}
				x.phase[pt.Name] = Running
				x.save(ctx, row)
				changed = true
				continue
			}
			if err := x.expand(ctx, pt, sc); err != nil {
				x.setPhase(ctx, row, Failed, "for_each: "+err.Error())
			}
			changed = true
		}
	}
}

// expand creates the item rows of a for_each task and marks it Running.
func (x *execution) expand(ctx context.Context, pt *spec.PlanTask, sc *scope) error {
	list, err := x.items4(pt, sc)
	if err != nil {
		return err
	}
	lim := x.e.opts.Limits
	total := len(list)
	for task, nodes := range x.items {
		if task != pt.Name { // a retried task's items are replaced, not added
			total += len(nodes)
		}
	}
	if total > lim.RunItems {
		return fmt.Errorf("%d items, and the run's for_each tasks would have %d together, more than the %d a run may have", len(list), total, lim.RunItems)
	}
	row := x.rows[pt.Name]
	now := time.Now().UTC()
	row.Phase, row.Started = Running, now
	batch := []*TaskRun{row}
	var nodes []string
	for i, it := range list {
		node := pt.Name + "[" + strconv.Itoa(i) + "]"
		b, _ := json.Marshal(it)
		t := &TaskRun{Node: node, Task: pt.Name, Item: i, ItemValue: string(b), Phase: Pending}
		x.rows[node], x.phase[node] = t, Pending
		x.run.Tasks = append(x.run.Tasks, t)
		nodes = append(nodes, node)
		batch = append(batch, t)
	}
	x.items[pt.Name] = nodes
	x.phase[pt.Name] = Running
	if err := x.e.store.SaveTaskRuns(ctx, x.run.ID, batch); err != nil {
		return err
	}
	for _, t := range batch {
		x.notify(t)
	}
	return nil
}

// items4 resolves a for_each to its items, at most Limits.TaskItems.
func (x *execution) items4(pt *spec.PlanTask, sc *scope) ([]any, error) {
	v, err := spec.EvalValue(pt.Compiled.ForEach, sc)
	if err != nil {
		return nil, err
	}
	return spec.ForEachItems(v, x.e.opts.Limits.TaskItems)
}

// aggregate sets a for_each task's phase and outputs from its items: each
// output becomes a JSON list of the items' values.
func (x *execution) aggregate(task string) {
	row := x.rows[task]
	pt := x.plan.Task(task)
	var failed []string
	h := sha256.New()
	lists := map[string][]string{}
	for _, n := range x.items[task] {
		it := x.rows[n]
		if it.Phase != Succeeded {
			failed = append(failed, strconv.Itoa(it.Item))
		}
		fmt.Fprintf(h, "%s %s\n", n, it.Digest)
		for _, o := range pt.ValueOutputs() {
			lists[o] = append(lists[o], it.Outputs[o])
		}
	}
	row.Outputs = map[string]string{}
	for _, o := range pt.ValueOutputs() {
		b, _ := json.Marshal(append([]string{}, lists[o]...))
		row.Outputs[o] = string(b)
	}
	row.Digest = hex.EncodeToString(h.Sum(nil))
	row.Finished = time.Now().UTC()
	row.Phase, row.Message = Succeeded, ""
	if len(failed) > 0 {
		row.Phase, row.Message = Failed, "items did not succeed: "+strings.Join(failed, ", ")
	}
}

func (x *execution) enqueue(node string) {
	x.active[node] = true
	x.ready = append(x.ready, node)
}

// launch starts queued jobs while their resource requests fit.
func (x *execution) launch(ctx context.Context) {
	c := x.e.opts.Capacity
	for i := 0; i < len(x.ready); {
		node := x.ready[i]
		row := x.rows[node]
		pt := x.plan.Task(row.Task)
		req := x.e.request(pt)
		fits := len(x.running) == 0 ||
			(x.used.CPU+req.CPU <= c.CPU+1e-9 && (c.Memory == 0 || x.used.Memory+req.Memory <= c.Memory) && x.used.GPU+req.GPU <= c.GPU)
		if x.where.remote { // the cluster packs; only a cap on attempts at once
			fits = x.where.maxRunning == 0 || len(x.running) < x.where.maxRunning
		}
		if row.Item >= 0 && pt.Concurrency > 0 && x.perTask[pt.Name] >= pt.Concurrency {
			fits = false
		}
		if !fits {
			i++
			continue
		}
		x.ready = slices.Delete(x.ready, i, i+1)
		x.running[node] = req
		x.perTask[pt.Name]++
		x.used.CPU += req.CPU
		x.used.Memory += req.Memory
		x.used.GPU += req.GPU
		var gpus []int
		for g := 0; g < len(x.gpuFree) && len(gpus) < req.GPU; g++ {
			if x.gpuFree[g] {
				x.gpuFree[g] = false
				gpus = append(gpus, g)
			}
		}
		x.gpus[node] = gpus
		j := &job{x: x, node: node, pt: pt, row: row, gpus: gpus, reattach: x.reattach[node]}
		delete(x.reattach, node)
		j.scope = x.scope(pt, row, false, true)
		j.keyScope = x.scope(pt, row, true, true)
		j.needs = map[string]*upstream{}
		for _, n := range pt.Needs {
			j.needs[n] = j.scope.ups[n]
		}
		go func() {
			ev := jobEvent{node: j.node}
			defer func() { x.events <- ev }()
			defer func() {
				// A bug in one task's attempt fails that task, not the process.
				if p := recover(); p != nil {
					x.e.opts.Logger.Error("panic running a task", "run", x.run.ID, "task", j.node, "panic", p, "stack", string(debug.Stack()))
					j.end(context.WithoutCancel(ctx), Failed, fmt.Sprintf("internal error: %v", p), tracking.StatusFailed)
				}
			}()
			ev = j.run(ctx)
		}()
	}
}

func (x *execution) handle(ev jobEvent) {
	req := x.running[ev.node]
	delete(x.running, ev.node)
	row := x.rows[ev.node]
	x.perTask[row.Task]--
	x.used.CPU -= req.CPU
	x.used.Memory -= req.Memory
	x.used.GPU -= req.GPU
	for _, g := range x.gpus[ev.node] {
		x.gpuFree[g] = true
	}
	delete(x.gpus, ev.node)
	x.phase[ev.node] = row.Phase
	if ev.detached {
		x.detached++
	}
	if ev.retry {
		node := ev.node
		x.timers[node] = time.AfterFunc(ev.retryIn, func() {
			select {
			case x.retries <- node:
			case <-x.done:
			}
		})
		return
	}
	delete(x.active, ev.node)
}

// upstream is what a job sees of a task it depends on.
type upstream struct {
	phase   Phase
	outputs map[string]string
	dir     string
	digest  string
	fanout  bool
	items   []*upstream
	node    string
	runID   string // its tracking run, which holds its files
	// cachedFrom is RUN/NODE of the task that made its files, when it was
	// completed from the cache.
	cachedFrom string
}

// scope resolves references for one task (or item) of a run.
type scope struct {
	run     *Run
	params  spec.Params
	ups     map[string]*upstream
	item    any
	hasItem bool
	forKey  bool // render artifact paths by content digest, for cache keys
}

func (x *execution) view(n string) *upstream {
	r := x.rows[n]
	u := &upstream{phase: x.phase[n], outputs: r.Outputs, dir: r.OutputDir, digest: r.Digest, node: n, runID: r.TrackingRunID,
		cachedFrom: r.CachedFrom}
	if x.where.remote {
		u.dir = x.where.outputsDir(n)
	}
	if nodes, ok := x.items[n]; ok {
		u.fanout = true
		for _, it := range nodes {
			ir := x.rows[it]
			iu := &upstream{phase: ir.Phase, outputs: ir.Outputs, dir: ir.OutputDir, digest: ir.Digest, node: it, runID: ir.TrackingRunID,
				cachedFrom: ir.CachedFrom}
			if x.where.remote {
				iu.dir = x.where.outputsDir(it)
			}
			u.items = append(u.items, iu)
		}
	}
	return u
}

func (x *execution) scope(pt *spec.PlanTask, row *TaskRun, forKey, withItem bool) *scope {
	s := &scope{run: x.run, params: x.run.Params, ups: map[string]*upstream{}, forKey: forKey}
	for a := range pt.Ancestors {
		s.ups[a] = x.view(a)
	}
	if withItem && row != nil && row.Item >= 0 {
		s.hasItem = true
		var v any
		_ = json.Unmarshal([]byte(row.ItemValue), &v)
		s.item = spec.NormalizeJSON(v)
	}
	return s
}

// Lookup implements Scope.
func (s *scope) Lookup(path []string) (any, error) {
	ref := strings.Join(path, ".")
	switch path[0] {
	case "params":
		v, ok := s.params[path[1]]
		if !ok {
			return nil, fmt.Errorf("unknown parameter %q", path[1])
		}
		return descend(v, path[2:], ref)
	case "item":
		if !s.hasItem {
			return nil, fmt.Errorf("%s: no item here", ref)
		}
		return descend(s.item, path[1:], ref)
	case "run":
		return s.run.ID, nil
	case "pipeline":
		return s.run.Pipeline, nil
	case "tasks":
		u := s.ups[path[1]]
		if u == nil {
			return nil, fmt.Errorf("%s: task %q is not upstream", ref, path[1])
		}
		if u.phase == Skipped {
			// As in GitHub Actions, a skipped task's outputs read as empty,
			// so a spec can fall back: "${{ params.data }}${{ tasks.synth.outputs.path }}".
			if path[2] == "outputs" {
				return "", nil
			}
			return nil, fmt.Errorf("%s: task %q was skipped, so it has no artifacts", ref, path[1])
		}
		one := func(u *upstream) (any, error) {
			if path[2] == "outputs" {
				v, ok := u.outputs[path[3]]
				if !ok {
					return nil, fmt.Errorf("%s: task %q wrote no output %q", ref, path[1], path[3])
				}
				return v, nil
			}
			base := u.dir
			if s.forKey {
				base = "artifact:" + u.digest
			}
			if len(path) == 4 {
				return filepath.Join(base, path[3]), nil
			}
			return base, nil
		}
		if !u.fanout || path[2] == "outputs" {
			return one(u)
		}
		out := make([]any, 0, len(u.items))
		for _, it := range u.items {
			v, err := one(it)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown reference %s", ref)
}

func descend(v any, keys []string, ref string) (any, error) {
	for _, k := range keys {
		switch c := v.(type) {
		case map[string]any:
			nv, ok := c[k]
			if !ok {
				return nil, fmt.Errorf("%s: no key %q", ref, k)
			}
			v = nv
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("%s: index %s is out of range (the list has %d items)", ref, k, len(c))
			}
			v = c[i]
		default:
			return nil, fmt.Errorf("%s: cannot index %s with %q", ref, spec.Render(v), k)
		}
	}
	return v, nil
}

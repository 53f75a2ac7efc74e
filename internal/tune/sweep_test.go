package tune_test

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tune"
)

// gridSpec is 4 models x 2 learning rates, with a random dropout, an int
// choice and a randint to check that types survive a snapshot.
func gridSpec() *tune.Spec {
	return &tune.Spec{Metric: "val_accuracy", Mode: tune.Max, Sampler: tune.SamplerSpec{Seed: 11}, Space: tune.Space{
		"model":   {Kind: tune.Grid, Values: []any{"small", "wide", "deep", "residual"}},
		"lr":      {Kind: tune.Grid, Values: []any{0.001, 0.003}},
		"dropout": {Kind: tune.Uniform, Low: 0, High: 0.5},
		"batch":   {Kind: tune.Choice, Values: []any{32, 64}},
		"layers":  {Kind: tune.RandInt, Low: 1, High: 5},
	}}
}

func newSweep(t *testing.T, spec *tune.Spec, capacity tune.Resources) *tune.Sweep {
	t.Helper()
	sw, err := tune.NewSweep(spec, capacity)
	require.NoError(t, err)
	return sw
}

// startAll calls Next until it returns nil and returns the trials started.
func startAll(t *testing.T, sw *tune.Sweep) []*tune.Trial {
	t.Helper()
	var out []*tune.Trial
	for {
		tr, err := sw.Next()
		require.NoError(t, err)
		if tr == nil {
			return out
		}
		require.Equal(t, tune.Running, tr.State)
		out = append(out, tr)
	}
}

func TestPacking(t *testing.T) {
	tests := []struct {
		name       string
		resources  tune.Resources
		capacity   tune.Resources
		maxConc    int
		wantAtOnce int
		wantWhy    string
	}{
		{"cpu", tune.Resources{CPU: 1}, tune.Resources{CPU: 2}, 0, 2, "waiting: needs cpu 1, 0 free"},
		{"default cpu 1", tune.Resources{}, tune.Resources{CPU: 3.5}, 0, 3, "waiting: needs cpu 1, 0.5 free"},
		{"half gpus", tune.Resources{CPU: 1, GPU: 0.5}, tune.Resources{CPU: 8, GPU: 1}, 0, 2, "waiting: needs gpu 0.5, 0 free"},
		{"tenth gpus add up exactly", tune.Resources{CPU: 0.1, GPU: 0.1}, tune.Resources{CPU: 8, GPU: 1}, 0, 10, "waiting: needs gpu 0.1, 0 free"},
		{"tenth gpus", tune.Resources{CPU: 0.1, GPU: 0.1}, tune.Resources{CPU: 8, GPU: 0.7}, 0, 7, "waiting: needs gpu 0.1, 0 free"},
		{"memory", tune.Resources{CPU: 1, Memory: 1 << 30}, tune.Resources{CPU: 8, Memory: 5 << 29}, 0, 2, "waiting: needs memory 1GiB, 512MiB free"},
		{"max_concurrent", tune.Resources{CPU: 1}, tune.Resources{CPU: 8}, 2, 2, "waiting: max_concurrent 2 reached"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := gridSpec()
			spec.Resources, spec.MaxConcurrent, spec.MaxFailures, spec.Samples = tt.resources, tt.maxConc, 1, 2
			sw := newSweep(t, spec, tt.capacity)
			started := startAll(t, sw)
			require.Len(t, started, tt.wantAtOnce)
			p := sw.Progress()
			require.Equal(t, tune.Progress{Running: tt.wantAtOnce, ToCome: 16 - tt.wantAtOnce, Total: 16, Why: tt.wantWhy}, p)

			// A crash puts the trial back in line, waiting for the same reason.
			require.NoError(t, sw.Fail(started[0].ID, "exit status 1"))
			tr, err := sw.Trial(started[0].ID)
			require.NoError(t, err)
			require.Equal(t, tune.Pending, tr.State)
			require.Equal(t, "ready to start", tr.Why)
			again := startAll(t, sw)
			require.Len(t, again, 1)
			require.Equal(t, started[0].ID, again[0].ID, "the retry goes first")
			tr, _ = sw.Trial(started[0].ID)
			require.Equal(t, 2, tr.Attempts)

			// Finishing one frees its slot for the next configuration.
			require.NoError(t, sw.Finish(started[1].ID, map[string]float64{"val_accuracy": 0.5}))
			next := startAll(t, sw)
			require.Len(t, next, 1)
			require.Equal(t, fmt.Sprintf("t%03d", tt.wantAtOnce), next[0].ID)
		})
	}
}

func TestPendingWhy(t *testing.T) {
	spec := gridSpec()
	spec.MaxConcurrent, spec.MaxFailures = 2, 3
	sw := newSweep(t, spec, tune.Resources{CPU: 4})
	started := startAll(t, sw)
	require.Len(t, started, 2)
	require.NoError(t, sw.Fail("t000", "killed"))
	tr, _ := sw.Trial("t000")
	require.Equal(t, tune.Pending, tr.State)
	require.Equal(t, "attempt 1 failed (retry 1 of 3): killed", tr.Reason)
	require.Equal(t, "ready to start", tr.Why, "a slot is free")

	// Restored with one slot, the two trials that were running wait in line.
	snap, err := sw.Snapshot()
	require.NoError(t, err)
	spec.MaxConcurrent = 1
	r, err := tune.RestoreSweep(spec, tune.Resources{CPU: 4}, snap)
	require.NoError(t, err)
	first := startAll(t, r)
	require.Len(t, first, 1)
	require.Equal(t, "t000", first[0].ID)
	require.Equal(t, 2, first[0].Attempts)
	waiting, _ := r.Trial("t001")
	require.Equal(t, tune.Pending, waiting.State)
	require.Equal(t, "waiting: max_concurrent 1 reached", waiting.Why)
	require.Equal(t, "it was running when the sweep was interrupted", waiting.Reason)
	require.Equal(t, tune.Progress{Pending: 1, Running: 1, ToCome: 6, Total: 8, Why: "waiting: max_concurrent 1 reached"}, r.Progress())
}

func TestCapacityTooSmallIsInvalid(t *testing.T) {
	tests := []struct {
		name     string
		need     tune.Resources
		capacity tune.Resources
		want     string
	}{
		{"gpu", tune.Resources{CPU: 1, GPU: 0.5}, tune.Resources{CPU: 4}, "resources.gpu: a trial needs gpu 0.5 but the capacity has 0: no trial could start"},
		{"cpu", tune.Resources{CPU: 4}, tune.Resources{CPU: 2}, "resources.cpu: a trial needs cpu 4 but the capacity has 2"},
		{"memory", tune.Resources{Memory: 2 << 30}, tune.Resources{CPU: 1, Memory: 1 << 30}, "a trial needs memory 2GiB but the capacity has 1GiB"},
		{"negative capacity", tune.Resources{}, tune.Resources{CPU: -1}, "capacity.cpu: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := gridSpec()
			spec.Resources = tt.need
			_, err := tune.NewSweep(spec, tt.capacity)
			require.Equal(t, errs.Invalid, errs.KindOf(err))
			require.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := tune.NewSweep(&tune.Spec{}, tune.Resources{CPU: 1})
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	_, err = tune.NewSweep(nil, tune.Resources{CPU: 1})
	require.Equal(t, errs.Invalid, errs.KindOf(err))
}

func TestRetriesUpToTheLimitThenFailed(t *testing.T) {
	spec := &tune.Spec{Metric: "loss", Mode: tune.Min, MaxFailures: 2, Space: tune.Space{"x": {Kind: tune.Const, Value: 1}}}
	sw := newSweep(t, spec, tune.Resources{CPU: 1})
	for attempt := 1; attempt <= 3; attempt++ {
		tr, err := sw.Next()
		require.NoError(t, err)
		require.Equal(t, "t000", tr.ID)
		require.Equal(t, attempt, tr.Attempts)
		_, err = sw.Report(tr.ID, 1, map[string]float64{"loss": 0.1})
		require.NoError(t, err)
		require.False(t, sw.Done())
		require.NoError(t, sw.Fail(tr.ID, "segfault"))
	}
	tr, _ := sw.Trial("t000")
	require.Equal(t, tune.Failed, tr.State)
	require.Equal(t, 3, tr.Failures, "the third failure is past max_failures 2")
	require.Equal(t, "failed 3 attempts, the last: segfault", tr.Reason)
	require.True(t, sw.Done())
	_, ok := sw.Best()
	require.False(t, ok, "a failed trial's value does not count")
	next, err := sw.Next()
	require.NoError(t, err)
	require.Nil(t, next)
}

func TestBest(t *testing.T) {
	tests := []struct {
		mode tune.Mode
		want string
	}{
		{tune.Max, "t002"}, // t001 reported 0.9 but failed; t002 was stopped after 0.8
		{tune.Min, "t000"},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			spec := &tune.Spec{Metric: "m", Mode: tt.mode, Samples: 4, Sampler: tune.SamplerSpec{Type: tune.RandomSampler},
				Space: tune.Space{"x": {Kind: tune.Uniform, Low: 0, High: 1}}}
			sw := newSweep(t, spec, tune.Resources{CPU: 4})
			trs := startAll(t, sw)
			require.Len(t, trs, 4)
			report := func(id string, step int, v float64) tune.Decision {
				d, err := sw.Report(id, step, map[string]float64{"m": v, "other": 1})
				require.NoError(t, err)
				return d
			}
			report("t000", 1, 0.5)
			require.NoError(t, sw.Finish("t000", nil))
			report("t001", 1, 0.9)
			require.NoError(t, sw.Fail("t001", "crash"))
			report("t002", 1, 0.8)
			d := report("t002", 2, math.NaN())
			require.Equal(t, tune.Decision{Stop: true, Reason: "m is NaN at step 2"}, d)
			report("t003", 1, 0.6)
			require.NoError(t, sw.Finish("t003", map[string]float64{"m": 0.55}))

			best, ok := sw.Best()
			require.True(t, ok)
			require.Equal(t, tt.want, best.ID)
			tr, _ := sw.Trial("t002")
			require.Equal(t, tune.Stopped, tr.State)
			require.Equal(t, 0.8, tr.Value)
			tr, _ = sw.Trial("t003")
			want := 0.6
			if tt.mode == tune.Min {
				want = 0.55
			}
			require.Equal(t, want, tr.Value, "Value is the best of the curve and the final metric")
			require.Equal(t, map[string]float64{"m": 0.55, "other": 1}, tr.Metrics)
			require.True(t, sw.Done())
		})
	}
}

func TestReportFinishFailErrors(t *testing.T) {
	spec := &tune.Spec{Metric: "m", Mode: tune.Max, Samples: 3, MaxFailures: 1, Sampler: tune.SamplerSpec{Type: tune.RandomSampler},
		Scheduler: tune.SchedulerSpec{Type: "asha", MaxT: 5, GracePeriod: 1, ReductionFactor: 2},
		Space:     tune.Space{"x": {Kind: tune.Uniform, Low: 0, High: 1}}}
	sw := newSweep(t, spec, tune.Resources{CPU: 2})
	trs := startAll(t, sw)
	require.Len(t, trs, 2)

	_, err := sw.Report("t999", 1, nil)
	require.Equal(t, errs.NotFound, errs.KindOf(err))
	require.Equal(t, errs.NotFound, errs.KindOf(sw.Finish("t999", nil)))
	require.Equal(t, errs.NotFound, errs.KindOf(sw.Fail("t999", "")))
	_, err = sw.Report("t000", -1, map[string]float64{"m": 1})
	require.Equal(t, errs.Invalid, errs.KindOf(err))

	d, err := sw.Report("t000", 1, map[string]float64{"loss": 3})
	require.NoError(t, err)
	require.Equal(t, tune.Decision{}, d, "a report without the metric goes on")

	// ASHA stops t001 at rung 1; a late report gets the same answer.
	_, err = sw.Report("t000", 1, map[string]float64{"m": 0.9})
	require.NoError(t, err)
	d, err = sw.Report("t001", 1, map[string]float64{"m": 0.1})
	require.NoError(t, err)
	require.True(t, d.Stop)
	late, err := sw.Report("t001", 2, map[string]float64{"m": 0.2})
	require.NoError(t, err)
	require.Equal(t, d, late)
	require.NoError(t, sw.Fail("t001", "killed"), "failing a stopped trial changes nothing")
	require.NoError(t, sw.Finish("t001", map[string]float64{"m": 0.15}))
	tr, _ := sw.Trial("t001")
	require.Equal(t, tune.Stopped, tr.State)

	// A failed attempt is Pending: it cannot report, finish or fail.
	require.NoError(t, sw.Fail("t000", "oom"))
	_, err = sw.Report("t000", 2, map[string]float64{"m": 1})
	require.Equal(t, errs.Conflict, errs.KindOf(err))
	require.Equal(t, errs.Conflict, errs.KindOf(sw.Finish("t000", nil)))
	require.Equal(t, errs.Conflict, errs.KindOf(sw.Fail("t000", "again")))

	// At max_t ASHA completes the trial: Succeeded, and Finish still records.
	again := startAll(t, sw)
	require.Equal(t, "t000", again[0].ID)
	for step := 1; step <= 5; step++ {
		d, err = sw.Report("t000", step, map[string]float64{"m": 0.9 + float64(step)/100})
		require.NoError(t, err)
	}
	require.Equal(t, tune.Decision{Stop: true, Complete: true, Reason: "reached max_t 5"}, d)
	require.NoError(t, sw.Finish("t000", map[string]float64{"m": 0.99}))
	tr, _ = sw.Trial("t000")
	require.Equal(t, tune.Succeeded, tr.State)
	require.Equal(t, 0.99, tr.Value)
	require.Len(t, tr.Curve, 5, "the restarted attempt replaced the first one's curve")
}

// accuracy is the synthetic quality of a configuration: wide with lr 0.003
// is best, and every model learns over the steps.
func accuracy(p tune.Params, step int) float64 {
	base := map[any]float64{"small": 0.70, "wide": 0.86, "deep": 0.80, "residual": 0.83}[p["model"]]
	if p["lr"] == 0.001 {
		base -= 0.05
	}
	noise := 0.002 * math.Sin(float64(step)*7+float64(len(p.String())))
	return base*(1-math.Exp(-float64(step)/2)) + noise
}

// driver plays the executor: it starts what Next gives, advances every
// running trial one step per tick, and finishes trials at maxSteps.
type driver struct {
	t        *testing.T
	sw       *tune.Sweep
	maxSteps int
	steps    map[string]int
	running  []string
	started  []string // IDs in the order Next returned them
	total    int
}

func newDriver(t *testing.T, sw *tune.Sweep, maxSteps int) *driver {
	return &driver{t: t, sw: sw, maxSteps: maxSteps, steps: map[string]int{}}
}

func (d *driver) tick() {
	t := d.t
	for _, tr := range startAll(t, d.sw) {
		d.running = append(d.running, tr.ID)
		d.started = append(d.started, tr.ID)
		d.steps[tr.ID] = 0
	}
	if len(d.running) == 0 {
		require.True(t, d.sw.Done(), "with nothing running, Next must start a trial unless the sweep is done")
		return
	}
	var still []string
	for _, id := range d.running {
		d.steps[id]++
		d.total++
		tr, err := d.sw.Trial(id)
		require.NoError(t, err)
		dec, err := d.sw.Report(id, d.steps[id], map[string]float64{"val_accuracy": accuracy(tr.Params, d.steps[id])})
		require.NoError(t, err)
		switch {
		case dec.Stop:
		case d.steps[id] >= d.maxSteps:
			require.NoError(t, d.sw.Finish(id, nil))
		default:
			still = append(still, id)
		}
	}
	d.running = still
}

func (d *driver) run() {
	for i := 0; !d.sw.Done(); i++ {
		d.tick()
		require.Less(d.t, i, 10000, "the sweep never ends")
	}
}

func TestEndToEndGridWithASHA(t *testing.T) {
	spec, err := tune.ParseSpec([]byte(`
metric: val_accuracy
mode: max
max_concurrent: 2
resources: {cpu: 1}
scheduler: {type: asha, max_t: 9, grace_period: 1, reduction_factor: 3}
space:
  model: {grid: [small, wide, deep, residual]}
  lr: {grid: [0.001, 0.003]}
`))
	require.NoError(t, err)
	sw := newSweep(t, spec, tune.Resources{CPU: 4})
	d := newDriver(t, sw, 100)
	d.run()

	trials := sw.Trials()
	require.Len(t, trials, 8)
	stopped := 0
	for _, tr := range trials {
		require.Contains(t, []tune.State{tune.Succeeded, tune.Stopped}, tr.State)
		if tr.State == tune.Stopped {
			stopped++
			require.Contains(t, tr.Reason, "ASHA rung")
		}
	}
	best, ok := sw.Best()
	require.True(t, ok)
	require.Equal(t, tune.Params{"model": "wide", "lr": 0.003}, best.Params)
	require.Equal(t, tune.Succeeded, best.State, "the best configuration is never stopped")
	require.Equal(t, "reached max_t 9", best.Reason)
	require.GreaterOrEqual(t, stopped, 3)
	require.LessOrEqual(t, d.total, 8*9*3/4, "ASHA saves steps (measured: 50 of 72)")
	t.Logf("%d trials stopped early; %d steps, FIFO would run %d", stopped, d.total, 8*9)
}

// TestResumeGrid kills a sweep mid-way, restores it from a snapshot and
// checks it ends with the configurations of an uninterrupted run, never
// running a finished trial again.
func TestResumeGrid(t *testing.T) {
	spec := func() *tune.Spec {
		s := gridSpec()
		s.Samples, s.MaxConcurrent = 2, 3
		return s
	}
	whole := newSweep(t, spec(), tune.Resources{CPU: 8})
	newDriver(t, whole, 4).run()
	want := map[string]tune.Params{}
	for _, tr := range whole.Trials() {
		want[tr.ID] = tr.Params
	}
	require.Len(t, want, 16)

	sw := newSweep(t, spec(), tune.Resources{CPU: 8})
	d := newDriver(t, sw, 4)
	for i := 0; i < 9; i++ {
		d.tick()
	}
	before := sw.Trials()
	snap, err := sw.Snapshot()
	require.NoError(t, err)
	// The process dies here.

	restored, err := tune.RestoreSweep(spec(), tune.Resources{CPU: 8}, snap)
	require.NoError(t, err)
	after := restored.Trials()
	require.Len(t, after, len(before))
	finished := map[string]bool{}
	running := 0
	for i, b := range before {
		a := after[i]
		require.Equal(t, b.ID, a.ID)
		require.Equal(t, b.Params, a.Params, "types survive the snapshot: ints stay ints")
		switch b.State {
		case tune.Running:
			running++
			require.Equal(t, tune.Pending, a.State)
			require.Equal(t, "ready to start", a.Why)
		default:
			finished[b.ID] = true
			require.Equal(t, b, a)
		}
	}
	require.Positive(t, running)
	require.NotEmpty(t, finished)

	d2 := newDriver(t, restored, 4)
	d2.run()
	for _, id := range d2.started {
		require.False(t, finished[id], "finished trial %s ran again", id)
	}
	got := map[string]tune.Params{}
	for _, tr := range restored.Trials() {
		got[tr.ID] = tr.Params
		require.Contains(t, []tune.State{tune.Succeeded}, tr.State)
	}
	require.Equal(t, want, got)
}

// TestResumeTPE checks that TPE, fed the same history, carries on with the
// suggestions an uninterrupted sequential sweep makes.
func TestResumeTPE(t *testing.T) {
	spec := func() *tune.Spec {
		return &tune.Spec{Metric: "val_accuracy", Mode: tune.Max, Samples: 12, MaxConcurrent: 1,
			Sampler: tune.SamplerSpec{Type: tune.TPESampler, Seed: 4, Startup: 3},
			Space: tune.Space{
				"model": {Kind: tune.Choice, Values: []any{"small", "wide", "deep", "residual"}},
				"lr":    {Kind: tune.Choice, Values: []any{0.001, 0.003}},
			}}
	}
	whole := newSweep(t, spec(), tune.Resources{CPU: 1})
	newDriver(t, whole, 3).run()

	sw := newSweep(t, spec(), tune.Resources{CPU: 1})
	d := newDriver(t, sw, 3)
	for i := 0; i < 17; i++ {
		d.tick()
	}
	snap, err := sw.Snapshot()
	require.NoError(t, err)
	restored, err := tune.RestoreSweep(spec(), tune.Resources{CPU: 1}, snap)
	require.NoError(t, err)
	newDriver(t, restored, 3).run()
	want, got := whole.Trials(), restored.Trials()
	require.Len(t, got, len(want))
	resumed := 0
	for i := range want {
		require.Equal(t, want[i].ID, got[i].ID)
		require.Equal(t, want[i].Params, got[i].Params, "trial %s", want[i].ID)
		require.Equal(t, want[i].State, got[i].State)
		require.Equal(t, want[i].Curve, got[i].Curve)
		if got[i].Attempts == 2 {
			resumed++ // it was running at the snapshot and started over
		}
	}
	require.Equal(t, 1, resumed)
}

func TestRestoreRefusesAnotherSpecOrABadSnapshot(t *testing.T) {
	sw := newSweep(t, gridSpec(), tune.Resources{CPU: 2})
	startAll(t, sw)
	snap, err := sw.Snapshot()
	require.NoError(t, err)

	other := gridSpec()
	other.Space["lr"] = tune.Param{Kind: tune.Grid, Values: []any{0.01, 0.03}}
	_, err = tune.RestoreSweep(other, tune.Resources{CPU: 2}, snap)
	require.Equal(t, errs.Conflict, errs.KindOf(err))

	more := gridSpec()
	more.Samples, more.MaxConcurrent = 3, 1 // allowed: more repeats, less concurrency
	r, err := tune.RestoreSweep(more, tune.Resources{CPU: 2}, snap)
	require.NoError(t, err)
	require.Equal(t, 24, r.Progress().Total)

	tampered := strings.Replace(string(snap), `"model":"small"`, `"model":"huge"`, 1)
	_, err = tune.RestoreSweep(gridSpec(), tune.Resources{CPU: 2}, []byte(tampered))
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.ErrorContains(t, err, `trial t000: parameter "model": huge is not one of [small wide deep residual]`)
	tampered = strings.Replace(string(snap), `"layers":`, `"layers":9,"was_layers":`, 1)
	_, err = tune.RestoreSweep(gridSpec(), tune.Resources{CPU: 2}, []byte(tampered))
	require.ErrorContains(t, err, `trial t000: parameter "layers": 9 is out of the randint range [1, 5]`)

	_, err = tune.RestoreSweep(gridSpec(), tune.Resources{CPU: 2}, []byte("{not json"))
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	_, err = tune.RestoreSweep(gridSpec(), tune.Resources{CPU: 2}, []byte(`{"version":2}`))
	require.Equal(t, errs.Invalid, errs.KindOf(err))
}

// TestConcurrentUse runs trials from several goroutines at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	spec := &tune.Spec{Metric: "m", Mode: tune.Max, Samples: 40, MaxFailures: 1,
		Sampler:   tune.SamplerSpec{Type: tune.TPESampler, Seed: 2, Startup: 5},
		Scheduler: tune.SchedulerSpec{Type: "median", GracePeriod: 2, MinSamples: 2},
		Space:     tune.Space{"x": {Kind: tune.Uniform, Low: 0, High: 1}}}
	sw := newSweep(t, spec, tune.Resources{CPU: 4})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !sw.Done() {
				tr, err := sw.Next()
				if err != nil || tr == nil {
					runtime.Gosched()
					continue
				}
				x := tr.Params["x"].(float64)
				stopped := false
				for step := 1; step <= 5 && !stopped; step++ {
					d, _ := sw.Report(tr.ID, step, map[string]float64{"m": x * float64(step)})
					stopped = d.Stop
					_ = sw.Trials()
					_ = sw.Progress()
				}
				if !stopped && tr.ID == "t007" && tr.Attempts == 1 {
					_ = sw.Fail(tr.ID, "flaky")
					continue
				}
				_ = sw.Finish(tr.ID, nil)
			}
		}()
	}
	wg.Wait()
	trials := sw.Trials()
	require.Len(t, trials, 40)
	for _, tr := range trials {
		require.Contains(t, []tune.State{tune.Succeeded, tune.Stopped}, tr.State)
	}
	_, ok := sw.Best()
	require.True(t, ok)
}

package tune

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Decision is a scheduler's answer to a report.
type Decision struct {
	// Stop tells the executor to end the trial now.
	Stop bool
	// Complete, set only with Stop, means the trial has used its whole budget
	// (ASHA's max_t): it ends as Succeeded, not as early-Stopped.
	Complete bool
	// Reason is a sentence for people, e.g. "ASHA rung 2 (step 3):
	// val_accuracy 0.41 is below 0.62, the top-1/3 cutoff of 5 trials".
	Reason string
}

// Scheduler decides, from intermediate results, whether trials go on.
type Scheduler interface {
	// Report records the metric's value for a trial at a step (an epoch, an
	// iteration: any count that grows) and says whether the trial should stop.
	// A report at a step at or before the trial's last one starts its curve
	// again from that step: the trial was restarted.
	Report(trialID string, step int, value float64) Decision
}

// NewScheduler returns the scheduler the spec names, with its defaults.
// Errors: Invalid (the spec does not validate).
func NewScheduler(spec *Spec) (Scheduler, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	s := spec.WithDefaults()
	sc := s.Scheduler
	switch sc.Type {
	case ASHAScheduler:
		return newASHA(s.Metric, s.Mode, sc), nil
	case MedianScheduler:
		return &median{metric: s.Metric, mode: s.Mode, grace: sc.GracePeriod, minSamples: sc.MinSamples,
			curves: map[string][]Point{}}, nil
	}
	return fifo{}, nil
}

// fifo never stops a trial.
type fifo struct{}

func (fifo) Report(string, int, float64) Decision { return Decision{} }

// num formats a metric value for a reason.
func num(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// asha is asynchronous successive halving (Li et al., "A System for
// Massively Parallel Hyperparameter Tuning", 2018), one bracket, as Ray
// Tune's AsyncHyperBandScheduler: rungs at grace*rf^k below max_t. When a
// trial first reaches a rung its value is compared with the values recorded
// there so far: below their (1-1/rf) quantile, it stops; either way its
// value is recorded. The first trial at a rung always goes on, and a trial
// at max_t is complete.
type asha struct {
	metric string
	mode   Mode
	maxT   int
	rf     float64
	rungs  []*rung // by milestone, ascending
	last   map[string]int
}

type rung struct {
	milestone float64
	recorded  map[string]float64 // trial -> value, higher is better
}

func newASHA(metric string, mode Mode, sc SchedulerSpec) *asha {
	a := &asha{metric: metric, mode: mode, maxT: sc.MaxT, rf: sc.ReductionFactor, last: map[string]int{}}
	for m := float64(sc.GracePeriod); m < float64(sc.MaxT); m *= sc.ReductionFactor {
		a.rungs = append(a.rungs, &rung{milestone: m, recorded: map[string]float64{}})
	}
	return a
}

func (a *asha) Report(id string, step int, value float64) Decision {
	if last, ok := a.last[id]; ok && step <= last {
		for _, r := range a.rungs {
			if r.milestone >= float64(step) {
				delete(r.recorded, id)
			}
		}
	}
	a.last[id] = step
	if step >= a.maxT {
		return Decision{Stop: true, Complete: true, Reason: fmt.Sprintf("reached max_t %d", a.maxT)}
	}
	v := a.mode.orient(value)
	for i := len(a.rungs) - 1; i >= 0; i-- {
		r := a.rungs[i]
		if float64(step) < r.milestone {
			continue
		}
		if _, done := r.recorded[id]; done {
			break
		}
		values := make([]float64, 0, len(r.recorded))
		for _, x := range r.recorded {
			values = append(values, x)
		}
		r.recorded[id] = v
		if len(values) == 0 {
			break
		}
		cutoff := percentile(values, (1-1/a.rf)*100)
		if v < cutoff {
			side := "below"
			if a.mode == Min {
				side = "above"
			}
			return Decision{Stop: true, Reason: fmt.Sprintf("ASHA rung %d (step %g): %s %s is %s %s, the top-1/%g cutoff of %d trials",
				i+1, r.milestone, a.metric, num(value), side, num(a.mode.orient(cutoff)), a.rf, len(values))}
		}
		break
	}
	return Decision{}
}

// percentile interpolates linearly between the closest ranks, as numpy does.
func percentile(values []float64, p float64) float64 {
	xs := append([]float64(nil), values...)
	sort.Float64s(xs)
	pos := p / 100 * float64(len(xs)-1)
	lo, hi := int(math.Floor(pos)), int(math.Ceil(pos))
	return xs[lo] + (xs[hi]-xs[lo])*(pos-float64(lo))
}

// median is the median stopping rule (Golovin et al., "Google Vizier",
// 2017), as Ray Tune's MedianStoppingRule: from the grace period on, a
// trial stops at step t when its best value so far is worse than the median
// of the running averages (over steps grace..t) of the other trials that
// reached t, once at least min_samples of them have.
type median struct {
	metric     string
	mode       Mode
	grace      int
	minSamples int
	curves     map[string][]Point // values oriented, higher is better
}

func (m *median) Report(id string, step int, value float64) Decision {
	c := m.curves[id]
	for len(c) > 0 && c[len(c)-1].Step >= step {
		c = c[:len(c)-1]
	}
	c = append(c, Point{Step: step, Value: m.mode.orient(value)})
	m.curves[id] = c
	if step < m.grace {
		return Decision{}
	}
	best := math.Inf(-1)
	for _, p := range c {
		best = math.Max(best, p.Value)
	}
	var means []float64
	for other, oc := range m.curves {
		if other == id || len(oc) == 0 || oc[len(oc)-1].Step < step {
			continue
		}
		sum, n := 0.0, 0
		for _, p := range oc {
			if p.Step >= m.grace && p.Step <= step {
				sum += p.Value
				n++
			}
		}
		if n > 0 {
			means = append(means, sum/float64(n))
		}
	}
	if len(means) < max(1, m.minSamples) {
		return Decision{}
	}
	med := percentile(means, 50)
	if best < med {
		side := "below"
		if m.mode == Min {
			side = "above"
		}
		return Decision{Stop: true, Reason: fmt.Sprintf("median stopping at step %d: best %s %s is %s %s, the median running average of %d other trials",
			step, m.metric, num(m.mode.orient(best)), side, num(m.mode.orient(med)), len(means))}
	}
	return Decision{}
}

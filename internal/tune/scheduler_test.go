package tune_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/tune"
)

func scheduler(t *testing.T, mode tune.Mode, sc tune.SchedulerSpec) tune.Scheduler {
	t.Helper()
	s, err := tune.NewScheduler(&tune.Spec{Metric: "val_accuracy", Mode: mode, Scheduler: sc, Space: tune.Space{"x": {Kind: tune.Const, Value: 1}}})
	require.NoError(t, err)
	return s
}

func TestFIFONeverStops(t *testing.T) {
	s := scheduler(t, tune.Max, tune.SchedulerSpec{})
	for step := 1; step < 1000; step++ {
		require.Equal(t, tune.Decision{}, s.Report("t000", step, -float64(step)))
	}
}

func TestASHADecisions(t *testing.T) {
	// Rungs at 1, 3, 9; max_t 10; the top third goes on.
	s := scheduler(t, tune.Max, tune.SchedulerSpec{Type: "asha", MaxT: 10, GracePeriod: 1, ReductionFactor: 3})
	require.False(t, s.Report("t000", 1, 0.50).Stop, "the first trial at a rung always goes on")
	require.False(t, s.Report("t001", 1, 0.60).Stop, "better than the cutoff")
	require.False(t, s.Report("t001", 2, 0.10).Stop, "no rung at step 2")
	d := s.Report("t002", 1, 0.52)
	require.True(t, d.Stop, "0.52 is below the 2/3 quantile of 0.50 and 0.60")
	require.Equal(t, "ASHA rung 1 (step 1): val_accuracy 0.52 is below 0.5667, the top-1/3 cutoff of 2 trials", d.Reason)
	require.False(t, d.Complete)
	require.False(t, s.Report("t000", 3, 0.7).Stop)
	require.False(t, s.Report("t000", 9, 0.8).Stop)
	require.Equal(t, tune.Decision{Stop: true, Complete: true, Reason: "reached max_t 10"}, s.Report("t000", 10, 0.8))

	// A trial that jumps past rungs is judged at the highest it passed.
	require.True(t, s.Report("t001", 9, 0.5).Stop)
}

func TestASHAMinMode(t *testing.T) {
	s := scheduler(t, tune.Min, tune.SchedulerSpec{Type: "asha", MaxT: 10, GracePeriod: 1, ReductionFactor: 2})
	require.False(t, s.Report("a", 1, 1.0).Stop)
	require.False(t, s.Report("b", 1, 0.5).Stop, "a lower loss goes on")
	d := s.Report("c", 1, 2.0)
	require.True(t, d.Stop)
	require.Equal(t, "ASHA rung 1 (step 1): val_accuracy 2 is above 0.75, the top-1/2 cutoff of 2 trials", d.Reason)
}

func TestASHARestartedTrialIsJudgedAgain(t *testing.T) {
	s := scheduler(t, tune.Max, tune.SchedulerSpec{Type: "asha", MaxT: 10, GracePeriod: 1, ReductionFactor: 2})
	require.False(t, s.Report("a", 1, 0.9).Stop)
	require.False(t, s.Report("b", 1, 0.95).Stop)
	// b crashed and starts over from step 1: its new value replaces the old one.
	require.True(t, s.Report("b", 1, 0.1).Stop)
}

func TestMedianDecisions(t *testing.T) {
	s := scheduler(t, tune.Max, tune.SchedulerSpec{Type: "median", GracePeriod: 2, MinSamples: 2})
	for _, id := range []string{"a", "b"} {
		for step := 1; step <= 3; step++ {
			require.False(t, s.Report(id, step, 0.5+0.1*float64(step)).Stop)
		}
	}
	require.False(t, s.Report("c", 1, 0.1).Stop, "within the grace period")
	d := s.Report("c", 2, 0.2)
	require.True(t, d.Stop)
	require.Equal(t, "median stopping at step 2: best val_accuracy 0.2 is below 0.7, the median running average of 2 other trials", d.Reason)
	// Too few others have reached step 4.
	require.False(t, s.Report("a", 4, 0.0).Stop)
}

// curve is a synthetic learning curve: it rises towards an asymptote, with noise.
type curve struct {
	asymptote float64
	noise     []float64
}

func (c curve) at(step int) float64 {
	return c.asymptote*(1-math.Exp(-float64(step)/4)) + c.noise[step]
}

// curves returns n curves with asymptotes evenly spread over [0.5, 0.95],
// in a seeded random order.
func curves(n, steps int, seed uint64) []curve {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]curve, n)
	for i := range out {
		c := curve{asymptote: 0.5 + 0.45*float64(i)/float64(n-1), noise: make([]float64, steps+1)}
		for s := range c.noise {
			c.noise[s] = 0.003 * rng.NormFloat64()
		}
		out[i] = c
	}
	rng.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

type outcome struct {
	steps    map[int]int // trial -> steps run
	stopped  map[int]bool
	complete map[int]bool
	total    int
}

// simulate runs the curves asynchronously, concurrency at a time, each
// running trial advancing one step per tick, until each stops or reaches
// maxSteps.
func simulate(s tune.Scheduler, cs []curve, concurrency, maxSteps int) outcome {
	o := outcome{steps: map[int]int{}, stopped: map[int]bool{}, complete: map[int]bool{}}
	next, running := 0, []int{}
	for next < len(cs) || len(running) > 0 {
		for len(running) < concurrency && next < len(cs) {
			running = append(running, next)
			next++
		}
		var still []int
		for _, i := range running {
			o.steps[i]++
			o.total++
			d := s.Report(fmt.Sprintf("t%03d", i), o.steps[i], cs[i].at(o.steps[i]))
			switch {
			case d.Complete:
				o.complete[i] = true
			case d.Stop:
				o.stopped[i] = true
			case o.steps[i] < maxSteps:
				still = append(still, i)
			}
		}
		running = still
	}
	return o
}

// ranks returns the trials from the best asymptote to the worst.
func ranks(cs []curve) []int {
	idx := make([]int, len(cs))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return cs[idx[a]].asymptote > cs[idx[b]].asymptote })
	return idx
}

func TestSchedulersOnSyntheticCurves(t *testing.T) {
	const trials, maxT = 27, 27
	fifoTotal := trials * maxT
	tests := []struct {
		name     string
		sc       tune.SchedulerSpec
		maxShare float64 // of FIFO's total steps (measured: asha 14-34%, median 51-74%)
	}{
		{"asha", tune.SchedulerSpec{Type: "asha", MaxT: maxT, GracePeriod: 1, ReductionFactor: 3}, 0.4},
		{"median", tune.SchedulerSpec{Type: "median", GracePeriod: 3, MinSamples: 3}, 0.8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const concurrency = 4
			for seed := uint64(1); seed <= 5; seed++ {
				cs := curves(trials, maxT, seed)
				o := simulate(scheduler(t, tune.Max, tt.sc), cs, concurrency, maxT)
				order := ranks(cs)
				best := order[0]
				require.False(t, o.stopped[best], "seed %d: the best trial is never stopped", seed)
				require.Equal(t, maxT, o.steps[best], "seed %d: the best trial runs to the end", seed)
				// The first wave runs before there is anything to compare
				// it with, so ASHA and the median rule may let a bad one of
				// them through; every later bad trial must be stopped early.
				var laterWorst []int
				for _, i := range order[2*trials/3:] {
					if i >= concurrency {
						laterWorst = append(laterWorst, i)
					}
				}
				stepsWorst := 0
				for _, i := range laterWorst {
					require.True(t, o.stopped[i], "seed %d: bad trial %d is stopped", seed, i)
					stepsWorst += o.steps[i]
				}
				t.Logf("seed %d: %d of %d steps; the worst third after the first wave ran %.1f steps each",
					seed, o.total, fifoTotal, float64(stepsWorst)/float64(len(laterWorst)))
				require.Less(t, float64(stepsWorst)/float64(len(laterWorst)), maxT/4.0, "seed %d: bad trials stop early", seed)
				require.Less(t, float64(o.total), tt.maxShare*float64(fifoTotal), "seed %d: far fewer steps than FIFO", seed)
			}
		})
	}
}

package tune

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHistoryHasRunningTrialsAsLiars gives the sampler the trials still
// running at the worst value seen so far, marked Pending, so TPE does not
// propose their neighbours; before any result there are none.
func TestHistoryHasRunningTrialsAsLiars(t *testing.T) {
	for _, mode := range []Mode{Max, Min} {
		spec := &Spec{Metric: "m", Mode: mode, Samples: 6, MaxConcurrent: 3,
			Sampler: SamplerSpec{Type: "tpe", Seed: 1, Startup: 2},
			Space:   Space{"x": {Kind: Uniform, Low: 0, High: 1}}}
		sw, err := NewSweep(spec, Resources{CPU: 8})
		require.NoError(t, err)
		a, _ := sw.Next()
		b, _ := sw.Next()
		require.Empty(t, sw.history(), "nothing observed yet: no liar value")
		require.NoError(t, sw.Finish(a.ID, map[string]float64{"m": 0.9}))
		require.NoError(t, sw.Finish(b.ID, map[string]float64{"m": 0.2}))
		c, _ := sw.Next()
		d, _ := sw.Next()
		h := sw.history()
		require.Len(t, h, 4)
		worst := 0.2
		if mode == Min {
			worst = 0.9
		}
		for _, o := range h[2:] {
			require.True(t, o.Pending)
			require.Equal(t, worst, o.Value)
		}
		require.Equal(t, c.Params, h[2].Params)
		require.Equal(t, d.Params, h[3].Params)
	}
}

package tune_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/tune"
)

// suggestAll runs a sampler to exhaustion without history.
func suggestAll(t *testing.T, spec *tune.Spec) []tune.Params {
	t.Helper()
	s, err := tune.NewSampler(spec)
	require.NoError(t, err)
	var out []tune.Params
	for n := 0; ; n++ {
		p, ok, err := s.Suggest(n, nil)
		require.NoError(t, err)
		if !ok {
			return out
		}
		out = append(out, p)
		require.Less(t, n, 100000, "the sampler never ends")
	}
}

func TestGridEnumeratesTheCrossProduct(t *testing.T) {
	spec := &tune.Spec{Metric: "acc", Mode: tune.Max, Samples: 2, Space: tune.Space{
		"model":   {Kind: tune.Grid, Values: []any{"small", "wide", "deep", "residual"}},
		"lr":      {Kind: tune.Grid, Values: []any{0.001, 0.003}},
		"dropout": {Kind: tune.Uniform, Low: 0, High: 0.5},
		"epochs":  {Kind: tune.Const, Value: 5},
	}}
	got := suggestAll(t, spec)
	require.Len(t, got, 16)
	require.Equal(t, 16, spec.Size())

	// Grid names are nested loops in name order: lr outermost, then model.
	var order [][2]any
	for _, p := range got[:8] {
		order = append(order, [2]any{p["lr"], p["model"]})
	}
	require.Equal(t, [][2]any{
		{0.001, "small"}, {0.001, "wide"}, {0.001, "deep"}, {0.001, "residual"},
		{0.003, "small"}, {0.003, "wide"}, {0.003, "deep"}, {0.003, "residual"},
	}, order)
	for i, p := range got {
		require.Equal(t, got[i%8]["model"], p["model"], "the second repeat walks the same grid")
		require.Equal(t, 5, p["epochs"])
		d := p["dropout"].(float64)
		require.True(t, d >= 0 && d < 0.5)
	}
	require.NotEqual(t, got[0]["dropout"], got[8]["dropout"], "non-grid parameters are drawn afresh per point")
}

func TestGridWithSubGrids(t *testing.T) {
	spec := &tune.Spec{Metric: "acc", Mode: tune.Max, Space: tune.Space{
		"model": {Kind: tune.Grid, Values: []any{"linear", "small", "wide"}, Options: map[string]tune.Space{
			"small":  {"lr": {Kind: tune.Grid, Values: []any{0.1, 0.2}}},
			"wide":   {"lr": {Kind: tune.Grid, Values: []any{0.3}}, "width": {Kind: tune.Choice, Values: []any{128, 256}}},
			"linear": nil,
		}},
	}}
	got := suggestAll(t, spec)
	require.Len(t, got, 4)
	require.Equal(t, tune.Params{"model": "linear"}, got[0])
	require.Equal(t, tune.Params{"model": "small", "lr": 0.1}, got[1])
	require.Equal(t, tune.Params{"model": "small", "lr": 0.2}, got[2])
	require.Equal(t, "wide", got[3]["model"])
	require.Equal(t, 0.3, got[3]["lr"])
	require.Contains(t, []any{128, 256}, got[3]["width"])
}

func TestRandomIsReproducibleAndInBounds(t *testing.T) {
	space := tune.Space{
		"u":    {Kind: tune.Uniform, Low: -1, High: 1},
		"lu":   {Kind: tune.LogUniform, Low: 1e-5, High: 1e-1},
		"ri":   {Kind: tune.RandInt, Low: 1, High: 4},
		"qu":   {Kind: tune.QUniform, Low: 0.05, High: 0.95, Q: 0.1},
		"qlu":  {Kind: tune.QLogUniform, Low: 1, High: 1000, Q: 5},
		"qri":  {Kind: tune.QRandInt, Low: 32, High: 256, Q: 32},
		"c":    {Kind: tune.Choice, Values: []any{"adam", "sgd", true, 3}},
		"g":    {Kind: tune.Grid, Values: []any{"a", "b"}}, // a choice under random
		"seed": {Kind: tune.Const, Value: "fixed"},
	}
	spec := func(seed int64) *tune.Spec {
		return &tune.Spec{Metric: "m", Mode: tune.Min, Samples: 2000,
			Sampler: tune.SamplerSpec{Type: tune.RandomSampler, Seed: seed}, Space: space}
	}
	a, b, c := suggestAll(t, spec(7)), suggestAll(t, spec(7)), suggestAll(t, spec(8))
	require.Len(t, a, 2000)
	require.Equal(t, a, b, "the same seed gives the same sequence")
	require.NotEqual(t, a[0], c[0], "another seed another sequence")

	seen := map[string]map[any]bool{}
	for _, p := range a {
		for k, v := range p {
			if seen[k] == nil {
				seen[k] = map[any]bool{}
			}
			seen[k][v] = true
		}
		u := p["u"].(float64)
		require.True(t, u >= -1 && u < 1)
		lu := p["lu"].(float64)
		require.True(t, lu >= 1e-5 && lu < 1e-1)
		require.Contains(t, []int{1, 2, 3}, p["ri"], "randint excludes high")
		qu := p["qu"].(float64)
		require.True(t, qu >= 0.05 && qu <= 0.95)
		require.InDelta(t, math.Round(qu/0.1), qu/0.1, 1e-9, "multiple of q")
		qlu := p["qlu"].(float64)
		require.True(t, qlu >= 1 && qlu <= 1000)
		require.InDelta(t, math.Round(qlu/5), qlu/5, 1e-9)
		qri := p["qri"].(int)
		require.True(t, qri >= 32 && qri <= 256 && qri%32 == 0)
		require.Equal(t, "fixed", p["seed"])
	}
	require.Len(t, seen["ri"], 3)
	require.Len(t, seen["qu"], 9, "0.1 ... 0.9")
	require.True(t, seen["qu"][0.3], "multiples are clean: 0.3, not 0.30000000000000004")
	require.Len(t, seen["qri"], 8, "32 ... 256, high included")
	require.True(t, seen["qri"][256])
	require.Len(t, seen["c"], 4)
	require.Len(t, seen["g"], 2)

	// loguniform spreads evenly over decades.
	low := 0
	for _, p := range a {
		if p["lu"].(float64) < 1e-3 {
			low++
		}
	}
	require.InDelta(t, 1000, low, 120)
}

// TestNestedRanges checks that each model gets its own learning-rate range.
func TestNestedRanges(t *testing.T) {
	spec, err := tune.ParseSpec([]byte(`
metric: acc
mode: max
samples: 500
sampler: {type: random, seed: 3}
space:
  model:
    choice:
      small: {lr: {loguniform: [1e-4, 1e-2]}}
      wide: {lr: {loguniform: [1e-3, 3e-2]}, width: {choice: [128, 256]}}
      linear: {}
`))
	require.NoError(t, err)
	counts := map[any]int{}
	for _, p := range suggestAll(t, spec) {
		counts[p["model"]]++
		switch p["model"] {
		case "small":
			require.Len(t, p, 2)
			lr := p["lr"].(float64)
			require.True(t, lr >= 1e-4 && lr < 1e-2)
		case "wide":
			require.Len(t, p, 3)
			lr := p["lr"].(float64)
			require.True(t, lr >= 1e-3 && lr < 3e-2)
		case "linear":
			require.Equal(t, tune.Params{"model": "linear"}, p)
		}
	}
	require.Len(t, counts, 3)
	for _, n := range counts {
		require.InDelta(t, 167, n, 50)
	}
}

func branin(p tune.Params) float64 {
	x, y := p["x"].(float64), p["y"].(float64)
	b, c, s := 5.1/(4*math.Pi*math.Pi), 5/math.Pi, 10.0
	return math.Pow(y-b*x*x+c*x-6, 2) + s*(1-1/(8*math.Pi))*math.Cos(x) + s
}

// bowl is a quadratic with its minimum at lr=1e-3 (in log space), width=96.
func bowl(p tune.Params) float64 {
	l := math.Log10(p["lr"].(float64)) + 3
	w := (float64(p["width"].(int)) - 96) / 64
	opt := 0.0
	if p["opt"] != "adam" {
		opt = 0.5
	}
	return l*l + w*w + opt
}

// minimise runs a sampler sequentially and returns the best loss found.
func minimise(t *testing.T, spec *tune.Spec, f func(tune.Params) float64) float64 {
	t.Helper()
	s, err := tune.NewSampler(spec)
	require.NoError(t, err)
	var history []tune.Observation
	best := math.Inf(1)
	for n := 0; ; n++ {
		p, ok, err := s.Suggest(n, history)
		require.NoError(t, err)
		if !ok {
			return best
		}
		v := f(p)
		best = math.Min(best, v)
		history = append(history, tune.Observation{Params: p, Value: v})
	}
}

func TestTPEBeatsRandom(t *testing.T) {
	tests := []struct {
		name  string
		space tune.Space
		f     func(tune.Params) float64
	}{
		{"branin", tune.Space{"x": {Kind: tune.Uniform, Low: -5, High: 10}, "y": {Kind: tune.Uniform, Low: 0, High: 15}}, branin},
		{"log bowl", tune.Space{
			"lr":    {Kind: tune.LogUniform, Low: 1e-6, High: 1},
			"width": {Kind: tune.QRandInt, Low: 16, High: 512, Q: 16},
			"opt":   {Kind: tune.Choice, Values: []any{"adam", "sgd", "rmsprop", "adagrad"}},
		}, bowl},
	}
	const seeds, budget = 8, 80
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mean := map[string]float64{}
			for _, typ := range []string{tune.RandomSampler, tune.TPESampler} {
				for seed := int64(1); seed <= seeds; seed++ {
					spec := &tune.Spec{Metric: "loss", Mode: tune.Min, Samples: budget,
						Sampler: tune.SamplerSpec{Type: typ, Seed: seed}, Space: tt.space}
					mean[typ] += minimise(t, spec, tt.f) / seeds
				}
			}
			t.Logf("mean best over %d seeds: random %.4f, tpe %.4f", seeds, mean[tune.RandomSampler], mean[tune.TPESampler])
			require.Less(t, mean[tune.TPESampler], mean[tune.RandomSampler])
		})
	}
}

func TestTPEMaximisesAndLearnsOptions(t *testing.T) {
	// The metric is best for model b with lr near 0.01; b's lr has its own range.
	spec := &tune.Spec{Metric: "acc", Mode: tune.Max, Samples: 60,
		Sampler: tune.SamplerSpec{Type: tune.TPESampler, Seed: 5, Startup: 10},
		Space: tune.Space{"model": {Kind: tune.Choice, Values: []any{"a", "b", "c"}, Options: map[string]tune.Space{
			"a": {"lr": {Kind: tune.LogUniform, Low: 1e-4, High: 1e-1}},
			"b": {"lr": {Kind: tune.LogUniform, Low: 1e-3, High: 1}},
			"c": nil,
		}}}}
	acc := func(p tune.Params) float64 {
		switch p["model"] {
		case "b":
			return 0.9 - math.Abs(math.Log10(p["lr"].(float64))+2)/10
		case "a":
			return 0.6
		}
		return 0.5
	}
	s, err := tune.NewSampler(spec)
	require.NoError(t, err)
	var history []tune.Observation
	late := map[any]int{}
	for n := 0; ; n++ {
		p, ok, err := s.Suggest(n, history)
		require.NoError(t, err)
		if !ok {
			break
		}
		if p["model"] == "b" {
			lr := p["lr"].(float64)
			require.True(t, lr >= 1e-3 && lr <= 1, "b's own range")
		}
		if n >= 30 {
			late[p["model"]]++
		}
		history = append(history, tune.Observation{Params: p, Value: acc(p)})
	}
	t.Logf("models picked in trials 30-59: %v", late)
	require.Greater(t, late["b"], 20, "after learning, most trials pick the best model: %v", late)
}

func TestTPEIsDeterministic(t *testing.T) {
	spec := &tune.Spec{Metric: "loss", Mode: tune.Min, Samples: 30,
		Sampler: tune.SamplerSpec{Type: tune.TPESampler, Seed: 9, Startup: 5},
		Space:   tune.Space{"x": {Kind: tune.Uniform, Low: -5, High: 10}, "y": {Kind: tune.Uniform, Low: 0, High: 15}}}
	run := func() []tune.Params {
		s, err := tune.NewSampler(spec)
		require.NoError(t, err)
		var h []tune.Observation
		var out []tune.Params
		for n := 0; n < 30; n++ {
			p, _, err := s.Suggest(n, h)
			require.NoError(t, err)
			out = append(out, p)
			h = append(h, tune.Observation{Params: p, Value: branin(p)})
		}
		return out
	}
	require.Equal(t, run(), run())
}

func TestTPEIgnoresNonFiniteHistory(t *testing.T) {
	spec := &tune.Spec{Metric: "loss", Mode: tune.Min, Samples: 5,
		Sampler: tune.SamplerSpec{Type: tune.TPESampler, Startup: 1},
		Space:   tune.Space{"x": {Kind: tune.Uniform, Low: 0, High: 1}}}
	s, err := tune.NewSampler(spec)
	require.NoError(t, err)
	p, ok, err := s.Suggest(3, []tune.Observation{{Params: tune.Params{"x": 0.5}, Value: math.NaN()}})
	require.NoError(t, err)
	require.True(t, ok)
	require.Contains(t, p, "x")
}

package tune

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// tpe is the Tree-structured Parzen Estimator (Bergstra et al., "Algorithms
// for Hyper-Parameter Optimization", NeurIPS 2011), univariate as in
// hyperopt. Until startup trials are observed it samples the prior. Then it
// splits the observations by loss: the best ceil(gamma*n) are good, the rest
// bad. For each parameter, in the space's order, it fits l(x) to the good
// values and g(x) to the bad ones, draws candidates from l and keeps the one
// with the largest l(x)/g(x). A parameter inside an option's sub-space only
// learns from the trials that picked that option.
type tpe struct {
	space      Space
	seed       int64
	mode       Mode
	size       int
	startup    int
	gamma      float64
	candidates int
}

func newTPE(s Spec) *tpe {
	return &tpe{space: s.Space, seed: s.Sampler.Seed, mode: s.Mode, size: s.Samples,
		startup: s.Sampler.Startup, gamma: s.Sampler.Gamma, candidates: s.Sampler.Candidates}
}

type scored struct {
	params Params
	loss   float64
}

func (t *tpe) Suggest(n int, history []Observation) (Params, bool, error) {
	if n < 0 {
		return nil, false, errs.Invalidf("suggestion number %d is negative", n)
	}
	if n >= t.size {
		return nil, false, nil
	}
	rng := rngFor(t.seed, n)
	p := Params{}
	observed := 0
	for _, o := range history {
		if !o.Pending {
			observed++
		}
	}
	if observed < t.startup || observed == 0 {
		t.space.walk(p, nil, func(_ string, prm Param, _ []cond) any { return prm.draw(rng) })
		return p, true, nil
	}
	obs := make([]scored, 0, len(history))
	for _, h := range history {
		if finite(h.Value) {
			obs = append(obs, scored{h.Params, -t.mode.orient(h.Value)})
		}
	}
	if len(obs) == 0 {
		t.space.walk(p, nil, func(_ string, prm Param, _ []cond) any { return prm.draw(rng) })
		return p, true, nil
	}
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].loss < obs[j].loss })
	nGood := int(math.Ceil(t.gamma * float64(len(obs))))
	nGood = max(1, min(nGood, len(obs)))
	good, bad := obs[:nGood], obs[nGood:]
	t.space.walk(p, nil, func(name string, prm Param, conds []cond) any {
		gv, bv := valuesOf(good, name, conds), valuesOf(bad, name, conds)
		switch {
		case prm.Kind == Const:
			return prm.Value
		case prm.Kind.categorical():
			return t.category(rng, prm, gv, bv)
		}
		return t.number(rng, prm, gv, bv)
	})
	return p, true, nil
}

// valuesOf returns the values of name in the observations that took the
// options conds lead through.
func valuesOf(obs []scored, name string, conds []cond) []any {
	var out []any
next:
	for _, o := range obs {
		for _, c := range conds {
			if o.params[c.name] != c.value {
				continue next
			}
		}
		if v, ok := o.params[name]; ok {
			out = append(out, v)
		}
	}
	return out
}

// number picks a numeric value, modelled in log space for log kinds. An
// integer v of a randint stands for its cell [v, v+1).
func (t *tpe) number(rng *rand.Rand, prm Param, good, bad []any) any {
	xs := func(vals []any) []float64 {
		out := make([]float64, 0, len(vals))
		for _, v := range vals {
			f, ok := valueKey(v).(float64)
			if !ok || (prm.Kind.log() && f <= 0) {
				continue
			}
			x, _, _ := prm.internal(f)
			if prm.Kind == RandInt {
				x += 0.5
			}
			out = append(out, x)
		}
		return out
	}
	_, lo, hi := prm.internal(prm.Low)
	l, g := newParzen(xs(good), lo, hi), newParzen(xs(bad), lo, hi)
	best, bestScore := l.sample(rng), math.Inf(-1)
	for range t.candidates {
		x := l.sample(rng)
		if s := l.logpdf(x) - g.logpdf(x); s > bestScore {
			best, bestScore = x, s
		}
	}
	return prm.fromInternal(best)
}

// category picks one of the values, each density being the counts smoothed
// by a prior of one per value.
func (t *tpe) category(rng *rand.Rand, prm Param, good, bad []any) any {
	k := len(prm.Values)
	probs := func(vals []any) []float64 {
		p := make([]float64, k)
		for i := range p {
			p[i] = 1
		}
		for _, v := range vals {
			for i, want := range prm.Values {
				if valueKey(v) == valueKey(want) {
					p[i]++
				}
			}
		}
		total := float64(len(vals) + k)
		for i := range p {
			p[i] /= total
		}
		return p
	}
	pl, pg := probs(good), probs(bad)
	best, bestScore := 0, math.Inf(-1)
	for range max(1, t.candidates) {
		i := pick(rng, pl)
		if s := math.Log(pl[i]) - math.Log(pg[i]); s > bestScore {
			best, bestScore = i, s
		}
	}
	return prm.Values[best]
}

func pick(rng *rand.Rand, probs []float64) int {
	u := rng.Float64()
	for i, p := range probs {
		if u < p {
			return i
		}
		u -= p
	}
	return len(probs) - 1
}

// parzen is a mixture of Gaussians truncated to [lo, hi]: one per observed
// value plus a wide one for the prior, with hyperopt's adaptive bandwidths
// (the larger gap to a neighbour, clipped to [width/min(100, n+1), width]).
type parzen struct {
	mus, sigmas, logZ []float64
	lo, hi            float64
}

func newParzen(xs []float64, lo, hi float64) *parzen {
	width := hi - lo
	type comp struct {
		mu    float64
		prior bool
	}
	cs := make([]comp, 0, len(xs)+1)
	for _, x := range xs {
		cs = append(cs, comp{math.Max(lo, math.Min(x, hi)), false})
	}
	cs = append(cs, comp{(lo + hi) / 2, true})
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].mu < cs[j].mu })
	n := len(cs)
	minSigma := width / math.Min(100, float64(n+1))
	p := &parzen{lo: lo, hi: hi, mus: make([]float64, n), sigmas: make([]float64, n), logZ: make([]float64, n)}
	for i, c := range cs {
		s := width
		if n > 1 {
			s = 0
			if i > 0 {
				s = c.mu - cs[i-1].mu
			}
			if i < n-1 {
				s = math.Max(s, cs[i+1].mu-c.mu)
			}
			s = math.Max(minSigma, math.Min(s, width))
		}
		if c.prior {
			s = width
		}
		p.mus[i], p.sigmas[i] = c.mu, s
		z := normCDF((hi-c.mu)/s) - normCDF((lo-c.mu)/s)
		p.logZ[i] = math.Log(math.Max(z, 1e-300))
	}
	return p
}

func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

func (p *parzen) sample(rng *rand.Rand) float64 {
	for range 100 {
		i := rng.IntN(len(p.mus))
		x := p.mus[i] + p.sigmas[i]*rng.NormFloat64()
		if x >= p.lo && x <= p.hi {
			return x
		}
	}
	return p.lo + (p.hi-p.lo)*rng.Float64()
}

func (p *parzen) logpdf(x float64) float64 {
	const halfLog2Pi = 0.9189385332046727
	terms := make([]float64, len(p.mus))
	top := math.Inf(-1)
	for i, mu := range p.mus {
		z := (x - mu) / p.sigmas[i]
		terms[i] = -0.5*z*z - math.Log(p.sigmas[i]) - halfLog2Pi - p.logZ[i]
		top = math.Max(top, terms[i])
	}
	sum := 0.0
	for _, t := range terms {
		sum += math.Exp(t - top)
	}
	return top + math.Log(sum) - math.Log(float64(len(p.mus)))
}

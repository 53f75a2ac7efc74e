package tune

import (
	"math/rand/v2"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Observation is a finished trial as a sampler sees it.
type Observation struct {
	Params Params
	Value  float64 // the trial's best value of the spec's metric
	// Pending marks a trial still running, given the worst value seen so
	// far (the constant liar); it does not count towards TPE's startup.
	Pending bool
}

// Sampler proposes configurations.
type Sampler interface {
	// Suggest returns the configuration of trial number n (counting from 0)
	// given the observations so far, in trial order. It returns ok false once
	// the sampler is exhausted. It is deterministic: the same seed, n and
	// history give the same Params, which is what lets a restored sweep carry
	// on where it stopped. Errors: Internal.
	Suggest(n int, history []Observation) (p Params, ok bool, err error)
}

// NewSampler returns the sampler the spec names, with its defaults. Errors:
// Invalid (the spec does not validate).
func NewSampler(spec *Spec) (Sampler, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	s := spec.WithDefaults()
	switch s.Sampler.Type {
	case RandomSampler:
		return &gridSampler{space: s.Space, seed: s.Sampler.Seed, points: []Params{{}}, size: s.Samples}, nil
	case TPESampler:
		return newTPE(s), nil
	}
	points := s.Space.points()
	return &gridSampler{space: s.Space, seed: s.Sampler.Seed, points: points, size: s.Samples * len(points)}, nil
}

// rngFor returns the random source of suggestion n: each suggestion has its
// own stream, so suggestion n does not depend on how many draws came before.
func rngFor(seed int64, n int) *rand.Rand {
	a := splitmix(uint64(seed) ^ splitmix(uint64(n)+0x632be59bd9b4e019))
	return rand.New(rand.NewPCG(a, splitmix(a)))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// gridSampler enumerates points (the grid; a single empty point for the
// random sampler) and draws every other parameter from its prior.
// Suggestion n takes point n mod len(points).
type gridSampler struct {
	space  Space
	seed   int64
	points []Params
	size   int
}

func (g *gridSampler) Suggest(n int, _ []Observation) (Params, bool, error) {
	if n < 0 {
		return nil, false, errs.Invalidf("suggestion number %d is negative", n)
	}
	if n >= g.size {
		return nil, false, nil
	}
	point := g.points[n%len(g.points)]
	rng := rngFor(g.seed, n)
	p := Params{}
	g.space.walk(p, nil, func(name string, prm Param, _ []cond) any {
		if v, ok := point[name]; ok {
			return v
		}
		return prm.draw(rng)
	})
	return p, true, nil
}

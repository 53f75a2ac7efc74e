package trees

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// ForestOptions are the parameters of a random forest.
type ForestOptions struct {
	Objective Objective
	NumClass  int // classes of a multiclass task
	NumTrees  int // rounds; a multiclass forest grows one tree per class per round
	// MaxDepth and NumLeaves cap each tree; 0 grows it until the leaves
	// are pure or too small to split.
	MaxDepth      int
	NumLeaves     int
	MinDataInLeaf int
	MaxBin        int
	// SampleFraction sets the bootstrap size: each round draws
	// SampleFraction*rows rows with replacement.
	SampleFraction float64
	// FeatureFraction is the share of features each split may choose
	// from; 0 means the usual sqrt(d)/d for classification and 1/3 for
	// regression.
	FeatureFraction float64
	ClassWeights    []float64
	Seed            uint64
}

// DefaultForestOptions returns a forest of 100 deep trees.
func DefaultForestOptions(objective Objective, numClass int) ForestOptions {
	return ForestOptions{Objective: objective, NumClass: numClass, NumTrees: 100, MinDataInLeaf: 1, MaxBin: 255, SampleFraction: 1}
}

func (o *ForestOptions) classes() int {
	return (&Options{Objective: o.Objective, NumClass: o.NumClass}).classes()
}

// Validate reports the first option out of range.
func (o *ForestOptions) Validate() error {
	switch {
	case o.Objective != Binary && o.Objective != Multiclass && o.Objective != Regression:
		return errs.Invalidf("objective %q: want binary, multiclass or regression", o.Objective)
	case o.Objective == Multiclass && o.NumClass < 2:
		return errs.Invalidf("num_class %d: a multiclass objective needs at least 2", o.NumClass)
	case o.NumTrees < 1:
		return errs.Invalidf("num_trees %d: want at least 1", o.NumTrees)
	case o.MaxDepth < 0:
		return errs.Invalidf("max_depth %d: want 0 (no limit) or more", o.MaxDepth)
	case o.NumLeaves < 0 || o.NumLeaves == 1:
		return errs.Invalidf("num_leaves %d: want 0 (no limit) or at least 2", o.NumLeaves)
	case o.MinDataInLeaf < 1:
		return errs.Invalidf("min_data_in_leaf %d: want at least 1", o.MinDataInLeaf)
	case o.MaxBin < 2 || o.MaxBin > 255:
		return errs.Invalidf("max_bin %d: want 2..255", o.MaxBin)
	case !(o.SampleFraction > 0) || math.IsInf(o.SampleFraction, 0):
		return errs.Invalidf("sample_fraction %v: want a finite value > 0", o.SampleFraction)
	case !(o.FeatureFraction >= 0 && o.FeatureFraction <= 1):
		return errs.Invalidf("feature_fraction %v: want a value in (0, 1], or 0 for the default", o.FeatureFraction)
	}
	if o.ClassWeights != nil {
		if o.Objective == Regression || len(o.ClassWeights) != o.classes() {
			return errs.Invalidf("class_weights: %d weights, want one per class of a classification task", len(o.ClassWeights))
		}
		for k, w := range o.ClassWeights {
			if !(w >= 0) || math.IsInf(w, 0) {
				return errs.Invalidf("class_weights[%d] = %v: want a finite value >= 0", k, w)
			}
		}
	}
	return nil
}

// TrainForest fits a random forest: every round draws a bootstrap sample
// of the rows and grows a deep tree on it (one per class, each fitting the
// class's indicator, for multiclass), each split choosing among a random
// share of the features. A leaf holds the weighted mean of its targets, so
// averaging the trees averages class frequencies (probabilities) or
// values. A multiclass forest's trees are one per class, as LightGBM's
// boosting=rf grows them, so its K outputs need not sum to exactly 1. Rounds are grown in parallel, each from its own seed, so the
// forest does not depend on the number of cores. Errors are of kind
// Invalid.
func TrainForest(train Dataset, o ForestOptions) (*Model, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := train.validate("train", o.classes()); err != nil {
		return nil, err
	}
	weights, err := rowWeights(&train, &Options{Objective: o.Objective, ClassWeights: o.ClassWeights, ScalePosWeight: 1})
	if err != nil {
		return nil, err
	}
	data, err := binDataset(&train, o.MaxBin, o.Seed)
	if err != nil {
		return nil, err
	}
	k := 1
	if o.Objective == Multiclass {
		k = o.NumClass
	}
	frac := o.FeatureFraction
	if frac == 0 {
		frac = 1.0 / 3
		if o.Objective != Regression {
			frac = math.Sqrt(float64(train.Cols)) / float64(train.Cols)
		}
	}
	p := growParams{maxLeaves: o.NumLeaves, maxDepth: o.MaxDepth, minData: o.MinDataInLeaf, minHess: 1e-12, nodeFraction: frac, workers: 1}
	n := train.Rows
	features := make([]int, train.Cols)
	for f := range features {
		features[f] = f
	}
	trees := make([]*Tree, o.NumTrees*k)
	w := workers(o.NumTrees)
	builders := make(chan *builder, w)
	for range w {
		builders <- newBuilder(data, p)
	}
	parallelFor(o.NumTrees, w, func(round int) {
		b := <-builders
		defer func() { builders <- b }()
		rng := rand.New(rand.NewPCG(o.Seed, uint64(round)))
		counts := make([]float64, n)
		for range max(1, int(o.SampleFraction*float64(n)+0.5)) {
			counts[rng.IntN(n)]++
		}
		var rows []int32
		for i, c := range counts {
			if c > 0 {
				rows = append(rows, int32(i))
			}
		}
		grad, hess := make([]float64, n), make([]float64, n)
		for c := range k {
			for _, r := range rows {
				wr := counts[r] * weight(weights, int(r))
				target := train.Y[r]
				if o.Objective == Multiclass {
					target = 0
					if int(train.Y[r]) == c {
						target = 1
					}
				}
				grad[r], hess[r] = -target*wr, wr
			}
			t := b.grow(rows, grad, hess, features, rng)
			t.compile()
			trees[round*k+c] = t
		}
	})
	m := &Model{Objective: o.Objective, NumClass: k, Forest: true, FeatureNames: train.featureNames(), Trees: trees, Params: o.params()}
	for _, bm := range data.mappers {
		m.FeatureInfos = append(m.FeatureInfos, bm.info())
	}
	return m, nil
}

func (o *ForestOptions) params() []Param {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	i := strconv.Itoa
	p := []Param{
		{"boosting", "rf"}, {"objective", string(o.Objective)}, {"num_iterations", i(o.NumTrees)},
		{"num_leaves", i(o.NumLeaves)}, {"max_depth", i(o.MaxDepth)}, {"min_data_in_leaf", i(o.MinDataInLeaf)},
		{"bagging_fraction", f(o.SampleFraction)}, {"feature_fraction_bynode", f(o.FeatureFraction)},
		{"max_bin", i(o.MaxBin)}, {"seed", strconv.FormatUint(o.Seed, 10)},
	}
	if o.Objective == Multiclass {
		p = append(p, Param{"num_class", i(o.NumClass)})
	}
	return p
}

package trees

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Options are the parameters of gradient boosting, named after
// LightGBM's.
type Options struct {
	Objective Objective
	// NumClass is the number of classes of a multiclass task (>= 2); it
	// is ignored for the others.
	NumClass      int
	NumIterations int
	LearningRate  float64
	// NumLeaves caps the leaves of a tree, grown best first (>= 2).
	NumLeaves int
	// MaxDepth caps the depth of a tree; 0 means no cap.
	MaxDepth            int
	MaxBin              int // value bins per feature, 2..255
	LambdaL2            float64
	MinDataInLeaf       int
	MinSumHessianInLeaf float64
	MinGainToSplit      float64
	// BaggingFraction is the share of rows each iteration's trees see,
	// drawn anew every BaggingFreq iterations; 1 keeps them all.
	BaggingFraction float64
	BaggingFreq     int
	// FeatureFraction is the share of features each tree may split on.
	FeatureFraction float64
	Seed            uint64
	// ClassWeights multiplies the weight of every row of class k by
	// ClassWeights[k] (classification only).
	ClassWeights []float64
	// ScalePosWeight multiplies the weight of the positive rows of a
	// binary task; IsUnbalance sets it to negatives/positives instead.
	ScalePosWeight float64
	IsUnbalance    bool
	// EarlyStoppingRounds stops training when the validation loss has not
	// improved for that many iterations and keeps the best iteration; 0
	// trains all iterations. It needs a validation set.
	EarlyStoppingRounds int
}

// DefaultOptions returns LightGBM's defaults for objective (numClass is
// used by Multiclass only).
func DefaultOptions(objective Objective, numClass int) Options {
	return Options{
		Objective:           objective,
		NumClass:            numClass,
		NumIterations:       100,
		LearningRate:        0.1,
		NumLeaves:           31,
		MaxBin:              255,
		MinDataInLeaf:       20,
		MinSumHessianInLeaf: 1e-3,
		BaggingFraction:     1,
		BaggingFreq:         1,
		FeatureFraction:     1,
		ScalePosWeight:      1,
	}
}

// classes is the number of classes labels must fall in (0: regression).
func (o *Options) classes() int {
	switch o.Objective {
	case Binary:
		return 2
	case Multiclass:
		return o.NumClass
	}
	return 0
}

// Validate reports the first option out of range.
func (o *Options) Validate() error {
	switch {
	case o.Objective != Binary && o.Objective != Multiclass && o.Objective != Regression:
		return errs.Invalidf("objective %q: want binary, multiclass or regression", o.Objective)
	case o.Objective == Multiclass && o.NumClass < 2:
		return errs.Invalidf("num_class %d: a multiclass objective needs at least 2", o.NumClass)
	case o.NumIterations < 1:
		return errs.Invalidf("num_iterations %d: want at least 1", o.NumIterations)
	case !(o.LearningRate > 0) || math.IsInf(o.LearningRate, 0):
		return errs.Invalidf("learning_rate %v: want a finite value > 0", o.LearningRate)
	case o.NumLeaves < 2:
		return errs.Invalidf("num_leaves %d: want at least 2", o.NumLeaves)
	case o.MaxDepth < 0:
		return errs.Invalidf("max_depth %d: want 0 (no limit) or more", o.MaxDepth)
	case o.MaxBin < 2 || o.MaxBin > 255:
		return errs.Invalidf("max_bin %d: want 2..255", o.MaxBin)
	case !(o.LambdaL2 >= 0):
		return errs.Invalidf("lambda_l2 %v: want >= 0", o.LambdaL2)
	case o.MinDataInLeaf < 1:
		return errs.Invalidf("min_data_in_leaf %d: want at least 1", o.MinDataInLeaf)
	case !(o.MinSumHessianInLeaf >= 0):
		return errs.Invalidf("min_sum_hessian_in_leaf %v: want >= 0", o.MinSumHessianInLeaf)
	case !(o.MinGainToSplit >= 0):
		return errs.Invalidf("min_gain_to_split %v: want >= 0", o.MinGainToSplit)
	case !(o.BaggingFraction > 0 && o.BaggingFraction <= 1):
		return errs.Invalidf("bagging_fraction %v: want a value in (0, 1]", o.BaggingFraction)
	case o.BaggingFraction < 1 && o.BaggingFreq < 1:
		return errs.Invalidf("bagging_freq %d: want at least 1 with bagging_fraction < 1", o.BaggingFreq)
	case !(o.FeatureFraction > 0 && o.FeatureFraction <= 1):
		return errs.Invalidf("feature_fraction %v: want a value in (0, 1]", o.FeatureFraction)
	case !(o.ScalePosWeight > 0) || math.IsInf(o.ScalePosWeight, 0):
		return errs.Invalidf("scale_pos_weight %v: want a finite value > 0", o.ScalePosWeight)
	case o.EarlyStoppingRounds < 0:
		return errs.Invalidf("early_stopping_rounds %d: want 0 (off) or more", o.EarlyStoppingRounds)
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

// Train fits a gradient-boosted tree ensemble to train. valid, when not
// nil, is scored after every iteration (ValidLoss) and drives early
// stopping. Errors are of kind Invalid.
func Train(train Dataset, valid *Dataset, o Options) (*Model, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := train.validate("train", o.classes()); err != nil {
		return nil, err
	}
	if valid != nil {
		if err := valid.validate("valid", o.classes()); err != nil {
			return nil, err
		}
		if valid.Cols != train.Cols {
			return nil, errs.Invalidf("valid data has %d columns, train data %d", valid.Cols, train.Cols)
		}
	}
	if o.EarlyStoppingRounds > 0 && valid == nil {
		return nil, errs.Invalidf("early_stopping_rounds %d needs a validation set", o.EarlyStoppingRounds)
	}
	weights, err := rowWeights(&train, &o)
	if err != nil {
		return nil, err
	}
	data, err := binDataset(&train, o.MaxBin, o.Seed)
	if err != nil {
		return nil, err
	}
	obj := newObjective(o.Objective, o.classes(), train.Y, weights)
	k := obj.trees()
	n := train.Rows

	m := &Model{Objective: o.Objective, NumClass: k, FeatureNames: train.featureNames(), Params: o.params()}
	for _, bm := range data.mappers {
		m.FeatureInfos = append(m.FeatureInfos, bm.info())
	}
	switch o.Objective {
	case Binary:
		m.objectiveLine = "binary sigmoid:1"
	case Multiclass:
		m.objectiveLine = "multiclass num_class:" + strconv.Itoa(k)
	default:
		m.objectiveLine = "regression"
	}
	if err := m.setTransform(); err != nil {
		return nil, err
	}

	init := obj.initScores()
	scores := make([]float64, k*n) // class-major: scores[c*n+i]
	for c := range k {
		for i := range n {
			scores[c*n+i] = init[c]
		}
	}
	var vScores []float64 // the first trees carry the initial scores
	if valid != nil {
		vScores = make([]float64, k*valid.Rows)
	}
	grad, hess := make([]float64, k*n), make([]float64, k*n)
	b := newBuilder(data, growParams{
		maxLeaves: o.NumLeaves, maxDepth: o.MaxDepth, minData: o.MinDataInLeaf, minHess: o.MinSumHessianInLeaf,
		lambda: o.LambdaL2, minGain: o.MinGainToSplit, nodeFraction: 1, workers: workers(train.Cols),
	})
	rng := rand.New(rand.NewPCG(o.Seed, 0x67626474))
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	rows, inBag := all, []bool(nil)
	allFeatures := make([]int, train.Cols)
	for f := range allFeatures {
		allFeatures[f] = f
	}
	bestLoss, best := math.Inf(1), 0
	for it := range o.NumIterations {
		if o.BaggingFraction < 1 && it%o.BaggingFreq == 0 {
			rows, inBag = bag(n, o.BaggingFraction, rng)
		}
		features := allFeatures
		if o.FeatureFraction < 1 {
			features = sampleFeatures(allFeatures, max(1, int(o.FeatureFraction*float64(len(allFeatures))+0.5)), rng)
		}
		obj.gradients(scores, grad, hess)
		split := false
		for c := range k {
			t := b.grow(rows, grad[c*n:(c+1)*n], hess[c*n:(c+1)*n], features, rng)
			t.shrink(o.LearningRate)
			split = split || t.NumLeaves > 1
			sc := scores[c*n : (c+1)*n]
			for l := range b.leaves {
				v := t.LeafValue[l]
				for _, r := range b.order[b.leaves[l].start:b.leaves[l].end] {
					sc[r] += v
				}
			}
			if inBag != nil {
				for i := range n {
					if !inBag[i] {
						sc[i] += t.LeafValue[b.binnedLeaf(t, i)]
					}
				}
			}
			if it == 0 {
				t.addBias(init[c])
			}
			t.compile()
			if valid != nil {
				vs := vScores[c*valid.Rows : (c+1)*valid.Rows]
				for i := range valid.Rows {
					vs[i] += t.predict(valid.Row(i))
				}
			}
			m.Trees = append(m.Trees, t)
		}
		if !split && it > 0 { // no tree of this iteration could split: nothing left to learn
			m.Trees = m.Trees[:len(m.Trees)-k]
			break
		}
		if valid != nil {
			loss := obj.loss(vScores, valid.Y, valid.Weights)
			m.ValidLoss = append(m.ValidLoss, loss)
			if loss < bestLoss {
				bestLoss, best = loss, it+1
			}
			if o.EarlyStoppingRounds > 0 && it+1-best >= o.EarlyStoppingRounds {
				break
			}
		}
	}
	if o.EarlyStoppingRounds > 0 && best > 0 {
		m.Trees = m.Trees[:best*k]
		m.BestIteration = best
	}
	return m, nil
}

// binnedLeaf returns the leaf of the tree just grown that training row i
// falls into, following the bin thresholds.
func (b *builder) binnedLeaf(t *Tree, i int) int {
	if t.NumLeaves == 1 {
		return 0
	}
	nd := 0
	for {
		f := t.SplitFeature[nd]
		c := b.data.codes[f*b.data.rows+i]
		var next int
		if c == b.data.mappers[f].nanCode() {
			if t.DecisionType[nd]&decisionDefaultLeft != 0 {
				next = t.LeftChild[nd]
			} else {
				next = t.RightChild[nd]
			}
		} else if int(c) <= b.binThr[nd] {
			next = t.LeftChild[nd]
		} else {
			next = t.RightChild[nd]
		}
		if next < 0 {
			return ^next
		}
		nd = next
	}
}

// bag draws round(fraction*n) of n rows without replacement, returned in
// row order, and marks them.
func bag(n int, fraction float64, rng *rand.Rand) ([]int32, []bool) {
	k := max(1, int(fraction*float64(n)+0.5))
	in := make([]bool, n)
	rows := make([]int32, 0, k)
	// Selection sampling (Knuth's algorithm S): one pass, rows in order.
	for i := 0; i < n && len(rows) < k; i++ {
		if rng.Float64()*float64(n-i) < float64(k-len(rows)) {
			in[i] = true
			rows = append(rows, int32(i))
		}
	}
	return rows, in
}

// rowWeights folds the class weights into the row weights (nil when every
// row weighs 1).
func rowWeights(d *Dataset, o *Options) ([]float64, error) {
	cw := o.ClassWeights
	if o.Objective == Binary && (o.IsUnbalance || o.ScalePosWeight != 1) {
		pos := o.ScalePosWeight
		if o.IsUnbalance {
			var np, nn float64
			for _, y := range d.Y {
				if y == 1 {
					np++
				} else {
					nn++
				}
			}
			if np == 0 || nn == 0 {
				return nil, errs.Invalidf("is_unbalance: the train labels hold only one class")
			}
			pos = nn / np
		}
		if cw == nil {
			cw = []float64{1, 1}
		}
		cw = []float64{cw[0], cw[1] * pos}
	}
	if cw == nil {
		return d.Weights, nil
	}
	w := make([]float64, d.Rows)
	for i, y := range d.Y {
		w[i] = cw[int(y)]
		if d.Weights != nil {
			w[i] *= d.Weights[i]
		}
	}
	return w, nil
}

// params lists the options as LightGBM's parameters block names them.
func (o *Options) params() []Param {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	i := strconv.Itoa
	p := []Param{
		{"boosting", "gbdt"}, {"objective", string(o.Objective)},
		{"num_iterations", i(o.NumIterations)}, {"learning_rate", f(o.LearningRate)},
		{"num_leaves", i(o.NumLeaves)}, {"seed", strconv.FormatUint(o.Seed, 10)},
		{"max_depth", i(o.MaxDepth)}, {"min_data_in_leaf", i(o.MinDataInLeaf)},
		{"min_sum_hessian_in_leaf", f(o.MinSumHessianInLeaf)}, {"bagging_fraction", f(o.BaggingFraction)},
		{"bagging_freq", i(o.BaggingFreq)}, {"feature_fraction", f(o.FeatureFraction)},
		{"lambda_l2", f(o.LambdaL2)}, {"min_gain_to_split", f(o.MinGainToSplit)},
		{"early_stopping_round", i(o.EarlyStoppingRounds)}, {"max_bin", i(o.MaxBin)},
	}
	if o.Objective == Multiclass {
		p = append(p, Param{"num_class", i(o.NumClass)})
	}
	if o.Objective == Binary {
		p = append(p, Param{"is_unbalance", strconv.FormatBool(o.IsUnbalance)}, Param{"scale_pos_weight", f(o.ScalePosWeight)})
	}
	return p
}

package trees

import (
	"math"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Objective names the loss a model was trained for, in LightGBM's words.
type Objective string

// The objectives Train and TrainForest fit.
const (
	Binary     Objective = "binary"     // logloss on 0/1 labels; the output is P(y=1) = sigmoid(raw)
	Multiclass Objective = "multiclass" // softmax over K classes, one tree per class per iteration
	Regression Objective = "regression" // squared error; the output is the raw score
)

// The bits of a node's decision type, as LightGBM packs them.
const (
	decisionCategorical = 1 << 0
	decisionDefaultLeft = 1 << 1
)

// The missing types, stored in bits 2-3 of a decision type.
const (
	missingNone = 0 // NaN is read as 0
	missingZero = 1 // 0 (and NaN) take the default side
	missingNaN  = 2 // NaN takes the default side
)

// zeroThreshold is LightGBM's kZeroThreshold: |x| <= it counts as zero.
const zeroThreshold = 1e-35

// Tree is one tree in LightGBM's arrays. Node i splits on SplitFeature[i]:
// a value x goes left when x <= Threshold[i] (for a categorical split, when
// x is in the node's category set); a child >= 0 is a node, a child < 0 is
// the leaf ^child. Node 0 is the root; a tree with one leaf has no nodes.
// Leaf values already include the shrinkage (learning rate).
type Tree struct {
	NumLeaves      int
	SplitFeature   []int
	SplitGain      []float64
	Threshold      []float64
	DecisionType   []uint8
	LeftChild      []int
	RightChild     []int
	LeafValue      []float64
	LeafWeight     []float64
	LeafCount      []int
	InternalValue  []float64
	InternalWeight []float64
	InternalCount  []int
	// CatBoundaries and CatThreshold hold the category bitsets of
	// categorical splits (read from LightGBM models; Train makes none).
	CatBoundaries []int
	CatThreshold  []uint32
	Shrinkage     float64

	nodes []node // the compact form Predict walks
}

// node is a split packed for prediction.
type node struct {
	threshold   float64
	feature     int32
	left, right int32
	categorical bool
	defaultLeft bool
	missing     uint8
}

// compile packs the tree's nodes; the arrays must be consistent (Train
// makes them so, the reader checks them).
func (t *Tree) compile() {
	t.nodes = make([]node, len(t.SplitFeature))
	for i := range t.nodes {
		dt := t.DecisionType[i]
		t.nodes[i] = node{
			threshold:   t.Threshold[i],
			feature:     int32(t.SplitFeature[i]),
			left:        int32(t.LeftChild[i]),
			right:       int32(t.RightChild[i]),
			categorical: dt&decisionCategorical != 0,
			defaultLeft: dt&decisionDefaultLeft != 0,
			missing:     (dt >> 2) & 3,
		}
	}
}

// shrink multiplies the tree's outputs by rate.
func (t *Tree) shrink(rate float64) {
	for i := range t.LeafValue {
		t.LeafValue[i] *= rate
	}
	for i := range t.InternalValue {
		t.InternalValue[i] *= rate
	}
	t.Shrinkage *= rate
}

// addBias adds v to the tree's outputs (the initial score of a boosted
// model lives in its first trees, as LightGBM's BoostFromAverage puts it).
func (t *Tree) addBias(v float64) {
	for i := range t.LeafValue {
		t.LeafValue[i] += v
	}
	for i := range t.InternalValue {
		t.InternalValue[i] += v
	}
}

// predict returns the value of the leaf row falls into.
func (t *Tree) predict(row []float64) float64 {
	return t.LeafValue[t.leaf(row)]
}

// leaf returns the index of the leaf row falls into, following LightGBM's
// NumericalDecision and CategoricalDecision.
func (t *Tree) leaf(row []float64) int {
	if len(t.nodes) == 0 {
		return 0
	}
	i := int32(0)
	for {
		next := t.next(i, row)
		if next < 0 {
			return int(^next)
		}
		i = next
	}
}

// next is the child of internal node i that row goes to: a node index, or
// ^leaf for a leaf.
func (t *Tree) next(i int32, row []float64) int32 {
	n := &t.nodes[i]
	x := row[n.feature]
	var left bool
	switch {
	case n.categorical:
		left = t.inCategory(n, x)
	case math.IsNaN(x) && n.missing == missingNaN:
		left = n.defaultLeft
	default:
		if math.IsNaN(x) {
			x = 0
		}
		if n.missing == missingZero && x >= -zeroThreshold && x <= zeroThreshold {
			left = n.defaultLeft
		} else {
			left = x <= n.threshold
		}
	}
	if left {
		return n.left
	}
	return n.right
}

// inCategory reports whether x is in the category set of a categorical
// node: negative values and, with missing type NaN, NaN never are.
func (t *Tree) inCategory(n *node, x float64) bool {
	if math.IsNaN(x) {
		if n.missing == missingNaN {
			return false
		}
		x = 0
	}
	if x < 0 || x >= 1<<31 {
		return false
	}
	v := int(x)
	set := int(n.threshold)
	lo, hi := t.CatBoundaries[set], t.CatBoundaries[set+1]
	w := v / 32
	if w >= hi-lo {
		return false
	}
	return t.CatThreshold[lo+w]>>(uint(v)%32)&1 != 0
}

// Model is a trained or loaded tree ensemble.
type Model struct {
	// Objective is what the model was trained for. A model read from a
	// LightGBM file may carry another LightGBM objective (its output
	// transform is applied when Cairn knows it) or none (raw scores).
	Objective Objective
	// NumClass is the number of classes of a multiclass model, 1 otherwise;
	// each iteration holds one tree per class.
	NumClass int
	// Forest marks a random forest: the output is the average of the
	// trees, with no transform (LightGBM's average_output).
	Forest       bool
	FeatureNames []string
	FeatureInfos []string
	// Trees are iteration by iteration, class by class within one.
	Trees []*Tree
	// BestIteration is the iteration early stopping kept (1-based), 0
	// when training ran to the end.
	BestIteration int
	// ValidLoss holds the validation loss after each iteration when a
	// validation set was given.
	ValidLoss []float64
	// Params are the training parameters, written to the model file's
	// parameters block in order.
	Params []Param

	// objectiveLine is the header's objective ("" for none): it alone
	// decides the output transform, as in LightGBM.
	objectiveLine string
	transform     transform
}

// Param is one training parameter as LightGBM's parameters block lists it.
type Param struct{ Name, Value string }

// transform turns raw scores into the model's output, in place.
type transform func(raw []float64)

// NumFeatures is the number of feature values a row must have.
func (m *Model) NumFeatures() int { return len(m.FeatureNames) }

// NumOutputs is the number of values Predict gives per row: the number of
// classes of a multiclass model, 1 otherwise.
func (m *Model) NumOutputs() int { return m.NumClass }

// NumIterations is the number of boosting iterations (or forest rounds).
func (m *Model) NumIterations() int { return len(m.Trees) / m.NumClass }

// PredictRaw appends row's raw scores to dst and returns it: the sum of
// the trees per class, or their average for a forest.
func (m *Model) PredictRaw(dst, row []float64) ([]float64, error) {
	if len(row) != m.NumFeatures() {
		return dst, errs.Invalidf("predict: row has %d values, the model takes %d features", len(row), m.NumFeatures())
	}
	k := m.NumClass
	n := len(dst)
	for range k {
		dst = append(dst, 0)
	}
	out := dst[n:]
	for i, t := range m.Trees {
		out[i%k] += t.predict(row)
	}
	if m.Forest && len(m.Trees) > 0 {
		inv := 1 / float64(len(m.Trees)/k)
		for c := range out {
			out[c] *= inv
		}
	}
	return dst, nil
}

// Predict appends row's outputs to dst and returns it: P(y=1) for a binary
// model, the class probabilities for a multiclass one, the predicted value
// for a regression, the averaged tree outputs for a forest (class
// frequencies for a classification forest).
func (m *Model) Predict(dst, row []float64) ([]float64, error) {
	n := len(dst)
	dst, err := m.PredictRaw(dst, row)
	if err != nil {
		return dst, err
	}
	if m.transform != nil {
		m.transform(dst[n:])
	}
	return dst, nil
}

// PredictBatch returns the outputs of rows rows of row-major x, NumOutputs
// values per row, predicted on all cores.
func (m *Model) PredictBatch(x []float64, rows int) ([]float64, error) {
	d := m.NumFeatures()
	if rows < 0 || len(x) != rows*d {
		return nil, errs.Invalidf("predict: %d values for %d rows of %d features", len(x), rows, d)
	}
	k := m.NumOutputs()
	out := make([]float64, rows*k)
	const chunk = 1024
	parallelFor((rows+chunk-1)/chunk, workers(rows/chunk+1), func(c int) {
		for i := c * chunk; i < min(rows, (c+1)*chunk); i++ {
			// The row has the right length, so Predict cannot fail.
			_, _ = m.Predict(out[i*k:i*k], x[i*d:(i+1)*d])
		}
	})
	return out, nil
}

// compile prepares a model for prediction.
func (m *Model) compile() {
	for _, t := range m.Trees {
		t.compile()
	}
}

func sigmoid(scale float64) transform {
	return func(raw []float64) {
		for i, v := range raw {
			raw[i] = 1 / (1 + math.Exp(-scale*v))
		}
	}
}

func softmax(raw []float64) {
	hi := math.Inf(-1)
	for _, v := range raw {
		hi = max(hi, v)
	}
	var sum float64
	for i, v := range raw {
		raw[i] = math.Exp(v - hi)
		sum += raw[i]
	}
	for i := range raw {
		raw[i] /= sum
	}
}

func exponential(raw []float64) {
	for i, v := range raw {
		raw[i] = math.Exp(v)
	}
}

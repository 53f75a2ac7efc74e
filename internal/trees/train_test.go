package trees

import (
	"bytes"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/stretchr/testify/require"
)

func saved(t *testing.T, m *Model) string {
	t.Helper()
	var buf bytes.Buffer
	_, err := m.WriteTo(&buf)
	require.NoError(t, err)
	return buf.String()
}

func TestEarlyStoppingKeepsTheBestIteration(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	means := [][]float64{{0, 0}, {0.5, 0.5}}
	train, _ := gaussians(rng, 2000, 4, means)
	valid, _ := gaussians(rng, 2000, 4, means)
	o := DefaultOptions(Binary, 0)
	o.NumIterations, o.LearningRate, o.NumLeaves, o.MinDataInLeaf, o.EarlyStoppingRounds = 300, 0.3, 31, 5, 10
	m, err := Train(train, &valid, o)
	require.NoError(t, err)
	best := m.BestIteration
	require.Greater(t, best, 0)
	require.Less(t, best, 300-10, "a fast learner on noise overfits early")
	require.Len(t, m.ValidLoss, best+10, "training stops 10 iterations past the best")
	require.Len(t, m.Trees, best)
	for i, l := range m.ValidLoss {
		require.GreaterOrEqual(t, l, m.ValidLoss[best-1], "iteration %d", i+1)
	}
	// The kept model scores the best loss.
	out, err := m.PredictBatch(valid.X, valid.Rows)
	require.NoError(t, err)
	var loss float64
	for i, p := range out {
		if valid.Y[i] == 1 {
			loss -= math.Log(p)
		} else {
			loss -= math.Log(1 - p)
		}
	}
	require.InDelta(t, m.ValidLoss[best-1], loss/float64(valid.Rows), 1e-9)
}

func TestFixedSeedIsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ds, _ := gaussians(rng, 3000, 8, [][]float64{{0, 0}, {1, 1}, {0, 2}})
	ds = withMissing(rng, ds, 0.1, 1, 3)
	o := DefaultOptions(Multiclass, 3)
	o.NumIterations, o.BaggingFraction, o.FeatureFraction, o.Seed = 20, 0.7, 0.75, 42
	train := func(o Options) string {
		m, err := Train(ds, nil, o)
		require.NoError(t, err)
		return saved(t, m)
	}
	first := train(o)
	require.Equal(t, first, train(o))
	prev := runtime.GOMAXPROCS(1)
	one := train(o)
	runtime.GOMAXPROCS(prev)
	require.Equal(t, first, one, "the model does not depend on the number of cores")
	o.Seed = 43
	require.NotEqual(t, first, train(o))

	fo := DefaultForestOptions(Multiclass, 3)
	fo.NumTrees, fo.Seed = 10, 7
	forest := func() string {
		m, err := TrainForest(ds, fo)
		require.NoError(t, err)
		return saved(t, m)
	}
	f1 := forest()
	prev = runtime.GOMAXPROCS(1)
	f2 := forest()
	runtime.GOMAXPROCS(prev)
	require.Equal(t, f1, f2)
}

func TestMissingValuesFollowTheLearnedSide(t *testing.T) {
	for _, missingLabel := range []float64{0, 1} {
		rng := rand.New(rand.NewPCG(7, 8))
		n := 1000
		ds := Dataset{X: make([]float64, n), Rows: n, Cols: 1, Y: make([]float64, n)}
		for i := range n {
			x := rng.Float64()
			ds.X[i] = x
			if x > 0.5 {
				ds.Y[i] = 1
			}
			if i%4 == 0 {
				ds.X[i], ds.Y[i] = math.NaN(), missingLabel
			}
		}
		o := DefaultOptions(Binary, 0)
		o.NumIterations, o.NumLeaves = 1, 2
		m, err := Train(ds, nil, o)
		require.NoError(t, err)
		root := m.Trees[0]
		require.InDelta(t, 0.5, root.Threshold[0], 0.01)
		require.Equal(t, uint8(missingNaN), root.DecisionType[0]>>2&3, "missing type NaN")
		// Class 1 lies right of the threshold: missing rows of class 1 go
		// right with it, those of class 0 go left.
		require.Equal(t, missingLabel == 0, root.DecisionType[0]&decisionDefaultLeft != 0)
		p, err := m.Predict(nil, []float64{math.NaN()})
		require.NoError(t, err)
		if missingLabel == 1 {
			require.Greater(t, p[0], 0.5)
		} else {
			require.Less(t, p[0], 0.5)
		}
		roundTrip(t, m, Dataset{X: []float64{math.NaN(), 0.1, 0.9}, Rows: 3, Cols: 1, Y: []float64{0, 0, 0}})
	}
}

func TestBadInputIsInvalid(t *testing.T) {
	nan := math.NaN()
	good := func() Dataset {
		return Dataset{X: []float64{1, 2, 3, 4, 5, 6}, Rows: 3, Cols: 2, Y: []float64{0, 1, 0}}
	}
	bin := DefaultOptions(Binary, 0)
	cases := []struct {
		name string
		ds   func(d *Dataset)
		o    func(o *Options)
		want string
	}{
		{"empty", func(d *Dataset) { *d = Dataset{} }, nil, "train data is empty"},
		{"no rows", func(d *Dataset) { d.Rows, d.X, d.Y = 0, nil, nil }, nil, "train data is empty"},
		{"short X", func(d *Dataset) { d.X = d.X[:5] }, nil, "X has 5 values, want rows*cols = 3*2 = 6"},
		{"short Y", func(d *Dataset) { d.Y = d.Y[:2] }, nil, "2 labels for 3 rows"},
		{"weights", func(d *Dataset) { d.Weights = []float64{1} }, nil, "1 weights for 3 rows"},
		{"negative weight", func(d *Dataset) { d.Weights = []float64{1, -1, 1} }, nil, "weight of row 1 is -1"},
		{"NaN label", func(d *Dataset) { d.Y[1] = nan }, nil, "label of row 1 is NaN"},
		{"label 2 for binary", func(d *Dataset) { d.Y[2] = 2 }, nil, "label of row 2 is 2, want a class id in 0..1"},
		{"negative label", func(d *Dataset) { d.Y[0] = -1 }, nil, "label of row 0 is -1"},
		{"fractional label", func(d *Dataset) { d.Y[0] = 0.5 }, nil, "label of row 0 is 0.5"},
		{"label 3 of 3 classes", func(d *Dataset) { d.Y[0] = 3 }, func(o *Options) { *o = DefaultOptions(Multiclass, 3) }, "want a class id in 0..2"},
		{"all-NaN feature", func(d *Dataset) { d.X[1], d.X[3], d.X[5] = nan, nan, nan }, nil, "feature 1 has only missing values"},
		{"infinite value", func(d *Dataset) { d.X[2] = math.Inf(1) }, nil, "row 1, column 0 is +Inf"},
		{"feature names", func(d *Dataset) { d.FeatureNames = []string{"a b", "c"} }, nil, "feature name 0"},
		{"objective", nil, func(o *Options) { o.Objective = "poisson" }, `objective "poisson"`},
		{"num_class", nil, func(o *Options) { *o = DefaultOptions(Multiclass, 1) }, "num_class 1"},
		{"learning rate", nil, func(o *Options) { o.LearningRate = nan }, "learning_rate NaN"},
		{"num_leaves", nil, func(o *Options) { o.NumLeaves = 1 }, "num_leaves 1"},
		{"max_bin", nil, func(o *Options) { o.MaxBin = 256 }, "max_bin 256"},
		{"bagging", nil, func(o *Options) { o.BaggingFraction = 0 }, "bagging_fraction 0"},
		{"class weights", nil, func(o *Options) { o.ClassWeights = []float64{1} }, "class_weights: 1 weights"},
		{"early stopping without valid", nil, func(o *Options) { o.EarlyStoppingRounds = 5 }, "needs a validation set"},
		{"unbalanced single class", func(d *Dataset) { d.Y = []float64{1, 1, 1} }, func(o *Options) { o.IsUnbalance = true }, "only one class"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, o := good(), bin
			if c.ds != nil {
				c.ds(&d)
			}
			if c.o != nil {
				c.o(&o)
			}
			m, err := Train(d, nil, o)
			require.Nil(t, m)
			require.Error(t, err)
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			require.Contains(t, err.Error(), c.want)
		})
	}

	d := good()
	v := Dataset{X: []float64{1, 2, 3}, Rows: 1, Cols: 3, Y: []float64{0}}
	_, err := Train(d, &v, bin)
	require.True(t, errs.Is(err, errs.Invalid))
	require.Contains(t, err.Error(), "valid data has 3 columns, train data 2")
	v = Dataset{X: []float64{1, 2}, Rows: 1, Cols: 2, Y: []float64{7}}
	_, err = Train(d, &v, bin)
	require.Contains(t, err.Error(), "valid data: label of row 0 is 7")

	fo := DefaultForestOptions(Binary, 0)
	d.Y[0] = nan
	_, err = TrainForest(d, fo)
	require.True(t, errs.Is(err, errs.Invalid))
	require.Contains(t, err.Error(), "label of row 0 is NaN")
	fo.NumTrees = 0
	_, err = TrainForest(good(), fo)
	require.Contains(t, err.Error(), "num_trees 0")

	m, err := Train(good(), nil, bin)
	require.NoError(t, err)
	_, err = m.Predict(nil, []float64{1})
	require.True(t, errs.Is(err, errs.Invalid))
	require.Contains(t, err.Error(), "row has 1 values, the model takes 2 features")
	_, err = m.PredictBatch([]float64{1, 2, 3}, 2)
	require.True(t, errs.Is(err, errs.Invalid))
}

func TestWeightsAndClassWeights(t *testing.T) {
	// Doubling every weight of class 1 moves the initial score by log 2,
	// as scale_pos_weight 2 and class weights {1, 2} do.
	rng := rand.New(rand.NewPCG(9, 10))
	ds, _ := gaussians(rng, 500, 2, [][]float64{{0}, {1}})
	o := DefaultOptions(Binary, 0)
	o.NumIterations, o.LearningRate = 1, 1e-9
	base, err := Train(ds, nil, o)
	require.NoError(t, err)
	raw := func(m *Model) float64 {
		out, err := m.PredictRaw(nil, ds.Row(0))
		require.NoError(t, err)
		return out[0]
	}
	w := ds
	w.Weights = make([]float64, ds.Rows)
	for i, y := range ds.Y {
		w.Weights[i] = 1 + y
	}
	byRow, err := Train(w, nil, o)
	require.NoError(t, err)
	o.ScalePosWeight = 2
	byScale, err := Train(ds, nil, o)
	require.NoError(t, err)
	o.ScalePosWeight, o.ClassWeights = 1, []float64{1, 2}
	byClass, err := Train(ds, nil, o)
	require.NoError(t, err)
	require.InDelta(t, raw(base)+math.Log(2), raw(byRow), 1e-6)
	require.InDelta(t, raw(byRow), raw(byScale), 1e-12)
	require.InDelta(t, raw(byRow), raw(byClass), 1e-12)
}

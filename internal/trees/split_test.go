package trees

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSplitGainByHand checks a stump against numbers worked out by hand.
// Gains leave out the 1/2 factor, as LightGBM's do:
// gain = G_L²/(H_L+λ) + G_R²/(H_R+λ) - G²/(H+λ).
func TestSplitGainByHand(t *testing.T) {
	// x = 1 2 3 4, y = 1 1 3 5: the mean 2.5 is the initial score, so
	// the L2 gradients (score - y) are 1.5 1.5 -0.5 -2.5 (G = 0) and every
	// hessian is 1 (H = 4). With λ = 1:
	//   x <= 1.5: 1.5²/2 + (-1.5)²/4 - 0 = 1.125 + 0.5625 = 1.6875
	//   x <= 2.5: 3²/3   + (-3)²/3   - 0 = 3 + 3          = 6
	//   x <= 3.5: 2.5²/4 + (-2.5)²/2 - 0 = 1.5625 + 3.125 = 4.6875
	// so the split is at 2.5 (the midpoint of 2 and 3) with gain 6, and
	// the leaves are 2.5 - 3/3 = 1.5 and 2.5 + 3/3 = 3.5.
	ds := Dataset{X: []float64{1, 2, 3, 4}, Rows: 4, Cols: 1, Y: []float64{1, 1, 3, 5}}
	o := DefaultOptions(Regression, 0)
	o.NumIterations, o.LearningRate, o.NumLeaves, o.LambdaL2, o.MinDataInLeaf = 1, 1, 2, 1, 1
	m, err := Train(ds, nil, o)
	require.NoError(t, err)
	require.Len(t, m.Trees, 1)
	tr := m.Trees[0]
	require.Equal(t, 2, tr.NumLeaves)
	require.Equal(t, []int{0}, tr.SplitFeature)
	require.Equal(t, []float64{2.5}, tr.Threshold)
	require.InDelta(t, 6, tr.SplitGain[0], 1e-12)
	require.InDeltaSlice(t, []float64{1.5, 3.5}, tr.LeafValue, 1e-12)
	require.Equal(t, []int{2, 2}, tr.LeafCount)
	require.Equal(t, uint8(decisionDefaultLeft), tr.DecisionType[0], "no missing values: missing type None")
}

// TestSplitGainWithMissing checks that missing values try both sides, on
// a histogram worked out by hand (λ = 1):
//
//	bin 0: G=2,  H=1;  bin 1: G=-2, H=1;  missing: G=-2, H=1;  G=-2, H=3
//	parent: (-2)²/4 = 1
//	x in bin 0, missing right: 2²/2 + (-4)²/3 - 1 = 2 + 16/3 - 1 = 19/3
//	x in bin 0, missing left:  0²/3 + (-2)²/2 - 1 = 1
//	values left, missing right: 0²/3 + (-2)²/2 - 1 = 1
func TestSplitGainWithMissing(t *testing.T) {
	hf := []stat{{g: 2, h: 1, n: 1}, {g: -2, h: 1, n: 1}, {g: -2, h: 1, n: 1}}
	sum := stat{g: -2, h: 3, n: 3}
	best := split{}
	bestSplitOn(&best, 0, hf, sum, growParams{lambda: 1, minData: 1})
	require.True(t, best.ok)
	require.Equal(t, 0, best.bin)
	require.False(t, best.defaultLeft)
	require.InDelta(t, 19.0/3, best.gain, 1e-12)

	// Swap the signs of the missing bin: now sending it left pays.
	//   bin 0, missing left: (2+2)²/3 + (-2)²/2 - (2)²/4 = 16/3 + 2 - 1 = 19/3
	hf[2].g, sum.g = 2, 2
	best = split{}
	bestSplitOn(&best, 0, hf, sum, growParams{lambda: 1, minData: 1})
	require.True(t, best.ok)
	require.True(t, best.defaultLeft)
	require.InDelta(t, 19.0/3, best.gain, 1e-12)
}

func TestSeparableTableIsFitted(t *testing.T) {
	n := 200
	ds := Dataset{X: make([]float64, n*2), Rows: n, Cols: 2, Y: make([]float64, n)}
	for i := range n {
		ds.X[2*i] = float64(i % 17)
		ds.X[2*i+1] = float64(i)
		if i >= 120 {
			ds.Y[i] = 1
		}
	}
	o := DefaultOptions(Binary, 0)
	o.NumIterations = 30
	m, err := Train(ds, nil, o)
	require.NoError(t, err)
	require.Equal(t, 1.0, accuracy(m, ds))
	require.Equal(t, 119.5, m.Trees[0].Threshold[0], "the first split separates the classes")
	require.Equal(t, 1, m.Trees[0].SplitFeature[0])

	f, err := TrainForest(ds, DefaultForestOptions(Binary, 0))
	require.NoError(t, err)
	require.Equal(t, 1.0, accuracy(f, ds))
}

func TestConstantTargetGivesOneLeaf(t *testing.T) {
	ds := Dataset{X: []float64{1, 2, 3, 4, 5, 6}, Rows: 6, Cols: 1, Y: []float64{3, 3, 3, 3, 3, 3}}
	o := DefaultOptions(Regression, 0)
	o.MinDataInLeaf = 1
	m, err := Train(ds, nil, o)
	require.NoError(t, err)
	require.Len(t, m.Trees, 1, "training stops when no tree can split")
	require.Equal(t, 1, m.Trees[0].NumLeaves)
	require.Equal(t, []float64{3}, m.Trees[0].LeafValue)
	out, err := m.Predict(nil, []float64{math.NaN()})
	require.NoError(t, err)
	require.Equal(t, []float64{3}, out)
}

// TestBinnedPathMatchesRawPath checks that following a tree on bin codes
// (how training scores the rows a bagged tree did not see) reaches the
// same leaf as following it on the raw values (how Predict does).
func TestBinnedPathMatchesRawPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	ds, _ := gaussians(rng, 3000, 5, [][]float64{{0, 0}, {1, 1}})
	ds = withMissing(rng, ds, 0.2, 0, 3)
	data, err := binDataset(&ds, 63, 1)
	require.NoError(t, err)
	b := newBuilder(data, growParams{maxLeaves: 40, minData: 5, lambda: 1, nodeFraction: 1, workers: 2})
	grad, hess := make([]float64, ds.Rows), make([]float64, ds.Rows)
	var rows []int32
	for i := range ds.Rows {
		grad[i], hess[i] = 0.5-ds.Y[i]+0.1*ds.X[i*ds.Cols+4], 0.25
		if i%2 == 0 {
			rows = append(rows, int32(i))
		}
	}
	tr := b.grow(rows, grad, hess, []int{0, 1, 2, 3, 4}, rng)
	tr.compile()
	require.Equal(t, 40, tr.NumLeaves)
	for i := range ds.Rows {
		require.Equal(t, tr.leaf(ds.Row(i)), b.binnedLeaf(tr, i), "row %d", i)
	}
	for l, lf := range b.leaves {
		for _, r := range b.order[lf.start:lf.end] {
			require.Equal(t, l, tr.leaf(ds.Row(int(r))), "row %d", r)
		}
	}
}

package trees

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The accuracy tests draw classes from Gaussians with unit covariance and
// equal priors, where the Bayes classifier (the nearest mean) is known, and
// require a model to come within 1.5 points of its accuracy on the same
// test rows. With 20,000 test rows the standard error of that difference
// is well under half a point.

func TestBinaryNearBayesRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	// Two classes 1.2 apart (in 4 of 6 dimensions): Bayes accuracy
	// Phi(0.6) = 72.6%.
	means := [][]float64{{0, 0, 0, 0}, {0.6, 0.6, 0.6, 0.6}}
	train, _ := gaussians(rng, 20000, 6, means)
	valid, _ := gaussians(rng, 5000, 6, means)
	test, bayes := gaussians(rng, 20000, 6, means)
	best := bayesAccuracy(test, bayes)
	require.InDelta(t, 0.726, best, 0.01)

	o := DefaultOptions(Binary, 0)
	o.NumIterations, o.LearningRate, o.NumLeaves, o.EarlyStoppingRounds = 500, 0.05, 15, 30
	m, err := Train(train, &valid, o)
	require.NoError(t, err)
	gbdt := accuracy(m, test)
	t.Logf("bayes %.4f gbdt %.4f (%d iterations)", best, gbdt, m.BestIteration)
	require.Greater(t, gbdt, best-0.015)

	fo := DefaultForestOptions(Binary, 0)
	fo.MinDataInLeaf = 20
	f, err := TrainForest(train, fo)
	require.NoError(t, err)
	rf := accuracy(f, test)
	t.Logf("bayes %.4f forest %.4f", best, rf)
	require.Greater(t, rf, best-0.015)
}

func TestMulticlassNearBayesRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	// Three classes at the corners of a triangle with sides 2.
	means := [][]float64{{0, 0}, {2, 0}, {1, 1.732}}
	train, _ := gaussians(rng, 20000, 4, means)
	valid, _ := gaussians(rng, 5000, 4, means)
	test, bayes := gaussians(rng, 20000, 4, means)
	best := bayesAccuracy(test, bayes)

	o := DefaultOptions(Multiclass, 3)
	o.NumIterations, o.LearningRate, o.NumLeaves, o.EarlyStoppingRounds = 500, 0.05, 15, 30
	m, err := Train(train, &valid, o)
	require.NoError(t, err)
	gbdt := accuracy(m, test)
	t.Logf("bayes %.4f gbdt %.4f (%d iterations)", best, gbdt, m.BestIteration)
	require.Greater(t, gbdt, best-0.015)

	fo := DefaultForestOptions(Multiclass, 3)
	fo.MinDataInLeaf = 20
	f, err := TrainForest(train, fo)
	require.NoError(t, err)
	rf := accuracy(f, test)
	t.Logf("bayes %.4f forest %.4f", best, rf)
	require.Greater(t, rf, best-0.015)
}

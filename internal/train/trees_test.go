package train

import (
	"bufio"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/dmitryikh/leaves"
	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
)

// threeClasses is a table whose class is which of three bands x0 falls in.
func threeClasses(t *testing.T) *data.Dataset {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 600
	ds := &data.Dataset{Manifest: data.Manifest{Kind: "table", Shape: []int{2}, DType: data.Float32, Classes: []string{"a", "b", "c"},
		Features: []string{"x0", "noise"}, Count: n, Hash: "bands"}}
	for i := 0; i < n; i++ {
		x0 := rng.Float64()*3 - 1.5
		ds.F32 = append(ds.F32, float32(x0), float32(rng.NormFloat64()))
		ds.Labels = append(ds.Labels, int32(min(max(int(x0+1.5), 0), 2)))
	}
	splits, err := data.Split(ds.Labels, nil, data.SplitFractions{Validation: 0.2, Test: 0.2}, 1)
	require.NoError(t, err)
	ds.Manifest.Splits = splits
	return ds
}

// A tree model's package holds LightGBM's text format; its predictor, and
// leaves reading the same file, give the trained model's probabilities.
func TestTreePackagesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		model string
		ds    *data.Dataset
	}{{ModelGBDT, separable(t)}, {ModelRF, separable(t)}, {ModelGBDT, threeClasses(t)}, {ModelRF, threeClasses(t)}} {
		opt := DefaultOptions()
		opt.Model = tc.model
		m, res, err := Train(context.Background(), tc.ds, opt)
		require.NoError(t, err)
		require.GreaterOrEqual(t, res.Test.Accuracy, 0.9, "%s on %d classes", tc.model, len(tc.ds.Manifest.Classes))
		require.Len(t, res.History, 1)
		dir := filepath.Join(t.TempDir(), "pkg")
		pkg, err := m.SavePackage(dir, nil, nil)
		require.NoError(t, err)
		require.Equal(t, tc.model, pkg.Architecture)
		require.FileExists(t, filepath.Join(dir, treesFile))
		require.NoDirExists(t, filepath.Join(dir, weightsDir))

		p, err := LoadPredictor(dir, "")
		require.NoError(t, err)
		test := tc.ds.Manifest.Splits[data.SplitTest]
		size := tc.ds.ExampleSize()
		x := make([]float32, len(test)*size)
		for j, i := range test {
			tc.ds.Example(i, x[j*size:(j+1)*size])
		}
		want, err := m.PredictBatch(x, len(test))
		require.NoError(t, err)
		got, err := p.Predict(x, len(test))
		require.NoError(t, err)
		require.Equal(t, want, got)

		f, err := os.Open(filepath.Join(dir, treesFile))
		require.NoError(t, err)
		lm, err := leaves.LGEnsembleFromReader(bufioReader(f), true)
		f.Close()
		require.NoError(t, err, "leaves reads the package's model")
		row := make([]float64, size)
		for j := range test[:20] {
			for k := range row {
				row[k] = float64(x[j*size+k])
			}
			out := make([]float64, max(lm.NOutputGroups(), 1))
			require.NoError(t, lm.Predict(row, 0, out))
			if len(out) == 1 {
				require.InDelta(t, out[0], got[j][1], 1e-6)
			} else {
				sum := 0.0
				for _, v := range out {
					sum += v
				}
				for c := range out {
					require.InDelta(t, out[c]/sum, got[j][c], 1e-6)
				}
			}
		}
	}
}

func TestTreePackageMustFitItsManifest(t *testing.T) {
	ds := separable(t)
	opt := DefaultOptions()
	opt.Model = ModelRF
	m, _, err := Train(context.Background(), ds, opt)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "pkg")
	_, err = m.SavePackage(dir, nil, nil)
	require.NoError(t, err)
	pkg, err := ReadPackage(dir)
	require.NoError(t, err)
	pkg.InputShape = []int{5}
	require.NoError(t, pkg.write(dir))
	_, err = LoadPredictor(dir, "")
	require.ErrorContains(t, err, "the ensemble takes 3 features for 2 classes, the package says 5 for 2")
	require.NoError(t, os.WriteFile(filepath.Join(dir, treesFile), []byte("tree\nversion=v3\nnum_class=x\n"), 0o644))
	_, err = LoadPredictor(dir, "")
	require.ErrorContains(t, err, "model.txt")
}

func bufioReader(f *os.File) *bufio.Reader { return bufio.NewReader(f) }

func TestRepeatedCrossValidation(t *testing.T) {
	ds := separable(t)
	opt := DefaultOptions()
	opt.Model = ModelGBDT
	opt.Trees.Iterations = 30
	cv, err := CrossValidateRepeated(context.Background(), ds, opt, 3, 2)
	require.NoError(t, err)
	require.Len(t, cv.Accuracy, 6)
	require.Len(t, cv.RepeatMeans, 2)
	require.Equal(t, 2, cv.Repeats)
	require.InDelta(t, (cv.RepeatMeans[0]+cv.RepeatMeans[1])/2, cv.Mean, 1e-12)
	require.NotEqual(t, cv.Accuracy[:3], cv.Accuracy[3:], "each repeat splits anew")
	once, err := CrossValidate(context.Background(), ds, opt, 3)
	require.NoError(t, err)
	require.Equal(t, cv.Accuracy[:3], once.Accuracy, "the first repeat is the plain k-fold")
	_, err = CrossValidateRepeated(context.Background(), ds, opt, 3, 0)
	require.ErrorContains(t, err, "0 repeats: expected 1 to 100")
}

// Shuffling x0, the column the label depends on, costs accuracy; shuffling
// noise costs none.
func TestPermutationImportance(t *testing.T) {
	ds := threeClasses(t)
	for _, model := range []string{ModelGBDT, "logistic"} {
		opt := DefaultOptions()
		opt.Model, opt.Epochs, opt.LearningRate = model, 40, 0.05
		m, _, err := Train(context.Background(), ds, opt)
		require.NoError(t, err)
		imp, err := m.PermutationImportance(ds, data.SplitValidation, 5, 1)
		require.NoError(t, err)
		require.Equal(t, "x0", imp.Features[0].Name, model)
		require.Greater(t, imp.Features[0].Drop, 0.3, model)
		require.Equal(t, "noise", imp.Features[1].Name)
		require.Less(t, math.Abs(imp.Features[1].Drop), 0.05, model)
		png, err := ImportancePNG(imp, "t")
		require.NoError(t, err)
		require.Equal(t, "\x89PNG", string(png[:4]))
	}
	require.Equal(t, [][]int{{0, 1}, {2}}, func() [][]int { _, g := featureGroups([]string{"Sex=male", "Sex=<unknown>", "Age"}); return g }())
}

// A tree model's explanation adds up to its log-odds: the predicted
// probability is the sigmoid of the parts plus the bias.
func TestTreePredictorExplains(t *testing.T) {
	ds := separable(t)
	opt := DefaultOptions()
	opt.Model = ModelGBDT
	m, _, err := Train(context.Background(), ds, opt)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "pkg")
	_, err = m.SavePackage(dir, nil, nil)
	require.NoError(t, err)
	p, err := LoadPredictor(dir, "")
	require.NoError(t, err)
	x := make([]float32, ds.ExampleSize())
	ds.Example(ds.Manifest.Splits[data.SplitTest][0], x)
	probs, err := p.Predict(x, 1)
	require.NoError(t, err)
	class := argmax(probs[0])
	cs, err := p.Explain(x, class)
	require.NoError(t, err)
	require.Len(t, cs, 3)
	require.NotEqual(t, "noise", cs[0].Field, "x0 or x1 lead")
	row := make([]float64, len(x))
	for i, v := range x {
		row[i] = float64(v)
	}
	full, err := m.trees.Contributions(row)
	require.NoError(t, err)
	bias := full[len(full)-1]
	sum := bias
	for _, c := range cs {
		if class == 0 {
			sum -= c.Value
		} else {
			sum += c.Value
		}
	}
	require.InDelta(t, float64(probs[0][1]), 1/(1+math.Exp(-sum)), 1e-5)

	opt.Model, opt.Epochs = "logistic", 3
	lm, _, err := Train(context.Background(), ds, opt)
	require.NoError(t, err)
	ldir := filepath.Join(t.TempDir(), "lpkg")
	_, err = lm.SavePackage(ldir, nil, nil)
	require.NoError(t, err)
	lp, err := LoadPredictor(ldir, "")
	require.NoError(t, err)
	_, err = lp.Explain(x, 0)
	require.ErrorContains(t, err, "model logistic cannot explain its predictions")
}

package trees

import (
	"bufio"
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/dmitryikh/leaves"
	"github.com/stretchr/testify/require"
)

// roundTrip saves m, loads it back with ReadModel and with leaves, and
// checks that both predict what m does on the rows of ds.
func roundTrip(t *testing.T, m *Model, ds Dataset) {
	t.Helper()
	var buf bytes.Buffer
	_, err := m.WriteTo(&buf)
	require.NoError(t, err)
	text := buf.String()

	back, err := ReadModel(strings.NewReader(text))
	require.NoError(t, err)
	var again bytes.Buffer
	_, err = back.WriteTo(&again)
	require.NoError(t, err)
	require.Equal(t, text, again.String(), "a loaded model saves to the same bytes")

	ens, err := leaves.LGEnsembleFromReader(bufio.NewReader(strings.NewReader(text)), true)
	require.NoError(t, err)
	require.Equal(t, m.NumOutputs(), ens.NOutputGroups())
	if m.NumFeatures() > 1 { // leaves counts 0 features when max_feature_idx is 0
		require.Equal(t, m.NumFeatures(), ens.NFeatures())
	}
	want := make([]float64, m.NumOutputs())
	for i := range ds.Rows {
		row := ds.Row(i)
		ours, err := m.Predict(nil, row)
		require.NoError(t, err)
		loaded, err := back.Predict(nil, row)
		require.NoError(t, err)
		require.Equal(t, ours, loaded, "row %d", i)
		require.NoError(t, ens.Predict(row, 0, want))
		require.InDeltaSlice(t, want, ours, 1e-9, "row %d: leaves and trees disagree", i)
	}
}

func TestLeavesPredictsTheSame(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	two := [][]float64{{0, 0, 0}, {1, 0.5, -0.5}}
	three := [][]float64{{0, 0}, {1.5, 0}, {0, 1.5}}
	bin, _ := gaussians(rng, 2000, 5, two)
	multi, _ := gaussians(rng, 2000, 4, three)
	reg, _ := gaussians(rng, 2000, 4, two)
	for i := range reg.Rows {
		r := reg.Row(i)
		reg.Y[i] = 3*r[0] - r[1]*r[1] + 0.1*rng.NormFloat64()
	}
	binMissing := withMissing(rng, bin, 0.2, 0, 2)
	cases := []struct {
		name   string
		ds     Dataset
		boost  Options
		forest bool
	}{
		{"binary", bin, DefaultOptions(Binary, 0), false},
		{"binary with missing values", binMissing, DefaultOptions(Binary, 0), false},
		{"multiclass", withMissing(rng, multi, 0.1, 1), DefaultOptions(Multiclass, 3), false},
		{"regression", withMissing(rng, reg, 0.1, 0), DefaultOptions(Regression, 0), false},
		{"binary forest", binMissing, Options{Objective: Binary}, true},
		{"multiclass forest", multi, Options{Objective: Multiclass, NumClass: 3}, true},
		{"regression forest", reg, Options{Objective: Regression}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m *Model
			var err error
			if c.forest {
				o := DefaultForestOptions(c.boost.Objective, c.boost.NumClass)
				o.NumTrees, o.MinDataInLeaf = 20, 5
				m, err = TrainForest(c.ds, o)
			} else {
				c.boost.NumIterations = 30
				m, err = Train(c.ds, nil, c.boost)
			}
			require.NoError(t, err)
			test := c.ds
			test.Rows = 300
			test.X, test.Y = test.X[:300*test.Cols], test.Y[:300]
			roundTrip(t, m, test)
		})
	}
}

func TestSavedFormat(t *testing.T) {
	ds := Dataset{X: []float64{1, 2, 3, 4}, Rows: 4, Cols: 1, Y: []float64{1, 1, 3, 5}, FeatureNames: []string{"x"}}
	o := DefaultOptions(Regression, 0)
	o.NumIterations, o.LearningRate, o.NumLeaves, o.LambdaL2, o.MinDataInLeaf = 1, 1, 2, 1, 1
	m, err := Train(ds, nil, o)
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = m.WriteTo(&buf)
	require.NoError(t, err)
	tree := "Tree=0\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=6\nthreshold=2.5\ndecision_type=2\n" +
		"left_child=-1\nright_child=-2\nleaf_value=1.5 3.5\nleaf_weight=2 2\nleaf_count=2 2\ninternal_value=2.5\n" +
		"internal_weight=4\ninternal_count=4\nis_linear=0\nshrinkage=1\n\n\n"
	want := "tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=0\n" +
		"objective=regression\nfeature_names=x\nfeature_infos=[1:4]\ntree_sizes=" + itoa(len(tree)) + "\n\n" +
		tree + "end of trees\n\nfeature_importances:\nx=1\n\nparameters:\n"
	require.True(t, strings.HasPrefix(buf.String(), want), buf.String())
	require.True(t, strings.HasSuffix(buf.String(), "\nend of parameters\n"))
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

// lightgbmModel is a small model as LightGBM 4 writes it, with a
// categorical split (category set {1, 3} goes left) and a missing-NaN
// split with default left.
const lightgbmModel = `tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=binary sigmoid:1
feature_names=cat num
feature_infos=-1:1:3:0 [0:10]
tree_sizes=400

Tree=0
num_leaves=3
num_cat=1
split_feature=0 1
split_gain=10 5
threshold=0 2.5
decision_type=1 10
left_child=-1 -2
right_child=1 -3
leaf_value=0.5 -0.25 1
leaf_weight=1 1 1
leaf_count=10 10 10
internal_value=0 0
internal_weight=3 2
internal_count=30 20
cat_boundaries=0 1
cat_threshold=10
is_linear=0
shrinkage=1


end of trees

feature_importances:
cat=1
num=1

parameters:
[boosting: gbdt]
[objective: binary]

end of parameters

pandas_categorical:null
`

func TestReadLightGBMModel(t *testing.T) {
	m, err := ReadModel(strings.NewReader(lightgbmModel))
	require.NoError(t, err)
	require.Equal(t, Binary, m.Objective)
	raw := func(row ...float64) float64 {
		out, err := m.PredictRaw(nil, row)
		require.NoError(t, err)
		return out[0]
	}
	require.Equal(t, 0.5, raw(1, 0))
	require.Equal(t, 0.5, raw(3, 0))
	require.Equal(t, -0.25, raw(0, 2.5), "category 0 is not in the set; 2.5 <= 2.5")
	require.Equal(t, 1.0, raw(2, 2.6))
	require.Equal(t, -0.25, raw(-1, math.NaN()), "negative categories go right, NaN takes the default left")
	require.Equal(t, -0.25, raw(40, 0), "categories past the bitset go right")
	p, err := m.Predict(nil, []float64{1, 0})
	require.NoError(t, err)
	require.InDelta(t, 1/(1+math.Exp(-0.5)), p[0], 1e-15)

	ens, err := leaves.LGEnsembleFromReader(bufio.NewReader(strings.NewReader(strings.Replace(lightgbmModel, "v4", "v3", 1))), true)
	require.NoError(t, err)
	for _, row := range [][]float64{{1, 0}, {3, 0}, {0, 2.5}, {2, 2.6}, {-1, math.NaN()}, {40, 0}, {math.NaN(), 1}} {
		ours, err := m.Predict(nil, row)
		require.NoError(t, err)
		require.InDelta(t, ens.PredictSingle(row, 0), ours[0], 1e-15, "row %v", row)
	}
}

func TestReadModelRejectsMalformedFiles(t *testing.T) {
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"not a model", "tree\n", "forest\n", "line 1: header"},
		{"no num_class", "num_class=1\n", "", "no num_class"},
		{"bad num_class", "num_class=1\n", "num_class=one\n", `line 3: num_class: "one" is not an integer`},
		{"names", "feature_names=cat num", "feature_names=cat", "line 8: feature_names"},
		{"version", "version=v4", "version=v9", "line 2: version"},
		{"tree number", "Tree=0", "Tree=1", "line 12: Tree"},
		{"short leaf_value", "leaf_value=0.5 -0.25 1", "leaf_value=0.5 -0.25", "line 21: leaf_value"},
		{"bad threshold", "threshold=0 2.5", "threshold=0 x", `line 17: threshold: value 1: "x" is not a number`},
		{"feature out of range", "split_feature=0 1", "split_feature=0 2", "line 15: split_feature: value 1: 2 is outside 0..1"},
		{"child loop", "right_child=1 -3", "right_child=1 1", "line 20: right_child: node 1 points back to node 1"},
		{"shared leaf", "left_child=-1 -2", "left_child=-1 -1", "two parents"},
		{"missing type", "decision_type=1 10", "decision_type=1 14", "line 18: decision_type: node 1: missing type 3"},
		{"category set", "threshold=0 2.5", "threshold=3 2.5", "line 17: threshold: node 0: category set 3"},
		{"cat words", "cat_threshold=10", "cat_threshold=10 4", "line 28: cat_threshold"},
		{"linear", "is_linear=0", "is_linear=1", "line 29: is_linear"},
		{"tree_sizes", "tree_sizes=400", "tree_sizes=400 400", "line 10: tree_sizes: 2 sizes for 1 trees"},
		{"no trees", "Tree=0", "Trees=0", "no Tree=0 line"},
		{"objective", "sigmoid:1", "sigmoid:x", "objective: sigmoid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := strings.Replace(lightgbmModel, c.old, c.new, 1)
			require.NotEqual(t, lightgbmModel, text)
			_, err := ReadModel(strings.NewReader(text))
			require.Error(t, err)
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			require.Contains(t, err.Error(), c.want)
		})
	}
}

// FuzzLoadModel checks that the reader never panics, and that a model it
// accepts predicts without panicking and saves to a file it reads again.
func FuzzLoadModel(f *testing.F) {
	f.Add(lightgbmModel)
	f.Add("tree\nnum_class=1\nmax_feature_idx=0\nfeature_names=a\n\nTree=0\nnum_leaves=1\nleaf_value=2\n")
	f.Add("tree\nnum_class=2\nmax_feature_idx=0\nfeature_names=a\nTree=0\nnum_leaves=2\nsplit_feature=0\nthreshold=1\n" +
		"decision_type=8\nleft_child=-1\nright_child=-2\nleaf_value=1 2\n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ReadModel(strings.NewReader(text))
		if err != nil {
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			require.Contains(t, err.Error(), "lightgbm model")
			return
		}
		row := make([]float64, m.NumFeatures())
		for _, v := range []float64{0, 1, -1, math.NaN(), 1e300} {
			for j := range row {
				row[j] = v
			}
			_, err := m.Predict(nil, row)
			require.NoError(t, err)
		}
		var buf bytes.Buffer
		_, err = m.WriteTo(&buf)
		require.NoError(t, err)
		_, err = ReadModel(&buf)
		require.NoError(t, err)
	})
}

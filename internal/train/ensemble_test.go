package train

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// An ensemble's probabilities are the mean of its members', in training,
// in cross-validation and from its package; its package loads alone.
func TestEnsemble(t *testing.T) {
	ds := threeClasses(t)
	opt := DefaultOptions()
	opt.Model, opt.Members, opt.Epochs, opt.LearningRate = ModelEnsemble, []string{ModelGBDT, ModelRF, "logistic"}, 20, 0.05
	require.NoError(t, opt.Validate(KindTable))
	m, res, err := Train(context.Background(), ds, opt)
	require.NoError(t, err)
	require.Len(t, m.members, 3)
	require.GreaterOrEqual(t, res.Test.Accuracy, 0.85)
	require.Len(t, res.History, 1)

	test := ds.Manifest.Splits[data.SplitTest]
	size := ds.ExampleSize()
	x := make([]float32, len(test)*size)
	for j, i := range test {
		ds.Example(i, x[j*size:(j+1)*size])
	}
	want := make([][]float32, len(test))
	for _, mm := range m.members {
		p, err := mm.PredictBatch(x, len(test))
		require.NoError(t, err)
		for j := range p {
			if want[j] == nil {
				want[j] = make([]float32, len(p[j]))
			}
			for c := range p[j] {
				want[j][c] += p[j][c] / 3
			}
		}
	}
	got, err := m.PredictBatch(x, len(test))
	require.NoError(t, err)
	for j := range got {
		require.InDeltaSlice(t, want[j], got[j], 1e-6)
	}

	dir := filepath.Join(t.TempDir(), "pkg")
	pkg, err := m.SavePackage(dir, map[string]float64{"val_accuracy": res.Validation.Accuracy}, nil)
	require.NoError(t, err)
	require.Equal(t, ModelEnsemble, pkg.Architecture)
	require.Equal(t, []string{"members/1-gbdt", "members/2-rf", "members/3-logistic"}, pkg.Members)
	p, err := LoadPredictor(dir, "")
	require.NoError(t, err)
	loaded, err := p.Predict(x, len(test))
	require.NoError(t, err)
	for j := range got {
		require.InDeltaSlice(t, got[j], loaded[j], 1e-6)
	}
	_, err = p.Explain(x[:size], 0)
	require.ErrorContains(t, err, "model ensemble cannot explain")

	cv, err := CrossValidate(context.Background(), ds, opt, 3)
	require.NoError(t, err)
	require.Len(t, cv.Accuracy, 3)
	require.Greater(t, cv.Mean, 0.85)
}

func TestEnsembleOptions(t *testing.T) {
	base := DefaultOptions()
	base.Model = ModelEnsemble
	require.NoError(t, base.Validate(KindTable), "the default members")
	for members, want := range map[string][]string{
		"one member":       {ModelGBDT},
		"nested":           {ModelGBDT, ModelEnsemble},
		"twice":            {ModelGBDT, ModelGBDT},
		"not a table":      {ModelGBDT, "small"},
		"too many members": {"a", "b", "c", "d", "e", "f", "g", "h", "i"},
	} {
		o := base
		o.Members = want
		err := o.Validate(KindTable)
		require.Error(t, err, members)
		require.True(t, errs.Is(err, errs.Invalid), "%s: %v", members, err)
	}
	o := DefaultOptions()
	o.Model, o.Members = ModelGBDT, []string{"mlp"}
	require.ErrorContains(t, o.Validate(KindTable), "only an ensemble has members")
	o = base
	o.Members, o.Trees.LearningRate = []string{ModelGBDT, "mlp"}, 7
	require.ErrorContains(t, o.Validate(KindTable), "ensemble member gbdt: tree learning rate 7")
	require.NotEqual(t, RunKey(base, data.Manifest{}), RunKey(o, data.Manifest{}), "the members are part of the run")
}

// A package must not reach outside its folder through its members, nor
// mix members of other inputs.
func TestEnsemblePackageChecks(t *testing.T) {
	ds := threeClasses(t)
	opt := DefaultOptions()
	opt.Model, opt.Members = ModelEnsemble, []string{ModelGBDT, ModelRF}
	m, _, err := Train(context.Background(), ds, opt)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "pkg")
	_, err = m.SavePackage(dir, nil, nil)
	require.NoError(t, err)
	edit := func(f func(p *Package)) {
		t.Helper()
		p, err := ReadPackage(dir)
		require.NoError(t, err)
		f(p)
		b, err := json.Marshal(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, PackageFile), b, 0o644))
	}
	orig, err := os.ReadFile(filepath.Join(dir, PackageFile))
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		f   func(p *Package)
		msg string
	}{
		"outside":     {func(p *Package) { p.Members[1] = "../../etc" }, `ensemble member "../../etc" is not a folder inside the package`},
		"absolute":    {func(p *Package) { p.Members[1] = "/tmp" }, "is not a folder inside the package"},
		"one":         {func(p *Package) { p.Members = p.Members[:1] }, "an ensemble of 1 members"},
		"missing":     {func(p *Package) { p.Members[1] = "members/9-rf" }, "not a Cairn model package"},
		"other shape": {func(p *Package) { p.InputShape = []int{3} }, "takes other inputs or classes"},
	} {
		edit(tc.f)
		_, err := LoadPredictor(dir, "")
		require.ErrorContains(t, err, tc.msg, name)
		require.NoError(t, os.WriteFile(filepath.Join(dir, PackageFile), orig, 0o644))
	}
	_, err = LoadPredictor(dir, "")
	require.NoError(t, err)
}

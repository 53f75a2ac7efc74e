package train

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/trees"
)

// The tree ensembles for tables, trained by internal/trees: "gbdt"
// (histogram gradient-boosted trees, early-stopped on the validation split)
// and "rf" (a random forest). They are Models like the networks: the same
// Train, evaluations, packages and predictors; their package holds the
// ensemble in LightGBM's text model format (treesFile) instead of weights,
// so LightGBM or leaves can load it too. They read the same feature vector
// as the networks (the table transform's: standardised numbers, one-hot
// categories, imputed missing values).
const (
	ModelGBDT = "gbdt"
	ModelRF   = "rf"
	treesFile = "model.txt"
)

// TreeOptions configure the tree ensembles; zero fields take
// DefaultTreeOptions' values.
type TreeOptions struct {
	// Iterations are boosting rounds (gbdt; early stopping may keep fewer)
	// or trees (rf).
	Iterations   int     `json:"iterations,omitempty"`
	LearningRate float64 `json:"learning_rate,omitempty"` // gbdt shrinkage
	Leaves       int     `json:"leaves,omitempty"`        // most leaves per tree
	MaxDepth     int     `json:"max_depth,omitempty"`     // 0: no limit
	MinLeaf      int     `json:"min_leaf,omitempty"`      // fewest training rows in a leaf
	L2           float64 `json:"l2,omitempty"`            // gbdt leaf-value L2 penalty
	// Subsample is the share of rows each tree sees (gbdt bagging; rf's
	// bootstrap sample), FeatureFraction the share of features (per tree
	// for gbdt, per split for rf).
	Subsample       float64 `json:"subsample,omitempty"`
	FeatureFraction float64 `json:"feature_fraction,omitempty"`
	EarlyStop       int     `json:"early_stop,omitempty"` // gbdt: rounds without a better validation loss; -1 is off
	// Balanced weighs each class by the inverse of its frequency.
	Balanced bool `json:"balanced,omitempty"`
}

// DefaultTreeOptions are settings that do well on small tables such as
// Titanic for both kinds.
func DefaultTreeOptions(model string) TreeOptions {
	if model == ModelRF {
		return TreeOptions{Iterations: 300, LearningRate: 1, Leaves: 64, MaxDepth: 8, MinLeaf: 3, Subsample: 1, FeatureFraction: 0.5} // a forest does not shrink
	}
	return TreeOptions{Iterations: 500, LearningRate: 0.03, Leaves: 8, MaxDepth: 4, MinLeaf: 10, L2: 1, Subsample: 0.8,
		FeatureFraction: 0.8, EarlyStop: 50}
}

// WithDefaults fills the zero fields of o from DefaultTreeOptions(model).
func (o TreeOptions) WithDefaults(model string) TreeOptions {
	d := DefaultTreeOptions(model)
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setf := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	set(&o.Iterations, d.Iterations)
	set(&o.Leaves, d.Leaves)
	set(&o.MaxDepth, d.MaxDepth)
	set(&o.MinLeaf, d.MinLeaf)
	set(&o.EarlyStop, d.EarlyStop)
	setf(&o.LearningRate, d.LearningRate)
	setf(&o.L2, d.L2)
	setf(&o.Subsample, d.Subsample)
	setf(&o.FeatureFraction, d.FeatureFraction)
	return o
}

// Validate checks the options after WithDefaults.
func (o TreeOptions) Validate() error {
	switch {
	case o.Iterations < 1 || o.Iterations > 100000:
		return errs.Invalidf("tree iterations %d: expected 1..100000", o.Iterations)
	case !(o.LearningRate > 0 && o.LearningRate <= 1):
		return errs.Invalidf("tree learning rate %g: expected a number in (0, 1]", o.LearningRate)
	case o.Leaves < 2 || o.Leaves > 4096:
		return errs.Invalidf("tree leaves %d: expected 2..4096", o.Leaves)
	case o.MaxDepth < 0 || o.MaxDepth > 64:
		return errs.Invalidf("tree max depth %d: expected 0 (no limit) to 64", o.MaxDepth)
	case o.MinLeaf < 1:
		return errs.Invalidf("tree min leaf %d: expected 1 or more", o.MinLeaf)
	case o.L2 < 0:
		return errs.Invalidf("tree l2 %g: expected 0 or more", o.L2)
	case !(o.Subsample > 0 && o.Subsample <= 1):
		return errs.Invalidf("tree subsample %g: expected a share in (0, 1]", o.Subsample)
	case !(o.FeatureFraction > 0 && o.FeatureFraction <= 1):
		return errs.Invalidf("tree feature fraction %g: expected a share in (0, 1]", o.FeatureFraction)
	case o.EarlyStop < -1:
		return errs.Invalidf("tree early stop %d: expected -1 (off), 0 (default) or more", o.EarlyStop)
	}
	return nil
}

// IsTreeModel reports whether name is a tree ensemble rather than a network.
func IsTreeModel(name string) bool { return name == ModelGBDT || name == ModelRF }

// treeNet is a Model's or a Predictor's tree ensemble.
type treeNet struct{ m *trees.Model }

// PredictBatch implements network: class probabilities of n examples.
func (t treeNet) PredictBatch(x []float32, n int) ([][]float32, error) {
	if n < 1 || len(x)%n != 0 {
		return nil, errs.Invalidf("predict: %d values for %d examples", len(x), n)
	}
	cols := len(x) / n
	if cols != t.m.NumFeatures() {
		return nil, errs.Invalidf("predict: %d features per example, the model has %d", cols, t.m.NumFeatures())
	}
	row := make([]float64, cols)
	out := make([][]float32, n)
	var buf []float64
	for i := range n {
		for j, v := range x[i*cols : (i+1)*cols] {
			row[j] = float64(v)
		}
		var err error
		if buf, err = t.m.Predict(buf[:0], row); err != nil {
			return nil, err
		}
		out[i] = classProbs(buf)
	}
	return out, nil
}

// classProbs turns an ensemble's output into one probability per class: a
// binary model gives P(class 1) only; a forest's class scores are made to
// sum to 1.
func classProbs(v []float64) []float32 {
	if len(v) == 1 {
		p := min(max(v[0], 0), 1)
		return []float32{float32(1 - p), float32(p)}
	}
	sum := 0.0
	for _, p := range v {
		sum += max(p, 0)
	}
	out := make([]float32, len(v))
	for i, p := range v {
		if sum > 0 {
			out[i] = float32(max(p, 0) / sum)
		} else {
			out[i] = float32(1 / float64(len(v)))
		}
	}
	return out
}

// treeData is the examples idx of ds as a trees.Dataset, with optional
// inverse-frequency class weights.
func treeData(ds *data.Dataset, idx []int, balanced bool) trees.Dataset {
	size := ds.ExampleSize()
	d := trees.Dataset{X: make([]float64, len(idx)*size), Rows: len(idx), Cols: size, Y: make([]float64, len(idx)),
		FeatureNames: treeFeatureNames(ds.Manifest.Features, size)}
	ex := make([]float32, size)
	counts := make([]float64, len(ds.Manifest.Classes))
	for j, i := range idx {
		ds.Example(i, ex)
		for k, v := range ex {
			d.X[j*size+k] = float64(v)
		}
		d.Y[j] = float64(ds.Labels[i])
		counts[ds.Labels[i]]++
	}
	if balanced {
		d.Weights = make([]float64, len(idx))
		for j := range idx {
			c := counts[int(d.Y[j])]
			d.Weights[j] = float64(len(idx)) / (float64(len(counts)) * c)
		}
	}
	return d
}

// trainTrees trains a gbdt or rf Model on ds's train split, early-stopping
// a gbdt on its validation split, and evaluates it on validation and test.
func trainTrees(ctx context.Context, ds *data.Dataset, opt Options, arch Architecture) (*Model, *Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	start := time.Now()
	to := opt.Trees.WithDefaults(arch.Name)
	classes := len(ds.Manifest.Classes)
	objective, numClass := trees.Multiclass, classes
	if classes == 2 {
		objective, numClass = trees.Binary, 1
	}
	tr := treeData(ds, ds.Manifest.Splits[data.SplitTrain], to.Balanced)
	var valid *trees.Dataset
	if v := ds.Manifest.Splits[data.SplitValidation]; len(v) > 0 {
		d := treeData(ds, v, false)
		valid = &d
	}
	var tm *trees.Model
	var err error
	if arch.Name == ModelRF {
		fo := trees.DefaultForestOptions(objective, numClass)
		if numClass == 1 {
			fo.NumClass = 0
		}
		fo.NumTrees, fo.NumLeaves, fo.MaxDepth, fo.MinDataInLeaf = to.Iterations, to.Leaves, to.MaxDepth, to.MinLeaf
		fo.SampleFraction, fo.FeatureFraction, fo.Seed = to.Subsample, to.FeatureFraction, opt.Seed
		tm, err = trees.TrainForest(tr, fo)
	} else {
		bo := trees.DefaultOptions(objective, numClass)
		if numClass == 1 {
			bo.NumClass = 0
		}
		bo.NumIterations, bo.LearningRate, bo.NumLeaves, bo.MaxDepth = to.Iterations, to.LearningRate, to.Leaves, to.MaxDepth
		bo.MinDataInLeaf, bo.LambdaL2, bo.BaggingFraction, bo.FeatureFraction = to.MinLeaf, to.L2, to.Subsample, to.FeatureFraction
		bo.Seed = opt.Seed
		if to.EarlyStop > 0 && valid != nil {
			bo.EarlyStoppingRounds = to.EarlyStop
		}
		tm, err = trees.Train(tr, valid, bo)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("train %s: %w", arch.Name, err)
	}
	m := &Model{Arch: arch, Manifest: ds.Manifest, trees: tm}
	res := &Result{BestEpoch: tm.NumIterations()}
	if tm.BestIteration > 0 {
		res.BestEpoch = tm.BestIteration
		if tm.BestIteration < to.Iterations {
			res.Stopped = fmt.Sprintf("early stopping: no better validation loss for %d rounds after round %d", to.EarlyStop, tm.BestIteration)
		}
	}
	if err := m.finishOneShot(ds, res, EpochMetrics{Epoch: 1, Duration: time.Since(start), Images: tr.Rows, LearningRate: to.LearningRate}); err != nil {
		return nil, nil, err
	}
	if opt.OnEpoch != nil {
		if err := opt.OnEpoch(res.History[0]); err != nil {
			return nil, nil, err
		}
	}
	return m, res, nil
}

// finishOneShot completes the result of a model trained in one go (trees,
// an ensemble): the validation and test evaluations, and one "epoch" e
// with the train and validation loss and accuracy, so curves and hooks see
// its result.
func (m *Model) finishOneShot(ds *data.Dataset, res *Result, e EpochMetrics) error {
	for _, sp := range []string{data.SplitValidation, data.SplitTest} {
		idx := ds.Manifest.Splits[sp]
		if len(idx) == 0 {
			continue
		}
		ev, err := m.evaluate(ds, sp, idx)
		if err != nil {
			return err
		}
		if sp == data.SplitValidation {
			res.Validation = ev
		} else {
			res.Test = ev
		}
	}
	if res.Validation != nil {
		e.ValLoss, e.ValAcc = res.Validation.Loss, res.Validation.Accuracy
	}
	if ev, err := m.evaluate(ds, data.SplitTrain, ds.Manifest.Splits[data.SplitTrain]); err == nil {
		e.TrainLoss, e.TrainAcc = ev.Loss, ev.Accuracy
	}
	res.History = []EpochMetrics{e}
	return nil
}

// saveTrees writes the ensemble in LightGBM's text format.
func (m *Model) saveTrees(dir string) error {
	var b bytes.Buffer
	if _, err := m.trees.WriteTo(&b); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, treesFile), b.Bytes(), 0o644)
}

// loadTrees reads a package's ensemble and checks it fits the package.
func loadTrees(dir string, pkg *Package) (network, error) {
	f, err := os.Open(filepath.Join(dir, treesFile))
	if err != nil {
		return nil, errs.Invalidf("load model %s: %v", dir, err)
	}
	defer f.Close()
	tm, err := trees.ReadModel(f)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %s: %w", dir, treesFile, err)
	}
	want := 1
	for _, d := range pkg.InputShape {
		want *= d
	}
	outputs := tm.NumOutputs()
	if outputs == 1 {
		outputs = 2
	}
	if tm.NumFeatures() != want || outputs != len(pkg.Classes) {
		return nil, errs.Invalidf("load model %s: the ensemble takes %d features for %d classes, the package says %d for %d",
			dir, tm.NumFeatures(), outputs, want, len(pkg.Classes))
	}
	return treeNet{tm}, nil
}

// treeFeatureNames are the feature vector's names as LightGBM's format
// takes them (no spaces or '='; "Sex=male" becomes "Sex_male"), unique.
func treeFeatureNames(names []string, size int) []string {
	if len(names) != size {
		return nil
	}
	out := make([]string, size)
	seen := map[string]bool{}
	for i, n := range names {
		n = strings.Map(func(r rune) rune {
			if r <= ' ' || r == '=' || r == ':' || r == '"' || r == ',' || r == 0x7f {
				return '_'
			}
			return r
		}, n)
		if n == "" || seen[n] {
			n = fmt.Sprintf("%s_f%d", n, i)
		}
		seen[n] = true
		out[i] = n
	}
	return out
}

// Contribution is one input column's part in a prediction's score.
type Contribution struct {
	Field string  `json:"field"`
	Value float64 `json:"value"`
}

// explainTrees splits a tree model's score for class into one part per
// input column (one-hot columns together), largest magnitude first: the
// log-odds for a binary gbdt (negated for class 0), the raw class score
// for a multiclass one, the class frequency for a forest.
func explainTrees(tm *trees.Model, features []string, x []float32, class int) ([]Contribution, error) {
	row := make([]float64, len(x))
	for i, v := range x {
		row[i] = float64(v)
	}
	c, err := tm.Contributions(row)
	if err != nil {
		return nil, err
	}
	f := tm.NumFeatures()
	sign, k := 1.0, class
	if tm.NumOutputs() == 1 {
		k = 0
		if class == 0 {
			sign = -1
		}
	}
	if k >= tm.NumOutputs() {
		return nil, errs.Invalidf("explain: class %d of a model with %d outputs", class, tm.NumOutputs())
	}
	part := c[k*(f+1) : k*(f+1)+f]
	if len(features) != f {
		features = make([]string, f)
		for i := range features {
			features[i] = fmt.Sprintf("f%d", i)
		}
	}
	names, groups := featureGroups(features)
	out := make([]Contribution, len(groups))
	for g, cols := range groups {
		for _, j := range cols {
			out[g].Value += sign * part[j]
		}
		out[g].Field = names[g]
	}
	sort.SliceStable(out, func(i, j int) bool { return math.Abs(out[i].Value) > math.Abs(out[j].Value) })
	return out, nil
}

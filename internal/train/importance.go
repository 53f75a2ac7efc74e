package train

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// Importance is the permutation importance of a table model's input
// columns on one split: how much accuracy drops when a column's values are
// shuffled across the split's rows (breaking its link to the label while
// keeping its distribution), averaged over Repeats shuffles.
type Importance struct {
	Split    string              `json:"split"`
	Count    int                 `json:"count"`
	Accuracy float64             `json:"accuracy"` // unshuffled
	Repeats  int                 `json:"repeats"`
	Features []FeatureImportance `json:"features"` // largest drop first
}

// FeatureImportance is one input column's drop in accuracy (and its
// spread over the shuffles). A one-hot column ("Sex=male", "Sex=female")
// is shuffled as one.
type FeatureImportance struct {
	Name string  `json:"name"`
	Drop float64 `json:"drop"`
	Std  float64 `json:"std"`
}

// featureGroups groups the feature vector's columns by the input column
// they encode: "Sex=male" and "Sex=<unknown>" are "Sex".
func featureGroups(names []string) ([]string, [][]int) {
	var order []string
	index := map[string]int{}
	var cols [][]int
	for i, n := range names {
		g, _, _ := strings.Cut(n, "=")
		k, ok := index[g]
		if !ok {
			k = len(order)
			index[g] = k
			order = append(order, g)
			cols = append(cols, nil)
		}
		cols[k] = append(cols[k], i)
	}
	return order, cols
}

// PermutationImportance measures the importance of each input column of a
// table model on the examples of split. Errors: Invalid (not a table
// dataset with named features, or an empty split).
func (m *Model) PermutationImportance(ds *data.Dataset, split string, repeats int, seed uint64) (*Importance, error) {
	idx := ds.Manifest.Splits[split]
	size := ds.ExampleSize()
	if ds.Manifest.Kind != "table" || len(ds.Manifest.Features) != size {
		return nil, errs.Invalidf("permutation importance: a table dataset with named features is needed")
	}
	if len(idx) == 0 {
		return nil, errs.Invalidf("permutation importance: the %s split is empty", split)
	}
	repeats = max(repeats, 1)
	x := make([]float32, len(idx)*size)
	for j, i := range idx {
		ds.Example(i, x[j*size:(j+1)*size])
	}
	accuracy := func(x []float32) (float64, error) {
		probs, err := m.PredictBatch(x, len(idx))
		if err != nil {
			return 0, err
		}
		correct := 0
		for j, i := range idx {
			if argmax(probs[j]) == int(ds.Labels[i]) {
				correct++
			}
		}
		return float64(correct) / float64(len(idx)), nil
	}
	base, err := accuracy(x)
	if err != nil {
		return nil, err
	}
	imp := &Importance{Split: split, Count: len(idx), Accuracy: base, Repeats: repeats}
	names, groups := featureGroups(ds.Manifest.Features)
	rng := rand.New(rand.NewPCG(seed, 0x1a2b3c))
	shuffled := make([]float32, len(x))
	for g, cols := range groups {
		drops := make([]float64, repeats)
		for r := range repeats {
			copy(shuffled, x)
			perm := rng.Perm(len(idx))
			for j, p := range perm {
				for _, c := range cols {
					shuffled[j*size+c] = x[p*size+c]
				}
			}
			acc, err := accuracy(shuffled)
			if err != nil {
				return nil, err
			}
			drops[r] = base - acc
		}
		mean, std := meanStd(drops)
		imp.Features = append(imp.Features, FeatureImportance{Name: names[g], Drop: mean, Std: std})
	}
	sort.SliceStable(imp.Features, func(i, j int) bool { return imp.Features[i].Drop > imp.Features[j].Drop })
	return imp, nil
}

// ImportancePNG draws the importances as horizontal bars, largest on top.
func ImportancePNG(imp *Importance, title string) ([]byte, error) {
	n := len(imp.Features)
	if n == 0 {
		return nil, fmt.Errorf("importance: no features")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "accuracy drop when shuffled"
	vals := make(plotter.Values, n)
	ticks := make([]plot.Tick, n)
	for i, f := range imp.Features {
		k := n - 1 - i // largest on top
		vals[k] = math.Max(f.Drop, 0)
		ticks[k] = plot.Tick{Value: float64(k), Label: f.Name}
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(10))
	if err != nil {
		return nil, fmt.Errorf("importance: %w", err)
	}
	bars.Horizontal = true
	p.Add(bars)
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	wt, err := p.WriterTo(6*vg.Inch, vg.Length(1.5+0.25*float64(n))*vg.Inch, "png")
	if err != nil {
		return nil, fmt.Errorf("importance: %w", err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("importance: %w", err)
	}
	return buf.Bytes(), nil
}

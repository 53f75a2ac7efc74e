package trees

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every model's contributions add up to its raw scores, before and after
// a trip through LightGBM's format; a feature no tree splits on gets none.
func TestContributionsAddUpToTheRawScore(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	bin, _ := gaussians(rng, 1500, 4, [][]float64{{0, 0}, {1.5, 1}})
	multi, _ := gaussians(rng, 1500, 4, [][]float64{{0, 0}, {2, 0}, {0, 2}})
	bin = withMissing(rng, bin, 0.1, 1)
	bo := DefaultOptions(Binary, 0)
	bo.NumIterations = 40
	mo := DefaultOptions(Multiclass, 3)
	mo.NumIterations = 20
	fo := DefaultForestOptions(Multiclass, 3)
	fo.NumTrees = 20
	gb, err := Train(bin, nil, bo)
	require.NoError(t, err)
	gm, err := Train(multi, nil, mo)
	require.NoError(t, err)
	rf, err := TrainForest(multi, fo)
	require.NoError(t, err)
	for name, m := range map[string]*Model{"binary": gb, "multiclass": gm, "forest": rf} {
		back, err := ReadModel(strings.NewReader(saved(t, m)))
		require.NoError(t, err, name)
		for _, mm := range []*Model{m, back} {
			ds := bin
			if name != "binary" {
				ds = multi
			}
			f := mm.NumFeatures()
			for i := range 50 {
				row := ds.Row(i)
				raw, err := mm.PredictRaw(nil, row)
				require.NoError(t, err)
				c, err := mm.Contributions(row)
				require.NoError(t, err)
				require.Len(t, c, len(raw)*(f+1))
				for k := range raw {
					sum := 0.0
					for _, v := range c[k*(f+1) : (k+1)*(f+1)] {
						sum += v
					}
					require.InDelta(t, raw[k], sum, 1e-9, "%s row %d output %d", name, i, k)
				}
			}
		}
	}
	// Features 2 and 3 are noise; the first, which separates the classes,
	// carries more than either on average.
	var signal, noise float64
	for i := range 200 {
		c, err := gb.Contributions(bin.Row(i))
		require.NoError(t, err)
		signal += abs(c[0])
		noise += abs(c[3])
	}
	require.Greater(t, signal, 3*noise)
	_, err = gb.Contributions([]float64{1})
	require.ErrorContains(t, err, "row has 1 values, the model takes 4 features")
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

package train

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
)

// quadrants is a tiny image dataset: a bright 4x4 square in one of the four
// quadrants of a noisy 16x16 grayscale image; the label is the quadrant.
func quadrants(t testing.TB, n int, seed uint64) *data.Dataset {
	t.Helper()
	const size = 16
	rng := rand.New(rand.NewPCG(seed, 7))
	ds := &data.Dataset{Manifest: data.Manifest{Kind: "images", Shape: []int{size, size, 1}, DType: data.Uint8,
		Classes: []string{"tl", "tr", "bl", "br"}, Count: n, Hash: "quadrants"}}
	for i := 0; i < n; i++ {
		label := int32(i % 4)
		img := make([]uint8, size*size)
		for j := range img {
			img[j] = uint8(rng.IntN(60))
		}
		ox, oy := 1+rng.IntN(3), 1+rng.IntN(3)
		if label%2 == 1 {
			ox += size / 2
		}
		if label >= 2 {
			oy += size / 2
		}
		for y := oy; y < oy+4; y++ {
			for x := ox; x < ox+4; x++ {
				img[y*size+x] = 200 + uint8(rng.IntN(55))
			}
		}
		ds.U8 = append(ds.U8, img...)
		ds.Labels = append(ds.Labels, label)
	}
	splits, err := data.Split(ds.Labels, nil, data.SplitFractions{Validation: 0.2, Test: 0.2}, seed)
	require.NoError(t, err)
	ds.Manifest.Splits = splits
	require.NoError(t, ds.Validate())
	return ds
}

func TestTrainEveryCNNLearns(t *testing.T) {
	ds := quadrants(t, 160, 1)
	for _, name := range ArchitectureNames(KindImage) {
		t.Run(name, func(t *testing.T) {
			opt := DefaultOptions()
			opt.Model, opt.Epochs, opt.BatchSize, opt.LearningRate = name, 6, 16, 3e-3
			var epochs []EpochMetrics
			opt.OnEpoch = func(e EpochMetrics) error { epochs = append(epochs, e); return nil }
			m, res, err := Train(context.Background(), ds, opt)
			require.NoError(t, err)
			require.Len(t, epochs, 6)
			require.Less(t, epochs[5].TrainLoss, epochs[0].TrainLoss, "training loss should fall")
			require.NotNil(t, res.Test)
			require.GreaterOrEqual(t, res.Test.Accuracy, 0.9, "test accuracy of %s", name)
			require.NotNil(t, m)
		})
	}
}

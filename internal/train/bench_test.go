package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	gctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/cairn-mlops/cairn/internal/data"
)

// benchImages is a random image dataset of n examples at size x size.
func benchImages(n, size int) *data.Dataset {
	rng := rand.New(rand.NewPCG(1, 1))
	ds := &data.Dataset{Manifest: data.Manifest{Kind: "images", Shape: []int{size, size, 1}, DType: data.Uint8,
		Classes: []string{"0", "1", "2", "3", "4", "5"}, Count: n, Hash: "bench",
		Splits: map[string][]int{data.SplitTrain: {}}}}
	ds.U8 = make([]uint8, n*size*size)
	for i := range ds.U8 {
		ds.U8[i] = uint8(rng.IntN(256))
	}
	for i := 0; i < n; i++ {
		ds.Labels = append(ds.Labels, int32(i%6))
		ds.Manifest.Splits[data.SplitTrain] = append(ds.Manifest.Splits[data.SplitTrain], i)
	}
	return ds
}

var benchSizes = []int{32, 64, 128}

// BenchmarkMatMulGradient compares one training epoch of the small CNN at
// 32 px with the hand-written matmul gradient against GoMLX's generic one.
//
//	go test -run '^$' -bench MatMulGradient -benchtime 1x ./internal/train/
func BenchmarkMatMulGradient(b *testing.B) {
	for _, plain := range []bool{false, true} {
		name := "custom"
		if plain {
			name = "gomlx"
		}
		b.Run(name, func(b *testing.B) {
			plainMatMul = plain
			defer func() { plainMatMul = false }()
			benchTrain(b, "small", 32)
		})
	}
}

// BenchmarkTrainEpoch reports training throughput (images/s, batch 32) of
// each CNN at each resolution: one op is one epoch of 128 images.
//
//	go test -run '^$' -bench TrainEpoch -benchtime 2x ./internal/train/
func BenchmarkTrainEpoch(b *testing.B) {
	for _, arch := range ArchitectureNames(KindImage) {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dpx", arch, size), func(b *testing.B) { benchTrain(b, arch, size) })
		}
	}
}

// benchTrain times b.N epochs of 128 images after a first epoch that
// includes compilation, and reports images per second.
func benchTrain(b *testing.B, arch string, size int) {
	ds := benchImages(128, size)
	opt := DefaultOptions()
	opt.Model, opt.Epochs = arch, 1+b.N
	var images int
	var secs float64
	opt.OnEpoch = func(e EpochMetrics) error {
		if e.Epoch > 1 {
			images += e.Images
			secs += e.Duration.Seconds()
		}
		return nil
	}
	if _, _, err := Train(context.Background(), ds, opt); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(images)/secs, "img/s")
}

// BenchmarkPredict reports inference latency for a single image and for a
// batch of 64 of each CNN at each resolution (untrained weights: the cost is
// the same).
//
//	go test -run '^$' -bench Predict -benchtime 20x ./internal/train/
func BenchmarkPredict(b *testing.B) {
	backend, err := OpenBackend("go")
	if err != nil {
		b.Fatal(err)
	}
	for _, arch := range ArchitectureNames(KindImage) {
		for _, size := range benchSizes {
			for _, batch := range []int{1, 64} {
				b.Run(fmt.Sprintf("%s/%dpx/batch%d", arch, size, batch), func(b *testing.B) {
					a, _ := LookupArchitecture(arch, KindImage)
					m, err := newModel(backend, a, data.Manifest{Shape: []int{size, size, 1}, Classes: make([]string, 6)}, nil)
					if err != nil {
						b.Fatal(err)
					}
					m.ctx, m.randomInit = gctx.New(), true
					x := make([]float32, batch*size*size)
					if _, err := m.PredictBatch(x, batch); err != nil { // compile and initialise
						b.Fatal(err)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, err := m.PredictBatch(x, batch); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

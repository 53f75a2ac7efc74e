package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/errs"
)

func quadrantsWithImageOptions(t *testing.T) *data.Dataset {
	ds := quadrants(t, 160, 3)
	ds.Manifest.Params = map[string]any{"image": images.Options{Size: 16, Channels: 1}}
	ds.Manifest.Normalize = &data.Normalize{Mean: []float32{0.2}, Std: []float32{0.25}}
	return ds
}

func TestPackageRoundTrip(t *testing.T) {
	ds := quadrantsWithImageOptions(t)
	opt := DefaultOptions()
	opt.Model, opt.Epochs, opt.BatchSize, opt.LearningRate = "small", 5, 16, 3e-3
	m, res, err := Train(context.Background(), ds, opt)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "pkg")
	pkg, err := m.SavePackage(dir, map[string]float64{"test_accuracy": res.Test.Accuracy}, map[string]string{"model": "small"})
	require.NoError(t, err)
	require.Equal(t, KindImage, pkg.Kind)
	require.FileExists(t, filepath.Join(dir, PackageFile))
	require.FileExists(t, filepath.Join(dir, MLmodelFile))
	require.DirExists(t, filepath.Join(dir, weightsDir))
	mlmodel, err := os.ReadFile(filepath.Join(dir, MLmodelFile))
	require.NoError(t, err)
	require.Contains(t, string(mlmodel), "flavors:")
	require.Contains(t, string(mlmodel), "cairn:")
	// No optimizer state in the package: only model variables.
	vars, err := loadWeights(filepath.Join(dir, "weights"))
	require.NoError(t, err)
	for name := range vars {
		require.Contains(t, name, "/"+modelScope+"/", "variable %s is not a model variable", name)
	}

	p, err := LoadPredictor(dir, "")
	require.NoError(t, err)
	test := ds.Manifest.Splits[data.SplitTest]
	x := make([]float32, len(test)*ds.ExampleSize())
	for j, i := range test {
		ds.Example(i, x[j*ds.ExampleSize():(j+1)*ds.ExampleSize()])
	}
	want, err := m.PredictBatch(x, len(test))
	require.NoError(t, err)
	got, err := p.Predict(x, len(test))
	require.NoError(t, err)
	require.Equal(t, want, got, "a loaded package predicts exactly what the trained model did")

	// Raw PNG bytes go through the package's own decoding and normalisation.
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for y := 10; y < 14; y++ {
		for x := 10; x < 14; x++ {
			img.SetGray(x, y, color.Gray{Y: 230})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	probs, err := p.PredictImage(buf.Bytes())
	require.NoError(t, err)
	require.Equal(t, "br", pkg.Classes[Argmax(probs)])

	_, err = p.PredictImage([]byte("not an image"))
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	// A server's limit refuses an image from its header, and a request's
	// end stops its decoding.
	require.NoError(t, p.CheckImage(buf.Bytes(), 1<<20))
	err = p.CheckImage(buf.Bytes(), 100)
	require.Equal(t, errs.TooLarge, errs.KindOf(err), "%v", err)
	require.Contains(t, err.Error(), "16x16 PNG image (Gray, 1 bytes per pixel) takes")
	_, err = p.PrepareImage(context.Background(), buf.Bytes(), 100)
	require.Equal(t, errs.TooLarge, errs.KindOf(err), "%v", err)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.PrepareImage(canceled, buf.Bytes(), 1<<20)
	require.ErrorIs(t, err, context.Canceled)
	_, err = p.Predict(make([]float32, 3), 1)
	require.Equal(t, errs.Invalid, errs.KindOf(err))
}

func TestLoadPredictorErrors(t *testing.T) {
	_, err := LoadPredictor(t.TempDir(), "")
	require.Equal(t, errs.NotFound, errs.KindOf(err))
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, PackageFile), []byte(`{"format_version": 99}`), 0o644))
	_, err = LoadPredictor(dir, "")
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.ErrorContains(t, err, "format version 99")
	_, err = LoadPredictor(dir, "xla:relative.so")
	require.Error(t, err)
}

func TestOpenBackend(t *testing.T) {
	_, err := OpenBackend("go")
	require.NoError(t, err)
	_, err = OpenBackend("xla:plugin.so")
	require.ErrorContains(t, err, "absolute path")
	_, err = OpenBackend("xla:/nonexistent/pjrt_plugin.so")
	require.ErrorContains(t, err, "not found")
	_, err = OpenBackend("tpu")
	require.Equal(t, errs.Invalid, errs.KindOf(err))
}

func TestOptionsValidate(t *testing.T) {
	ds := quadrants(t, 40, 1)
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"model", func(o *Options) { o.Model = "huge" }, `model "huge": expected one of [deep residual small wide]`},
		{"table model on images", func(o *Options) { o.Model = "mlp" }, `model "mlp"`},
		{"lr", func(o *Options) { o.LearningRate = -1 }, "learning rate -1"},
		{"epochs", func(o *Options) { o.Epochs = 0 }, "epochs 0"},
		{"batch", func(o *Options) { o.BatchSize = 0 }, "batch size 0"},
		{"schedule", func(o *Options) { o.Schedule = "weird" }, `schedule "weird"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := DefaultOptions()
			opt.Model = "small"
			tc.edit(&opt)
			_, _, err := Train(context.Background(), ds, opt)
			require.Equal(t, errs.Invalid, errs.KindOf(err))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestResumeAfterInterruption stops a run after two of four epochs (as a kill
// between epochs would) and checks that starting it again with the same
// checkpoint folder continues at epoch 3 and ends where an uninterrupted run
// ends.
func TestResumeAfterInterruption(t *testing.T) {
	ds := quadrants(t, 80, 5)
	opt := DefaultOptions()
	opt.Model, opt.Epochs, opt.BatchSize, opt.LearningRate = "small", 4, 16, 3e-3
	opt.CheckpointDir = t.TempDir()
	stop := errors.New("killed")
	first := opt
	first.OnEpoch = func(e EpochMetrics) error {
		if e.Epoch == 2 {
			return stop
		}
		return nil
	}
	_, _, err := Train(context.Background(), ds, first)
	require.ErrorIs(t, err, stop)

	var seen []EpochMetrics
	second := opt
	second.OnEpoch = func(e EpochMetrics) error { seen = append(seen, e); return nil }
	_, res, err := Train(context.Background(), ds, second)
	require.NoError(t, err)
	require.Equal(t, 2, res.Resumed)
	require.Len(t, res.History, 4)
	require.Len(t, seen, 4)
	require.True(t, seen[0].Restored && seen[1].Restored)
	require.False(t, seen[2].Restored)
	require.Equal(t, 3, seen[2].Epoch)

	// The same folder with other options is refused, not silently mixed.
	other := opt
	other.LearningRate = 1e-2
	_, _, err = Train(context.Background(), ds, other)
	require.Equal(t, errs.Conflict, errs.KindOf(err))

	// An uninterrupted run with the same seed ends with the same weights.
	fresh := opt
	fresh.CheckpointDir = t.TempDir()
	_, want, err := Train(context.Background(), ds, fresh)
	require.NoError(t, err)
	require.InDelta(t, want.History[3].TrainLoss, res.History[3].TrainLoss, 1e-4)
}

func TestTrainCancel(t *testing.T) {
	ds := quadrants(t, 80, 5)
	ctx, cancel := context.WithCancel(context.Background())
	opt := DefaultOptions()
	opt.Model, opt.Epochs = "small", 50
	opt.OnBatch = func(epoch, done, total int) {
		if epoch == 2 {
			cancel()
		}
	}
	_, _, err := Train(ctx, ds, opt)
	require.ErrorIs(t, err, context.Canceled)
}

// separable is a table dataset whose class is the sign of x0 + x1.
func separable(t *testing.T) *data.Dataset {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 200
	ds := &data.Dataset{Manifest: data.Manifest{Kind: "table", Shape: []int{3}, DType: data.Float32, Classes: []string{"0", "1"},
		Features: []string{"x0", "x1", "noise"}, Count: n, Hash: "separable"}}
	for i := 0; i < n; i++ {
		x0, x1 := rng.NormFloat64(), rng.NormFloat64()
		ds.F32 = append(ds.F32, float32(x0), float32(x1), float32(rng.NormFloat64()))
		label := int32(0)
		if x0+x1 > 0 {
			label = 1
		}
		ds.Labels = append(ds.Labels, label)
	}
	splits, err := data.Split(ds.Labels, nil, data.SplitFractions{Validation: 0.2, Test: 0.2}, 1)
	require.NoError(t, err)
	ds.Manifest.Splits = splits
	return ds
}

func TestTrainTables(t *testing.T) {
	ds := separable(t)
	for _, name := range ArchitectureNames(KindTable) {
		opt := DefaultOptions()
		opt.Model, opt.Epochs, opt.LearningRate, opt.BatchSize = name, 40, 2e-2, 16
		_, res, err := Train(context.Background(), ds, opt)
		require.NoError(t, err)
		require.GreaterOrEqual(t, res.Test.Accuracy, 0.9, name)
	}
}

func TestFlipClassesMustMatchTheClasses(t *testing.T) {
	ds := quadrantsWithImageOptions(t)
	opt := DefaultOptions()
	opt.Model, opt.Epochs, opt.BatchSize = "small", 1, 16
	opt.Augment = &images.AugmentOptions{FlipProb: 1, FlipClasses: []int32{0}}
	_, _, err := Train(context.Background(), ds, opt)
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.ErrorContains(t, err, fmt.Sprintf("flip_classes has 1 entries for %d classes", len(ds.Manifest.Classes)))
}

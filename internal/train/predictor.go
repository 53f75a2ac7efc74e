package train

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/data/table"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// Predictor runs a model package: it loads the weights once and predicts
// from raw inputs (image bytes, table records) or prepared tensors, applying
// the package's own preprocessing. It needs no training code or data and is
// safe for concurrent use.
type Predictor struct {
	Package   *Package
	Dir       string
	net       network
	transform *table.Transform
}

// network is what a Predictor runs: a GoMLX model or an imported ONNX graph.
type network interface {
	PredictBatch(x []float32, n int) ([][]float32, error)
}

// LoadPredictor loads the package folder at dir on the named backend ("" for
// the default). Resolving models:/ URIs to a folder is the caller's job
// (client.FetchModel does it through the server).
func LoadPredictor(dir, backend string) (p *Predictor, err error) {
	pkg, err := ReadPackage(dir)
	if err != nil {
		return nil, err
	}
	b, err := OpenBackend(backend)
	if err != nil {
		return nil, err
	}
	defer recoverInto(&err, "load model")
	p = &Predictor{Package: pkg, Dir: dir}
	switch pkg.Kind {
	case KindTable, KindImage:
		arch, err := LookupArchitecture(pkg.Architecture, pkg.Kind)
		if err != nil {
			return nil, fmt.Errorf("load model %s: %w", dir, err)
		}
		if IsTreeModel(arch.Name) {
			if p.net, err = loadTrees(dir, pkg); err != nil {
				return nil, err
			}
			break
		}
		if arch.Name == ModelEnsemble {
			if p.net, err = loadEnsemble(dir, backend, pkg); err != nil {
				return nil, err
			}
			break
		}
		vars, err := loadWeights(filepath.Join(dir, weightsDir))
		if err != nil {
			return nil, err
		}
		man := data.Manifest{Shape: pkg.InputShape, Classes: pkg.Classes, Normalize: pkg.Normalize}
		m, err := newModel(b, arch, man, vars)
		if err != nil {
			return nil, err
		}
		p.net = m
	case KindONNX:
		if pkg.ONNX == nil {
			return nil, errs.Invalidf("load model %s: kind onnx without an onnx section", dir)
		}
		n, err := loadONNX(b, filepath.Join(dir, pkg.ONNX.File), pkg)
		if err != nil {
			return nil, err
		}
		p.net = n
	default:
		return nil, errs.Invalidf("load model %s: kind %q: expected %s, %s or %s", dir, pkg.Kind, KindImage, KindTable, KindONNX)
	}
	if len(pkg.Transform) > 0 {
		if p.transform, err = table.UnmarshalTransform(pkg.Transform); err != nil {
			return nil, fmt.Errorf("load model %s: %w", dir, err)
		}
	}
	// Run once, so the first request does not pay for compilation and a
	// broken package fails here rather than when serving.
	if _, err := p.Predict(make([]float32, p.ExampleSize()), 1); err != nil {
		return nil, fmt.Errorf("load model %s: warm-up: %w", dir, err)
	}
	return p, nil
}

// ExampleSize is the number of float32 values in one prepared example.
func (p *Predictor) ExampleSize() int {
	n := 1
	for _, d := range p.Package.InputShape {
		n *= d
	}
	return n
}

// Predict returns class probabilities for n prepared examples given flat in
// x (n*ExampleSize values, normalised as in training).
func (p *Predictor) Predict(x []float32, n int) ([][]float32, error) {
	if n < 1 || len(x) != n*p.ExampleSize() {
		return nil, errs.Invalidf("predict: %d values for %d examples of shape %v", len(x), n, p.Package.InputShape)
	}
	return p.net.PredictBatch(x, n)
}

// CheckImage reads an encoded image's header, without decoding it, and
// refuses an image PrepareImage would refuse for its size: over
// images.MaxPixels or, when maxBytes > 0, taking more than maxBytes to
// decode and resize. Errors: Invalid (not a PNG or JPEG, or not an image
// model), TooLarge.
func (p *Predictor) CheckImage(b []byte, maxBytes int64) error {
	if p.Package.Image == nil {
		return p.notImages()
	}
	h, err := images.ReadHeader(b)
	if err != nil {
		return err
	}
	return images.CheckSize(h, *p.Package.Image, maxBytes)
}

// PrepareImage decodes, resizes and normalises one image (PNG or JPEG
// bytes) exactly as training did, returning ExampleSize values. It
// refuses what CheckImage refuses before decoding, and stops with ctx's
// error once ctx ends. Errors: Invalid, TooLarge, ctx's.
func (p *Predictor) PrepareImage(ctx context.Context, b []byte, maxBytes int64) ([]float32, error) {
	if p.Package.Image == nil {
		return nil, p.notImages()
	}
	px, err := images.DecodeContext(ctx, b, *p.Package.Image, maxBytes)
	if err != nil {
		return nil, err
	}
	ds := data.Dataset{Manifest: data.Manifest{Shape: p.Package.InputShape, DType: data.Uint8, Normalize: p.Package.Normalize}, U8: px}
	return ds.Example(0, make([]float32, len(px))), nil
}

func (p *Predictor) notImages() error {
	return errs.Invalidf("model %s takes %s input, not images", p.Package.Architecture, p.Package.Kind)
}

// PrepareRecord applies the saved table transform to one record (JSON
// values; optional fields may be missing), returning ExampleSize values.
func (p *Predictor) PrepareRecord(rec map[string]any) ([]float32, error) {
	if p.transform == nil {
		return nil, errs.Invalidf("model %s takes %s input, not table records", p.Package.Architecture, p.Package.Kind)
	}
	return p.transform.ApplyRecord(rec)
}

// PrepareRecordNoting is PrepareRecord that also names the category fields
// whose value training never saw (read as unknown).
func (p *Predictor) PrepareRecordNoting(rec map[string]any) ([]float32, []string, error) {
	if p.transform == nil {
		return nil, nil, errs.Invalidf("model %s takes %s input, not table records", p.Package.Architecture, p.Package.Kind)
	}
	return p.transform.AppendRecordNoting(make([]float32, 0, p.transform.Size()), rec)
}

// Explain splits the score of class for the prepared example x into one
// part per input column (tree models only; see explainTrees). Errors:
// Invalid (a network, which cannot say).
func (p *Predictor) Explain(x []float32, class int) ([]Contribution, error) {
	t, ok := p.net.(treeNet)
	if !ok {
		return nil, errs.Invalidf("model %s cannot explain its predictions (the tree models gbdt and rf can)", p.Package.Architecture)
	}
	return explainTrees(t.m, p.Package.Features, x, class)
}

// PredictImage is PrepareImage followed by Predict for one image, with no
// limit beyond images.MaxPixels (for local files).
func (p *Predictor) PredictImage(b []byte) ([]float32, error) {
	return p.predictOne(p.PrepareImage(context.Background(), b, 0))
}

// PredictRecord is PrepareRecord followed by Predict for one record.
func (p *Predictor) PredictRecord(rec map[string]any) ([]float32, error) {
	return p.predictOne(p.PrepareRecord(rec))
}

func (p *Predictor) predictOne(x []float32, err error) ([]float32, error) {
	if err != nil {
		return nil, err
	}
	out, err := p.Predict(x, 1)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// Argmax returns the index of the largest probability.
func Argmax(probs []float32) int { return argmax(probs) }

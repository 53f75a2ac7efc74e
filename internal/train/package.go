package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/data/table"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// PackageVersion is the version of the model package layout.
const PackageVersion = 1

// Files of a model package folder.
const (
	PackageFile = "cairn-model.json" // the Package manifest
	MLmodelFile = "MLmodel"          // so MLflow tools recognise the folder
	weightsDir  = "weights"          // GoMLX checkpoint of the model variables only
)

// Package is a model package's manifest: everything needed to run the model
// on raw input without the training code or data.
type Package struct {
	Version      int      `json:"format_version"`
	Kind         string   `json:"kind"` // KindImage, KindTable or KindONNX
	Architecture string   `json:"architecture,omitempty"`
	InputShape   []int    `json:"input_shape"` // one example, e.g. [64, 64, 1] or [25]
	Classes      []string `json:"classes"`
	// Image is how a request image is decoded and resized (images only).
	Image     *images.Options `json:"image,omitempty"`
	Normalize *data.Normalize `json:"normalize,omitempty"`
	// Transform is the fitted table transform (tables only).
	Transform json.RawMessage `json:"transform,omitempty"`
	Features  []string        `json:"features,omitempty"`
	// ONNX describes an imported ONNX graph (KindONNX only).
	ONNX *ONNXModel `json:"onnx,omitempty"`
	// Members are the folders, relative to the package, of an ensemble's
	// member packages (architecture ModelEnsemble only).
	Members []string `json:"members,omitempty"`

	Metrics      map[string]float64 `json:"metrics,omitempty"`
	Params       map[string]string  `json:"params,omitempty"`
	Dataset      DatasetRef         `json:"dataset"`
	GoMLXVersion string             `json:"gomlx_version"`
	CreatedAt    time.Time          `json:"created_at"`
}

// ONNXModel names the ONNX file in a package and its graph's input and output.
type ONNXModel struct {
	File   string `json:"file"`
	Input  string `json:"input"`
	Output string `json:"output"`
	// Softmax tells whether the output is logits that need a softmax.
	Softmax bool `json:"softmax"`
}

// DatasetRef says what a model was trained on.
type DatasetRef struct {
	Hash      string `json:"hash,omitempty"`
	Source    string `json:"source,omitempty"`
	Synthetic bool   `json:"synthetic"`
	Count     int    `json:"count,omitempty"`
}

// gomlxVersion is the GoMLX module version compiled into this binary.
func gomlxVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/gomlx/gomlx" {
				return d.Version
			}
		}
	}
	return "unknown"
}

// packageFor fills a Package from a trained model's dataset manifest.
func packageFor(m *Model, metrics map[string]float64, params map[string]string) (*Package, error) {
	man := m.Manifest
	p := &Package{Version: PackageVersion, Kind: m.Arch.Kind, Architecture: m.Arch.Name, InputShape: man.Shape,
		Classes: man.Classes, Normalize: man.Normalize, Transform: man.Transform, Features: man.Features,
		Metrics: metrics, Params: params, GoMLXVersion: gomlxVersion(), CreatedAt: time.Now().UTC(),
		Dataset: DatasetRef{Hash: man.Hash, Source: man.Source, Synthetic: man.Synthetic, Count: man.Count}}
	if p.Kind == KindImage {
		io, err := images.OptionsOf(man)
		if err != nil {
			return nil, err
		}
		p.Image = &io
	}
	return p, nil
}

// SavePackage writes the model as a package folder at dir: the manifest,
// an MLmodel file, and the weights without optimizer state. The folder is
// built beside dir and renamed into place, so dir is never half-written.
func (m *Model) SavePackage(dir string, metrics map[string]float64, params map[string]string) (*Package, error) {
	p, err := packageFor(m, metrics, params)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), ".pkg-*")
	if err != nil {
		return nil, fmt.Errorf("save package: %w", err)
	}
	defer os.RemoveAll(tmp)
	save := func() error { return m.saveWeights(filepath.Join(tmp, weightsDir)) }
	switch {
	case m.trees != nil:
		save = func() error { return m.saveTrees(tmp) }
	case m.members != nil:
		save = func() (err error) {
			p.Members, err = m.saveMembers(tmp)
			return err
		}
	}
	if err := save(); err != nil {
		return nil, fmt.Errorf("save package: %w", err)
	}
	if err := p.write(tmp); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("save package: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("save package: %w", err)
	}
	return p, nil
}

// write stores the manifest and the MLmodel file in dir.
func (p *Package) write(dir string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("save package: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, PackageFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save package: %w", err)
	}
	mlmodel, err := p.mlmodel()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, MLmodelFile), mlmodel, 0o644)
}

// mlmodel renders MLflow's MLmodel file: a "cairn" flavor naming the
// manifest, and the input/output signature in MLflow's schema JSON.
func (p *Package) mlmodel() ([]byte, error) {
	var inputs []map[string]any
	if p.Kind == KindTable && len(p.Transform) > 0 {
		t, err := table.UnmarshalTransform(p.Transform)
		if err != nil {
			return nil, fmt.Errorf("save package: %w", err)
		}
		for _, in := range t.Inputs() {
			typ := "string" // categories, text, and dates as ISO 8601 strings
			switch in.Type {
			case table.Number:
				typ = "double"
			case table.Boolean:
				typ = "boolean"
			}
			inputs = append(inputs, map[string]any{"name": in.Name, "type": typ, "required": !in.Optional})
		}
	} else {
		shape := append([]int{-1}, p.InputShape...)
		inputs = []map[string]any{{"type": "tensor", "tensor-spec": map[string]any{"dtype": "float32", "shape": shape}}}
	}
	outputs := []map[string]any{{"type": "tensor", "tensor-spec": map[string]any{"dtype": "float32", "shape": []int{-1, len(p.Classes)}}}}
	in, _ := json.Marshal(inputs)
	out, _ := json.Marshal(outputs)
	doc := map[string]any{
		"artifact_path":    "model",
		"model_uuid":       uuid.NewString(),
		"utc_time_created": p.CreatedAt.Format("2006-01-02 15:04:05.000000"),
		"flavors": map[string]any{
			"cairn": map[string]any{"manifest": PackageFile, "kind": p.Kind, "architecture": p.Architecture,
				"gomlx_version": p.GoMLXVersion, "classes": p.Classes},
		},
		"signature": map[string]any{"inputs": string(in), "outputs": string(out)},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("save package: %w", err)
	}
	return b, nil
}

// ReadPackage reads the manifest of the package folder at dir.
func ReadPackage(dir string) (*Package, error) {
	b, err := os.ReadFile(filepath.Join(dir, PackageFile))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, &errs.Error{Kind: errs.NotFound, Op: "load model",
				Message: fmt.Sprintf("%s: no %s: not a Cairn model package", dir, PackageFile)}
		}
		return nil, fmt.Errorf("load model: %w", err)
	}
	var p Package
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, errs.Invalidf("load model: %s: %v", filepath.Join(dir, PackageFile), err)
	}
	if p.Version != PackageVersion {
		return nil, errs.Invalidf("load model: %s: format version %d, expected %d", dir, p.Version, PackageVersion)
	}
	if len(p.Classes) == 0 || len(p.InputShape) == 0 {
		return nil, errs.Invalidf("load model: %s: manifest has no classes or input shape", dir)
	}
	return &p, nil
}

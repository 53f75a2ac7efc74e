package table

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// PrepareOptions says what Prepare reads and how it prepares it.
type PrepareOptions struct {
	// Path is a local CSV file; Reader is used instead when Path is empty.
	Path   string
	Reader io.Reader
	// Name names the source in errors and in the manifest (default: Path,
	// or "input" for a Reader).
	Name string
	// Label overrides the label column of the spec (required when the
	// columns are inferred).
	Label string
	// Preset names a built-in spec (PresetTitanic); Spec declares one. With
	// neither, the columns are inferred (see InferSpec), with Schema's
	// overrides.
	Preset string
	Spec   *Spec
	Schema *Schema
	// Split gives the validation and test shares, stratified by label.
	Split data.SplitFractions
	Seed  uint64
	// CacheDir holds prepared datasets, one folder per content hash.
	CacheDir string
	// Synthetic marks the source as synthetic (e.g. SynthPassengers); the
	// manifest says so and training tags the run with it. A Path with the
	// marker SynthPassengersFile leaves beside it is synthetic too.
	Synthetic bool
}

// DefaultPrepareOptions returns a 0.8/0.2 train/validation split with
// seed 1, cached under DefaultCacheDir.
func DefaultPrepareOptions() PrepareOptions {
	return PrepareOptions{Split: data.SplitFractions{Validation: 0.2}, Seed: 1, CacheDir: data.DefaultCacheDir}
}

// PrepareResult is what Prepare did.
type PrepareResult struct {
	Dir      string        `json:"dir"`
	Hash     string        `json:"hash"`
	Hit      bool          `json:"hit"` // the dataset was already in the cache
	Manifest data.Manifest `json:"manifest"`
	Duration time.Duration `json:"duration_ns"`
}

// tableHashVersion changes whenever Prepare's output for the same
// inputs would change, so old cache entries stop matching.
// v2: fitted columns count their missing train cells; v3: inference knows
// booleans, dates, ids and high-cardinality categories, and the Titanic
// preset has ticket and surname survival rates.
const tableHashVersion = "cairn-table-v3"

// Prepare reads a CSV table, splits it (stratified by label, seeded),
// fits the spec's transform on the train split only, encodes every row to a
// float32 feature vector and saves the dataset in the cache, under the
// SHA-256 of the file content and the parameters. When that dataset is
// already cached it is returned without parsing (Hit). The fitted
// transform is in Manifest.Transform (see UnmarshalTransform).
// Errors are Invalid for bad input (naming file, line and column) and
// NotFound for a missing file.
func Prepare(ctx context.Context, opts PrepareOptions) (*PrepareResult, error) {
	start := time.Now()
	if err := opts.Split.Validate(); err != nil {
		return nil, err
	}
	content, name, err := readTableSource(opts)
	if err != nil {
		return nil, err
	}
	if opts.Path != "" && hasSyntheticMarker(opts.Path) {
		opts.Synthetic = true
	}
	spec, mode, err := opts.spec()
	if err != nil {
		return nil, err
	}
	hash, err := tableHash(content, spec, mode, opts)
	if err != nil {
		return nil, err
	}
	cache := data.NewCache(opts.CacheDir)
	if m, ok, err := cache.Lookup(hash); err != nil {
		return nil, err
	} else if ok {
		return &PrepareResult{Dir: cache.DatasetDir(hash), Hash: hash, Hit: true, Manifest: m, Duration: time.Since(start)}, nil
	}

	c, err := ReadCSV(bytes.NewReader(content), name)
	if err != nil {
		return nil, err
	}
	if len(c.Rows) == 0 {
		return nil, errs.Invalidf("%s: no data rows after the header", name)
	}
	var dropped map[string]string
	if spec == nil {
		var schema Schema
		if opts.Schema != nil {
			schema = *opts.Schema
		}
		inferred, drops, err := InferSpec(c, opts.Label, schema)
		if err != nil {
			return nil, err
		}
		spec = &inferred
		if len(drops) > 0 {
			dropped = map[string]string{}
			for _, d := range drops {
				dropped[d.Column] = d.Reason
			}
		}
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	classes, err := labelClasses(*spec, c)
	if err != nil {
		return nil, err
	}
	labels, err := csvLabels(c, spec.Label, classes)
	if err != nil {
		return nil, err
	}
	splits, err := data.Split(labels, nil, opts.Split, opts.Seed)
	if err != nil {
		return nil, err
	}
	if len(splits[data.SplitTrain]) == 0 {
		return nil, errs.Invalidf("%s: %d rows leave none for training", name, len(c.Rows))
	}
	spec.Classes = classes
	t, x, err := fitCSV(ctx, *spec, c, splits[data.SplitTrain], true)
	if err != nil {
		return nil, err
	}
	tj, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("prepare table: %w", err)
	}
	d := &data.Dataset{
		Manifest: data.Manifest{
			Kind:      "table",
			Shape:     []int{t.Size()},
			DType:     data.Float32,
			Classes:   t.Classes,
			Features:  t.FeatureNames,
			Count:     len(c.Rows),
			Splits:    splits,
			Transform: tj,
			Meta:      tableMeta(c, spec.ID),
			Source:    name,
			Synthetic: opts.Synthetic,
			Params: map[string]any{
				"label": spec.Label, "spec": mode, "validation": opts.Split.Validation,
				"test": opts.Split.Test, "seed": opts.Seed, "rows": len(c.Rows),
			},
			CreatedAt: time.Now().UTC(),
		},
		F32:    x,
		Labels: labels,
	}
	if dropped != nil {
		d.Manifest.Params["dropped"] = dropped
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, err := cache.Commit(hash, d)
	if err != nil {
		return nil, err
	}
	return &PrepareResult{Dir: dir, Hash: hash, Manifest: d.Manifest, Duration: time.Since(start)}, nil
}

// readTableSource returns the bytes of the source and its display name.
func readTableSource(opts PrepareOptions) ([]byte, string, error) {
	name := opts.Name
	switch {
	case opts.Path != "":
		if name == "" {
			name = opts.Path
		}
		b, err := os.ReadFile(opts.Path)
		if isNotExistErr(err) {
			return nil, "", errs.NotFoundf("%s: no such file", opts.Path)
		}
		if err != nil {
			return nil, "", fmt.Errorf("read %s: %w", opts.Path, err)
		}
		return b, name, nil
	case opts.Reader != nil:
		if name == "" {
			name = "input"
		}
		b, err := io.ReadAll(opts.Reader)
		if err != nil {
			return nil, "", fmt.Errorf("read %s: %w", name, err)
		}
		return b, name, nil
	}
	return nil, "", errs.Invalidf("prepare table: no source: give a CSV path or a reader")
}

// spec resolves the options' spec; nil means infer from the data. mode
// names where it came from: "preset:NAME", "declared" or "inferred".
func (o PrepareOptions) spec() (*Spec, string, error) {
	var s Spec
	mode := "declared"
	switch {
	case o.Preset != "" && o.Spec != nil:
		return nil, "", errs.Invalidf("prepare table: give a preset or a spec, not both")
	case o.Schema != nil && (o.Preset != "" || o.Spec != nil):
		return nil, "", errs.Invalidf("prepare table: a schema overrides inferred columns: give it without a preset or a spec")
	case o.Preset != "":
		var err error
		if s, err = Preset(o.Preset); err != nil {
			return nil, "", err
		}
		mode = "preset:" + o.Preset
	case o.Spec != nil:
		s = *o.Spec
	default:
		if o.Label == "" && (o.Schema == nil || o.Schema.Target == "") {
			return nil, "", errs.Invalidf("prepare table: no target column: give one with inferred columns")
		}
		if o.Schema != nil {
			if err := o.Schema.Validate(); err != nil {
				return nil, "", err
			}
		}
		return nil, "inferred", nil
	}
	if o.Label != "" && o.Label != s.Label {
		s.Label = o.Label
	}
	if err := s.Validate(); err != nil {
		return nil, "", err
	}
	return &s, mode, nil
}

// tableHash is the cache key: SHA-256 over the parameters and the content.
func tableHash(content []byte, spec *Spec, mode string, o PrepareOptions) (string, error) {
	params, err := json.Marshal(struct {
		Version   string              `json:"version"`
		Format    int                 `json:"format"`
		Transform int                 `json:"transform"`
		Mode      string              `json:"mode"`
		Spec      *Spec               `json:"spec"`
		Schema    *Schema             `json:"schema,omitempty"`
		Label     string              `json:"label"`
		Split     data.SplitFractions `json:"split"`
		Seed      uint64              `json:"seed"`
		Synthetic bool                `json:"synthetic"`
	}{tableHashVersion, data.FormatVersion, TransformVersion, mode, spec, o.Schema, o.Label, o.Split, o.Seed, o.Synthetic})
	if err != nil {
		return "", fmt.Errorf("prepare table: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d\n%s\n", len(params), params)
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// tableMeta keeps the ID column of each row as "id" metadata, when present.
func tableMeta(c *CSV, id string) []map[string]string {
	p := c.Index(id)
	if id == "" || p < 0 {
		return nil
	}
	meta := make([]map[string]string, len(c.Rows))
	for i, row := range c.Rows {
		meta[i] = map[string]string{"id": row[p]}
	}
	return meta
}

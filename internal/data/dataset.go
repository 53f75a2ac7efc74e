package data

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// FormatVersion is the version of the prepared-dataset layout written by Save.
const FormatVersion = 1

// Split names of a prepared dataset.
const (
	SplitTrain      = "train"
	SplitValidation = "validation"
	SplitTest       = "test"
)

// SyntheticMarker names the file the synthetic generators leave with their
// output: a hidden file of that name in an image folder, or a file beside a
// CSV whose name is the CSV's plus this suffix. A dataset prepared from a
// marked source has Manifest.Synthetic set.
const SyntheticMarker = ".cairn-synthetic.json"

// Element types of a prepared dataset's feature tensor.
const (
	Uint8   = "uint8"   // images: raw pixel values 0..255, normalised when read
	Float32 = "float32" // tables: already transformed features
)

// Manifest describes a prepared dataset: what each example looks like, where
// it came from and how it was split. It is stored as manifest.json beside
// the tensors and is what a model package copies to know its input.
type Manifest struct {
	Version int    `json:"version"`
	Kind    string `json:"kind"` // "images" or "table"
	// Shape is the shape of one example: [H, W, C] for images, [F] for tables.
	Shape []int  `json:"shape"`
	DType string `json:"dtype"` // Uint8 or Float32
	// Classes are the label names; label i is Classes[i].
	Classes []string `json:"classes"`
	// Features names each column of a table's feature vector.
	Features []string `json:"features,omitempty"`
	Count    int      `json:"count"`
	// Splits maps a split name to the indices of its examples.
	Splits map[string][]int `json:"splits"`
	// Normalize is applied to uint8 pixels when read: (x/255 - Mean) / Std.
	Normalize *Normalize `json:"normalize,omitempty"`
	// Transform is the fitted table transform (JSON), applied again at serving.
	Transform json.RawMessage `json:"transform,omitempty"`
	// Meta holds per-example metadata (e.g. "file", "hand"), indexed like the examples.
	Meta []map[string]string `json:"meta,omitempty"`
	// Hash is the content hash of the inputs and parameters: the cache key.
	Hash      string         `json:"hash"`
	Source    string         `json:"source"`
	Synthetic bool           `json:"synthetic"`
	Params    map[string]any `json:"params,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
}

// Normalize is a per-channel affine normalisation of pixels scaled to [0,1].
type Normalize struct {
	Mean []float32 `json:"mean"`
	Std  []float32 `json:"std"`
}

// Dataset is a prepared dataset held in memory: Count examples of
// Manifest.Shape, stored flat in U8 (images) or F32 (tables), with labels.
type Dataset struct {
	Manifest Manifest
	U8       []uint8
	F32      []float32
	Labels   []int32
}

// ExampleSize is the number of scalars in one example.
func (d *Dataset) ExampleSize() int {
	n := 1
	for _, s := range d.Manifest.Shape {
		n *= s
	}
	return n
}

// Example writes example i, as normalised float32 values, into dst (which
// must hold ExampleSize values) and returns dst.
func (d *Dataset) Example(i int, dst []float32) []float32 {
	size := d.ExampleSize()
	if d.Manifest.DType == Float32 {
		copy(dst, d.F32[i*size:(i+1)*size])
		return dst
	}
	px := d.U8[i*size : (i+1)*size]
	norm := d.Manifest.Normalize
	channels := 1
	if len(d.Manifest.Shape) > 0 {
		channels = d.Manifest.Shape[len(d.Manifest.Shape)-1]
	}
	for j, v := range px {
		x := float32(v) / 255
		if norm != nil && len(norm.Mean) > 0 {
			c := j % channels
			x = (x - norm.Mean[c%len(norm.Mean)]) / norm.Std[c%len(norm.Std)]
		}
		dst[j] = x
	}
	return dst
}

// Validate checks that the manifest and tensors agree.
func (d *Dataset) Validate() error {
	m := d.Manifest
	if m.Count < 0 || len(d.Labels) != m.Count {
		return errs.Invalidf("dataset: %d labels for count %d", len(d.Labels), m.Count)
	}
	size := d.ExampleSize()
	switch m.DType {
	case Uint8:
		if len(d.U8) != m.Count*size {
			return errs.Invalidf("dataset: %d pixel values, expected %d x %v", len(d.U8), m.Count, m.Shape)
		}
	case Float32:
		if len(d.F32) != m.Count*size {
			return errs.Invalidf("dataset: %d feature values, expected %d x %v", len(d.F32), m.Count, m.Shape)
		}
	default:
		return errs.Invalidf("dataset: dtype %q: expected %q or %q", m.DType, Uint8, Float32)
	}
	for _, l := range d.Labels {
		if l < 0 || int(l) >= len(m.Classes) {
			return errs.Invalidf("dataset: label %d outside the %d classes", l, len(m.Classes))
		}
	}
	for name, idx := range m.Splits {
		for _, i := range idx {
			if i < 0 || i >= m.Count {
				return errs.Invalidf("dataset: split %q has example %d of %d", name, i, m.Count)
			}
		}
	}
	return nil
}

// File names inside a prepared dataset folder.
const (
	manifestFile = "manifest.json"
	tensorFile   = "examples.bin"
	labelFile    = "labels.bin"
)

// Save writes the dataset to dir (created if needed) as manifest.json,
// examples.bin and labels.bin (little-endian). Files are written under
// temporary names and renamed, so a reader never sees a half-written dataset.
func (d *Dataset) Save(dir string) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save dataset: %w", err)
	}
	d.Manifest.Version = FormatVersion
	write := func(name string, fill func(w io.Writer) error) error {
		tmp, err := os.CreateTemp(dir, "."+name+".*")
		if err != nil {
			return fmt.Errorf("save dataset: %w", err)
		}
		defer os.Remove(tmp.Name())
		bw := bufio.NewWriterSize(tmp, 1<<20)
		if err := fill(bw); err != nil {
			tmp.Close()
			return fmt.Errorf("save dataset %s: %w", name, err)
		}
		if err := bw.Flush(); err != nil {
			tmp.Close()
			return fmt.Errorf("save dataset %s: %w", name, err)
		}
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("save dataset %s: %w", name, err)
		}
		return os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	err := write(tensorFile, func(w io.Writer) error {
		if d.Manifest.DType == Uint8 {
			_, err := w.Write(d.U8)
			return err
		}
		return binary.Write(w, binary.LittleEndian, d.F32)
	})
	if err == nil {
		err = write(labelFile, func(w io.Writer) error { return binary.Write(w, binary.LittleEndian, d.Labels) })
	}
	if err == nil {
		// The manifest goes last: its presence marks a complete dataset.
		err = write(manifestFile, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(d.Manifest)
		})
	}
	return err
}

// ReadManifest reads only the manifest of the dataset in dir.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		if os.IsNotExist(err) {
			return m, &errs.Error{Kind: errs.NotFound, Op: "load dataset",
				Message: fmt.Sprintf("%s: no %s (not a prepared dataset; run 'cairn data prepare')", dir, manifestFile)}
		}
		return m, fmt.Errorf("load dataset: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, errs.Invalidf("load dataset: %s: %v", filepath.Join(dir, manifestFile), err)
	}
	if m.Version != FormatVersion {
		return m, errs.Invalidf("load dataset: %s: format version %d, expected %d", dir, m.Version, FormatVersion)
	}
	return m, nil
}

// Load reads a dataset written by Save.
func Load(dir string) (*Dataset, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Manifest: m}
	size := d.ExampleSize()
	if size <= 0 || m.Count > math.MaxInt32 {
		return nil, errs.Invalidf("load dataset: %s: bad shape %v or count %d", dir, m.Shape, m.Count)
	}
	raw, err := os.ReadFile(filepath.Join(dir, tensorFile))
	if err != nil {
		return nil, fmt.Errorf("load dataset: %w", err)
	}
	switch m.DType {
	case Uint8:
		d.U8 = raw
	case Float32:
		if len(raw)%4 != 0 {
			return nil, errs.Invalidf("load dataset: %s: %d bytes is not a float32 tensor", tensorFile, len(raw))
		}
		d.F32 = make([]float32, len(raw)/4)
		for i := range d.F32 {
			d.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	lb, err := os.ReadFile(filepath.Join(dir, labelFile))
	if err != nil {
		return nil, fmt.Errorf("load dataset: %w", err)
	}
	if len(lb)%4 != 0 {
		return nil, errs.Invalidf("load dataset: %s: %d bytes is not an int32 tensor", labelFile, len(lb))
	}
	d.Labels = make([]int32, len(lb)/4)
	for i := range d.Labels {
		d.Labels[i] = int32(binary.LittleEndian.Uint32(lb[4*i:]))
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("load dataset %s: %w", dir, err)
	}
	return d, nil
}

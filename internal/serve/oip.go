package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// Version is the server version reported by GET /v2; cmd sets it.
var Version = "0.1.0-dev"

// The Open Inference Protocol v2 (KServe's, also spoken by Triton and
// MLServer), REST/JSON binding without the binary-data extension.

type oipTensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

type oipModelMetadata struct {
	Name     string          `json:"name"`
	Versions []string        `json:"versions,omitempty"`
	Platform string          `json:"platform"`
	Inputs   []oipTensorMeta `json:"inputs"`
	Outputs  []oipTensorMeta `json:"outputs"`
}

type oipTensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

type oipRequest struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []oipTensor    `json:"inputs"`
	Outputs    []struct {
		Name       string         `json:"name"`
		Parameters map[string]any `json:"parameters,omitempty"`
	} `json:"outputs,omitempty"`
}

type oipOutput struct {
	Name     string  `json:"name"`
	Shape    []int64 `json:"shape"`
	Datatype string  `json:"datatype"`
	Data     any     `json:"data"`
}

type oipResponse struct {
	ModelName    string      `json:"model_name"`
	ModelVersion string      `json:"model_version"`
	ID           string      `json:"id,omitempty"`
	Outputs      []oipOutput `json:"outputs"`
}

func serverMetadata() map[string]any {
	return map[string]any{"name": "cairn", "version": Version, "extensions": []string{}}
}

// Tensor names a model's OIP metadata lists.
const (
	tensorInput         = "input"         // prepared features, numeric
	tensorImage         = "image"         // encoded images, BYTES (base64)
	tensorProbabilities = "probabilities" // FP32 [N, classes]
	tensorLabel         = "label"         // BYTES [N]
)

func (d *Deployment) readyHandler(w http.ResponseWriter, r *http.Request) {
	// The protocol: 200 is true, 4xx is false; the body is empty.
	if d.Ready() {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusBadRequest)
}

// servedFor holds the current version after checking the model and
// version named in the path. Errors: NotFound, Unavailable.
func (d *Deployment) servedFor(r *http.Request) (*served, error) {
	s, err := d.acquire()
	if err != nil {
		if err := d.checkPath(r, nil); err != nil {
			return nil, err
		}
		return nil, err
	}
	if err := d.checkPath(r, s); err != nil {
		s.inflight.Done()
		return nil, err
	}
	return s, nil
}

// checkPath checks the {model} and {version} path values against the
// deployment and the version s (when not nil). Errors: NotFound.
func (d *Deployment) checkPath(r *http.Request, s *served) error {
	if m := r.PathValue("model"); m != d.Name() && m != modelName(d.Config().ModelURI) {
		return errs.NotFoundf("model %q is not served here; this deployment serves %q", m, d.Name())
	}
	if v := r.PathValue("version"); s != nil && v != "" && v != s.version {
		return errs.NotFoundf("model %s version %s is not served; version %s is", d.Name(), v, s.version)
	}
	return nil
}

func (d *Deployment) oipReady(w http.ResponseWriter, r *http.Request) {
	s, err := d.servedFor(r)
	if err != nil {
		if errs.KindOf(err) == errs.NotFound {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.inflight.Done()
	w.WriteHeader(http.StatusOK)
}

func (d *Deployment) oipMetadata(w http.ResponseWriter, r *http.Request) {
	s, err := d.servedFor(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer s.inflight.Done()
	api.JSON(w, http.StatusOK, metadataOf(d.Name(), s))
}

func metadataOf(name string, s *served) oipModelMetadata {
	in := append([]int64{-1}, int64s(s.info.InputShape)...)
	md := oipModelMetadata{Name: name, Versions: []string{s.version}, Platform: s.info.Platform}
	switch s.info.Kind {
	case KindImage:
		md.Inputs = []oipTensorMeta{{Name: tensorImage, Datatype: "BYTES", Shape: []int64{-1}}, {Name: tensorInput, Datatype: "FP32", Shape: in}}
	default:
		for _, f := range s.info.Inputs {
			dt := "BYTES"
			if f.Type == "number" {
				dt = "FP64"
			}
			md.Inputs = append(md.Inputs, oipTensorMeta{Name: f.Name, Datatype: dt, Shape: []int64{-1}})
		}
		md.Inputs = append(md.Inputs, oipTensorMeta{Name: tensorInput, Datatype: "FP32", Shape: in})
	}
	md.Outputs = []oipTensorMeta{
		{Name: tensorProbabilities, Datatype: "FP32", Shape: []int64{-1, int64(len(s.info.Classes))}},
		{Name: tensorLabel, Datatype: "BYTES", Shape: []int64{-1}},
	}
	return md
}

func int64s(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// oipInfer is POST /v2/models/{model}[/versions/{v}]/infer.
func (d *Deployment) oipInfer(ctx context.Context, s *served, r *http.Request) (any, error) {
	if r.Header.Get("Inference-Header-Content-Length") != "" {
		return nil, errs.Invalidf("the binary tensor data extension is not supported; send JSON tensors")
	}
	if err := d.checkPath(r, s); err != nil {
		return nil, err
	}
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var req oipRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, errs.Invalidf("inference request: %v", jsonErr(err, b))
	}
	if len(req.Inputs) == 0 {
		return nil, errs.Invalidf("inference request: \"inputs\" is required: at least one input tensor")
	}
	xs, err := d.examplesOf(ctx, s, req.Inputs)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{tensorProbabilities: true, tensorLabel: true}
	if len(req.Outputs) > 0 {
		want = map[string]bool{}
		for _, o := range req.Outputs {
			if o.Name != tensorProbabilities && o.Name != tensorLabel {
				return nil, errs.Invalidf("output %q: this model has outputs %q and %q", o.Name, tensorProbabilities, tensorLabel)
			}
			want[o.Name] = true
		}
	}
	probs, err := s.b.doMany(ctx, xs)
	if err != nil {
		return nil, err
	}
	n := int64(len(probs))
	resp := oipResponse{ModelName: d.Name(), ModelVersion: s.version, ID: req.ID}
	if want[tensorProbabilities] {
		c := len(s.info.Classes)
		flat := make([]float32, 0, len(probs)*c)
		for _, p := range probs {
			flat = append(flat, p...)
		}
		resp.Outputs = append(resp.Outputs, oipOutput{Name: tensorProbabilities, Shape: []int64{n, int64(c)}, Datatype: "FP32", Data: flat})
	}
	if want[tensorLabel] {
		labels := make([]string, len(probs))
		for i, p := range probs {
			labels[i] = s.info.Classes[argmax(p)]
		}
		resp.Outputs = append(resp.Outputs, oipOutput{Name: tensorLabel, Shape: []int64{n}, Datatype: "BYTES", Data: labels})
	}
	return resp, nil
}

func argmax(p []float32) int {
	best := 0
	for i := range p {
		if p[i] > p[best] {
			best = i
		}
	}
	return best
}

// examplesOf turns input tensors into prepared examples: one numeric
// "input" tensor of prepared features; for image models a BYTES tensor of
// base64 images; for table models one tensor per field (a column).
func (d *Deployment) examplesOf(ctx context.Context, s *served, inputs []oipTensor) ([][]float32, error) {
	seen := map[string]bool{}
	for _, t := range inputs {
		if seen[t.Name] {
			return nil, errs.Invalidf("input %q is given twice", t.Name)
		}
		seen[t.Name] = true
	}
	if len(inputs) == 1 && inputs[0].Datatype != "BYTES" && (s.info.Kind == KindImage || inputs[0].Name == tensorInput) {
		return preparedExamples(s, inputs[0])
	}
	if s.info.Kind == KindImage {
		if len(inputs) != 1 {
			return nil, errs.Invalidf("image model %s takes one input tensor: %q (BYTES, base64 images) or %q (FP32 %v per image)", s.info.Platform, tensorImage, tensorInput, s.info.InputShape)
		}
		t := inputs[0]
		n, err := batchDim(t, 1)
		if err != nil {
			return nil, err
		}
		if err := checkBatch(s, n); err != nil {
			return nil, err
		}
		vals, err := tensorData(t, n)
		if err != nil {
			return nil, err
		}
		imgs := make([]encodedImage, n)
		for i, v := range vals {
			raw, err := decodeImage(fmt.Sprintf("%s[%d]", t.Name, i), v)
			if err != nil {
				return nil, err
			}
			imgs[i] = encodedImage{fmt.Sprintf("input %q element %d", t.Name, i), raw}
		}
		return d.prepareImages(ctx, s, imgs)
	}
	return columnExamples(s, inputs)
}

// batchDim checks that a tensor is [N] or [N, 1] (or [N, rest...] with the
// given example size) and returns N.
func batchDim(t oipTensor, size int) (int, error) {
	if len(t.Shape) == 0 {
		return 0, errs.Invalidf("input %q: \"shape\" is required, e.g. [1]", t.Name)
	}
	const maxElements = 1 << 24
	prod := int64(1)
	for _, d := range t.Shape {
		if d < 0 {
			return 0, errs.Invalidf("input %q: shape %v has a negative dimension", t.Name, t.Shape)
		}
		// Checked before multiplying: the product must not wrap around.
		if d > 0 && prod > maxElements/d {
			return 0, errs.Invalidf("input %q: shape %v is too large", t.Name, t.Shape)
		}
		prod *= d
	}
	if t.Shape[0] == 0 {
		return 0, errs.Invalidf("input %q: shape %v has no examples", t.Name, t.Shape)
	}
	if prod != t.Shape[0]*int64(size) {
		return 0, errs.Invalidf("input %q: shape %v: expected [N] with one element per example", t.Name, t.Shape)
	}
	return int(t.Shape[0]), nil
}

// preparedExamples reads a numeric tensor [N, InputShape...].
func preparedExamples(s *served, t oipTensor) ([][]float32, error) {
	want := s.info.InputShape
	if len(t.Shape) != len(want)+1 {
		return nil, errs.Invalidf("input %q: shape %v: expected [N, %s]", t.Name, t.Shape, dims(want))
	}
	for i, d := range want {
		if t.Shape[i+1] != int64(d) {
			return nil, errs.Invalidf("input %q: shape %v: expected [N, %s]", t.Name, t.Shape, dims(want))
		}
	}
	size := s.info.exampleSize()
	n, err := batchDim(oipTensor{Name: t.Name, Shape: []int64{t.Shape[0], int64(size)}}, size)
	if err != nil {
		return nil, err
	}
	if err := checkBatch(s, n); err != nil {
		return nil, err
	}
	if !numericType(t.Datatype) {
		return nil, errs.Invalidf("input %q: datatype %q: expected FP32 (or another numeric type: FP16, FP64, INT8-64, UINT8-64)", t.Name, t.Datatype)
	}
	vals, err := tensorData(t, n*size)
	if err != nil {
		return nil, err
	}
	xs := make([][]float32, n)
	for i := range xs {
		xs[i] = make([]float32, size)
		for j := range size {
			f, err := numberOf(t, i*size+j, vals[i*size+j])
			if err != nil {
				return nil, err
			}
			xs[i][j] = float32(f)
		}
	}
	return xs, nil
}

func dims(d []int) string {
	var b bytes.Buffer
	for i, x := range d {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(x))
	}
	return b.String()
}

// columnExamples reads one tensor per table field into records.
func columnExamples(s *served, inputs []oipTensor) ([][]float32, error) {
	fields := map[string]Field{}
	for _, f := range s.info.Inputs {
		fields[f.Name] = f
	}
	n := -1
	var recs []map[string]any
	for _, t := range inputs {
		f, ok := fields[t.Name]
		if !ok {
			return nil, errs.Invalidf("input %q is not a field of this model; its fields are %s (or one FP32 %q tensor of prepared features)", t.Name, fieldNames(s.info.Inputs), tensorInput)
		}
		k, err := batchDim(t, 1)
		if err != nil {
			return nil, err
		}
		if n >= 0 && k != n {
			return nil, errs.Invalidf("input %q has %d elements; the other inputs have %d", t.Name, k, n)
		}
		if n < 0 {
			if err := checkBatch(s, k); err != nil {
				return nil, err
			}
			n = k
			recs = make([]map[string]any, n)
			for i := range recs {
				recs[i] = map[string]any{}
			}
		}
		vals, err := tensorData(t, n)
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			if f.Type == "number" {
				if t.Datatype == "BYTES" {
					return nil, errs.Invalidf("input %q: datatype BYTES: field %q is a number; expected FP64 (or another numeric type)", t.Name, f.Name)
				}
				x, err := numberOf(t, i, v)
				if err != nil {
					return nil, err
				}
				recs[i][f.Name] = x
				continue
			}
			if t.Datatype != "BYTES" && !numericType(t.Datatype) {
				return nil, errs.Invalidf("input %q: datatype %q: expected BYTES", t.Name, t.Datatype)
			}
			recs[i][f.Name] = v
		}
	}
	xs := make([][]float32, n)
	for i, rec := range recs {
		x, err := s.prepareRecord(rec)
		if err != nil {
			return nil, errs.Invalidf("example %d: %s", i, errs.MessageOf(err))
		}
		xs[i] = x
	}
	return xs, nil
}

func fieldNames(fs []Field) string {
	var b bytes.Buffer
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
	}
	return b.String()
}

func numericType(dt string) bool {
	switch dt {
	case "FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64":
		return true
	}
	return false
}

// tensorData flattens a tensor's data (nested arrays in row-major order)
// and checks it has count elements.
func tensorData(t oipTensor, count int) ([]any, error) {
	if len(t.Data) == 0 {
		return nil, errs.Invalidf("input %q: \"data\" is required", t.Name)
	}
	if t.Datatype == "" {
		return nil, errs.Invalidf("input %q: \"datatype\" is required, e.g. FP32 or BYTES", t.Name)
	}
	if t.Datatype != "BYTES" && !numericType(t.Datatype) && t.Datatype != "BOOL" {
		return nil, errs.Invalidf("input %q: unknown datatype %q", t.Name, t.Datatype)
	}
	dec := json.NewDecoder(bytes.NewReader(t.Data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errs.Invalidf("input %q: data: %v", t.Name, err)
	}
	out := make([]any, 0, count)
	var walk func(v any) error
	walk = func(v any) error {
		if a, ok := v.([]any); ok {
			for _, e := range a {
				if err := walk(e); err != nil {
					return err
				}
			}
			return nil
		}
		if len(out) == count {
			return errs.Invalidf("input %q: data has more than the %d elements its shape %v holds", t.Name, count, t.Shape)
		}
		out = append(out, v)
		return nil
	}
	if err := walk(v); err != nil {
		return nil, err
	}
	if len(out) != count {
		return nil, errs.Invalidf("input %q: data has %d elements; shape %v holds %d", t.Name, len(out), t.Shape, count)
	}
	for i, e := range out {
		switch e.(type) {
		case string:
			if t.Datatype != "BYTES" {
				return nil, errs.Invalidf("input %q element %d: a string in a %s tensor", t.Name, i, t.Datatype)
			}
		case json.Number:
			if t.Datatype == "BYTES" {
				return nil, errs.Invalidf("input %q element %d: a number in a BYTES tensor; BYTES elements are strings", t.Name, i)
			}
		case bool:
			if t.Datatype != "BOOL" {
				return nil, errs.Invalidf("input %q element %d: a boolean in a %s tensor", t.Name, i, t.Datatype)
			}
		default:
			return nil, errs.Invalidf("input %q element %d: %s; expected %s", t.Name, i, kindOf(e), elementKind(t.Datatype))
		}
	}
	return out, nil
}

func elementKind(dt string) string {
	switch dt {
	case "BYTES":
		return "a string"
	case "BOOL":
		return "a boolean"
	}
	return "a number"
}

// numberOf reads element i as a number within its datatype's range.
func numberOf(t oipTensor, i int, v any) (float64, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, errs.Invalidf("input %q element %d: expected a number, got %s", t.Name, i, kindOf(v))
	}
	f, err := strconv.ParseFloat(num.String(), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, errs.Invalidf("input %q element %d: %s is not a finite number", t.Name, i, num)
	}
	lo, hi, integer := rangeOf(t.Datatype)
	if integer && f != math.Trunc(f) {
		return 0, errs.Invalidf("input %q element %d: %s is not an integer, as %s requires", t.Name, i, num, t.Datatype)
	}
	if f < lo || f > hi {
		return 0, errs.Invalidf("input %q element %d: %s is outside the range of %s", t.Name, i, num, t.Datatype)
	}
	return f, nil
}

func rangeOf(dt string) (lo, hi float64, integer bool) {
	switch dt {
	case "INT8":
		return math.MinInt8, math.MaxInt8, true
	case "INT16":
		return math.MinInt16, math.MaxInt16, true
	case "INT32":
		return math.MinInt32, math.MaxInt32, true
	case "INT64":
		return math.MinInt64, math.MaxInt64, true
	case "UINT8":
		return 0, math.MaxUint8, true
	case "UINT16":
		return 0, math.MaxUint16, true
	case "UINT32":
		return 0, math.MaxUint32, true
	case "UINT64":
		return 0, math.MaxUint64, true
	case "FP16":
		return -65504, 65504, false
	case "FP32":
		return -math.MaxFloat32, math.MaxFloat32, false
	}
	return -math.MaxFloat64, math.MaxFloat64, false
}

package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	gctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/onnx-gomlx/onnx"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// ONNXFile is the name of the ONNX graph inside a model package.
const ONNXFile = "model.onnx"

// Input layouts of an imported image model.
const (
	// LayoutNHWC: the graph takes [N, H, W, C] (or, for tables, [N, F]):
	// the examples Cairn prepares, as they are.
	LayoutNHWC = "nhwc"
	// LayoutNCHW: the graph takes [N, C, H, W], as PyTorch exports it.
	// ImportONNX prepends a Transpose so the packaged graph takes the same
	// [N, H, W, C] examples as Cairn's own image models.
	LayoutNCHW = "nchw"
)

// ONNXImportOptions says how to package an ONNX classifier.
type ONNXImportOptions struct {
	// Input and Output name the graph's input and output; they may be left
	// empty when the graph has exactly one of each.
	Input, Output string
	// InputShape is one example as Cairn feeds it, without the batch axis:
	// [H, W, C] for images (channels last, whatever Layout is) or [F] for
	// tables. Empty means Image's shape, or else the model's own when all
	// its axes but the batch are fixed.
	InputShape []int
	// Layout is the graph's input layout: LayoutNHWC (the default) or
	// LayoutNCHW.
	Layout string
	// Classes names the outputs, in order (required).
	Classes []string
	// Image and Normalize say how a request image is prepared (image
	// models only; optional).
	Image     *images.Options
	Normalize *data.Normalize
	// Softmax tells that the output is logits: the predictor applies a
	// softmax to get probabilities.
	Softmax bool
	// Architecture is recorded in the manifest; empty means the graph's
	// name or, failing that, the file's base name.
	Architecture string
	// Backend checks the graph builds on it ("" for the pure-Go default):
	// name the backend the package will be served on.
	Backend string
	Metrics map[string]float64
	Params  map[string]string
	Dataset DatasetRef
}

// ImportONNX packages the ONNX classifier at onnxPath as a model package
// folder at dstDir (replaced if it exists, and built beside it so it is
// never half-written). It checks the graph parses, builds on the backend
// with the example shape and gives one value per class. Errors are
// errs.NotFound when onnxPath does not exist and errs.Invalid when the
// file or the options are wrong; each names the file.
func ImportONNX(onnxPath, dstDir string, opt ONNXImportOptions) (*Package, error) {
	fail := func(format string, args ...any) error {
		return errs.Invalidf("import onnx %s: "+format, append([]any{onnxPath}, args...)...)
	}
	if len(opt.Classes) == 0 {
		return nil, fail("no classes: name the model's outputs in order")
	}
	if i := slices.IndexFunc(opt.Classes, func(c string) bool { return c == "" }); i >= 0 {
		return nil, fail("class %d has an empty name", i)
	}
	layout := strings.ToLower(opt.Layout)
	if layout == "" {
		layout = LayoutNHWC
	}
	if layout != LayoutNHWC && layout != LayoutNCHW {
		return nil, fail("layout %q: expected %q or %q", opt.Layout, LayoutNHWC, LayoutNCHW)
	}
	if opt.Image != nil {
		if err := opt.Image.Validate(); err != nil {
			return nil, fail("%v", err)
		}
	}
	raw, err := os.ReadFile(onnxPath)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, errs.NotFoundf("import onnx %s: no such file", onnxPath)
		}
		return nil, fmt.Errorf("import onnx: %w", err)
	}
	m, err := parseONNX(raw)
	if err != nil {
		return nil, fail("%v", err)
	}
	in, out, err := onnxIO(m, opt.Input, opt.Output)
	if err != nil {
		return nil, fail("%v", err)
	}
	names, dshapes := m.Inputs()
	dshape := dshapes[slices.Index(names, in)]
	if !dshape.DType.IsFloat() {
		return nil, fail("input %q is %s: expected a float tensor", in, dshape.DType)
	}
	if dshape.Rank() < 2 {
		return nil, fail("input %q is %v: expected a batch axis and the example's axes", in, dshape)
	}

	// The example shape, as Cairn feeds it (channels last).
	shape := slices.Clone(opt.InputShape)
	if len(shape) == 0 && opt.Image != nil {
		shape = opt.Image.Shape()
	}
	model := dshape.Dimensions[1:] // the graph's own example axes
	if layout == LayoutNCHW {
		if len(model) != 3 {
			return nil, fail("input %q is %v: layout %s needs a rank-4 [N, C, H, W] input", in, dshape, layout)
		}
		model = []int{model[1], model[2], model[0]}
	}
	if len(shape) == 0 {
		if slices.Contains(model, -1) || len(model) == 0 {
			return nil, fail("input %q is %v: its example shape is not fixed, so give InputShape", in, dshape)
		}
		shape = model
	}
	if dshape.Rank() != len(shape)+1 {
		return nil, fail("input %q is %v: expected rank %d (a batch axis and examples of shape %v)", in, dshape, len(shape)+1, shape)
	}
	for i, d := range model {
		if shape[i] < 1 || (d > 0 && d != shape[i]) {
			takes := strings.ReplaceAll(fmt.Sprint(model), "-1", "?")
			hint := ""
			switch {
			case layout == LayoutNCHW:
				hint = " (channels last, as layout nchw reads them)"
			case len(model) == 3 && model[0] == shape[2] && model[2] == shape[1]:
				hint = `: it looks channels first; set layout "nchw"`
			}
			return nil, fail("input %q is %v: it takes examples of shape %s, not %v%s", in, dshape, takes, shape, hint)
		}
	}
	if opt.Image != nil && !slices.Equal(shape, opt.Image.Shape()) {
		return nil, fail("input shape %v does not match the image options' %v", shape, opt.Image.Shape())
	}
	if n := opt.Normalize; n != nil {
		if len(n.Mean) == 0 || len(n.Mean) != len(n.Std) || slices.Contains(n.Std, 0) {
			return nil, fail("normalize: expected as many means as non-zero stds, got %d and %d", len(n.Mean), len(n.Std))
		}
	}
	if opt.Softmax && onnxProducer(m, out) == "Softmax" {
		return nil, fail("output %q already comes out of a Softmax: Softmax is for graphs that output logits", out)
	}

	if layout == LayoutNCHW {
		if raw, in, err = transposeInput(m, in); err != nil {
			return nil, fail("%v", err)
		}
		if m, err = parseONNX(raw); err != nil {
			return nil, fail("%v", err)
		}
	}
	if err := checkONNX(m, opt.Backend, in, out, shape, len(opt.Classes), opt.Softmax); err != nil {
		return nil, fail("%v", err)
	}

	arch := opt.Architecture
	if arch == "" {
		arch = m.Name()
	}
	if arch == "" {
		arch = strings.TrimSuffix(filepath.Base(onnxPath), filepath.Ext(onnxPath))
	}
	params := map[string]string{}
	for k, v := range opt.Params {
		params[k] = v
	}
	params["onnx.source"] = filepath.Base(onnxPath)
	params["onnx.layout"] = layout
	p := &Package{Version: PackageVersion, Kind: KindONNX, Architecture: arch, InputShape: shape,
		Classes: slices.Clone(opt.Classes), Image: opt.Image, Normalize: opt.Normalize,
		ONNX:    &ONNXModel{File: ONNXFile, Input: in, Output: out, Softmax: opt.Softmax},
		Metrics: opt.Metrics, Params: params, Dataset: opt.Dataset,
		GoMLXVersion: gomlxVersion(), CreatedAt: time.Now().UTC()}

	parent := filepath.Dir(filepath.Clean(dstDir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("import onnx: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".pkg-*")
	if err != nil {
		return nil, fmt.Errorf("import onnx: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, ONNXFile), raw, 0o644); err != nil {
		return nil, fmt.Errorf("import onnx: %w", err)
	}
	if err := p.write(tmp); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dstDir); err != nil {
		return nil, fmt.Errorf("import onnx: %w", err)
	}
	if err := os.Rename(tmp, dstDir); err != nil {
		return nil, fmt.Errorf("import onnx: %w", err)
	}
	return p, nil
}

// parseONNX parses a serialised ONNX model, turning onnx-gomlx's panics on
// malformed protos into errors.
func parseONNX(raw []byte) (m *onnx.Model, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("not an ONNX model: %v", r)
		}
	}()
	// A protobuf parser accepts much that is not a model: check there is a
	// graph with nodes before onnx-gomlx dereferences it.
	var probe onnx.Model
	if err := proto.Unmarshal(raw, &probe.Proto); err != nil {
		return nil, fmt.Errorf("not an ONNX model: %v", err)
	}
	g := probe.Proto.Graph
	if g == nil || len(g.Node) == 0 {
		return nil, fmt.Errorf("not an ONNX model: no graph")
	}
	// Older exporters list initializers among the inputs too; onnx-gomlx
	// would then expect them fed: drop them, so their values are used.
	inits := map[string]bool{}
	for _, t := range g.Initializer {
		inits[t.Name] = true
	}
	changed := false
	if n := len(g.Input); len(dropNamed(g.Input, inits)) < n {
		g.Input = dropNamed(g.Input, inits)
		changed = true
	}
	// onnx-gomlx passes a Conv without strides to GoMLX as stride 0: give
	// it the ONNX default, 1 per spatial axis.
	for _, n := range g.Node {
		if n.OpType != "Conv" {
			continue
		}
		var kernel []int64
		strides := false
		for _, a := range n.Attribute {
			switch a.Name {
			case "strides":
				strides = true
			case "kernel_shape":
				kernel = a.Ints
			}
		}
		if strides || len(kernel) == 0 {
			continue
		}
		a := newElem(n.Attribute)
		ones, _ := json.Marshal(slices.Repeat([]int{1}, len(kernel)))
		if err := protojson.Unmarshal([]byte(`{"name": "strides", "type": "INTS", "ints": `+string(ones)+`}`), a); err != nil {
			return nil, fmt.Errorf("conv strides: %v", err)
		}
		n.Attribute = append(n.Attribute, a)
		changed = true
	}
	if changed {
		if raw, err = proto.Marshal(&probe.Proto); err != nil {
			return nil, fmt.Errorf("not an ONNX model: %v", err)
		}
	}
	m, err = onnx.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not an ONNX model: %v", err)
	}
	return m, nil
}

// onnxIO picks the graph input and output Cairn uses.
func onnxIO(m *onnx.Model, in, out string) (string, string, error) {
	feed, _ := m.Inputs()
	outs, _ := m.Outputs()
	pick := func(what, name string, names []string) (string, error) {
		switch {
		case name != "" && slices.Contains(names, name):
			return name, nil
		case name != "":
			return "", fmt.Errorf("no %s %q: the graph's %ss are %q", what, name, what, names)
		case len(names) == 1:
			return names[0], nil
		case len(names) == 0:
			return "", fmt.Errorf("the graph has no %s", what)
		}
		return "", fmt.Errorf("the graph has %ss %q: name the one to use", what, names)
	}
	in, err := pick("input", in, feed)
	if err != nil {
		return "", "", err
	}
	if len(feed) > 1 {
		return "", "", fmt.Errorf("the graph has inputs %q: Cairn feeds one", feed)
	}
	out, err = pick("output", out, outs)
	return in, out, err
}

// onnxProducer returns the op type of the node that outputs name.
func onnxProducer(m *onnx.Model, name string) string {
	for _, n := range m.Proto.Graph.Node {
		if slices.Contains(n.Output, name) {
			return n.OpType
		}
	}
	return ""
}

// dropNamed returns the protos of s whose names are not in drop, in a new
// slice.
func dropNamed[P interface{ GetName() string }](s []P, drop map[string]bool) []P {
	return slices.DeleteFunc(slices.Clone(s), func(v P) bool { return drop[v.GetName()] })
}

// newElem returns a new message of the element type of a slice of protos,
// so the onnx-gomlx protos (an internal package) can be built without
// naming their types.
func newElem[T any, P interface {
	*T
	proto.Message
}](_ []P) P {
	return P(new(T))
}

// transposeInput rewrites the graph so that input (an NCHW image batch)
// is fed as NHWC: a new input takes [N, H, W, C] and a Transpose turns it
// into the old input. It returns the serialised graph and the new input's
// name.
func transposeInput(m *onnx.Model, input string) ([]byte, string, error) {
	g := m.Proto.Graph
	used := map[string]bool{}
	for _, n := range g.Node {
		for _, s := range slices.Concat(n.Input, n.Output) {
			used[s] = true
		}
	}
	for _, t := range g.Initializer {
		used[t.Name] = true
	}
	for _, v := range slices.Concat(g.Input, g.Output) {
		used[v.Name] = true
	}
	name := input + "_nhwc"
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s_nhwc%d", input, i)
	}
	for _, v := range g.Input {
		if v.Name != input {
			continue
		}
		v.Name = name
		d := v.GetType().GetTensorType().GetShape().GetDim()
		if len(d) != 4 {
			return nil, "", fmt.Errorf("input %q has rank %d: layout %s needs rank 4", input, len(d), LayoutNCHW)
		}
		d[1], d[2], d[3] = d[2], d[3], d[1]
	}
	node := newElem(g.Node)
	spec := fmt.Sprintf(`{"name": "cairn_nhwc_to_nchw", "op_type": "Transpose", "input": [%q], "output": [%q],
		"attribute": [{"name": "perm", "type": "INTS", "ints": [0, 3, 1, 2]}]}`, name, input)
	if err := protojson.Unmarshal([]byte(spec), node); err != nil {
		return nil, "", fmt.Errorf("transpose input: %v", err)
	}
	g.Node = slices.Insert(g.Node, 0, node)
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), name, nil
}

// onnxBatch is the batch size a graph is run with: its own when the input's
// batch axis is fixed (as in a PyTorch export without dynamic axes), or
// evalBatch.
func onnxBatch(m *onnx.Model, input string) int {
	names, dshapes := m.Inputs()
	if i := slices.Index(names, input); i >= 0 && dshapes[i].Rank() > 0 && dshapes[i].Dimensions[0] > 0 {
		return dshapes[i].Dimensions[0]
	}
	return evalBatch
}

// onnxForward returns the graph function of an imported classifier:
// float32 examples [B, shape...] to scores [B, classes], probabilities when
// softmax is set and the graph outputs logits.
func onnxForward(m *onnx.Model, input, output string, classes int, softmax bool) func(ctx *gctx.Context, x *Node) *Node {
	names, dshapes := m.Inputs()
	dtype := dshapes[slices.Index(names, input)].DType
	return func(ctx *gctx.Context, x *Node) *Node {
		if x.DType() != dtype {
			x = ConvertDType(x, dtype)
		}
		y := m.CallGraph(ctx, x.Graph(), map[string]*Node{input: x}, output)[0]
		if !y.DType().IsFloat() {
			panic(fmt.Errorf("output %q is %s: expected float scores", output, y.DType()))
		}
		if y.Rank() < 1 || y.Shape().Dim(0) != x.Shape().Dim(0) || y.Shape().Size() != x.Shape().Dim(0)*classes {
			panic(fmt.Errorf("output %q is %s for a batch of %d: expected [%d, %d], one score per class",
				output, y.Shape(), x.Shape().Dim(0), x.Shape().Dim(0), classes))
		}
		y = Reshape(ConvertDType(y, dtypes.Float32), x.Shape().Dim(0), classes)
		if softmax {
			y = Softmax(y, -1)
		}
		return y
	}
}

// checkONNX builds (without running) the graph on the named backend, so an
// unsupported op, a wrong example shape or class count fails at import.
func checkONNX(m *onnx.Model, backend, input, output string, shape []int, classes int, softmax bool) (err error) {
	b, err := OpenBackend(backend)
	if err != nil {
		return err
	}
	defer recoverInto(&err, "build graph")
	ctx := gctx.New()
	if err := m.VariablesToContext(ctx); err != nil {
		return err
	}
	g := NewGraph(b, "onnx-import-check")
	defer g.Finalize()
	x := Parameter(g, "x", shapes.Make(dtypes.Float32, append([]int{onnxBatch(m, input)}, shape...)...))
	onnxForward(m, input, output, classes, softmax)(ctx.Reuse(), x)
	return nil
}

// onnxNet runs an imported ONNX graph; safe for concurrent use.
type onnxNet struct {
	exec    *gctx.Exec
	batch   int
	shape   []int // one example
	classes int
}

// loadONNX loads the ONNX graph at path, with its weights as variables of a
// fresh context, for inference on b.
func loadONNX(b backends.Backend, path string, pkg *Package) (n network, err error) {
	defer recoverInto(&err, "load model")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m, err := parseONNX(raw)
	if err != nil {
		return nil, errs.Invalidf("load model %s: %v", path, err)
	}
	if _, _, err := onnxIO(m, pkg.ONNX.Input, pkg.ONNX.Output); err != nil {
		return nil, errs.Invalidf("load model %s: %v", path, err)
	}
	ctx := gctx.New()
	if err := m.VariablesToContext(ctx); err != nil {
		return nil, errs.Invalidf("load model %s: %v", path, err)
	}
	fwd := onnxForward(m, pkg.ONNX.Input, pkg.ONNX.Output, len(pkg.Classes), pkg.ONNX.Softmax)
	exec, err := gctx.NewExec(b, ctx.Reuse(), fwd)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return &onnxNet{exec: exec, batch: onnxBatch(m, pkg.ONNX.Input), shape: slices.Clone(pkg.InputShape),
		classes: len(pkg.Classes)}, nil
}

// PredictBatch returns class probabilities [n][classes] for n examples given
// flat in x, running the graph on batches of a fixed size (the last one
// padded with zeros) so it is compiled once.
func (o *onnxNet) PredictBatch(x []float32, n int) (probs [][]float32, err error) {
	defer recoverInto(&err, "predict")
	size := 1
	for _, d := range o.shape {
		size *= d
	}
	if n < 1 || len(x) != n*size {
		return nil, errs.Invalidf("predict: %d input values for %d examples of shape %v", len(x), n, o.shape)
	}
	probs = make([][]float32, 0, n)
	buf := make([]float32, o.batch*size)
	shape := append([]int{o.batch}, o.shape...)
	for start := 0; start < n; start += o.batch {
		k := min(o.batch, n-start)
		copy(buf, x[start*size:(start+k)*size])
		clear(buf[k*size:])
		out, err := o.exec.Exec(tensors.FromFlatDataAndDimensions(buf, shape...))
		if err != nil {
			return nil, err
		}
		flat := tensors.MustCopyFlatData[float32](out[0])
		for i := 0; i < k; i++ {
			probs = append(probs, flat[i*o.classes:(i+1)*o.classes])
		}
	}
	return probs, nil
}

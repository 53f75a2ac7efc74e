package train

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gomlx/onnx-gomlx/onnx"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// The ONNX models of these tests are written at test time: a graph given as
// the protobuf JSON mapping of onnx.ModelProto, parsed into the proto type
// onnx-gomlx uses, and serialised.

// onnxValue is a graph input or output: float32, dims of int (fixed) or
// string (named, dynamic).
func onnxValue(name string, dims ...any) map[string]any {
	var ds []map[string]any
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			ds = append(ds, map[string]any{"dim_value": d})
		case string:
			ds = append(ds, map[string]any{"dim_param": d})
		}
	}
	return map[string]any{"name": name, "type": map[string]any{"tensor_type": map[string]any{"elem_type": 1, "shape": map[string]any{"dim": ds}}}}
}

// onnxInit is a float32 initializer (a weight).
func onnxInit(name string, vals []float32, dims ...int) map[string]any {
	return map[string]any{"name": name, "data_type": 1, "dims": dims, "float_data": vals}
}

// onnxNode is a graph node; attrs are AttributeProto JSON objects.
func onnxNode(op string, in, out []string, attrs ...map[string]any) map[string]any {
	return map[string]any{"op_type": op, "name": out[0], "input": in, "output": out, "attribute": attrs}
}

func intAttr(name string, v int) map[string]any {
	return map[string]any{"name": name, "type": "INT", "i": v}
}

func intsAttr(name string, v ...int) map[string]any {
	return map[string]any{"name": name, "type": "INTS", "ints": v}
}

// writeONNX serialises the graph as an ONNX model file in a temp dir.
func writeONNX(t *testing.T, graph map[string]any) string {
	t.Helper()
	js, err := json.Marshal(map[string]any{"ir_version": 8, "producer_name": "cairn-test",
		"opset_import": []any{map[string]any{"domain": "", "version": 13}}, "graph": graph})
	require.NoError(t, err)
	var m onnx.Model
	require.NoError(t, protojson.Unmarshal(js, &m.Proto))
	raw, err := proto.Marshal(&m.Proto)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "model.onnx")
	require.NoError(t, os.WriteFile(path, raw, 0o644))
	return path
}

func randFloats(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func softmax(logits []float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, v)
	}
	p := make([]float64, len(logits))
	sum := 0.0
	for i, v := range logits {
		p[i] = math.Exp(v - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

func requireProbs(t *testing.T, want [][]float64, got [][]float32) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Len(t, got[i], len(want[i]))
		for k := range want[i] {
			require.InDelta(t, want[i][k], got[i][k], 1e-5, "example %d class %d", i, k)
		}
	}
}

// logisticONNX is x [batch, 4] -> MatMul W [4, 3] -> Add b [3], ending in a
// Softmax node when withSoftmax.
func logisticONNX(t *testing.T, batch any, w, b []float32, withSoftmax bool, initInputs ...bool) string {
	out := "logits"
	inputs := []any{onnxValue("x", batch, 4)}
	if len(initInputs) > 0 && initInputs[0] { // as exporters before IR version 4 did
		inputs = append(inputs, onnxValue("W", 4, 3), onnxValue("b", 3))
	}
	nodes := []any{
		onnxNode("MatMul", []string{"x", "W"}, []string{"xw"}),
		onnxNode("Add", []string{"xw", "b"}, []string{"logits"}),
	}
	if withSoftmax {
		out = "probs"
		nodes = append(nodes, onnxNode("Softmax", []string{"logits"}, []string{"probs"}, intAttr("axis", -1)))
	}
	return writeONNX(t, map[string]any{"name": "logistic", "node": nodes,
		"initializer": []any{onnxInit("W", w, 4, 3), onnxInit("b", b, 3)},
		"input":       inputs,
		"output":      []any{onnxValue(out, batch, 3)}})
}

func TestONNXImportLogistic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	w, b := randFloats(r, 12), randFloats(r, 3)
	classes := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name        string
		batch       any // the graph's batch axis
		withSoftmax bool
		initInputs  bool
		n           int
	}{
		{"dynamic batch, logits", "N", false, false, 70}, // two batches of evalBatch, the last padded
		{"batch of 1 as exported, softmax node", 1, true, false, 5},
		{"initializers listed as inputs", "N", false, true, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := logisticONNX(t, tc.batch, w, b, tc.withSoftmax, tc.initInputs)
			dir := filepath.Join(t.TempDir(), "pkg")
			pkg, err := ImportONNX(src, dir, ONNXImportOptions{Classes: classes, Softmax: !tc.withSoftmax})
			require.NoError(t, err)
			require.Equal(t, KindONNX, pkg.Kind)
			require.Equal(t, []int{4}, pkg.InputShape, "the model's own example shape")
			require.Equal(t, "logistic", pkg.Architecture)
			require.Equal(t, &ONNXModel{File: ONNXFile, Input: "x", Output: map[bool]string{false: "logits", true: "probs"}[tc.withSoftmax],
				Softmax: !tc.withSoftmax}, pkg.ONNX)
			for _, f := range []string{PackageFile, MLmodelFile, ONNXFile} {
				require.FileExists(t, filepath.Join(dir, f))
			}
			read, err := ReadPackage(dir)
			require.NoError(t, err)
			require.Equal(t, pkg.ONNX, read.ONNX)

			p, err := LoadPredictor(dir, "go")
			require.NoError(t, err)
			x := randFloats(r, tc.n*4)
			want := make([][]float64, tc.n)
			for i := range want {
				logits := make([]float64, 3)
				for k := range logits {
					logits[k] = float64(b[k])
					for f := 0; f < 4; f++ {
						logits[k] += float64(x[i*4+f]) * float64(w[f*3+k])
					}
				}
				want[i] = softmax(logits)
			}
			got, err := p.Predict(x, tc.n)
			require.NoError(t, err)
			requireProbs(t, want, got)

			// Concurrent callers share the compiled graph.
			var wg sync.WaitGroup
			results := make([][][]float32, 4)
			errors := make([]error, 4)
			for g := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[g], errors[g] = p.Predict(x[g*4:(g+2)*4], 2)
				}()
			}
			wg.Wait()
			for g := range results {
				require.NoError(t, errors[g])
				requireProbs(t, want[g:g+2], results[g])
			}
		})
	}
}

// cnnONNX is a PyTorch-style NCHW classifier: input [N, 3, 4, 4] -> Conv
// 2x2 to 2 channels (+bias) -> Relu -> GlobalAveragePool -> Flatten ->
// Gemm (transB) to 3 logits.
func cnnONNX(t *testing.T, kw, kb, dw, db []float32) string {
	return writeONNX(t, map[string]any{"name": "tiny_cnn",
		"node": []any{
			onnxNode("Conv", []string{"input", "conv.weight", "conv.bias"}, []string{"conv"}, intsAttr("kernel_shape", 2, 2)), // no strides: the ONNX default, 1
			onnxNode("Relu", []string{"conv"}, []string{"relu"}),
			onnxNode("GlobalAveragePool", []string{"relu"}, []string{"gap"}),
			onnxNode("Flatten", []string{"gap"}, []string{"flat"}, intAttr("axis", 1)),
			onnxNode("Gemm", []string{"flat", "fc.weight", "fc.bias"}, []string{"logits"}, intAttr("transB", 1)),
		},
		"initializer": []any{onnxInit("conv.weight", kw, 2, 3, 2, 2), onnxInit("conv.bias", kb, 2),
			onnxInit("fc.weight", dw, 3, 2), onnxInit("fc.bias", db, 3)},
		"input":  []any{onnxValue("input", "batch", 3, 4, 4)},
		"output": []any{onnxValue("logits", "batch", 3)}})
}

func TestONNXImportCNNNCHW(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	kw, kb, dw, db := randFloats(r, 2*3*2*2), randFloats(r, 2), randFloats(r, 3*2), randFloats(r, 3)
	src := cnnONNX(t, kw, kb, dw, db)
	dir := filepath.Join(t.TempDir(), "models", "cnn") // the parent is created
	img := &images.Options{Size: 4, Channels: 3}
	norm := &data.Normalize{Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}}
	pkg, err := ImportONNX(src, dir, ONNXImportOptions{Classes: []string{"one", "two", "three"}, Layout: "NCHW",
		Image: img, Normalize: norm, Softmax: true})
	require.NoError(t, err)
	require.Equal(t, []int{4, 4, 3}, pkg.InputShape, "examples are channels last")
	require.Equal(t, "input_nhwc", pkg.ONNX.Input)
	require.Equal(t, img, pkg.Image)
	require.Equal(t, LayoutNCHW, pkg.Params["onnx.layout"])

	// The packaged graph itself takes NHWC.
	m, err := onnx.ReadFile(filepath.Join(dir, ONNXFile))
	require.NoError(t, err)
	_, dshapes := m.Inputs()
	require.Equal(t, []int{-1, 4, 4, 3}, dshapes[0].Dimensions)

	p, err := LoadPredictor(dir, "go")
	require.NoError(t, err)
	const n = 3
	x := randFloats(r, n*4*4*3) // HWC examples, as PrepareImage makes them
	want := make([][]float64, n)
	for i := range want {
		at := func(c, h, w int) float64 { return float64(x[i*48+(h*4+w)*3+c]) }
		feat := make([]float64, 2)
		for o := 0; o < 2; o++ {
			for h := 0; h < 3; h++ {
				for w := 0; w < 3; w++ {
					v := float64(kb[o])
					for c := 0; c < 3; c++ {
						for dh := 0; dh < 2; dh++ {
							for dw := 0; dw < 2; dw++ {
								v += float64(kw[((o*3+c)*2+dh)*2+dw]) * at(c, h+dh, w+dw)
							}
						}
					}
					feat[o] += math.Max(v, 0) / 9
				}
			}
		}
		logits := make([]float64, 3)
		for k := range logits {
			logits[k] = float64(db[k]) + float64(dw[k*2])*feat[0] + float64(dw[k*2+1])*feat[1]
		}
		want[i] = softmax(logits)
	}
	got, err := p.Predict(x, n)
	require.NoError(t, err)
	requireProbs(t, want, got)
}

func TestONNXImportErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	logistic := logisticONNX(t, "N", randFloats(r, 12), randFloats(r, 3), false)
	withSoftmax := logisticONNX(t, "N", randFloats(r, 12), randFloats(r, 3), true)
	cnn := cnnONNX(t, randFloats(r, 24), randFloats(r, 2), randFloats(r, 6), randFloats(r, 3))
	notONNX := filepath.Join(t.TempDir(), "notes.onnx")
	require.NoError(t, os.WriteFile(notONNX, []byte("this is a text file, not a model\n"), 0o644))
	empty := filepath.Join(t.TempDir(), "empty.onnx")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	abc := []string{"a", "b", "c"}

	for _, tc := range []struct {
		name string
		src  string
		opt  ONNXImportOptions
		kind errs.Kind
		msg  string
	}{
		{"not an onnx file", notONNX, ONNXImportOptions{Classes: abc}, errs.Invalid, "not an ONNX model"},
		{"empty file", empty, ONNXImportOptions{Classes: abc}, errs.Invalid, "not an ONNX model"},
		{"missing file", filepath.Join(t.TempDir(), "none.onnx"), ONNXImportOptions{Classes: abc}, errs.NotFound, "no such file"},
		{"no classes", logistic, ONNXImportOptions{}, errs.Invalid, "no classes"},
		{"class count", logistic, ONNXImportOptions{Classes: []string{"a", "b"}}, errs.Invalid, "expected [64, 2], one score per class"},
		{"wrong input shape", logistic, ONNXImportOptions{Classes: abc, InputShape: []int{5}}, errs.Invalid, "it takes examples of shape [4], not [5]"},
		{"wrong input rank", logistic, ONNXImportOptions{Classes: abc, InputShape: []int{2, 2}}, errs.Invalid, "expected rank 3"},
		{"unknown input", logistic, ONNXImportOptions{Classes: abc, Input: "pixels"}, errs.Invalid, `no input "pixels"`},
		{"unknown output", logistic, ONNXImportOptions{Classes: abc, Output: "scores"}, errs.Invalid, `no output "scores"`},
		{"softmax twice", withSoftmax, ONNXImportOptions{Classes: abc, Softmax: true}, errs.Invalid, "already comes out of a Softmax"},
		{"bad layout", cnn, ONNXImportOptions{Classes: abc, Layout: "chw"}, errs.Invalid, `layout "chw"`},
		{"nchw model read as nhwc", cnn, ONNXImportOptions{Classes: abc, InputShape: []int{4, 4, 3}}, errs.Invalid, `it takes examples of shape [3 4 4], not [4 4 3]: it looks channels first; set layout "nchw"`},
		{"nchw layout on a table model", logistic, ONNXImportOptions{Classes: abc, Layout: LayoutNCHW}, errs.Invalid, "needs a rank-4"},
		{"image options disagree", cnn, ONNXImportOptions{Classes: abc, Layout: LayoutNCHW, Image: &images.Options{Size: 8, Channels: 3}},
			errs.Invalid, "it takes examples of shape [4 4 3], not [8 8 3] (channels last, as layout nchw reads them)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pkg")
			_, err := ImportONNX(tc.src, dir, tc.opt)
			require.Error(t, err)
			require.Equal(t, tc.kind, errs.KindOf(err), "%v", err)
			require.Contains(t, err.Error(), tc.src)
			require.Contains(t, err.Error(), tc.msg)
			require.NoDirExists(t, dir)
			t.Log(err)
		})
	}
}

package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// testModel is a two-class model over two features: p(class 1) is the
// logistic of w·x. Images are "IMG:<a>,<b>" byte strings; records need a
// number "a" and take an optional category "b" ("yes" is 1).
type testModel struct {
	kind    string
	w       float32
	delay   time.Duration // per batch
	batches atomic.Int64
	maxSeen atomic.Int64
	// decodeDelay is how long PrepareImage takes (it stops when its
	// context ends); decoding and maxDecoding count the images being
	// prepared now and at most at once, decodes those started.
	decodeDelay time.Duration
	decoding    atomic.Int64
	maxDecoding atomic.Int64
	decodes     atomic.Int64
}

func (m *testModel) Info() ModelInfo {
	i := ModelInfo{Kind: m.kind, InputShape: []int{2}, Classes: []string{"0", "1"}, Platform: "test",
		Inputs: []Field{{Name: "a", Type: "number"}, {Name: "b", Type: "category", Optional: true}}, Label: "Survived", ID: "PassengerId"}
	if m.kind == KindImage {
		// Image classes that count fingers are answered as a count too.
		i.Marginals = []Marginal{{Name: "fingers", Values: i.Classes, Numeric: true}}
	}
	return i
}

func (m *testModel) Predict(x []float32, n int) ([][]float32, error) {
	if len(x) != 2*n {
		return nil, errs.Invalidf("bad size")
	}
	m.batches.Add(1)
	for {
		cur := m.maxSeen.Load()
		if int64(n) <= cur || m.maxSeen.CompareAndSwap(cur, int64(n)) {
			break
		}
	}
	time.Sleep(m.delay)
	out := make([][]float32, n)
	for i := range out {
		z := m.w * (x[2*i] + x[2*i+1])
		p := float32(1 / (1 + math.Exp(-float64(z))))
		out[i] = []float32{1 - p, p}
	}
	return out, nil
}

// testImage reads "IMG:<a>,<b>" or "IMG:<a>,<b>,<bytes>": an image whose
// two features are a and b and whose decoding takes bytes (default 100).
func testImage(b []byte) (x []float32, size int64, err error) {
	var a, c float32
	size = 100
	if _, err := fmt.Sscanf(string(b), "IMG:%g,%g,%d", &a, &c, &size); err != nil {
		if _, err := fmt.Sscanf(string(b), "IMG:%g,%g", &a, &c); err != nil {
			return nil, 0, errs.Invalidf("not a PNG or JPEG image")
		}
	}
	return []float32{a, c}, size, nil
}

func (m *testModel) CheckImage(b []byte, maxBytes int64) error {
	_, size, err := testImage(b)
	if err != nil {
		return err
	}
	if size > maxBytes {
		return errs.E(errs.TooLarge, "image takes %d bytes to decode; the limit is %d bytes", size, maxBytes)
	}
	return nil
}

func (m *testModel) PrepareImage(ctx context.Context, b []byte, maxBytes int64) ([]float32, error) {
	if err := m.CheckImage(b, maxBytes); err != nil {
		return nil, err
	}
	m.decodes.Add(1)
	n := m.decoding.Add(1)
	defer m.decoding.Add(-1)
	for {
		cur := m.maxDecoding.Load()
		if n <= cur || m.maxDecoding.CompareAndSwap(cur, n) {
			break
		}
	}
	if m.decodeDelay > 0 {
		select {
		case <-time.After(m.decodeDelay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	x, _, err := testImage(b)
	return x, err
}

func (m *testModel) PrepareRecord(rec map[string]any) ([]float32, error) {
	v, ok := rec["a"]
	if !ok {
		return nil, errs.Invalidf("field %q is required (null when unknown)", "a")
	}
	n, ok := v.(json.Number)
	if !ok {
		if f, isF := v.(float64); isF {
			n, ok = json.Number(fmt.Sprint(f)), true
		}
	}
	if !ok {
		return nil, errs.Invalidf("field %q: expected a number, got %s", "a", kindOf(v))
	}
	a, _ := n.Float64()
	var b float32
	if rec["b"] == "yes" {
		b = 1
	}
	return []float32{float32(a), b}, nil
}

// testLoader serves versions from a map; the URI points at current.
type testLoader struct {
	mu       sync.Mutex
	current  string
	versions map[string]Model // nil model: a broken version
	loads    atomic.Int64
	delay    time.Duration
}

func (l *testLoader) Resolve(ctx context.Context, uri string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.current == "" {
		return "", errs.NotFoundf("registered model %q has no alias champion", uri)
	}
	return l.current, nil
}

func (l *testLoader) Load(ctx context.Context, uri, version string) (Model, error) {
	l.loads.Add(1)
	time.Sleep(l.delay)
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.versions[version]
	if !ok || m == nil {
		return nil, errs.Invalidf("model package of version %s: weights are corrupt", version)
	}
	return m, nil
}

func (l *testLoader) point(v string) {
	l.mu.Lock()
	l.current = v
	l.mu.Unlock()
}

func newTestManager(t *testing.T, l Loader) (*Manager, *prometheus.Registry, http.Handler) {
	reg := prometheus.NewRegistry()
	m := NewManager(Options{Loader: l, Logger: slog.New(slog.DiscardHandler), Registerer: reg, CPUs: 2})
	t.Cleanup(m.Close)
	mux := http.NewServeMux()
	m.Register(mux)
	return m, reg, mux
}

func do(t *testing.T, h http.Handler, method, path, body string, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if b := rec.Body.Bytes(); len(bytes.TrimSpace(b)) > 0 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(b, &out), "body: %s", b)
	}
	return rec.Code, out, rec.Header()
}

func img(a, b float32) string { return imgOf(fmt.Sprintf("IMG:%g,%g", a, b)) }

// imgOf is s as a base64 image for the test model.
func imgOf(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestImageEndpoints(t *testing.T) {
	l := &testLoader{current: "1", versions: map[string]Model{"1": &testModel{kind: KindImage, w: 1}}}
	m, reg, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "fingers", ModelURI: "models:/fingers@champion", MaxBodyBytes: 4096}, true)
	require.NoError(t, err)

	code, out, hdr := do(t, h, "POST", "/serve/fingers/", `{"image": "`+img(2, 1)+`"}`)
	require.Equal(t, 200, code, out)
	require.Equal(t, "1", hdr.Get("Cairn-Model-Version"))
	require.EqualValues(t, 1, out["fingers"])
	require.Equal(t, "1", out["class"])
	require.InDelta(t, 0.952574, out["confidence"], 1e-5)
	require.Equal(t, "1", out["model_version"])
	probs := out["probabilities"].(map[string]any)
	require.InDelta(t, 0.047426, probs["0"], 1e-5)

	// A data: URL and URL-safe unpadded base64 are accepted.
	code, _, _ = do(t, h, "POST", "/serve/fingers/", `{"image": "data:image/png;base64,`+img(0, 0)+`"}`)
	require.Equal(t, 200, code)
	raw := base64.RawURLEncoding.EncodeToString([]byte("IMG:1,1"))
	code, _, _ = do(t, h, "POST", "/serve/fingers/predict", `{"image": "`+raw+`"}`)
	require.Equal(t, 200, code)

	for _, tc := range []struct {
		name, path, body string
		code             int
		msg              string
	}{
		{"corrupt base64", "/serve/fingers/", `{"image": "%%%not base64"}`, 400, `field "image" is not valid base64`},
		{"not an image", "/serve/fingers/", `{"image": "` + base64.StdEncoding.EncodeToString([]byte("hello")) + `"}`, 400, `field "image": not a PNG or JPEG image`},
		{"no image field", "/serve/fingers/", `{"picture": "x"}`, 400, `field "image" is required`},
		{"image a number", "/serve/fingers/", `{"image": 3}`, 400, `field "image": expected a base64 PNG or JPEG string, got a number`},
		{"not JSON", "/serve/fingers/", `{"image": `, 400, "not valid JSON"},
		{"an array", "/serve/fingers/", `[1]`, 400, "expected a JSON object"},
		{"empty body", "/serve/fingers/", ``, 400, "empty"},
		{"too large", "/serve/fingers/", `{"image": "` + strings.Repeat("A", 5000) + `"}`, 413, "exceeds the limit of 4096 bytes"},
		{"unknown deployment", "/serve/nope/", `{}`, 404, `deployment "nope" does not exist`},
		{"unknown endpoint", "/serve/fingers/nowhere", `{}`, 404, "no endpoint POST /nowhere"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := do(t, h, "POST", tc.path, tc.body)
			require.Equal(t, tc.code, code, out)
			require.Contains(t, out["error"], tc.msg)
		})
	}
	// Still serving after every bad request.
	code, _, _ = do(t, h, "POST", "/serve/fingers/", `{"image": "`+img(2, 1)+`"}`)
	require.Equal(t, 200, code)

	code, _, _ = do(t, h, "GET", "/serve/fingers/ping", "")
	require.Equal(t, 200, code)
	require.Equal(t, 1.0, sample(t, reg, "cairn_serve_model_version", map[string]string{"deployment": "fingers", "version": "1"}))
}

// prometheusVec finds one gauge or counter sample by labels.
func sample(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metric
				}
			}
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no sample %s %v", name, labels)
	return 0
}

func TestTableEndpoints(t *testing.T) {
	l := &testLoader{current: "4", versions: map[string]Model{"4": &testModel{kind: KindTable, w: 1}}}
	m, _, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "titanic", ModelURI: "models:/titanic@champion"}, true)
	require.NoError(t, err)

	code, out, _ := do(t, h, "POST", "/serve/titanic/predict", `{"PassengerId": 892, "a": 1, "b": "yes"}`)
	require.Equal(t, 200, code, out)
	require.EqualValues(t, 892, out["PassengerId"])
	require.EqualValues(t, 1, out["Survived"])
	require.InDelta(t, 0.880797, out["probability"], 1e-5)
	// POST / is the same for a table model; an optional field may be missing.
	code, out, _ = do(t, h, "POST", "/serve/titanic/", `{"a": -3}`)
	require.Equal(t, 200, code, out)
	require.EqualValues(t, 0, out["Survived"])

	// An array gives an array.
	req := httptest.NewRequest("POST", "/serve/titanic/predict", strings.NewReader(`[{"a": 1}, {"a": -1}]`))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	var many []map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &many))
	require.Len(t, many, 2)

	for _, tc := range []struct{ name, body, msg string }{
		{"missing field", `{"b": "yes"}`, `field "a" is required`},
		{"mistyped field", `{"a": "old"}`, `field "a": expected a number, got a string`},
		{"bad record in a list", `[{"a": 1}, {"a": true}]`, `record 1: field "a": expected a number, got a boolean`},
		{"a string", `"x"`, "expected a JSON object with the record's fields"},
		{"empty list", `[]`, "no records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := do(t, h, "POST", "/serve/titanic/predict", tc.body)
			require.Equal(t, 400, code, out)
			require.Contains(t, out["error"], tc.msg)
		})
	}
}

func TestInvocations(t *testing.T) {
	l := &testLoader{current: "1", versions: map[string]Model{"1": &testModel{kind: KindTable, w: 1}}}
	m, _, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "titanic", ModelURI: "models:/titanic/1"}, true)
	require.NoError(t, err)
	for _, tc := range []struct{ name, ct, body string }{
		{"dataframe_split", "application/json", `{"dataframe_split": {"columns": ["a", "b"], "data": [[1, "yes"], [-4, "no"]]}}`},
		{"dataframe_records", "application/json", `{"dataframe_records": [{"a": 1, "b": "yes"}, {"a": -4}]}`},
		{"instances", "application/json", `{"instances": [{"a": 1, "b": "yes"}, {"a": -4}]}`},
		{"inputs as columns", "application/json", `{"inputs": {"a": [1, -4], "b": ["yes", "no"]}}`},
		{"prepared arrays", "application/json", `{"instances": [[1, 1], [-4, 0]]}`},
		{"csv", "text/csv", "a,b\n1,yes\n-4,no\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := do(t, h, "POST", "/serve/titanic/invocations", tc.body, "Content-Type", tc.ct)
			require.Equal(t, 200, code, out)
			preds := out["predictions"].([]any)
			require.Len(t, preds, 2)
			require.EqualValues(t, 1, preds[0].(map[string]any)["Survived"])
			require.EqualValues(t, 0, preds[1].(map[string]any)["Survived"])
		})
	}
	for _, tc := range []struct{ name, ct, body, msg string }{
		{"two keys", "application/json", `{"instances": [], "inputs": []}`, "exactly one of the fields dataframe_split, dataframe_records, instances, inputs; the request has inputs, instances"},
		{"no key", "application/json", `{"rows": []}`, "the request has rows"},
		{"bad split row", "application/json", `{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}`, "row 0: expected an array of 1 values"},
		{"bad csv number", "text/csv", "a,b\nold,yes\n", `CSV line 2, column "a": "old" is not a number`},
		{"wrong prepared size", "application/json", `{"instances": [[1, 2, 3]]}`, "row 0: a prepared example has 3 values; the model takes 2"},
		{"unknown content type", "application/xml", `<a/>`, `Content-Type "application/xml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := do(t, h, "POST", "/serve/titanic/invocations", tc.body, "Content-Type", tc.ct)
			require.Equal(t, 400, code, out)
			require.Contains(t, out["error"], tc.msg)
		})
	}
}

func TestOpenInferenceProtocol(t *testing.T) {
	l := &testLoader{current: "7", versions: map[string]Model{"7": &testModel{kind: KindImage, w: 1}}}
	m, _, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "fingers", ModelURI: "models:/fingers@champion"}, true)
	require.NoError(t, err)

	code, _, _ := do(t, h, "GET", "/v2/health/live", "")
	require.Equal(t, 200, code)
	code, _, _ = do(t, h, "GET", "/v2/health/ready", "")
	require.Equal(t, 200, code)
	code, out, _ := do(t, h, "GET", "/v2", "")
	require.Equal(t, 200, code)
	require.Equal(t, "cairn", out["name"])
	for _, p := range []string{"/v2/models/fingers", "/serve/fingers/v2/models/fingers", "/v2/models/fingers/versions/7"} {
		code, out, _ = do(t, h, "GET", p, "")
		require.Equal(t, 200, code, p)
		require.Equal(t, "fingers", out["name"])
		require.Equal(t, []any{"7"}, out["versions"])
		require.Len(t, out["inputs"], 2)
	}
	code, _, _ = do(t, h, "GET", "/v2/models/fingers/ready", "")
	require.Equal(t, 200, code)
	code, out, _ = do(t, h, "GET", "/v2/models/fingers/versions/6", "")
	require.Equal(t, 404, code)
	require.Contains(t, out["error"], "version 6 is not served; version 7 is")
	code, out, _ = do(t, h, "GET", "/v2/models/other", "")
	require.Equal(t, 404, code)
	require.Contains(t, out["error"], `model "other" is not served; deployments: fingers`)

	code, out, _ = do(t, h, "POST", "/v2/models/fingers/infer",
		`{"id": "r1", "inputs": [{"name": "input", "shape": [2, 2], "datatype": "FP32", "data": [[1, 1], [-1, -1]]}]}`)
	require.Equal(t, 200, code, out)
	require.Equal(t, "r1", out["id"])
	require.Equal(t, "7", out["model_version"])
	outs := out["outputs"].([]any)
	require.Len(t, outs, 2)
	probs := outs[0].(map[string]any)
	require.Equal(t, "probabilities", probs["name"])
	require.Equal(t, []any{2.0, 2.0}, probs["shape"])
	require.InDelta(t, 0.880797, probs["data"].([]any)[1], 1e-5)
	require.Equal(t, []any{"1", "0"}, outs[1].(map[string]any)["data"])

	code, out, _ = do(t, h, "POST", "/serve/fingers/v2/models/fingers/versions/7/infer",
		`{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["`+img(3, 0)+`"]}], "outputs": [{"name": "label"}]}`)
	require.Equal(t, 200, code, out)
	require.Len(t, out["outputs"], 1)

	for _, tc := range []struct{ name, body, msg string }{
		{"wrong shape", `{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}`, `input "input": shape [1 3]: expected [N, 2]`},
		{"too few elements", `{"inputs": [{"name": "input", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}]}`, "data has 3 elements; shape [2 2] holds 4"},
		{"wrong datatype", `{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "BOOL", "data": [true, false]}]}`, `datatype "BOOL": expected FP32`},
		{"unknown datatype", `{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP8", "data": [1, 2]}]}`, `datatype "FP8"`},
		{"string in FP32", `{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [1, "2"]}]}`, "element 1: a string in a FP32 tensor"},
		{"fraction in INT32", `{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "INT32", "data": [1, 2.5]}]}`, "2.5 is not an integer, as INT32 requires"},
		{"UINT8 range", `{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "UINT8", "data": [1, 300]}]}`, "300 is outside the range of UINT8"},
		{"bad base64 in BYTES", `{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["@@"]}]}`, `field "image[0]" is not valid base64`},
		{"number in BYTES", `{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [5]}]}`, "a number in a BYTES tensor"},
		{"no inputs", `{"inputs": []}`, `"inputs" is required`},
		{"unknown field", `{"inputz": []}`, `unknown field "inputz"`},
		{"unknown output", `{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": [{"name": "logits"}]}`, `output "logits"`},
		{"negative shape", `{"inputs": [{"name": "input", "shape": [-1, 2], "datatype": "FP32", "data": [1, 2]}]}`, "negative dimension"},
		// 4 x (2^62+1) wraps to 4 in int64: not four images.
		{"shape overflowing int64", `{"inputs": [{"name": "image", "shape": [4, 4611686018427387905], "datatype": "BYTES", "data": ["` + img(1, 1) + `", "` + img(1, 1) + `", "` + img(1, 1) + `", "` + img(1, 1) + `"]}]}`, "shape [4 4611686018427387905] is too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := do(t, h, "POST", "/v2/models/fingers/infer", tc.body)
			require.Equal(t, 400, code, out)
			require.Contains(t, out["error"], tc.msg)
		})
	}
}

func TestOpenInferenceProtocolTableColumns(t *testing.T) {
	l := &testLoader{current: "1", versions: map[string]Model{"1": &testModel{kind: KindTable, w: 1}}}
	m, _, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "titanic", ModelURI: "models:/titanic@champion"}, true)
	require.NoError(t, err)
	code, out, _ := do(t, h, "POST", "/v2/models/titanic/infer",
		`{"inputs": [{"name": "a", "shape": [2], "datatype": "FP64", "data": [1, -4]}, {"name": "b", "shape": [2, 1], "datatype": "BYTES", "data": [["yes"], ["no"]]}]}`)
	require.Equal(t, 200, code, out)
	require.Equal(t, []any{"1", "0"}, out["outputs"].([]any)[1].(map[string]any)["data"])
	code, out, _ = do(t, h, "POST", "/v2/models/titanic/infer",
		`{"inputs": [{"name": "a", "shape": [1], "datatype": "BYTES", "data": ["1"]}]}`)
	require.Equal(t, 400, code)
	require.Contains(t, out["error"], `field "a" is a number; expected FP64`)
	code, out, _ = do(t, h, "POST", "/v2/models/titanic/infer",
		`{"inputs": [{"name": "age", "shape": [1], "datatype": "FP64", "data": [1]}]}`)
	require.Equal(t, 400, code)
	require.Contains(t, out["error"], `input "age" is not a field of this model; its fields are a, b`)
}

// TestDynamicBatching checks that concurrent requests share batches and
// each gets its own answer.
func TestDynamicBatching(t *testing.T) {
	model := &testModel{kind: KindTable, w: 1, delay: 5 * time.Millisecond}
	l := &testLoader{current: "1", versions: map[string]Model{"1": model}}
	m, _, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "t", ModelURI: "x", MaxBatchSize: 16, MaxWait: Duration(5 * time.Millisecond), Replicas: 1}, true)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := float64(i%2*2 - 1) // ±1
			code, out, _ := do(t, h, "POST", "/serve/t/predict", fmt.Sprintf(`{"PassengerId": %d, "a": %g}`, i, a))
			require.Equal(t, 200, code)
			require.EqualValues(t, i, out["PassengerId"])
			require.EqualValues(t, i%2, out["Survived"])
		}()
	}
	wg.Wait()
	require.Greater(t, model.maxSeen.Load(), int64(1), "no request shared a batch")
	require.LessOrEqual(t, model.maxSeen.Load(), int64(16))
	require.Less(t, model.batches.Load(), int64(64))
}

// TestQueueFull checks a full queue answers 503 at once and the server
// keeps serving.
func TestQueueFull(t *testing.T) {
	model := &testModel{kind: KindTable, w: 1, delay: 200 * time.Millisecond}
	l := &testLoader{current: "1", versions: map[string]Model{"1": model}}
	m, _, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "t", ModelURI: "x", MaxBatchSize: 1, QueueSize: 2, Replicas: 1}, true)
	require.NoError(t, err)
	var busy atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out, hdr := do(t, h, "POST", "/serve/t/predict", `{"a": 1}`)
			if code == 503 {
				busy.Add(1)
				require.Contains(t, out["error"], "server busy: 2 requests already queued")
				require.Equal(t, "1", hdr.Get("Retry-After"))
				return
			}
			require.Equal(t, 200, code)
		}()
	}
	wg.Wait()
	require.Positive(t, busy.Load())
	code, _, _ := do(t, h, "POST", "/serve/t/predict", `{"a": 1}`)
	require.Equal(t, 200, code)
}

func TestTimeout(t *testing.T) {
	model := &testModel{kind: KindTable, w: 1, delay: 300 * time.Millisecond}
	l := &testLoader{current: "1", versions: map[string]Model{"1": model}}
	m, _, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "t", ModelURI: "x", Timeout: Duration(50 * time.Millisecond), Replicas: 1}, true)
	require.NoError(t, err)
	code, out, _ := do(t, h, "POST", "/serve/t/predict", `{"a": 1}`)
	require.Equal(t, 503, code)
	require.Contains(t, out["error"], "request timed out after 50ms")
}

// TestSwapUnderLoad moves the alias twice under continuous load: to a
// good version, which takes over, and to a broken one, which is rejected
// while the good one keeps serving. No request fails.
func TestSwapUnderLoad(t *testing.T) {
	v1, v2 := &testModel{kind: KindTable, w: 1, delay: time.Millisecond}, &testModel{kind: KindTable, w: -1, delay: time.Millisecond}
	l := &testLoader{current: "1", versions: map[string]Model{"1": v1, "2": v2, "3": nil}, delay: 20 * time.Millisecond}
	m, reg, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "t", ModelURI: "models:/t@champion", Poll: Duration(-1)}, true)
	require.NoError(t, err)
	d, err := m.Get("t")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	var ok, failed atomic.Int64
	seen := sync.Map{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				code, out, _ := do(t, h, "POST", "/serve/t/predict", `{"a": 2}`)
				if code != 200 {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				seen.Store(out["model_version"], out["Survived"])
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	l.point("2")
	require.NoError(t, d.Refresh(context.Background()))
	require.Equal(t, "2", d.Status().ModelVersion)
	time.Sleep(50 * time.Millisecond)
	l.point("3")
	err = d.Refresh(context.Background())
	require.Error(t, err)
	require.Contains(t, err.Error(), "weights are corrupt")
	st := d.Status()
	require.Equal(t, "2", st.ModelVersion)
	require.Equal(t, StateReady, st.State)
	require.Contains(t, st.LastError, "version 3")
	require.Equal(t, []string{"3"}, st.Rejected)
	// A rejected version is not retried on the next poll.
	loads := l.loads.Load()
	require.NoError(t, d.Refresh(context.Background()))
	require.Equal(t, loads, l.loads.Load())
	time.Sleep(50 * time.Millisecond)
	cancel()
	wg.Wait()

	require.Zero(t, failed.Load(), "requests failed during the swaps")
	require.Greater(t, ok.Load(), int64(50))
	s1, _ := seen.Load("1")
	s2, _ := seen.Load("2")
	require.EqualValues(t, 1, s1) // v1 says survived
	require.EqualValues(t, 0, s2) // v2 says not
	_, served3 := seen.Load("3")
	require.False(t, served3)
	require.Equal(t, 1.0, sample(t, reg, "cairn_serve_model_loads_total", map[string]string{"deployment": "t", "result": "rejected"}))
}

func TestManagementAPI(t *testing.T) {
	l := &testLoader{current: "1", versions: map[string]Model{"1": &testModel{kind: KindTable, w: 1}}}
	_, _, h := newTestManager(t, l)
	code, out, _ := do(t, h, "GET", "/api/2.0/cairn/deployments/list", "")
	require.Equal(t, 200, code)
	require.Empty(t, out["deployments"])

	code, out, _ = do(t, h, "POST", "/api/2.0/cairn/deployments/create", `{"name": "Bad Name", "model_uri": "", "max_batch_size": -1}`)
	require.Equal(t, 400, code)
	require.Contains(t, out["message"], `name "Bad Name": expected 1-63 lowercase letters`)
	require.Contains(t, out["message"], "model_uri is required")
	require.Contains(t, out["message"], "max_batch_size -1")

	code, out, _ = do(t, h, "POST", "/api/2.0/cairn/deployments/create", `{"name": "titanic", "model_uri": "models:/titanic@champion", "max_wait": "1ms", "wait": true}`)
	require.Equal(t, 200, code, out)
	dep := out["deployment"].(map[string]any)
	require.Equal(t, "READY", dep["state"])
	require.Equal(t, "1", dep["model_version"])
	require.Equal(t, "titanic", dep["model_name"])
	require.Equal(t, "/serve/titanic", dep["url"])
	require.Equal(t, "table", dep["kind"])
	require.Equal(t, "1ms", dep["max_wait"])
	require.Len(t, dep["inputs"], 2)

	code, out, _ = do(t, h, "GET", "/api/2.0/cairn/deployments/get?name=titanic", "")
	require.Equal(t, 200, code)
	code, out, _ = do(t, h, "POST", "/api/2.0/cairn/deployments/create", `{"name": "t2", "model_uri": "x", "max_wait": 5}`)
	require.Equal(t, 400, code)
	require.Contains(t, out["message"], `Invalid value 5 for parameter 'max_wait' supplied. Hint: Value was of type 'int'. Expected a duration string such as "5ms"`)

	// A model that does not load: a new deployment is not kept.
	l2 := &testLoader{}
	_, _, h2 := newTestManager(t, l2)
	code, out, _ = do(t, h2, "POST", "/api/2.0/cairn/deployments/create", `{"name": "t", "model_uri": "models:/t@champion", "wait": true}`)
	require.Equal(t, 404, code)
	require.Contains(t, out["message"], "has no alias champion")
	code, out, _ = do(t, h2, "GET", "/api/2.0/cairn/deployments/list", "")
	require.Empty(t, out["deployments"])

	code, _, _ = do(t, h, "POST", "/api/2.0/cairn/deployments/delete", `{"name": "titanic"}`)
	require.Equal(t, 200, code)
	code, _, _ = do(t, h, "POST", "/api/2.0/cairn/deployments/delete", `{"name": "titanic"}`)
	require.Equal(t, 404, code)
	code, _, _ = do(t, h, "POST", "/serve/titanic/predict", `{"a": 1}`)
	require.Equal(t, 404, code)
}

// TestOwnAddress serves a deployment on its own port with its endpoints
// at the root, and stops that listener when the deployment goes.
func TestOwnAddress(t *testing.T) {
	l := &testLoader{current: "1", versions: map[string]Model{"1": &testModel{kind: KindImage, w: 1}}}
	m, _, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "fingers", ModelURI: "x", Addr: "127.0.0.1:0"}, true)
	require.NoError(t, err)
	_, out, _ := do(t, h, "GET", "/api/2.0/cairn/deployments/get?name=fingers", "")
	own := out["deployment"].(map[string]any)["own_url"].(string)
	require.True(t, strings.HasPrefix(own, "http://127.0.0.1:"), own)
	resp, err := http.Post(own, "application/json", strings.NewReader(`{"image": "`+img(1, 1)+`"}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Contains(t, string(body), `"fingers":1`)
	resp, err = http.Get(own + "v2/models/fingers/ready")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	// A taken address is a clear error.
	_, err = m.Deploy(context.Background(), Config{Name: "other", ModelURI: "x", Addr: strings.TrimSuffix(strings.TrimPrefix(own, "http://"), "/")}, true)
	require.ErrorContains(t, err, "deployment other: listen on")
	require.NoError(t, m.Delete(context.Background(), "fingers"))
	_, err = http.Post(own, "application/json", strings.NewReader(`{}`))
	require.Error(t, err, "the own listener stops with the deployment")
}

// TestLoadingState answers 503 while the first version loads.
func TestLoadingState(t *testing.T) {
	l := &testLoader{current: "1", versions: map[string]Model{"1": &testModel{kind: KindImage, w: 1}}, delay: 300 * time.Millisecond}
	m, _, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "f", ModelURI: "x"}, false)
	require.NoError(t, err)
	code, out, _ := do(t, h, "POST", "/serve/f/", `{"image": "`+img(1, 1)+`"}`)
	require.Equal(t, 503, code)
	require.Contains(t, out["error"], "is loading its model")
	code, _, _ = do(t, h, "GET", "/v2/health/ready", "")
	require.Equal(t, 400, code)
	code, _, _ = do(t, h, "GET", "/serve/f/ping", "")
	require.Equal(t, 503, code)
	require.Eventually(t, func() bool {
		code, _, _ := do(t, h, "GET", "/v2/models/f/ready", "")
		return code == 200
	}, 5*time.Second, 10*time.Millisecond)
}

// handModel has the fingers classes with the hand; it puts 0.45 on 3R,
// 0.25 on 3L and 0.3 on 2L: the likeliest class is 3R, but summed over the
// counts the hand is L (0.55).
type handModel struct{ testModel }

var handClassNames = []string{"0L", "0R", "1L", "1R", "2L", "2R", "3L", "3R", "4L", "4R", "5L", "5R"}

func (m *handModel) Info() ModelInfo {
	i := m.testModel.Info()
	i.Classes = handClassNames
	i.Marginals = []Marginal{{Name: "fingers", Numeric: true}, {Name: "hand"}}
	for _, c := range handClassNames {
		i.Marginals[0].Values = append(i.Marginals[0].Values, c[:1])
		i.Marginals[1].Values = append(i.Marginals[1].Values, c[1:])
	}
	return i
}

func (m *handModel) Predict(x []float32, n int) ([][]float32, error) {
	out := make([][]float32, n)
	for i := range out {
		p := make([]float32, 12)
		p[4], p[6], p[7] = 0.3, 0.25, 0.45
		out[i] = p
	}
	return out, nil
}

func TestImageEndpointWithHands(t *testing.T) {
	l := &testLoader{current: "1", versions: map[string]Model{"1": &handModel{testModel{kind: KindImage}}}}
	m, _, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "fingers", ModelURI: "x"}, true)
	require.NoError(t, err)
	code, out, _ := do(t, h, "POST", "/serve/fingers/", `{"image": "`+img(1, 1)+`"}`)
	require.Equal(t, 200, code, out)
	require.Equal(t, "3R", out["class"])
	require.EqualValues(t, 3, out["fingers"])
	require.Equal(t, "L", out["hand"])
	require.InDelta(t, 0.7, out["fingers_probabilities"].(map[string]any)["3"], 1e-6)
	require.InDelta(t, 0.45, out["hand_probabilities"].(map[string]any)["R"], 1e-6)
	require.Len(t, out["probabilities"], 12)
}

// notingModel is a table model that names a field b whose value is not
// "yes" or "no" as an unseen category.
type notingModel struct{ testModel }

func (m *notingModel) PrepareRecordNoting(rec map[string]any) ([]float32, []string, error) {
	x, err := m.PrepareRecord(rec)
	if err != nil {
		return nil, nil, err
	}
	if b, ok := rec["b"]; ok && b != "yes" && b != "no" {
		return x, []string{"b"}, nil
	}
	return x, nil, nil
}

// A record with an unseen category is answered, and counted per field, on
// every endpoint that takes records.
func TestUnknownCategoriesAreCounted(t *testing.T) {
	l := &testLoader{current: "1", versions: map[string]Model{"1": &notingModel{testModel{kind: KindTable, w: 1}}}}
	m, reg, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "titanic", ModelURI: "models:/titanic@champion"}, true)
	require.NoError(t, err)
	for _, body := range []string{`{"a": 1, "b": "banana"}`, `{"a": 1, "b": "maybe"}`, `{"a": 2, "b": "yes"}`} {
		code, out, _ := do(t, h, "POST", "/serve/titanic/predict", body)
		require.Equal(t, 200, code, out)
	}
	code, out, _ := do(t, h, "POST", "/serve/titanic/invocations", `{"dataframe_records": [{"a": 1, "b": "x"}]}`)
	require.Equal(t, 200, code, out)
	require.Equal(t, 3.0, sample(t, reg, "cairn_serve_unknown_categories_total", map[string]string{"deployment": "titanic", "field": "b"}))
}

// explainingModel explains a record by its two fields.
type explainingModel struct{ testModel }

func (m *explainingModel) Explain(x []float32, class int) ([]Contribution, error) {
	return []Contribution{{Field: "a", Value: float64(x[0])}, {Field: "b", Value: float64(x[1])}}, nil
}

func TestPredictExplains(t *testing.T) {
	l := &testLoader{current: "1", versions: map[string]Model{"1": &explainingModel{testModel{kind: KindTable, w: 1}}, "2": &testModel{kind: KindTable, w: 1}}}
	m, _, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "titanic", ModelURI: "models:/titanic@champion"}, true)
	require.NoError(t, err)
	code, out, _ := do(t, h, "POST", "/serve/titanic/predict?explain=1", `{"a": 3, "b": "yes"}`)
	require.Equal(t, 200, code, out)
	require.Equal(t, []any{map[string]any{"field": "a", "value": 3.0}}, out["contributions"])
	code, out, _ = do(t, h, "POST", "/serve/titanic/predict?explain=true", `{"a": 3, "b": "yes"}`)
	require.Equal(t, 200, code, out)
	require.Len(t, out["contributions"], 2)
	code, out, _ = do(t, h, "POST", "/serve/titanic/predict", `{"a": 3}`)
	require.Equal(t, 200, code, out)
	require.NotContains(t, out, "contributions", "only when asked")
	code, out, _ = do(t, h, "POST", "/serve/titanic/predict?explain=lots", `{"a": 3}`)
	require.Equal(t, 400, code)
	require.Contains(t, out["error"], `query parameter explain="lots": expected true or a number of fields from 1 to 100`)

	// A model that cannot explain says so.
	l.point("2")
	_, err = m.Deploy(context.Background(), Config{Name: "plain", ModelURI: "models:/plain@champion"}, true)
	require.NoError(t, err)
	code, out, _ = do(t, h, "POST", "/serve/plain/predict?explain=3", `{"a": 3}`)
	require.Equal(t, 400, code)
	require.Contains(t, out["error"], "this model cannot explain its predictions")
}

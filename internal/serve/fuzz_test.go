package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// FuzzOIPInfer sends arbitrary bodies to the Open Inference Protocol's
// infer endpoint of an image and a table deployment. The server never
// panics and answers 200 with outputs that match the examples, or 400 or
// 413 (the error kinds Invalid and TooLarge) with a message.
//
//	go test -run '^$' -fuzz '^FuzzOIPInfer$' -fuzztime 3m ./internal/serve/
func FuzzOIPInfer(f *testing.F) {
	for _, s := range []string{
		`{"id": "r1", "inputs": [{"name": "input", "shape": [2, 2], "datatype": "FP32", "data": [[1, 1], [-1, -1]]}]}`,
		`{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["` + img(3, 0) + `"]}], "outputs": [{"name": "label"}]}`,
		`{"inputs": [{"name": "image", "shape": [3, 1], "datatype": "BYTES", "data": [["` + img(1, 2) + `"], ["` + sizedImg(1, 1, 5000) + `"], ["` + img(0, 0) + `"]]}]}`,
		`{"inputs": [{"name": "image", "shape": [9], "datatype": "BYTES", "data": []}]}`,
		`{"inputs": [{"name": "a", "shape": [2], "datatype": "FP64", "data": [1, -4]}, {"name": "b", "shape": [2, 1], "datatype": "BYTES", "data": [["yes"], ["no"]]}]}`,
		`{"inputs": [{"name": "a", "shape": [1], "datatype": "INT64", "data": [9223372036854775807]}]}`,
		`{"inputs": [{"name": "a", "shape": [1], "datatype": "UINT8", "data": [1e400]}]}`,
		`{"inputs": [{"name": "input", "shape": [4, 4611686018427387904], "datatype": "FP32", "data": [1]}]}`,
		`{"inputs": [{"name": "image", "shape": [4, 4611686018427387905], "datatype": "BYTES", "data": ["` + img(1, 1) + `", "` + img(1, 1) + `", "` + img(1, 1) + `", "` + img(1, 1) + `"]}]}`,
		`{"inputs": [{"name": "input", "shape": [9223372036854775807, 2], "datatype": "FP16", "data": [1]}]}`,
		`{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "BOOL", "data": [[[[true]]], false]}]}`,
		`{"inputs": [{"name": "input", "shape": [-1, 2], "datatype": "FP32", "data": [1, 2]}]}`,
		`{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["data:image/png;base64,` + img(1, 1) + `"], "parameters": {"x": 1}}], "parameters": {"a": [1]}}`,
		`{"inputs": []}`, `{"inputz": []}`, `[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	image := &testModel{kind: KindImage, w: 1}
	table := &testModel{kind: KindTable, w: 1}
	l := &testLoader{current: "1", versions: map[string]Model{"1": image, "2": table}}
	m := NewManager(Options{Loader: l, Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(), CPUs: 2})
	f.Cleanup(m.Close)
	mux := http.NewServeMux()
	m.Register(mux)
	ctx := context.Background()
	if _, err := m.Deploy(ctx, Config{Name: "img", ModelURI: "x", QueueSize: 8, MaxImageBytes: 1000, MaxBodyBytes: 1 << 20}, true); err != nil {
		f.Fatal(err)
	}
	l.point("2")
	if _, err := m.Deploy(ctx, Config{Name: "tab", ModelURI: "y", QueueSize: 8, MaxBodyBytes: 1 << 20}, true); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, name := range []string{"img", "tab"} {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("POST", "/v2/models/"+name+"/infer", bytes.NewReader(body)))
			switch rec.Code {
			case 200:
				var resp struct {
					Outputs []struct {
						Name  string  `json:"name"`
						Shape []int64 `json:"shape"`
						Data  []any   `json:"data"`
					} `json:"outputs"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Outputs) == 0 {
					t.Fatalf("%s: 200 with %s", name, rec.Body.Bytes())
				}
				// Every input's shape holds what was predicted, with no
				// product wrapped around int64.
				var req struct {
					Inputs []struct {
						Shape []int64 `json:"shape"`
					} `json:"inputs"`
				}
				_ = json.Unmarshal(body, &req)
				for _, in := range req.Inputs {
					p := big.NewInt(1)
					for _, d := range in.Shape {
						p.Mul(p, big.NewInt(d))
					}
					if p.Cmp(big.NewInt(1<<24)) > 0 || p.Sign() <= 0 {
						t.Fatalf("%s: 200 for an input of shape %v", name, in.Shape)
					}
				}
				for _, o := range resp.Outputs {
					n := int64(1)
					for _, d := range o.Shape {
						n *= d
					}
					if len(o.Shape) == 0 || o.Shape[0] < 1 || o.Shape[0] > 8 || int64(len(o.Data)) != n {
						t.Fatalf("%s: output %s of shape %v has %d values", name, o.Name, o.Shape, len(o.Data))
					}
				}
			case 400, 413:
				var resp struct {
					Error string `json:"error"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Error == "" {
					t.Fatalf("%s: %d without a message: %s", name, rec.Code, rec.Body.Bytes())
				}
			default:
				t.Fatalf("%s: status %d: %s", name, rec.Code, rec.Body.Bytes())
			}
		}
	})
}

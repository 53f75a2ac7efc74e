package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// Handler returns the deployment's endpoints at the root of its own URL
// space: POST / (an image, or a record for table models), POST /predict,
// POST /invocations, GET /ping, GET /health, and the Open Inference
// Protocol under /v2/.
func (d *Deployment) Handler() http.Handler {
	d.handlerOnce.Do(func() { d.handler = d.routes() })
	return d.handler
}

func (d *Deployment) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /{$}", d.endpoint("root", d.root))
	mux.Handle("POST /predict", d.endpoint("predict", d.predictHandler))
	mux.Handle("POST /invocations", d.endpoint("invocations", d.invocations))
	mux.HandleFunc("GET /ping", d.ping)
	mux.HandleFunc("GET /health", d.ping)
	mux.HandleFunc("GET /v2", func(w http.ResponseWriter, r *http.Request) { api.JSON(w, http.StatusOK, serverMetadata()) })
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /v2/health/ready", d.readyHandler)
	mux.HandleFunc("GET /v2/models/{model}", d.oipMetadata)
	mux.HandleFunc("GET /v2/models/{model}/versions/{version}", d.oipMetadata)
	mux.HandleFunc("GET /v2/models/{model}/ready", d.oipReady)
	mux.HandleFunc("GET /v2/models/{model}/versions/{version}/ready", d.oipReady)
	mux.Handle("POST /v2/models/{model}/infer", d.endpoint("infer", d.oipInfer))
	mux.Handle("POST /v2/models/{model}/versions/{version}/infer", d.endpoint("infer", d.oipInfer))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errs.NotFoundf("no endpoint %s %s; this deployment serves POST /, /predict, /invocations and /v2/models/%s/infer", r.Method, r.URL.Path, d.Name()))
	})
	return mux
}

// inference is an endpoint's work: it answers with a JSON value.
type inference func(ctx context.Context, s *served, r *http.Request) (any, error)

// endpoint wraps an inference with the body limit, the timeout, the
// version hold and the metrics.
func (d *Deployment) endpoint(name string, f inference) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cfg := d.Config()
		code := http.StatusOK
		defer func() { d.metrics.request(cfg.Name, name, code, time.Since(start)) }()
		r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes)
		ctx := r.Context()
		if cfg.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(cfg.Timeout))
			defer cancel()
		}
		s, err := d.acquire()
		if err != nil {
			code = writeError(w, r, err)
			return
		}
		defer s.inflight.Done()
		v, err := f(ctx, s, r)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil && r.Context().Err() == nil {
				err = &errs.Error{Kind: errs.Unavailable, Message: fmt.Sprintf("request timed out after %s", time.Duration(cfg.Timeout)), Err: err}
			}
			code = writeError(w, r, err)
			return
		}
		w.Header().Set("Cairn-Model-Version", s.version)
		api.JSON(w, http.StatusOK, v)
	})
}

// writeError writes {"error": message} with the status of err's kind and
// returns the status.
func writeError(w http.ResponseWriter, r *http.Request, err error) int {
	st, msg := api.Problem(r, err)
	if st.HTTP == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	api.JSON(w, st.HTTP, map[string]string{"error": msg})
	return st.HTTP
}

func (d *Deployment) ping(w http.ResponseWriter, r *http.Request) {
	if !d.Ready() {
		writeError(w, r, &errs.Error{Kind: errs.Unavailable, Message: fmt.Sprintf("deployment %s is not ready", d.Name())})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "\n")
}

// readBody reads the request body. Errors: TooLarge, Invalid (empty).
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, errs.Invalidf("read request body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errs.Invalidf("the request body is empty; expected JSON")
	}
	return b, nil
}

// decodeJSON decodes a JSON body into any values, numbers as json.Number.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errs.Invalidf("the request body is not valid JSON: %v", jsonErr(err, b))
	}
	if dec.More() {
		return nil, errs.Invalidf("the request body has data after its JSON value")
	}
	return v, nil
}

// jsonErr adds the offset of a syntax error.
func jsonErr(err error, b []byte) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
		return fmt.Sprintf("%v (line %d, byte %d)", err, line, se.Offset)
	}
	return err.Error()
}

// decodeImage decodes a base64 string (standard or URL alphabet, padded
// or not, optionally a data: URL) into bytes.
func decodeImage(field string, v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errs.Invalidf("field %q: expected a base64 PNG or JPEG string, got %s", field, kindOf(v))
	}
	if strings.HasPrefix(s, "data:") {
		_, rest, found := strings.Cut(s, ",")
		if !found {
			return nil, errs.Invalidf("field %q: a data: URL without a comma", field)
		}
		s = rest
	}
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return nil, errs.Invalidf("field %q is empty; expected a base64 PNG or JPEG", field)
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, errs.Invalidf("field %q is not valid base64: %v", field, err)
	}
	return b, nil
}

func kindOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// root is POST /: an image for image models (the workshop's request), a
// record for table models.
func (d *Deployment) root(ctx context.Context, s *served, r *http.Request) (any, error) {
	if s.info.Kind == KindTable {
		return d.predictHandler(ctx, s, r)
	}
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(b)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errs.Invalidf(`expected a JSON object {"image": "<base64 PNG or JPEG>"}, got %s`, kindOf(v))
	}
	return d.imageResult(ctx, s, obj)
}

func (d *Deployment) imageResult(ctx context.Context, s *served, obj map[string]any) (any, error) {
	img, ok := obj["image"]
	if !ok {
		return nil, errs.Invalidf(`field "image" is required: a base64 PNG or JPEG`)
	}
	raw, err := decodeImage("image", img)
	if err != nil {
		return nil, err
	}
	xs, err := d.prepareImages(ctx, s, []encodedImage{{`field "image"`, raw}})
	if err != nil {
		return nil, err
	}
	probs, err := d.predict(ctx, s, xs[0])
	if err != nil {
		return nil, err
	}
	return classResult(s, probs, nil), nil
}

// predictHandler is POST /predict: one record (or an array of them) for a
// table model, {"image": ...} for an image model.
func (d *Deployment) predictHandler(ctx context.Context, s *served, r *http.Request) (any, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(b)
	if err != nil {
		return nil, err
	}
	if s.info.Kind == KindImage {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, errs.Invalidf(`expected a JSON object {"image": "<base64 PNG or JPEG>"}, got %s`, kindOf(v))
		}
		return d.imageResult(ctx, s, obj)
	}
	explain, err := explainParam(r, s)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case map[string]any:
		out, err := d.records(ctx, s, []map[string]any{v}, false, explain)
		if err != nil {
			return nil, err
		}
		return out[0], nil
	case []any:
		recs := make([]map[string]any, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, errs.Invalidf("record %d: expected a JSON object of fields, got %s", i, kindOf(e))
			}
			recs[i] = m
		}
		return d.records(ctx, s, recs, true, explain)
	}
	return nil, errs.Invalidf("expected a JSON object with the record's fields (or an array of them), got %s", kindOf(v))
}

// explainParam reads ?explain=N (or true: 5), the number of contributing
// fields to answer; 0 when absent.
func explainParam(r *http.Request, s *served) (int, error) {
	v := r.URL.Query().Get("explain")
	switch v {
	case "", "false", "0":
		return 0, nil
	case "true":
		v = "5"
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		return 0, errs.Invalidf("query parameter explain=%q: expected true or a number of fields from 1 to 100", v)
	}
	if _, ok := s.model.(Explainer); !ok || s.info.Kind != KindTable {
		return 0, errs.Invalidf("query parameter explain: this model cannot explain its predictions (the tree models gbdt and rf can)")
	}
	return n, nil
}

// records predicts table records; many says whether errors name the
// index; explain > 0 adds each answer's top contributing fields.
func (d *Deployment) records(ctx context.Context, s *served, recs []map[string]any, many bool, explain int) ([]map[string]any, error) {
	if len(recs) == 0 {
		return nil, errs.Invalidf("no records to predict")
	}
	if err := checkBatch(s, len(recs)); err != nil {
		return nil, err
	}
	xs := make([][]float32, len(recs))
	for i, rec := range recs {
		x, err := s.prepareRecord(rec)
		if err != nil {
			if many {
				return nil, errs.Invalidf("record %d: %s", i, errs.MessageOf(err))
			}
			return nil, err
		}
		xs[i] = x
	}
	probs, err := s.b.doMany(ctx, xs)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(recs))
	for i := range recs {
		out[i] = classResult(s, probs[i], recs[i])
		if explain > 0 {
			cs, err := s.model.(Explainer).Explain(xs[i], argmax(probs[i]))
			if err != nil {
				return nil, err
			}
			out[i]["contributions"] = cs[:min(explain, len(cs))]
		}
	}
	return out, nil
}

// classResult is the JSON answer for one example: the predicted class
// under the label's name (as a number when the classes are numbers), its
// probability, every class's probability and the model's marginals; a
// record's ID field is echoed.
func classResult(s *served, probs []float32, rec map[string]any) map[string]any {
	out := map[string]any{}
	if id := s.info.ID; id != "" {
		if v, ok := rec[id]; ok {
			out[id] = v
		}
	}
	best := argmax(probs)
	classes := s.info.Classes
	pm := make(map[string]float64, len(classes))
	for i, c := range classes {
		if i < len(probs) {
			pm[c] = round6(probs[i])
		}
	}
	label := any(classes[best])
	if s.counts != nil {
		label = s.counts[best]
	}
	key := "class"
	if s.info.Kind == KindTable && s.info.Label != "" {
		key = s.info.Label
	}
	out[key] = label
	if s.info.Kind == KindImage {
		out["class"] = classes[best]
	}
	for _, m := range s.info.Marginals {
		addMarginal(out, m, probs)
	}
	if len(classes) == 2 {
		out["probability"] = round6(probs[1])
	}
	out["confidence"] = round6(probs[best])
	out["probabilities"] = pm
	out["model_version"] = s.version
	return out
}

func round6(p float32) float64 {
	x := float64(p)
	return float64(int64(x*1e6+0.5)) / 1e6
}

// addMarginal answers marginal m: its likeliest value (the sum of its
// classes' probabilities), and each value's probability when one stands
// for several classes.
func addMarginal(out map[string]any, m Marginal, probs []float32) {
	sums := map[string]float64{}
	for i, v := range m.Values {
		if i < len(probs) {
			sums[v] += float64(probs[i])
		}
	}
	best := argmaxKey(sums)
	out[m.Name] = best
	if n, err := strconv.Atoi(best); m.Numeric && err == nil {
		out[m.Name] = n
	}
	if len(sums) < len(m.Values) {
		for k, v := range sums {
			sums[k] = round6(float32(v))
		}
		out[m.Name+"_probabilities"] = sums
	}
}

// argmaxKey returns the key with the largest value (the smallest key on a tie).
func argmaxKey(m map[string]float64) string {
	best := ""
	for k, v := range m {
		if best == "" || v > m[best] || (v == m[best] && k < best) {
			best = k
		}
	}
	return best
}

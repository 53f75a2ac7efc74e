package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Scope confines a task's credential to the pipeline run it belongs to: it
// reads what its user may read, and writes only runs, artifacts and logged
// models of the run's experiment, registered models and versions (never
// deleting one), and model deployments. Users, tokens, pipelines and
// deletions elsewhere are out of reach.
type Scope struct {
	PipelineRun string `json:"pipeline_run"`
	Experiment  string `json:"experiment_id"`
}

// String encodes the scope as stored with its token.
func (s Scope) String() string {
	return "pipeline-run:" + s.PipelineRun + ":experiment:" + s.Experiment
}

// ParseScope decodes a stored scope; "" is no scope. Errors: Invalid.
func ParseScope(v string) (*Scope, error) {
	if v == "" {
		return nil, nil
	}
	run, exp, ok := strings.Cut(strings.TrimPrefix(v, "pipeline-run:"), ":experiment:")
	if !ok || run == "" || exp == "" || !strings.HasPrefix(v, "pipeline-run:") {
		return nil, errs.Invalidf("invalid token scope %q", v)
	}
	return &Scope{PipelineRun: run, Experiment: exp}, nil
}

// Resources tells which experiment a run or a logged model belongs to, so
// that a scoped token's writes can be checked.
type Resources interface {
	// ExperimentOfRun returns the ID of a run's experiment. Errors: NotFound.
	ExperimentOfRun(ctx context.Context, runID string) (string, error)
	// ExperimentOfLoggedModel returns the ID of a logged model's experiment.
	// Errors: NotFound.
	ExperimentOfLoggedModel(ctx context.Context, modelID string) (string, error)
}

// maxScopedBody is the largest JSON body read to find the run or
// experiment a scoped write targets.
const maxScopedBody = 8 << 20

// the MLflow API's writes a scoped token may make, by what they target.
var (
	scopedRunWrites = map[string]bool{
		"runs/update": true, "runs/log-metric": true, "runs/log-parameter": true, "runs/log-batch": true,
		"runs/set-tag": true, "runs/delete-tag": true, "runs/log-model": true, "runs/log-inputs": true,
		"runs/outputs": true, "upload-artifact": true,
	}
	scopedExperimentWrites = map[string]bool{"runs/create": true, "experiments/set-experiment-tag": true, "logged-models": true}
	scopedRegistryWrites   = map[string]bool{
		"registered-models/create": true, "registered-models/update": true, "registered-models/set-tag": true,
		"registered-models/alias": true, "model-versions/create": true, "model-versions/update": true,
		"model-versions/set-tag": true, "model-versions/transition-stage": true,
	}
)

// checkScope decides whether a scoped principal may make r, which needs
// need. Errors: PermissionDenied, Invalid (an unreadable body), NotFound.
func (s *Service) checkScope(r *http.Request, need Level, sc *Scope) error {
	if need <= Read {
		return nil
	}
	deny := func(what string) error {
		return errs.E(errs.PermissionDenied, "this is the credential of pipeline run %s: it may write only to experiment %s and the "+
			"registry, and %s", sc.PipelineRun, sc.Experiment, what)
	}
	if need >= Admin {
		return deny("may not manage users or tokens")
	}
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/api/2.0/mlflow-artifacts/"); ok {
		rest = strings.TrimPrefix(rest, "artifacts/")
		for _, mpu := range []string{"mpu/create/", "mpu/complete/", "mpu/abort/"} {
			rest = strings.TrimPrefix(rest, mpu)
		}
		exp, _, _ := strings.Cut(rest, "/")
		if exp != sc.Experiment {
			return deny(fmt.Sprintf("artifact path '%s' is outside it", rest))
		}
		return nil
	}
	if p == "/api/2.0/cairn/deployments/create" || p == "/api/2.0/cairn/deployments/refresh" {
		return nil
	}
	var route string
	for _, prefix := range []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			route = rest
		}
	}
	switch {
	case route == "":
		return deny(fmt.Sprintf("may not call %s %s", r.Method, p))
	case scopedRegistryWrites[route] && r.Method != http.MethodDelete:
		return nil
	case scopedRunWrites[route]:
		ids, err := requestFields(r, "run_id", "run_uuid")
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return deny("this request names no run")
		}
		for _, id := range ids {
			err := s.inScope(r.Context(), sc, func(ctx context.Context) (string, error) { return s.opts.Resources.ExperimentOfRun(ctx, id) },
				func() error { return deny("run " + id + " is in another experiment") })
			if err != nil {
				return err
			}
		}
		return nil
	case scopedExperimentWrites[route] && r.Method == http.MethodPost:
		exps, err := requestFields(r, "experiment_id")
		if err != nil {
			return err
		}
		if len(exps) == 0 {
			return deny("this request names no experiment")
		}
		for _, exp := range exps {
			if exp != sc.Experiment {
				return deny(fmt.Sprintf("experiment '%s' is another one", exp))
			}
		}
		return nil
	case strings.HasPrefix(route, "logged-models/") && r.Method != http.MethodDelete:
		id, _, _ := strings.Cut(strings.TrimPrefix(route, "logged-models/"), "/")
		return s.inScope(r.Context(), sc, func(ctx context.Context) (string, error) {
			return s.opts.Resources.ExperimentOfLoggedModel(ctx, id)
		}, func() error { return deny("logged model " + id + " is in another experiment") })
	}
	return deny(fmt.Sprintf("may not call %s %s", r.Method, p))
}

// inScope checks that the experiment find returns is the scope's.
func (s *Service) inScope(ctx context.Context, sc *Scope, find func(context.Context) (string, error), deny func() error) error {
	if s.opts.Resources == nil {
		return deny()
	}
	exp, err := find(ctx)
	if errs.Is(err, errs.NotFound) {
		return deny()
	}
	if err != nil {
		return fmt.Errorf("check token scope: %w", err)
	}
	if exp != sc.Experiment {
		return deny()
	}
	return nil
}

// requestFields returns every value the handler might take for names:
// from the JSON body when there is one (it is read and put back), else from
// the query string, as api.Decode does; from the query alone for
// upload-artifact, whose body is the file. Keys match without regard to case
// and may repeat, as encoding/json allows, so every match is returned for
// the caller to check. Errors: Invalid (a body that is not a JSON object, or
// a value that is not a string or number), TooLarge.
func requestFields(r *http.Request, names ...string) ([]string, error) {
	match := func(k string) bool {
		for _, n := range names {
			if strings.EqualFold(k, n) {
				return true
			}
		}
		return false
	}
	fromQuery := func() []string {
		var out []string
		for k, vs := range r.URL.Query() {
			if match(k) {
				out = append(out, vs...)
			}
		}
		return out
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || strings.HasSuffix(r.URL.Path, "/upload-artifact") {
		return fromQuery(), nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxScopedBody+1))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	if len(b) > maxScopedBody {
		return nil, errs.E(errs.TooLarge, "request body exceeds the limit of %d bytes", maxScopedBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return fromQuery(), nil
	}
	bad := func(err error) error { return errs.Invalidf("malformed JSON request: %v", err) }
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errs.Invalidf("malformed JSON request: expected an object")
	}
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		key, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, bad(err)
		}
		if !match(key) {
			continue
		}
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case json.Number:
			out = append(out, v.String())
		case nil:
		default:
			return nil, errs.Invalidf("field '%s' must be a string", key)
		}
	}
	return out, nil
}

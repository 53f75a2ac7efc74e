package pipelines

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/auth"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/pipeline"
)

// Prefix is where the API is served.
const Prefix = "/api/2.0/cairn/pipelines/"

// Handler serves the pipelines API over a pipeline.Service.
type Handler struct {
	svc *pipeline.Service
	// WorkDir is the folder run: commands of specs submitted here start in.
	WorkDir string
}

// NewHandler returns a Handler.
func NewHandler(svc *pipeline.Service, workDir string) *Handler {
	return &Handler{svc: svc, WorkDir: workDir}
}

// handle adapts a handler method that returns its response body.
var handle = api.Handler

// Register implements web.Mounter.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET "+Prefix+"list", handle(h.list))
	mux.Handle("POST "+Prefix+"create", handle(h.create))
	mux.Handle("GET "+Prefix+"get", handle(h.get))
	mux.Handle("GET "+Prefix+"runs/list", handle(h.listRuns))
	mux.Handle("GET "+Prefix+"runs/get", handle(h.getRun))
	mux.Handle("GET "+Prefix+"runs/logs", handle(h.logs))
	mux.Handle("POST "+Prefix+"runs/submit", handle(h.submit))
	mux.Handle("POST "+Prefix+"runs/cancel", handle(h.cancel))
	mux.Handle("POST "+Prefix+"runs/retry", handle(h.retry))
}

// Pipeline is a definition on the wire.
type Pipeline struct {
	Name           string `json:"name"`
	File           string `json:"file,omitempty"`
	Schedule       string `json:"schedule,omitempty"`
	Spec           string `json:"spec,omitempty"`
	CreationTime   int64  `json:"creation_time"`
	LastUpdateTime int64  `json:"last_update_time"`
	LatestRun      *Run   `json:"latest_run,omitempty"`
}

// Run is a pipeline run on the wire.
type Run struct {
	RunID         string         `json:"run_id"`
	Pipeline      string         `json:"pipeline"`
	Phase         string         `json:"phase"`
	Message       string         `json:"message,omitempty"`
	Trigger       string         `json:"trigger,omitempty"`
	Params        map[string]any `json:"params"`
	ExperimentID  string         `json:"experiment_id,omitempty"`
	TrackingRunID string         `json:"tracking_run_id,omitempty"`
	Owner         string         `json:"owner,omitempty"`
	CancelPending bool           `json:"cancel_requested,omitempty"`
	CreationTime  int64          `json:"creation_time"`
	StartTime     int64          `json:"start_time,omitempty"`
	EndTime       int64          `json:"end_time,omitempty"`
	Tasks         []Task         `json:"tasks,omitempty"`
	// Spec is the YAML the run ran (runs/get only): the pipeline's
	// definition may have changed since.
	Spec string `json:"spec,omitempty"`
}

// Task is a task run on the wire.
type Task struct {
	Node          string            `json:"node"`
	Task          string            `json:"task"`
	Item          *int              `json:"item,omitempty"`
	ItemValue     string            `json:"item_value,omitempty"`
	Phase         string            `json:"phase"`
	Cached        bool              `json:"cached,omitempty"`
	CachedFrom    string            `json:"cached_from,omitempty"`
	Attempts      int               `json:"attempts"`
	Message       string            `json:"message,omitempty"`
	TrackingRunID string            `json:"tracking_run_id,omitempty"`
	Outputs       map[string]string `json:"outputs,omitempty"`
	OutputDir     string            `json:"output_dir,omitempty"`
	ExitCode      int               `json:"exit_code"`
	StartTime     int64             `json:"start_time,omitempty"`
	EndTime       int64             `json:"end_time,omitempty"`
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// ToRun converts a run for the wire.
func ToRun(r *pipeline.Run) *Run {
	out := &Run{RunID: r.ID, Pipeline: r.Pipeline, Phase: string(r.Phase), Message: r.Message, Trigger: r.Trigger, Params: r.Params,
		ExperimentID: r.ExperimentID, TrackingRunID: r.TrackingRunID, Owner: r.Owner, CancelPending: r.Cancel,
		CreationTime: millis(r.Created), StartTime: millis(r.Started), EndTime: millis(r.Finished)}
	for _, t := range r.Tasks {
		w := Task{Node: t.Node, Task: t.Task, ItemValue: t.ItemValue, Phase: string(t.Phase), Cached: t.CachedFrom != "",
			CachedFrom: t.CachedFrom, Attempts: t.Attempts, Message: t.Message, TrackingRunID: t.TrackingRunID, Outputs: t.Outputs,
			OutputDir: t.OutputDir, ExitCode: t.ExitCode, StartTime: millis(t.Started), EndTime: millis(t.Finished)}
		if t.Item >= 0 {
			i := t.Item
			w.Item = &i
		}
		out.Tasks = append(out.Tasks, w)
	}
	return out
}

func (h *Handler) store() pipeline.Store { return h.svc.Engine().Store() }

func (h *Handler) list(r *http.Request) (any, error) {
	defs, err := h.store().FindPipelines(r.Context())
	if err != nil {
		return nil, err
	}
	out := []Pipeline{}
	for _, d := range defs {
		p := Pipeline{Name: d.Name, File: d.File, Schedule: d.Schedule, CreationTime: millis(d.Created), LastUpdateTime: millis(d.Updated)}
		runs, err := h.store().FindPipelineRuns(r.Context(), pipeline.RunFilter{Pipeline: d.Name, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(runs) > 0 {
			p.LatestRun = ToRun(runs[0])
		}
		out = append(out, p)
	}
	return map[string]any{"pipelines": out}, nil
}

func (h *Handler) get(r *http.Request) (any, error) {
	name := r.URL.Query().Get("name")
	if name == "" {
		return nil, errs.Missing("name")
	}
	d, err := h.store().FindPipelineByName(r.Context(), name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"pipeline": Pipeline{Name: d.Name, File: d.File, Schedule: d.Schedule, Spec: d.Source,
		CreationTime: millis(d.Created), LastUpdateTime: millis(d.Updated)}}, nil
}

type specRequest struct {
	Spec     string     `json:"spec"`
	File     string     `json:"file"`
	Pipeline string     `json:"pipeline"`
	Params   jsonParams `json:"params"`
}

// jsonParams are parameter values as a request gives them. A whole number
// int64 holds becomes an int64 with every digit (a float64 would round
// one above 2^53); any other number a float64, which an int param then
// refuses.
type jsonParams map[string]any

// UnmarshalJSON implements json.Unmarshaler.
func (p *jsonParams) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[jsonParams]()}
	}
	for k, v := range m {
		n, err := paramNumbers(v)
		if err != nil {
			return errs.Invalidf("Invalid value %s for parameter 'params.%s' supplied: %v", v, k, err)
		}
		m[k] = n
	}
	*p = m
	return nil
}

// ExpectedJSON says what params are written as, for error messages.
func (jsonParams) ExpectedJSON() string { return "an object of parameter values" }

// paramNumbers turns the json.Numbers in v (lists and objects included)
// into int64 or float64.
func paramNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, errors.New("a number outside the range of float64")
		}
		return f, nil
	case []any:
		for i := range x {
			var err error
			if x[i], err = paramNumbers(x[i]); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k := range x {
			var err error
			if x[k], err = paramNumbers(x[k]); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// mayRun refuses a spec with run: tasks, which execute shell commands as the
// server's user, to a caller whose role may not run commands. On a server
// without --auth everyone may. Errors: Invalid (the spec), PermissionDenied.
func (h *Handler) mayRun(ctx context.Context, file string, src []byte) error {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok || p.Role.MayRunCommands() {
		return nil
	}
	plan, err := h.svc.Engine().Load(file, src)
	if err != nil {
		return err
	}
	if tasks := plan.CommandTasks(); len(tasks) > 0 {
		return errs.E(errs.PermissionDenied, "pipeline '%s' has run: tasks (%s), which execute shell commands as the server's user: "+
			"that needs role 'run' or 'admin', and user '%s' has role '%s'", plan.Spec.Name, strings.Join(tasks, ", "), p.User, p.Role)
	}
	return nil
}

// userOf names who makes a request; "" on a server without --auth.
func userOf(ctx context.Context) string {
	p, _ := auth.PrincipalFrom(ctx)
	return p.User
}

func (h *Handler) submission(ctx context.Context, req specRequest) (pipeline.Submission, error) {
	sub := pipeline.Submission{File: req.File, Source: []byte(req.Spec), WorkDir: h.WorkDir, Params: req.Params, Trigger: "api",
		User: userOf(ctx)}
	if req.Spec == "" {
		if req.Pipeline == "" {
			return sub, errs.Invalidf("give either 'spec' (the YAML) or 'pipeline' (the name of a stored pipeline)")
		}
		d, err := h.store().FindPipelineByName(ctx, req.Pipeline)
		if err != nil {
			return sub, err
		}
		sub.File, sub.Source, sub.WorkDir = d.File, []byte(d.Source), d.WorkDir
	}
	if err := h.mayRun(ctx, sub.File, sub.Source); err != nil {
		return sub, err
	}
	if sub.Params == nil {
		sub.Params = map[string]any{}
	}
	return sub, nil
}

func (h *Handler) create(r *http.Request) (any, error) {
	var req specRequest
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if req.Spec == "" {
		return nil, errs.Missing("spec")
	}
	sub, err := h.submission(r.Context(), req)
	if err != nil {
		return nil, err
	}
	plan, err := h.svc.Engine().Register(r.Context(), sub)
	if err != nil {
		return nil, err
	}
	h.svc.ReloadSchedules(r.Context())
	return map[string]any{"pipeline": Pipeline{Name: plan.Spec.Name, File: sub.File, Schedule: plan.Spec.Schedule}, "plan": plan.String()}, nil
}

func (h *Handler) submit(r *http.Request) (any, error) {
	var req specRequest
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	sub, err := h.submission(r.Context(), req)
	if err != nil {
		return nil, err
	}
	run, err := h.svc.Submit(r.Context(), sub)
	if err != nil {
		return nil, err
	}
	return map[string]any{"run": ToRun(run)}, nil
}

type runRequest struct {
	RunID string `json:"run_id"`
}

func (h *Handler) runID(r *http.Request) (string, error) {
	var req runRequest
	if err := api.Decode(r, &req); err != nil {
		return "", err
	}
	if req.RunID == "" {
		return "", errs.Missing("run_id")
	}
	return req.RunID, nil
}

func (h *Handler) getRun(r *http.Request) (any, error) {
	id, err := h.runID(r)
	if err != nil {
		return nil, err
	}
	run, err := h.store().FindPipelineRunByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	out := ToRun(run)
	out.Spec = run.Source
	return map[string]any{"run": out}, nil
}

func (h *Handler) listRuns(r *http.Request) (any, error) {
	var q struct {
		Pipeline   string   `json:"pipeline"`
		Phases     []string `json:"phase"`
		MaxResults int      `json:"max_results"`
		PageToken  string   `json:"page_token"`
	}
	if err := api.DecodeQuery(r.URL.Query(), &q); err != nil {
		return nil, err
	}
	f := pipeline.RunFilter{Pipeline: q.Pipeline, Limit: q.MaxResults, Before: q.PageToken}
	for _, p := range q.Phases {
		f.Phases = append(f.Phases, pipeline.Phase(p))
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	runs, err := h.store().FindPipelineRuns(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	list := []*Run{}
	for _, run := range runs {
		list = append(list, ToRun(run))
	}
	out["runs"] = list
	if len(runs) == f.Limit {
		out["next_page_token"] = runs[len(runs)-1].ID
	}
	return out, nil
}

func (h *Handler) logs(r *http.Request) (any, error) {
	var q struct {
		RunID    string `json:"run_id"`
		Task     string `json:"task"`
		Offset   int64  `json:"offset"`
		MaxBytes int    `json:"max_bytes"`
	}
	if err := api.DecodeQuery(r.URL.Query(), &q); err != nil {
		return nil, err
	}
	if q.RunID == "" {
		return nil, errs.Missing("run_id")
	}
	if q.Task == "" {
		return nil, errs.Missing("task")
	}
	if q.Offset < 0 {
		return nil, errs.Invalidf("offset must not be negative")
	}
	if q.MaxBytes <= 0 || q.MaxBytes > 4<<20 {
		q.MaxBytes = 1 << 20
	}
	b, next, t, err := h.svc.Engine().ReadLog(r.Context(), q.RunID, q.Task, q.Offset, q.MaxBytes)
	if err != nil {
		return nil, err
	}
	// done tells a tailing client to stop once it has read everything.
	return map[string]any{"data": string(b), "next_offset": next, "phase": string(t.Phase), "done": t.Phase.Done() && len(b) == 0}, nil
}

func (h *Handler) cancel(r *http.Request) (any, error) {
	id, err := h.runID(r)
	if err != nil {
		return nil, err
	}
	return map[string]any{}, h.svc.Engine().Cancel(r.Context(), id)
}

func (h *Handler) retry(r *http.Request) (any, error) {
	id, err := h.runID(r)
	if err != nil {
		return nil, err
	}
	prev, err := h.store().FindPipelineRunByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := h.mayRun(r.Context(), prev.File, []byte(prev.Source)); err != nil {
		return nil, err
	}
	run, err := h.svc.Retry(r.Context(), id, userOf(r.Context()))
	if err != nil {
		return nil, err
	}
	return map[string]any{"run": ToRun(run)}, nil
}

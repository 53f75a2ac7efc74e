package mlflow

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/api/wire"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// runRef names a run the way either client generation does.
type runRef struct {
	RunID   string `json:"run_id"`
	RunUUID string `json:"run_uuid"`
}

func (h *Handler) createRun(r *http.Request) (any, error) {
	var req struct {
		ExperimentID string    `json:"experiment_id"`
		UserID       string    `json:"user_id"`
		RunName      string    `json:"run_name"`
		StartTime    Int64     `json:"start_time"`
		Tags         []wireTag `json:"tags"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	run, err := h.tracking.CreateRun(r.Context(), tracking.CreateRunInput{
		ExperimentID: req.ExperimentID, UserID: req.UserID, RunName: req.RunName,
		StartTime: int64(req.StartTime), Tags: fromWireTags(req.Tags),
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"run": toWireRun(run)}, nil
}

func (h *Handler) getRun(r *http.Request) (any, error) {
	var req runRef
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	id, err := runID(req.RunID, req.RunUUID)
	if err != nil {
		return nil, err
	}
	run, err := h.tracking.Store().FindRunByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"run": toWireRun(run)}, nil
}

func (h *Handler) updateRun(r *http.Request) (any, error) {
	var req struct {
		RunID   string  `json:"run_id"`
		RunUUID string  `json:"run_uuid"`
		Status  *string `json:"status"`
		EndTime *Int64  `json:"end_time"`
		RunName *string `json:"run_name"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	id, err := runID(req.RunID, req.RunUUID)
	if err != nil {
		return nil, err
	}
	u := tracking.RunUpdate{Status: req.Status, RunName: req.RunName}
	if req.EndTime != nil {
		v := int64(*req.EndTime)
		u.EndTime = &v
	}
	info, err := h.tracking.UpdateRun(r.Context(), id, u)
	if err != nil {
		return nil, err
	}
	return map[string]any{"run_info": toWireRunInfo(*info)}, nil
}

func (h *Handler) deleteRun(r *http.Request) (any, error) {
	var req runRef
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	id, err := runID(req.RunID, req.RunUUID)
	if err != nil {
		return nil, err
	}
	return nil, h.tracking.DeleteRun(r.Context(), id)
}

func (h *Handler) restoreRun(r *http.Request) (any, error) {
	var req runRef
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	id, err := runID(req.RunID, req.RunUUID)
	if err != nil {
		return nil, err
	}
	return nil, h.tracking.RestoreRun(r.Context(), id)
}

func (h *Handler) logMetric(r *http.Request) (any, error) {
	var req struct {
		RunID     string `json:"run_id"`
		RunUUID   string `json:"run_uuid"`
		Key       string `json:"key"`
		Value     *Float `json:"value"`
		Timestamp *Int64 `json:"timestamp"`
		Step      Int64  `json:"step"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	id, err := runID(req.RunID, req.RunUUID)
	if err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	if req.Value == nil {
		return nil, errs.Missing("value")
	}
	if req.Timestamp == nil {
		return nil, errs.Missing("timestamp")
	}
	m := tracking.Metric{Key: req.Key, Value: float64(*req.Value), Timestamp: int64(*req.Timestamp), Step: int64(req.Step)}
	// Checked alone first, so that an error names the request's own field
	// ('key'), not metrics[0].key of the batch it is logged as.
	if err := tracking.ValidateMetric(m); err != nil {
		return nil, err
	}
	return nil, h.tracking.LogBatch(r.Context(), id, []tracking.Metric{m}, nil, nil)
}

// runKeyValue decodes the run, key and value that log-parameter and set-tag
// both take; the value may be empty but must be present.
func runKeyValue(r *http.Request) (id, key, value string, err error) {
	var req struct {
		RunID   string  `json:"run_id"`
		RunUUID string  `json:"run_uuid"`
		Key     string  `json:"key"`
		Value   *string `json:"value"`
	}
	if err := api.Decode(r, &req); err != nil {
		return "", "", "", err
	}
	if id, err = runID(req.RunID, req.RunUUID); err != nil {
		return "", "", "", err
	}
	if err := required("key", req.Key); err != nil {
		return "", "", "", err
	}
	if req.Value == nil {
		return "", "", "", errs.Missing("value")
	}
	return id, req.Key, *req.Value, nil
}

func (h *Handler) logParam(r *http.Request) (any, error) {
	id, key, value, err := runKeyValue(r)
	if err != nil {
		return nil, err
	}
	p := tracking.Param{Key: key, Value: value}
	if err := tracking.ValidateParam(p); err != nil {
		return nil, err
	}
	return nil, h.tracking.LogBatch(r.Context(), id, nil, []tracking.Param{p}, nil)
}

func (h *Handler) setTag(r *http.Request) (any, error) {
	id, key, value, err := runKeyValue(r)
	if err != nil {
		return nil, err
	}
	t := tracking.Tag{Key: key, Value: value}
	if err := tracking.ValidateTag(t); err != nil {
		return nil, err
	}
	return nil, h.tracking.LogBatch(r.Context(), id, nil, nil, []tracking.Tag{t})
}

func (h *Handler) deleteTag(r *http.Request) (any, error) {
	var req struct {
		RunID string `json:"run_id"`
		Key   string `json:"key"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("run_id", req.RunID); err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	return nil, h.tracking.DeleteTag(r.Context(), req.RunID, req.Key)
}

func (h *Handler) logBatch(r *http.Request) (any, error) {
	if r.ContentLength > tracking.MaxBatchRequestBytes {
		return nil, errs.Invalidf("batched logging API requests must be at most %d bytes, got a request of %d bytes", tracking.MaxBatchRequestBytes, r.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, tracking.MaxBatchRequestBytes+1))
	if err != nil {
		return nil, errs.Invalidf("could not read request body: %v", err)
	}
	if len(body) > tracking.MaxBatchRequestBytes {
		return nil, errs.Invalidf("batched logging API requests must be at most %d bytes", tracking.MaxBatchRequestBytes)
	}
	// Pointers tell a missing field from a zero one, so the body is decoded
	// once and checked without a second parse.
	type keyValue struct {
		Key   *string `json:"key"`
		Value *string `json:"value"`
	}
	var req struct {
		RunID   string `json:"run_id"`
		Metrics []struct {
			Key       *string `json:"key"`
			Value     *Float  `json:"value"`
			Timestamp *Int64  `json:"timestamp"`
			Step      Int64   `json:"step"`
		} `json:"metrics"`
		Params []keyValue `json:"params"`
		Tags   []keyValue `json:"tags"`
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, api.DecodeBytesError(err, body)
		}
	}
	if err := required("run_id", req.RunID); err != nil {
		return nil, err
	}
	metrics := make([]tracking.Metric, len(req.Metrics))
	for i, m := range req.Metrics {
		if err := present("metrics", i, given{"key", m.Key != nil}, given{"value", m.Value != nil}, given{"timestamp", m.Timestamp != nil}); err != nil {
			return nil, err
		}
		metrics[i] = tracking.Metric{Key: *m.Key, Value: float64(*m.Value), Timestamp: int64(*m.Timestamp), Step: int64(m.Step)}
	}
	params := make([]tracking.Param, len(req.Params))
	for i, p := range req.Params {
		if err := present("params", i, given{"key", p.Key != nil}, given{"value", p.Value != nil}); err != nil {
			return nil, err
		}
		params[i] = tracking.Param{Key: *p.Key, Value: *p.Value}
	}
	tags := make([]tracking.Tag, len(req.Tags))
	for i, t := range req.Tags {
		if err := present("tags", i, given{"key", t.Key != nil}, given{"value", t.Value != nil}); err != nil {
			return nil, err
		}
		tags[i] = tracking.Tag{Key: *t.Key, Value: *t.Value}
	}
	return nil, h.tracking.LogBatch(r.Context(), req.RunID, metrics, params, tags)
}

func (h *Handler) searchRuns(r *http.Request) (any, error) {
	var req struct {
		ExperimentIDs []string `json:"experiment_ids"`
		Filter        string   `json:"filter"`
		RunViewType   string   `json:"run_view_type"`
		MaxResults    Int64    `json:"max_results"`
		OrderBy       []string `json:"order_by"`
		PageToken     string   `json:"page_token"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	vt, ok := tracking.ParseViewType(req.RunViewType)
	if !ok {
		return nil, errs.Invalidf("invalid value '%s' for parameter 'run_view_type': expected ACTIVE_ONLY, DELETED_ONLY or ALL", req.RunViewType)
	}
	runs, next, err := h.tracking.SearchRuns(r.Context(), tracking.RunQuery{
		ExperimentIDs: req.ExperimentIDs, Filter: req.Filter, OrderBy: req.OrderBy, ViewType: vt,
		Page: tracking.Page{MaxResults: int(req.MaxResults), Token: req.PageToken},
	})
	if err != nil {
		return nil, err
	}
	out := struct {
		Runs          []wireRun `json:"runs,omitempty"`
		NextPageToken string    `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, run := range runs {
		out.Runs = append(out.Runs, toWireRun(run))
	}
	return out, nil
}

func (h *Handler) logInputs(r *http.Request) (any, error) {
	var req struct {
		RunID    string             `json:"run_id"`
		Datasets []wireDatasetInput `json:"datasets"`
		Models   []wireModelIO      `json:"models"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("run_id", req.RunID); err != nil {
		return nil, err
	}
	var in tracking.RunInputs
	for _, d := range req.Datasets {
		in.Datasets = append(in.Datasets, wire.ToDatasetInput(d))
	}
	for _, m := range req.Models {
		in.Models = append(in.Models, tracking.ModelIO{ModelID: m.ModelID, Step: int64(m.Step)})
	}
	return nil, h.tracking.LogInputs(r.Context(), req.RunID, in)
}

func (h *Handler) logOutputs(r *http.Request) (any, error) {
	var req struct {
		RunID  string        `json:"run_id"`
		Models []wireModelIO `json:"models"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("run_id", req.RunID); err != nil {
		return nil, err
	}
	var out tracking.RunOutputs
	for _, m := range req.Models {
		if m.ModelID == "" {
			return nil, errs.Missing("models.model_id")
		}
		out.Models = append(out.Models, tracking.ModelIO{ModelID: m.ModelID, Step: int64(m.Step)})
	}
	return nil, h.tracking.LogOutputs(r.Context(), req.RunID, out)
}

func (h *Handler) logModel(r *http.Request) (any, error) {
	var req struct {
		RunID     string `json:"run_id"`
		ModelJSON string `json:"model_json"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("run_id", req.RunID); err != nil {
		return nil, err
	}
	if err := required("model_json", req.ModelJSON); err != nil {
		return nil, err
	}
	return nil, h.tracking.LogModel(r.Context(), req.RunID, req.ModelJSON)
}

func (h *Handler) getMetricHistory(r *http.Request) (any, error) {
	var req struct {
		RunID      string `json:"run_id"`
		RunUUID    string `json:"run_uuid"`
		MetricKey  string `json:"metric_key"`
		PageToken  string `json:"page_token"`
		MaxResults Int64  `json:"max_results"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	id, err := runID(req.RunID, req.RunUUID)
	if err != nil {
		return nil, err
	}
	ms, next, err := h.tracking.MetricHistory(r.Context(), id, req.MetricKey, tracking.Page{MaxResults: int(req.MaxResults), Token: req.PageToken})
	if err != nil {
		return nil, err
	}
	out := struct {
		Metrics       []wireMetric `json:"metrics,omitempty"`
		NextPageToken string       `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	out.Metrics = make([]wireMetric, len(ms))
	for i, m := range ms {
		out.Metrics[i] = toWireMetric(m)
	}
	if len(ms) == 0 {
		out.Metrics = nil
	}
	return out, nil
}

// given says whether a request has a field.
type given struct {
	field string
	ok    bool
}

// present reports the first required field that entry i of a log-batch
// list lacks, by its path: metrics[3].timestamp.
func present(list string, i int, fields ...given) error {
	for _, f := range fields {
		if !f.ok {
			return errs.Missing(fmt.Sprintf("%s[%d].%s", list, i, f.field))
		}
	}
	return nil
}

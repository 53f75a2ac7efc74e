package mlflow

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"sort"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/web/mlflow/wire"
	"github.com/cairn-mlops/cairn/internal/web/respond"
)

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
	if err := respond.Decode(r, &req); err != nil {
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
	if err := respond.Decode(r, &req); err != nil {
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
		runRef
		Status  *string `json:"status"`
		EndTime *Int64  `json:"end_time"`
		RunName *string `json:"run_name"`
	}
	if err := respond.Decode(r, &req); err != nil {
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
	if err := respond.Decode(r, &req); err != nil {
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
	if err := respond.Decode(r, &req); err != nil {
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
		runRef
		Key       string `json:"key"`
		Value     *Float `json:"value"`
		Timestamp *Int64 `json:"timestamp"`
		Step      Int64  `json:"step"`
	}
	if err := respond.Decode(r, &req); err != nil {
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
		return nil, errs.Invalidf("missing value for required parameter 'value'")
	}
	if req.Timestamp == nil {
		return nil, errs.Invalidf("missing value for required parameter 'timestamp'")
	}
	m := tracking.Metric{Key: req.Key, Value: float64(*req.Value), Timestamp: int64(*req.Timestamp), Step: int64(req.Step)}
	return nil, h.tracking.LogBatch(r.Context(), id, []tracking.Metric{m}, nil, nil)
}

func (h *Handler) logParam(r *http.Request) (any, error) {
	var req struct {
		runRef
		Key   string  `json:"key"`
		Value *string `json:"value"`
	}
	if err := respond.Decode(r, &req); err != nil {
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
		return nil, errs.Invalidf("missing value for required parameter 'value'")
	}
	return nil, h.tracking.LogBatch(r.Context(), id, nil, []tracking.Param{{Key: req.Key, Value: *req.Value}}, nil)
}

func (h *Handler) setTag(r *http.Request) (any, error) {
	var req struct {
		runRef
		Key   string  `json:"key"`
		Value *string `json:"value"`
	}
	if err := respond.Decode(r, &req); err != nil {
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
		return nil, errs.Invalidf("missing value for required parameter 'value'")
	}
	return nil, h.tracking.LogBatch(r.Context(), id, nil, nil, []tracking.Tag{{Key: req.Key, Value: *req.Value}})
}

func (h *Handler) deleteTag(r *http.Request) (any, error) {
	var req struct {
		RunID string `json:"run_id"`
		Key   string `json:"key"`
	}
	if err := respond.Decode(r, &req); err != nil {
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
	var req struct {
		RunID   string       `json:"run_id"`
		Metrics []wireMetric `json:"metrics"`
		Params  []wireParam  `json:"params"`
		Tags    []wireTag    `json:"tags"`
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, respond.DecodeBytesError(err)
		}
	}
	if err := required("run_id", req.RunID); err != nil {
		return nil, err
	}
	metrics := make([]tracking.Metric, len(req.Metrics))
	for i, m := range req.Metrics {
		metrics[i] = tracking.Metric{Key: m.Key, Value: float64(m.Value), Timestamp: int64(m.Timestamp), Step: int64(m.Step)}
	}
	params := make([]tracking.Param, len(req.Params))
	for i, p := range req.Params {
		params[i] = tracking.Param{Key: p.Key, Value: p.Value}
	}
	return nil, h.tracking.LogBatch(r.Context(), req.RunID, metrics, params, fromWireTags(req.Tags))
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
	if err := respond.Decode(r, &req); err != nil {
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
	if err := respond.Decode(r, &req); err != nil {
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
	if err := respond.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("run_id", req.RunID); err != nil {
		return nil, err
	}
	var out tracking.RunOutputs
	for _, m := range req.Models {
		if m.ModelID == "" {
			return nil, errs.Invalidf("missing value for required parameter 'models.model_id'")
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
	if err := respond.Decode(r, &req); err != nil {
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
		runRef
		MetricKey  string `json:"metric_key"`
		PageToken  string `json:"page_token"`
		MaxResults Int64  `json:"max_results"`
	}
	if err := respond.Decode(r, &req); err != nil {
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

// getMetricHistoryBulkInterval samples a metric's history across runs at up
// to max_results evenly spaced steps, always keeping the first and last.
func (h *Handler) getMetricHistoryBulkInterval(r *http.Request) (any, error) {
	var req struct {
		RunIDs     []string `json:"run_ids"`
		MetricKey  string   `json:"metric_key"`
		StartStep  *Int64   `json:"start_step"`
		EndStep    *Int64   `json:"end_step"`
		MaxResults Int64    `json:"max_results"`
	}
	if err := respond.Decode(r, &req); err != nil {
		return nil, err
	}
	if len(req.RunIDs) == 0 {
		return nil, errs.Invalidf("GetMetricHistoryBulkInterval request must specify at least one run_id")
	}
	if len(req.RunIDs) > 100 {
		return nil, errs.Invalidf("GetMetricHistoryBulkInterval request cannot specify more than 100 run_ids. Received %d run_ids", len(req.RunIDs))
	}
	if err := required("metric_key", req.MetricKey); err != nil {
		return nil, err
	}
	if (req.StartStep == nil) != (req.EndStep == nil) {
		return nil, errs.Invalidf("if either start step or end step are specified, both must be specified")
	}
	maxResults := int(req.MaxResults)
	if maxResults == 0 {
		maxResults = 320
	}
	if maxResults < 1 || maxResults > 1000 {
		return nil, errs.Invalidf("max_results must be between 1 and 1000, got %d", maxResults)
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if req.StartStep != nil {
		lo, hi = int64(*req.StartStep), int64(*req.EndStep)
		if lo > hi {
			return nil, errs.Invalidf("end_step must be greater than start_step. Found start_step=%d and end_step=%d", lo, hi)
		}
	}
	var all []tracking.Metric
	stepSet := map[int64]bool{}
	for _, id := range req.RunIDs {
		hist, _, err := h.tracking.MetricHistory(r.Context(), id, req.MetricKey, tracking.Page{MaxResults: math.MaxInt32})
		if err != nil {
			return nil, err
		}
		for _, m := range hist {
			if m.Step >= lo && m.Step <= hi {
				m.RunID = id
				all = append(all, m)
				stepSet[m.Step] = true
			}
		}
	}
	steps := make([]int64, 0, len(stepSet))
	for s := range stepSet {
		steps = append(steps, s)
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i] < steps[j] })
	keep := map[int64]bool{}
	if len(steps) <= maxResults {
		for _, s := range steps {
			keep[s] = true
		}
	} else {
		keep[steps[0]], keep[steps[len(steps)-1]] = true, true
		for i := 0; i < maxResults-2; i++ {
			keep[steps[(i+1)*(len(steps)-1)/(maxResults-1)]] = true
		}
	}
	out := struct {
		Metrics []wireMetric `json:"metrics,omitempty"`
	}{}
	for _, m := range all {
		if keep[m.Step] {
			out.Metrics = append(out.Metrics, toWireMetric(m))
		}
	}
	sort.SliceStable(out.Metrics, func(i, j int) bool {
		a, b := out.Metrics[i], out.Metrics[j]
		if a.RunID != b.RunID {
			return a.RunID < b.RunID
		}
		return a.Step < b.Step
	})
	return out, nil
}

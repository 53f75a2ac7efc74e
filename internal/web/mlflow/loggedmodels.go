package mlflow

import (
	"net/http"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// MLflow 3 logged models: log_model creates one, uploads its files under the
// model's artifact URI, then marks it ready.
func (h *Handler) loggedModelRoutes(add func(methods, path string, f api.Func)) {
	add("POST", "logged-models", h.createLoggedModel)
	add("GET", "logged-models/{model_id}", h.getLoggedModel)
	add("PATCH", "logged-models/{model_id}", h.finalizeLoggedModel)
	add("DELETE", "logged-models/{model_id}", h.deleteLoggedModel)
	add("PATCH", "logged-models/{model_id}/tags", h.setLoggedModelTags)
	add("DELETE", "logged-models/{model_id}/tags/{tag_key}", h.deleteLoggedModelTag)
	add("POST", "logged-models/search", h.searchLoggedModels)
	add("POST", "logged-models/{model_id}/params", h.logLoggedModelParams)
}

type wireLoggedModelInfo struct {
	ModelID        string    `json:"model_id"`
	ExperimentID   string    `json:"experiment_id"`
	Name           string    `json:"name"`
	CreationTime   int64     `json:"creation_timestamp_ms"`
	LastUpdateTime int64     `json:"last_updated_timestamp_ms"`
	ArtifactURI    string    `json:"artifact_uri"`
	Status         string    `json:"status"`
	StatusMessage  string    `json:"status_message,omitempty"`
	ModelType      string    `json:"model_type"`
	SourceRunID    string    `json:"source_run_id,omitempty"`
	Tags           []wireTag `json:"tags,omitempty"`
}

type wireLoggedModel struct {
	Info wireLoggedModelInfo `json:"info"`
	Data struct {
		Params  []wireParam  `json:"params,omitempty"`
		Metrics []wireMetric `json:"metrics,omitempty"`
	} `json:"data"`
}

func toWireLoggedModel(m *tracking.LoggedModel) wireLoggedModel {
	var w wireLoggedModel
	w.Info = wireLoggedModelInfo{
		ModelID: m.ModelID, ExperimentID: m.ExperimentID, Name: m.Name, CreationTime: m.CreationTime,
		LastUpdateTime: m.LastUpdateTime, ArtifactURI: m.ArtifactURI, Status: m.Status, StatusMessage: m.StatusMessage,
		ModelType: m.ModelType, SourceRunID: m.SourceRunID, Tags: toWireTags(m.Tags),
	}
	for _, p := range m.Params {
		w.Data.Params = append(w.Data.Params, wireParam{Key: p.Key, Value: p.Value})
	}
	for _, x := range m.Metrics {
		w.Data.Metrics = append(w.Data.Metrics, toWireMetric(x))
	}
	return w
}

func (h *Handler) createLoggedModel(r *http.Request) (any, error) {
	var req struct {
		ExperimentID string      `json:"experiment_id"`
		Name         string      `json:"name"`
		ModelType    string      `json:"model_type"`
		SourceRunID  string      `json:"source_run_id"`
		Params       []wireParam `json:"params"`
		Tags         []wireTag   `json:"tags"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	m := tracking.LoggedModel{ExperimentID: req.ExperimentID, Name: req.Name, ModelType: req.ModelType,
		SourceRunID: req.SourceRunID, Tags: fromWireTags(req.Tags)}
	for _, p := range req.Params {
		m.Params = append(m.Params, tracking.Param{Key: p.Key, Value: p.Value})
	}
	out, err := h.tracking.CreateLoggedModel(r.Context(), m)
	if err != nil {
		return nil, err
	}
	return map[string]any{"model": toWireLoggedModel(out)}, nil
}

func (h *Handler) getLoggedModel(r *http.Request) (any, error) {
	m, err := h.tracking.Store().FindLoggedModelByID(r.Context(), r.PathValue("model_id"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"model": toWireLoggedModel(m)}, nil
}

func (h *Handler) finalizeLoggedModel(r *http.Request) (any, error) {
	var req struct {
		Status string `json:"status"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	m, err := h.tracking.FinalizeLoggedModel(r.Context(), r.PathValue("model_id"), req.Status)
	if err != nil {
		return nil, err
	}
	return map[string]any{"model": toWireLoggedModel(m)}, nil
}

func (h *Handler) deleteLoggedModel(r *http.Request) (any, error) {
	return nil, h.tracking.Store().DeleteLoggedModel(r.Context(), r.PathValue("model_id"))
}

func (h *Handler) setLoggedModelTags(r *http.Request) (any, error) {
	var req struct {
		Tags []wireTag `json:"tags"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	return nil, h.tracking.SetLoggedModelTags(r.Context(), r.PathValue("model_id"), fromWireTags(req.Tags))
}

func (h *Handler) deleteLoggedModelTag(r *http.Request) (any, error) {
	return nil, h.tracking.Store().DeleteLoggedModelTag(r.Context(), r.PathValue("model_id"), r.PathValue("tag_key"))
}

func (h *Handler) logLoggedModelParams(r *http.Request) (any, error) {
	return nil, errs.Invalidf("logging params on an existing logged model is not supported; pass params when creating it")
}

func (h *Handler) searchLoggedModels(r *http.Request) (any, error) {
	var req struct {
		ExperimentIDs []string `json:"experiment_ids"`
		Filter        string   `json:"filter"`
		MaxResults    Int64    `json:"max_results"`
		PageToken     string   `json:"page_token"`
		OrderBy       []struct {
			FieldName string `json:"field_name"`
			Ascending *bool  `json:"ascending"`
		} `json:"order_by"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	q := tracking.LoggedModelQuery{ExperimentIDs: req.ExperimentIDs, Filter: req.Filter,
		Page: tracking.Page{MaxResults: int(req.MaxResults), Token: req.PageToken}}
	for _, o := range req.OrderBy {
		q.OrderBy = append(q.OrderBy, tracking.OrderBy{Kind: tracking.KindAttribute, Key: o.FieldName, Desc: o.Ascending != nil && !*o.Ascending})
	}
	models, next, err := h.tracking.Store().FindLoggedModels(r.Context(), q)
	if err != nil {
		return nil, err
	}
	out := struct {
		Models        []wireLoggedModel `json:"models,omitempty"`
		NextPageToken string            `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, m := range models {
		out.Models = append(out.Models, toWireLoggedModel(m))
	}
	return out, nil
}

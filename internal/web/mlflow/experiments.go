package mlflow

import (
	"net/http"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

func (h *Handler) createExperiment(r *http.Request) (any, error) {
	var req struct {
		Name             string    `json:"name"`
		ArtifactLocation string    `json:"artifact_location"`
		Tags             []wireTag `json:"tags"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if req.ArtifactLocation != "" {
		if err := h.checkLocation("artifact_location", req.ArtifactLocation); err != nil {
			return nil, err
		}
	}
	id, err := h.tracking.CreateExperiment(r.Context(), req.Name, req.ArtifactLocation, fromWireTags(req.Tags))
	if err != nil {
		return nil, err
	}
	return map[string]string{"experiment_id": id}, nil
}

func (h *Handler) getExperiment(r *http.Request) (any, error) {
	var req struct {
		ExperimentID string `json:"experiment_id"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("experiment_id", req.ExperimentID); err != nil {
		return nil, err
	}
	e, err := h.tracking.Store().FindExperimentByID(r.Context(), req.ExperimentID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"experiment": toWireExperiment(e)}, nil
}

func (h *Handler) getExperimentByName(r *http.Request) (any, error) {
	var req struct {
		ExperimentName string `json:"experiment_name"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("experiment_name", req.ExperimentName); err != nil {
		return nil, err
	}
	e, err := h.tracking.Store().FindExperimentByName(r.Context(), req.ExperimentName)
	if err != nil {
		return nil, err
	}
	return map[string]any{"experiment": toWireExperiment(e)}, nil
}

func (h *Handler) searchExperiments(r *http.Request) (any, error) {
	var req struct {
		MaxResults Int64    `json:"max_results"`
		PageToken  string   `json:"page_token"`
		Filter     string   `json:"filter"`
		OrderBy    []string `json:"order_by"`
		ViewType   string   `json:"view_type"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	vt, ok := tracking.ParseViewType(req.ViewType)
	if !ok {
		return nil, errs.Invalidf("invalid value '%s' for parameter 'view_type': expected ACTIVE_ONLY, DELETED_ONLY or ALL", req.ViewType)
	}
	exps, next, err := h.tracking.SearchExperiments(r.Context(), tracking.ExperimentQuery{
		Filter: req.Filter, OrderBy: req.OrderBy, ViewType: vt,
		Page: tracking.Page{MaxResults: int(req.MaxResults), Token: req.PageToken},
	})
	if err != nil {
		return nil, err
	}
	out := struct {
		Experiments   []wireExperiment `json:"experiments,omitempty"`
		NextPageToken string           `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, e := range exps {
		out.Experiments = append(out.Experiments, toWireExperiment(e))
	}
	return out, nil
}

func (h *Handler) updateExperiment(r *http.Request) (any, error) {
	var req struct {
		ExperimentID string `json:"experiment_id"`
		NewName      string `json:"new_name"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("experiment_id", req.ExperimentID); err != nil {
		return nil, err
	}
	return nil, h.tracking.RenameExperiment(r.Context(), req.ExperimentID, req.NewName)
}

type experimentIDRequest struct {
	ExperimentID string `json:"experiment_id"`
}

func (h *Handler) deleteExperiment(r *http.Request) (any, error) {
	var req experimentIDRequest
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("experiment_id", req.ExperimentID); err != nil {
		return nil, err
	}
	return nil, h.tracking.DeleteExperiment(r.Context(), req.ExperimentID)
}

func (h *Handler) restoreExperiment(r *http.Request) (any, error) {
	var req experimentIDRequest
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("experiment_id", req.ExperimentID); err != nil {
		return nil, err
	}
	return nil, h.tracking.RestoreExperiment(r.Context(), req.ExperimentID)
}

func (h *Handler) setExperimentTag(r *http.Request) (any, error) {
	var req struct {
		ExperimentID string `json:"experiment_id"`
		Key          string `json:"key"`
		Value        string `json:"value"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("experiment_id", req.ExperimentID); err != nil {
		return nil, err
	}
	return nil, h.tracking.SetExperimentTag(r.Context(), req.ExperimentID, tracking.Tag{Key: req.Key, Value: req.Value})
}

func (h *Handler) deleteExperimentTag(r *http.Request) (any, error) {
	var req struct {
		ExperimentID string `json:"experiment_id"`
		Key          string `json:"key"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("experiment_id", req.ExperimentID); err != nil {
		return nil, err
	}
	return nil, h.tracking.DeleteExperimentTag(r.Context(), req.ExperimentID, req.Key)
}

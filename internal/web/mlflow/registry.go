package mlflow

import (
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
)

// registryRoutes mounts the model-registry routes.
func (h *Handler) registryRoutes(add func(methods, path string, f api.Func)) {
	add("POST", "registered-models/create", h.createRegisteredModel)
	add("GET", "registered-models/get", h.getRegisteredModel)
	add("POST", "registered-models/rename", h.renameRegisteredModel)
	add("PATCH", "registered-models/update", h.updateRegisteredModel)
	add("DELETE", "registered-models/delete", h.deleteRegisteredModel)
	add("GET,POST", "registered-models/search", h.searchRegisteredModels)
	add("GET,POST", "registered-models/get-latest-versions", h.getLatestVersions)
	add("POST", "registered-models/set-tag", h.setRegisteredModelTag)
	add("DELETE", "registered-models/delete-tag", h.deleteRegisteredModelTag)
	add("POST", "registered-models/alias", h.setAlias)
	add("DELETE", "registered-models/alias", h.deleteAlias)
	add("GET", "registered-models/alias", h.getVersionByAlias)

	add("POST", "model-versions/create", h.createModelVersion)
	add("GET", "model-versions/get", h.getModelVersion)
	add("PATCH", "model-versions/update", h.updateModelVersion)
	add("DELETE", "model-versions/delete", h.deleteModelVersion)
	add("GET", "model-versions/search", h.searchModelVersions)
	add("GET", "model-versions/get-download-uri", h.getDownloadURI)
	add("POST", "model-versions/set-tag", h.setModelVersionTag)
	add("DELETE", "model-versions/delete-tag", h.deleteModelVersionTag)
	add("POST", "model-versions/transition-stage", h.transitionStage)
}

type wireAlias struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

// wireModelVersion is MLflow's ModelVersion. Like MLflow's server, it always
// carries description, run_id and run_link, empty or not.
type wireModelVersion struct {
	Name            string    `json:"name"`
	Version         string    `json:"version"`
	CreationTime    int64     `json:"creation_timestamp"`
	LastUpdatedTime int64     `json:"last_updated_timestamp"`
	UserID          string    `json:"user_id,omitempty"`
	CurrentStage    string    `json:"current_stage"`
	Description     string    `json:"description"`
	Source          string    `json:"source"`
	RunID           string    `json:"run_id"`
	Status          string    `json:"status"`
	StatusMessage   string    `json:"status_message,omitempty"`
	Tags            []wireTag `json:"tags,omitempty"`
	RunLink         string    `json:"run_link"`
	Aliases         []string  `json:"aliases,omitempty"`
	ModelID         string    `json:"model_id,omitempty"`
}

type wireRegisteredModel struct {
	Name            string             `json:"name"`
	CreationTime    int64              `json:"creation_timestamp"`
	LastUpdatedTime int64              `json:"last_updated_timestamp"`
	Description     string             `json:"description,omitempty"`
	LatestVersions  []wireModelVersion `json:"latest_versions,omitempty"`
	Tags            []wireTag          `json:"tags,omitempty"`
	Aliases         []wireAlias        `json:"aliases,omitempty"`
}

func toWireVersion(v *registry.ModelVersion) wireModelVersion {
	return wireModelVersion{
		Name: v.Name, Version: strconv.FormatInt(v.Version, 10), CreationTime: v.CreationTime, LastUpdatedTime: v.LastUpdatedTime,
		UserID: v.UserID, CurrentStage: v.CurrentStage, Description: v.Description, Source: v.Source, RunID: v.RunID,
		Status: v.Status, StatusMessage: v.StatusMessage, Tags: toWireTags(v.Tags), RunLink: v.RunLink, Aliases: v.Aliases,
		ModelID: v.ModelID,
	}
}

func toWireModel(m *registry.RegisteredModel) wireRegisteredModel {
	w := wireRegisteredModel{Name: m.Name, CreationTime: m.CreationTime, LastUpdatedTime: m.LastUpdatedTime,
		Description: m.Description, Tags: toWireTags(m.Tags)}
	for _, v := range m.LatestVersions {
		w.LatestVersions = append(w.LatestVersions, toWireVersion(v))
	}
	for _, a := range m.Aliases {
		w.Aliases = append(w.Aliases, wireAlias{Alias: a.Alias, Version: strconv.FormatInt(a.Version, 10)})
	}
	return w
}

func modelResponse(m *registry.RegisteredModel) any {
	return map[string]any{"registered_model": toWireModel(m)}
}

func versionResponse(v *registry.ModelVersion) any {
	return map[string]any{"model_version": toWireVersion(v)}
}

type nameRequest struct {
	Name string `json:"name"`
}

type versionRequest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// parse checks the name and version of a request.
func (v versionRequest) parse() (string, int64, error) {
	if v.Name == "" {
		return "", 0, errs.Missing("name")
	}
	n, err := registry.ParseVersion(v.Version)
	return v.Name, n, err
}

func (h *Handler) createRegisteredModel(r *http.Request) (any, error) {
	var req struct {
		Name        string    `json:"name"`
		Tags        []wireTag `json:"tags"`
		Description string    `json:"description"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	m, err := h.registry.CreateRegisteredModel(r.Context(), req.Name, req.Description, fromWireTags(req.Tags))
	if err != nil {
		return nil, err
	}
	return modelResponse(m), nil
}

func (h *Handler) getRegisteredModel(r *http.Request) (any, error) {
	var req nameRequest
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	m, err := h.registry.FindRegisteredModel(r.Context(), req.Name)
	if err != nil {
		return nil, err
	}
	return modelResponse(m), nil
}

func (h *Handler) renameRegisteredModel(r *http.Request) (any, error) {
	var req struct {
		Name    string `json:"name"`
		NewName string `json:"new_name"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	m, err := h.registry.RenameRegisteredModel(r.Context(), req.Name, req.NewName)
	if err != nil {
		return nil, err
	}
	return modelResponse(m), nil
}

func (h *Handler) updateRegisteredModel(r *http.Request) (any, error) {
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	m, err := h.registry.UpdateRegisteredModel(r.Context(), req.Name, req.Description)
	if err != nil {
		return nil, err
	}
	return modelResponse(m), nil
}

func (h *Handler) deleteRegisteredModel(r *http.Request) (any, error) {
	var req nameRequest
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	return nil, h.registry.DeleteRegisteredModel(r.Context(), req.Name)
}

func (h *Handler) searchRegisteredModels(r *http.Request) (any, error) {
	var req struct {
		Filter     string   `json:"filter"`
		MaxResults Int64    `json:"max_results"`
		OrderBy    []string `json:"order_by"`
		PageToken  string   `json:"page_token"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	ms, next, err := h.registry.SearchRegisteredModels(r.Context(), registry.Query{Filter: req.Filter,
		OrderBy: req.OrderBy, MaxResults: int(req.MaxResults), Token: req.PageToken})
	if err != nil {
		return nil, err
	}
	out := struct {
		RegisteredModels []wireRegisteredModel `json:"registered_models,omitempty"`
		NextPageToken    string                `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, m := range ms {
		out.RegisteredModels = append(out.RegisteredModels, toWireModel(m))
	}
	return out, nil
}

func (h *Handler) getLatestVersions(r *http.Request) (any, error) {
	var req struct {
		Name   string   `json:"name"`
		Stages []string `json:"stages"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	vs, err := h.registry.FindLatestVersions(r.Context(), req.Name, req.Stages)
	if err != nil {
		return nil, err
	}
	out := struct {
		ModelVersions []wireModelVersion `json:"model_versions,omitempty"`
	}{}
	for _, v := range vs {
		out.ModelVersions = append(out.ModelVersions, toWireVersion(v))
	}
	return out, nil
}

func (h *Handler) setRegisteredModelTag(r *http.Request) (any, error) {
	var req struct {
		Name  string `json:"name"`
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	return nil, h.registry.SetRegisteredModelTag(r.Context(), req.Name, registry.Tag{Key: req.Key, Value: req.Value})
}

func (h *Handler) deleteRegisteredModelTag(r *http.Request) (any, error) {
	var req struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	return nil, h.registry.DeleteRegisteredModelTag(r.Context(), req.Name, req.Key)
}

func (h *Handler) setAlias(r *http.Request) (any, error) {
	var req struct {
		Name    string `json:"name"`
		Alias   string `json:"alias"`
		Version string `json:"version"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	name, v, err := versionRequest{req.Name, req.Version}.parse()
	if err != nil {
		return nil, err
	}
	return nil, h.registry.SetAlias(r.Context(), name, req.Alias, v)
}

func (h *Handler) deleteAlias(r *http.Request) (any, error) {
	var req struct {
		Name  string `json:"name"`
		Alias string `json:"alias"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	if err := required("alias", req.Alias); err != nil {
		return nil, err
	}
	return nil, h.registry.DeleteAlias(r.Context(), req.Name, req.Alias)
}

func (h *Handler) getVersionByAlias(r *http.Request) (any, error) {
	var req struct {
		Name  string `json:"name"`
		Alias string `json:"alias"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("name", req.Name); err != nil {
		return nil, err
	}
	if err := required("alias", req.Alias); err != nil {
		return nil, err
	}
	v, err := h.registry.FindVersionByAlias(r.Context(), req.Name, req.Alias)
	if err != nil {
		return nil, err
	}
	return versionResponse(v), nil
}

func (h *Handler) createModelVersion(r *http.Request) (any, error) {
	var req struct {
		Name        string    `json:"name"`
		Source      string    `json:"source"`
		RunID       string    `json:"run_id"`
		Tags        []wireTag `json:"tags"`
		RunLink     string    `json:"run_link"`
		Description string    `json:"description"`
		ModelID     string    `json:"model_id"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	// A source the server would read files from must lie in a root it
	// serves; s3:// and other remote sources are references clients fetch
	// themselves (get-download-uri), and are served only inside a root.
	// MLflow's own checks answer first, in the words its clients expect.
	switch artifact.Scheme(req.Source) {
	case "", "file", "mlflow-artifacts":
		if req.Source == "" {
			break // the registry names the missing parameter
		}
		if err := h.registry.ValidateSource(r.Context(), req.Source, req.RunID); err != nil {
			return nil, err
		}
		if err := h.checkLocation("source", req.Source); err != nil {
			return nil, err
		}
	}
	v, err := h.registry.CreateModelVersion(r.Context(), registry.CreateModelVersionInput{
		Name: req.Name, Source: req.Source, RunID: req.RunID, RunLink: req.RunLink, Description: req.Description,
		Tags: fromWireTags(req.Tags), ModelID: req.ModelID,
	})
	if err != nil {
		return nil, err
	}
	return versionResponse(v), nil
}

func (h *Handler) getModelVersion(r *http.Request) (any, error) {
	var req versionRequest
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	name, n, err := req.parse()
	if err != nil {
		return nil, err
	}
	v, err := h.registry.FindModelVersion(r.Context(), name, n)
	if err != nil {
		return nil, err
	}
	return versionResponse(v), nil
}

func (h *Handler) updateModelVersion(r *http.Request) (any, error) {
	var req struct {
		Name        string `json:"name"`
		Version     string `json:"version"`
		Description string `json:"description"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	name, n, err := versionRequest{req.Name, req.Version}.parse()
	if err != nil {
		return nil, err
	}
	v, err := h.registry.UpdateModelVersion(r.Context(), name, n, req.Description)
	if err != nil {
		return nil, err
	}
	return versionResponse(v), nil
}

func (h *Handler) deleteModelVersion(r *http.Request) (any, error) {
	var req versionRequest
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	name, n, err := req.parse()
	if err != nil {
		return nil, err
	}
	return nil, h.registry.DeleteModelVersion(r.Context(), name, n)
}

func (h *Handler) searchModelVersions(r *http.Request) (any, error) {
	var req struct {
		Filter     string   `json:"filter"`
		MaxResults Int64    `json:"max_results"`
		OrderBy    []string `json:"order_by"`
		PageToken  string   `json:"page_token"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	vs, next, err := h.registry.SearchModelVersions(r.Context(), registry.Query{Filter: req.Filter,
		OrderBy: req.OrderBy, MaxResults: int(req.MaxResults), Token: req.PageToken})
	if err != nil {
		return nil, err
	}
	out := struct {
		ModelVersions []wireModelVersion `json:"model_versions,omitempty"`
		NextPageToken string             `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, v := range vs {
		out.ModelVersions = append(out.ModelVersions, toWireVersion(v))
	}
	return out, nil
}

func (h *Handler) getDownloadURI(r *http.Request) (any, error) {
	var req versionRequest
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	name, n, err := req.parse()
	if err != nil {
		return nil, err
	}
	uri, err := h.registry.DownloadURI(r.Context(), name, n)
	if err != nil {
		return nil, err
	}
	return map[string]string{"artifact_uri": uri}, nil
}

func (h *Handler) setModelVersionTag(r *http.Request) (any, error) {
	var req struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Key     string `json:"key"`
		Value   string `json:"value"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	name, n, err := versionRequest{req.Name, req.Version}.parse()
	if err != nil {
		return nil, err
	}
	return nil, h.registry.SetModelVersionTag(r.Context(), name, n, registry.Tag{Key: req.Key, Value: req.Value})
}

func (h *Handler) deleteModelVersionTag(r *http.Request) (any, error) {
	var req struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Key     string `json:"key"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	name, n, err := versionRequest{req.Name, req.Version}.parse()
	if err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	return nil, h.registry.DeleteModelVersionTag(r.Context(), name, n, req.Key)
}

func (h *Handler) transitionStage(r *http.Request) (any, error) {
	var req struct {
		Name                    string `json:"name"`
		Version                 string `json:"version"`
		Stage                   string `json:"stage"`
		ArchiveExistingVersions bool   `json:"archive_existing_versions"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	name, n, err := versionRequest{req.Name, req.Version}.parse()
	if err != nil {
		return nil, err
	}
	if err := required("stage", req.Stage); err != nil {
		return nil, err
	}
	v, err := h.registry.TransitionStage(r.Context(), name, n, req.Stage, req.ArchiveExistingVersions)
	if err != nil {
		return nil, err
	}
	return versionResponse(v), nil
}

// getModelVersionArtifact serves one file of a registered version:
// GET /model-versions/get-artifact?name=&version=&path=.
func (h *Handler) getModelVersionArtifact(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rel := q.Get("path")
	if rel == "" || strings.Contains(rel, "..") {
		api.Error(w, r, errInvalidPath())
		return
	}
	name, n, err := versionRequest{q.Get("name"), q.Get("version")}.parse()
	if err != nil {
		api.Error(w, r, err)
		return
	}
	uri, err := h.registry.DownloadURI(r.Context(), name, n)
	if err != nil {
		api.Error(w, r, err)
		return
	}
	store, root, err := h.storeFor(uri)
	if err != nil {
		api.Error(w, r, err)
		return
	}
	clean, err := artifact.ValidatePath(rel)
	if err != nil {
		api.Error(w, r, errInvalidPath())
		return
	}
	h.sendFile(w, r, store, path.Join(root, clean))
}

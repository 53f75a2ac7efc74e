package mlflow

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// The endpoints MLflow's web UI uses beside the REST API.
func (h *Handler) uiRoutes(mux *http.ServeMux) {
	for _, p := range Prefixes {
		mux.Handle("GET "+p+"metrics/get-history-bulk", handle(h.getMetricHistoryBulk))
		mux.Handle("POST "+p+"experiments/search-datasets", handle(h.searchDatasets))
		mux.Handle("POST "+p+"upload-artifact", handle(h.uploadRunArtifact))
	}
	mux.HandleFunc("GET /get-artifact", h.getRunArtifact)
	mux.HandleFunc("GET "+ChildrenStreamPath, h.streamChildren)
	mux.HandleFunc("GET /model-versions/get-artifact", h.getModelVersionArtifact)
}

func (h *Handler) searchDatasets(r *http.Request) (any, error) {
	var req struct {
		ExperimentIDs []string `json:"experiment_ids"`
	}
	if err := api.Decode(r, &req); err != nil {
		return nil, err
	}
	if len(req.ExperimentIDs) == 0 {
		return nil, errs.Invalidf("SearchDatasets request must specify at least one experiment_id.")
	}
	if len(req.ExperimentIDs) > 20 {
		return nil, errs.Invalidf("SearchDatasets request cannot specify more than 20 experiment_ids. Received %d experiment_ids.", len(req.ExperimentIDs))
	}
	sums, err := h.tracking.Store().FindDatasetSummaries(r.Context(), req.ExperimentIDs, 1000)
	if err != nil {
		return nil, err
	}
	type summary struct {
		ExperimentID string `json:"experiment_id"`
		Name         string `json:"name"`
		Digest       string `json:"digest"`
		Context      string `json:"context,omitempty"`
	}
	out := struct {
		Summaries []summary `json:"dataset_summaries,omitempty"`
	}{}
	for _, s := range sums {
		out.Summaries = append(out.Summaries, summary{s.ExperimentID, s.Name, s.Digest, s.Context})
	}
	return out, nil
}

// errInvalidPath is MLflow's answer to a path that escapes its root.
func errInvalidPath() error { return errs.Invalidf("Invalid path") }

// runArtifactPath resolves a path inside a run's artifact folder to a store
// and a path in it.
func (h *Handler) runArtifactPath(r *http.Request, runID, rel string) (artifact.Store, string, error) {
	clean, err := artifact.ValidatePath(rel)
	if err != nil || strings.Contains(rel, "..") {
		return nil, "", errInvalidPath()
	}
	run, err := h.tracking.Store().FindRunByID(r.Context(), runID)
	if err != nil {
		return nil, "", err
	}
	store, root, err := h.storeFor(run.Info.ArtifactURI)
	if err != nil {
		return nil, "", err
	}
	return store, path.Join(root, clean), nil
}

func (h *Handler) uploadRunArtifact(r *http.Request) (any, error) {
	q := r.URL.Query()
	runID := q.Get("run_uuid")
	if runID == "" {
		return nil, errs.Invalidf("Request must specify run_uuid.")
	}
	rel := q.Get("path")
	if rel == "" {
		return nil, errs.Invalidf("Request must specify path.")
	}
	store, p, err := h.runArtifactPath(r, runID, rel)
	if err != nil {
		return nil, err
	}
	if r.ContentLength == 0 {
		return nil, errs.Invalidf("Request must specify data.")
	}
	return nil, tooLarge(store.Put(r.Context(), p, h.uploadBody(r)), h.opts.MaxArtifactBytes)
}

// getRunArtifact serves one file of a run: GET /get-artifact?run_id=&path=.
func (h *Handler) getRunArtifact(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, err := runID(q.Get("run_id"), q.Get("run_uuid"))
	if err == nil && q.Get("path") == "" {
		err = errs.Missing("path")
	}
	if err != nil {
		api.Error(w, r, err)
		return
	}
	store, p, err := h.runArtifactPath(r, id, q.Get("path"))
	if err != nil {
		api.Error(w, r, err)
		return
	}
	h.sendFile(w, r, store, p)
}

// textExtensions are sent as text/plain, as MLflow does, so the UI can show them.
var textExtensions = map[string]bool{"txt": true, "log": true, "err": true, "cfg": true, "conf": true, "cnf": true,
	"cf": true, "ini": true, "properties": true, "prop": true, "hocon": true, "toml": true, "yaml": true, "yml": true,
	"xml": true, "json": true, "js": true, "py": true, "py3": true, "csv": true, "tsv": true, "md": true, "rst": true,
	"mlmodel": true, "mlproject": true}

// MimeType guesses a file's content type from its name.
func MimeType(name string) string {
	base := path.Base(name)
	ext := strings.TrimPrefix(path.Ext(base), ".")
	if ext == "" {
		ext = base
	}
	if textExtensions[strings.ToLower(ext)] {
		return "text/plain"
	}
	if t := mime.TypeByExtension(path.Ext(base)); t != "" {
		if mt, _, err := mime.ParseMediaType(t); err == nil {
			return mt
		}
	}
	return "application/octet-stream"
}

// sendFile streams a stored file as an attachment whose type the browser
// must not sniff, so an uploaded HTML file can never run on this origin.
func (h *Handler) sendFile(w http.ResponseWriter, r *http.Request, store artifact.Store, p string) {
	rc, info, err := store.Get(r.Context(), p)
	if err != nil {
		api.Error(w, r, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", MimeType(p))
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%s", strconv.Quote(path.Base(p))))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !info.IsDir && info.Size >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
}

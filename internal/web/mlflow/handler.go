package mlflow

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// Options configure the API.
type Options struct {
	Logger *slog.Logger
	// MaxArtifactBytes caps one artifact upload; 0 means no cap.
	MaxArtifactBytes int64
	// URLSigningKey signs multipart part-upload URLs; NewHandler makes a
	// random one when it is empty.
	URLSigningKey []byte
	// Roots are the artifact locations the API serves, and so the ones an
	// experiment's artifact_location may name (required; cmd builds them
	// with store/artifacts.NewRoots).
	Roots artifact.Resolver
}

// Handler serves the MLflow REST API.
type Handler struct {
	tracking  *tracking.Service
	registry  *registry.Service
	artifacts artifact.Store
	opts      Options
}

// NewHandler returns a Handler over the given services and artifact store.
func NewHandler(t *tracking.Service, reg *registry.Service, art artifact.Store, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Roots == nil {
		panic("mlflow.NewHandler: Options.Roots is required")
	}
	if len(opts.URLSigningKey) == 0 {
		opts.URLSigningKey = make([]byte, 32)
		_, _ = rand.Read(opts.URLSigningKey)
	}
	return &Handler{tracking: t, registry: reg, artifacts: art, opts: opts}
}

// handle adapts a handler method that returns its response body.
var handle = api.Handler

// Prefixes under which the MLflow API is served.
var Prefixes = []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"}

// ArtifactPrefixes are the mlflow-artifacts proxy roots.
var ArtifactPrefixes = []string{"/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/"}

// Register mounts every MLflow route on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, p := range Prefixes {
		add := func(methods, path string, f api.Func) {
			for _, m := range strings.Split(methods, ",") {
				mux.Handle(m+" "+p+path, handle(f))
			}
		}
		h.trackingRoutes(add)
		h.registryRoutes(add)
		h.loggedModelRoutes(add)
		mux.Handle(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			api.JSON(w, http.StatusNotFound, api.ErrorBody{ErrorCode: "ENDPOINT_NOT_FOUND",
				Message: "no MLflow endpoint " + r.Method + " " + r.URL.Path})
		}))
	}
	for _, p := range ArtifactPrefixes {
		h.artifactRoutes(mux, p)
	}
	h.uiRoutes(mux)
}

func (h *Handler) trackingRoutes(add func(methods, path string, f api.Func)) {
	add("POST", "experiments/create", h.createExperiment)
	add("GET", "experiments/get", h.getExperiment)
	add("GET", "experiments/get-by-name", h.getExperimentByName)
	add("GET,POST", "experiments/search", h.searchExperiments)
	add("GET", "experiments/list", h.searchExperiments)
	add("POST", "experiments/update", h.updateExperiment)
	add("POST", "experiments/delete", h.deleteExperiment)
	add("POST", "experiments/restore", h.restoreExperiment)
	add("POST", "experiments/set-experiment-tag", h.setExperimentTag)
	add("POST", "experiments/delete-experiment-tag", h.deleteExperimentTag)

	add("POST", "runs/create", h.createRun)
	add("GET", "runs/get", h.getRun)
	add("POST", "runs/update", h.updateRun)
	add("POST", "runs/delete", h.deleteRun)
	add("POST", "runs/restore", h.restoreRun)
	add("POST", "runs/log-metric", h.logMetric)
	add("POST", "runs/log-parameter", h.logParam)
	add("POST", "runs/log-batch", h.logBatch)
	add("POST", "runs/set-tag", h.setTag)
	add("POST", "runs/delete-tag", h.deleteTag)
	add("POST", "runs/search", h.searchRuns)
	add("POST", "runs/log-inputs", h.logInputs)
	add("POST", "runs/outputs", h.logOutputs)
	add("POST", "runs/log-model", h.logModel)
	add("GET", "metrics/get-history", h.getMetricHistory)
	add("GET", "metrics/get-history-bulk-interval", h.getMetricHistoryBulkInterval)
	add("GET", "artifacts/list", h.listRunArtifacts)
}

// runID returns run_id, or the older run_uuid, of a request.
func runID(runID, runUUID string) (string, error) {
	if runID != "" {
		return runID, nil
	}
	if runUUID != "" {
		return runUUID, nil
	}
	return "", errs.Missing("run_id")
}

func required(name, v string) error {
	if v == "" {
		return errs.Missing(name)
	}
	return nil
}

// Package web is Cairn's HTTP server: one port for the MLflow REST API, the
// artifact proxy, health and metrics endpoints. It owns the middleware
// (request IDs, logging, panic recovery, authentication and roles) and mounts
// the API packages (web/mlflow, web/pipelines, web/ui, the model server)
// that cmd hands it as Mounters. It imports errs, api and metrics.
package web

// Package web is Cairn's HTTP server: one port for the MLflow REST API, the
// artifact proxy, health and metrics endpoints. It owns the middleware
// (request IDs, logging, panic recovery, authentication and roles) and mounts
// the API packages below it. It imports errs, the domain services and
// web/respond, web/mlflow.
package web

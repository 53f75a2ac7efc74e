// Package client is a Go client for Cairn's MLflow-compatible REST API, used
// by the CLI and by pipeline tasks, the tuner and training to log to a
// server. Errors come back as *errs.Error with the kind the server meant.
// It imports errs, tracking and web/mlflow/wire.
package client

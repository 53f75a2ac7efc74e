// Package client is a Go client for Cairn's MLflow-compatible REST API, used
// by the CLI and by pipeline tasks, the tuner and training to log to a
// server, register models and fetch their files (registry.go, download.go:
// artifacts are read through the server's mlflow-artifacts proxy, and
// FetchModel keeps a local cache of model versions). Errors come back as
// *errs.Error with the kind the server meant. It imports errs, tracking,
// registry, api and api/wire.
package client

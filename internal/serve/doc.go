// Package serve is Cairn's model server: deployments of registered models
// with dynamic batching, a bounded queue, replicas, zero-downtime version
// swaps and rollback, Prometheus metrics, and the HTTP endpoints clients
// speak: the Open Inference Protocol v2 (/v2/...), the workshop's image
// endpoint (POST / with {"image": base64}), the table endpoint (POST
// /predict with one record), and MLflow's scoring protocol (/invocations,
// /ping). Request images are checked from their headers against the
// deployment's max_image_bytes and decoded on a fixed number of slots
// shared by the server's deployments, within the request's timeout.
//
// It does not import train: a Loader (given by the caller) resolves a model
// URI to a version and loads it as a Model. It imports errs, metrics and api
// (the one table of error kinds to HTTP statuses), and prometheus.
package serve

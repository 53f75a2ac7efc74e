// Package api is Cairn's HTTP contract, shared by every server and client
// of it: the one table that maps errs kinds to HTTP statuses and MLflow
// error codes (and back, for clients), request IDs, JSON answers, and the
// decoding of request bodies and query strings into request structs with
// errors that name the offending field. Its wire package holds MLflow's
// JSON shapes. It imports errs only.
package api

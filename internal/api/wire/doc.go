// Package wire holds the JSON shapes of MLflow's REST API 2.0 and their
// conversions to and from Cairn's domain types. The server and the Go client
// both use it. It imports only the domain packages (tracking, registry).
package wire

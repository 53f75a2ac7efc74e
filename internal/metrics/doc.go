// Package metrics holds what Cairn's HTTP servers share to publish
// Prometheus series: registration that several servers in one process can
// repeat, and the request count and latency every server keeps. It imports
// only the Prometheus client.
package metrics

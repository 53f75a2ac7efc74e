// Package examples holds the reference pipelines (fingers, titanic), embedded
// so 'cairn demo' can run them from the binary alone. It imports nothing of
// Cairn's.
package examples

// Package errs defines Cairn's single error type. Every layer wraps failures in
// an *Error carrying a Kind; only the web layer maps kinds to HTTP statuses and
// MLflow error codes. It imports nothing from Cairn.
package errs

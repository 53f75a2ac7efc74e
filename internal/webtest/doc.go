// Package webtest starts a real Cairn API server for tests: SQLite in a temp
// folder, a local artifact folder, the MLflow routes, and the server's
// middleware. Only tests import it.
package webtest

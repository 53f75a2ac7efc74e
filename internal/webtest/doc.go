// Package webtest starts a real Cairn API server for tests: SQLite in a temp
// folder, a local artifact folder, the MLflow routes, any API the test mounts
// beside them, and the server's middleware. It is the one place outside cmd
// that builds the store backends for the web packages, so their tests need
// not import store/*. Only tests import it.
package webtest

// Package archtest holds no code: its test checks that imports point the way
// the layout says (domain packages below adapters, each heavy dependency in
// one home, no web package on a store backend). It checks each package's own
// files, not its tests: a test may open real backends, and the web packages'
// tests get them from internal/webtest, which only tests may import.
package archtest

// Package spec is Cairn's pipeline language: the YAML spec and its strict
// decoding (through strictyaml), validation that reports every problem at
// once with its line, the plan it compiles to (tasks in topological order,
// their step types and compiled templates), `${{ }}` templates and `when:`
// expressions, typed parameters, cron schedule syntax, for_each items and
// the outputs file format tasks write. It declares the Catalog of step types
// that `uses:` names. It says what a pipeline means, never how one runs: it
// imports errs and strictyaml, and never the runtime (pipeline) or exec.
package spec

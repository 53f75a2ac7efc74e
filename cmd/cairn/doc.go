// Command cairn is Cairn's single binary: the tracking and registry server,
// and a CLI over its API. It is the only place that reads flags, environment
// variables and files, and wires the packages together.
package main

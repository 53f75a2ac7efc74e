// Command cairn is Cairn's single binary: the tracking and registry server,
// and a CLI over its API. It is the only place that reads flags, environment
// variables and files, and wires the packages together. config.go holds the
// server's Config, DefaultConfig and Validate, and reads its configuration
// file (--config: the flags as strict YAML, a flag given on the command line
// winning); rungroup.go runs the server's components as one group, so one
// that fails stops the others.
package main

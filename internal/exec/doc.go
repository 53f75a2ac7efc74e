// Package exec is the one place that runs a unit of work as a process: a
// pipeline's task and a sweep's trial alike go through its Executor (Local
// today: child processes, each in its own process group, killed whole on
// timeout or cancel). Around a process it owns what every runner needs: the
// environment a task inherits (TaskEnviron), masking of secrets in logs and
// outputs (MaskWriter), and the Landlock sandbox that confines the process
// to its own folders (Sandbox, RunSandboxed). It imports no Cairn package;
// go-landlock lives here.
package exec

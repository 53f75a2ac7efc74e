//go:build unix && !linux

package exec

import "syscall"

// sysProcAttr puts a child in its own process group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// ProcStart returns "" here: without /proc nothing tells a task's process
// from a later one with its ID, so KillGroup never kills on resume.
func ProcStart(pid int) string { return "" }

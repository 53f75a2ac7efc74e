package pipeline

import "syscall"

// sysProcAttr puts a child in its own process group and has the kernel kill
// it when this process dies, so a kill -9 of the scheduler leaves no
// task running unobserved.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

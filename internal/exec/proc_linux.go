package exec

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts a child in its own process group and has the kernel kill
// it when this process dies, so a kill -9 of the scheduler leaves no
// task running unobserved.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// ProcStart returns what identifies the process pid among all processes
// that ever had that ID: the boot ID and the process's start time in clock
// ticks since boot (field 22 of /proc/PID/stat), as "BOOTID/TICKS". It
// returns "" when pid runs no process or /proc cannot tell.
func ProcStart(pid int) string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil || pid <= 0 {
		return ""
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name, field 2, is in parentheses and may hold spaces and
	// parentheses itself: count fields from the last ')', which ends it.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return ""
	}
	fields := strings.Fields(string(stat[i+1:]))
	const startTime = 22 - 3 // fields[0] is field 3, the state
	if len(fields) <= startTime {
		return ""
	}
	if _, err := strconv.ParseUint(fields[startTime], 10, 64); err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + fields[startTime]
}

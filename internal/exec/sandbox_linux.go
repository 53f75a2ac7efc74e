package exec

import (
	"fmt"
	"os"
	osexec "os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// SandboxSupported reports whether this kernel enforces sandboxes: the
// Landlock ABI version, 0 when there is none.
func SandboxSupported() int {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil {
		return 0
	}
	return v
}

// apply restricts this process, and everything it starts, to s.
func (s *Sandbox) apply() error {
	read, write, err := s.paths()
	if err != nil {
		return fmt.Errorf("sandbox: list what tasks may reach: %w", err)
	}
	// Paths listed a moment ago may be gone (other programs' temporary
	// files): a missing one has nothing to grant.
	rules := []landlock.Rule{landlock.RODirs(read.dirs...).IgnoreIfMissing(), landlock.ROFiles(read.files...).IgnoreIfMissing(),
		landlock.RWFiles(devices...).IgnoreIfMissing(), landlock.RWDirs(write.dirs...).WithRefer().IgnoreIfMissing(),
		landlock.RWFiles(write.files...).IgnoreIfMissing()}
	if err := landlock.V11.BestEffort().RestrictPaths(rules...); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if err := landlock.V11.BestEffort().RestrictScoped(); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	return nil
}

// RunSandboxed is the sandbox command: it applies the Sandbox in
// $CAIRN_SANDBOX to itself, then replaces itself with argv. It returns
// only on failure.
func RunSandboxed(argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("sandbox: no command")
	}
	s, err := DecodeSandbox(os.Getenv(SandboxEnv))
	if err != nil {
		return err
	}
	os.Unsetenv(SandboxEnv)
	path, err := osexec.LookPath(argv[0])
	if err != nil {
		return err
	}
	if err := s.apply(); err != nil {
		return err
	}
	// Capabilities are per thread: drop them on the one that execs.
	runtime.LockOSThread()
	if err := dropCapabilities(); err != nil {
		return err
	}
	return syscall.Exec(path, argv, os.Environ())
}

// dropCapabilities leaves this thread, and what it execs, without Linux
// capabilities: a task of a server running as root is root without the
// powers (reading other processes' memory, overriding file permissions,
// loading modules) that would reach past its sandbox.
func dropCapabilities() error {
	if os.Geteuid() != 0 {
		return nil
	}
	for c := 0; c <= 63; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("sandbox: drop capability %d: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("sandbox: clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("sandbox: drop capabilities: %w", err)
	}
	return nil
}

// HideFromTasks makes this process undumpable, so that processes of the
// same user without CAP_SYS_PTRACE (sandboxed tasks among them) cannot
// read its memory, environment, open files or maps under /proc.
func HideFromTasks() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}

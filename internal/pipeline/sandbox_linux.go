package pipeline

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

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
	rules := []landlock.Rule{landlock.RODirs(read.dirs...), landlock.ROFiles(read.files...), landlock.RWFiles(devices...).IgnoreIfMissing(),
		landlock.RWDirs(write.dirs...).WithRefer(), landlock.RWFiles(write.files...)}
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
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	if err := s.apply(); err != nil {
		return err
	}
	return syscall.Exec(path, argv, os.Environ())
}

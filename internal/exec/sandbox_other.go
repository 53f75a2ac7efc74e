//go:build !linux

package exec

import (
	"fmt"
	"os"
	osexec "os/exec"
)

// SandboxSupported reports whether this kernel enforces sandboxes: never
// outside Linux.
func SandboxSupported() int { return 0 }

// HideFromTasks does nothing outside Linux.
func HideFromTasks() error { return nil }

// RunSandboxed runs argv unsandboxed: only Linux enforces a Sandbox.
func RunSandboxed(argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("sandbox: no command")
	}
	os.Unsetenv(SandboxEnv)
	cmd := osexec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*osexec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		return err
	}
	os.Exit(0)
	return nil
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cairn-mlops/cairn/internal/jobs"
)

// newPodCmd is what a pipeline task's container runs on a remote executor:
// the task's files travel through the server, since pods share no disk.
func newPodCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "pod", Short: "Run a pipeline task in a container (used by the kubernetes executor)", Hidden: true}
	install := &cobra.Command{
		Use: "install DIR", Short: "Copy this executable to DIR/cairn, for a task whose image has no cairn", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			return copyExecutable(exe, filepath.Join(args[0], "cairn"))
		},
	}
	run := &cobra.Command{
		Use:   "run -- COMMAND [ARG...]",
		Short: "Fetch the task's inputs, run COMMAND, store its outputs ($CAIRN_TASK_FILES says where)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := jobs.ParseTaskFiles(os.Getenv("CAIRN_TASK_FILES"))
			if err != nil {
				return usageError{err}
			}
			c, err := clientFor(os.Getenv("MLFLOW_TRACKING_URI"))
			if err != nil {
				return err
			}
			log := cmd.ErrOrStderr()
			if err := files.FetchInputs(cmd.Context(), c, log); err != nil {
				return err
			}
			if err := runChild(args, cmd.OutOrStdout(), log); err != nil {
				return err
			}
			return files.StoreOutputs(cmd.Context(), c, log)
		},
	}
	run.Flags().SetInterspersed(false)
	cmd.AddCommand(install, run)
	return cmd
}

// runChild runs the task's command with this process's environment and
// output, passing SIGTERM and SIGINT on; its exit status becomes ours.
func runChild(args []string, stdout, stderr io.Writer) error {
	child := osexec.Command(args[0], args[1:]...)
	child.Stdin, child.Stdout, child.Stderr = os.Stdin, stdout, stderr
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	if err := child.Start(); err != nil {
		fmt.Fprintf(stderr, "cairn pod: %v\n", err)
		return exitStatus(127)
	}
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = child.Process.Signal(s)
		case err := <-done:
			var ee *osexec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return exitStatus(128 + int(ws.Signal()))
				}
				return exitStatus(ee.ExitCode())
			}
			return err
		}
	}
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

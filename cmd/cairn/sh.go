package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// newShCmd is a POSIX shell built in, so that run: commands work in Cairn's
// image, which holds no shell of its own.
func newShCmd() *cobra.Command {
	var command string
	cmd := &cobra.Command{
		Use:   "sh -c COMMAND [NAME [ARG...]]",
		Short: "Run a shell command with Cairn's built-in POSIX shell (for images without /bin/sh)",
		Long: `Run COMMAND with a POSIX shell built into Cairn, as sh -c does: $0 is NAME and
$1... are the ARGs. Cairn's image has no /bin/sh; a pipeline's run: tasks on the
kubernetes executor run through this. Programs the command starts must be in the
image: there are the shell's builtins (echo, printf, test, cd, ...) and cairn.`,
		Hidden: true,
		Args:   cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if command == "" {
				return usageError{errors.New("give the command with -c")}
			}
			return runShell(cmd.Context(), command, args)
		},
	}
	cmd.Flags().StringVarP(&command, "command", "c", "", "the command to run")
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// exitStatus is a command's exit status, passed on as this process's.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func runShell(ctx context.Context, command string, args []string) error {
	name := "sh" // $0
	if len(args) > 0 {
		name = args[0]
	}
	file, err := syntax.NewParser().Parse(strings.NewReader(command), name)
	if err != nil {
		return usageError{err}
	}
	opts := []interp.RunnerOption{interp.StdIO(os.Stdin, os.Stdout, os.Stderr), interp.Env(expand.ListEnviron(os.Environ()...))}
	if len(args) > 0 {
		opts = append(opts, interp.Params(append([]string{"--"}, args[1:]...)...))
	}
	r, err := interp.New(opts...)
	if err != nil {
		return err
	}
	err = r.Run(ctx, file)
	var st interp.ExitStatus
	if errors.As(err, &st) {
		if st == 0 {
			return nil
		}
		return exitStatus(st)
	}
	return err
}

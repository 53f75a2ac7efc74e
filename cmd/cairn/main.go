package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCmd().ExecuteContext(ctx)
	var st exitStatus
	if errors.As(err, &st) { // a command cairn ran for the user said why
		os.Exit(int(st))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cairn:", err)
		os.Exit(exitCode(err))
	}
}

// exitCode maps an error kind to a process exit status: 2 for bad input,
// 3 for not found, 4 for unavailable or auth problems, 1 otherwise.
func exitCode(err error) int {
	var usage usageError
	if errors.As(err, &usage) {
		return 2
	}
	var st exitStatus
	if errors.As(err, &st) {
		return int(st)
	}
	switch errs.KindOf(err) {
	case errs.Invalid, errs.Conflict, errs.TooLarge, errs.Unsupported:
		return 2
	case errs.NotFound:
		return 3
	case errs.Unavailable, errs.Unauthenticated, errs.PermissionDenied:
		return 4
	}
	return 1
}

type usageError struct{ error }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "cairn",
		Short: "Cairn takes machine learning from raw data to a served model, and keeps the record of every step",
		Long: `Cairn is one program for experiment tracking, a model registry, pipelines,
training, tuning and serving. 'cairn server' starts the server (the MLflow REST
API and the artifact proxy on one port); the other commands talk to it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       web.Version,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nrun '%s --help' for usage", err, c.CommandPath())}
	})
	root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(newServerCmd(), newServeCmd(), newTuneCmd(), newDemoCmd(), newDataCmd(), newTrainCmd(), newExperimentsCmd(), newRunsCmd(), newModelsCmd(), newUsersCmd(), newTokensCmd(), newRunCmd(), newPipelinesCmd(), newStepCmd(), newSandboxCmd(), newShCmd(), newPodCmd())
	return root
}

func newLogger(cmd *cobra.Command) (*slog.Logger, error) {
	lvl, _ := cmd.Flags().GetString("log-level")
	var level slog.Level
	if err := level.UnmarshalText([]byte(lvl)); err != nil {
		return nil, usageError{fmt.Errorf("invalid --log-level %q: expected debug, info, warn or error", lvl)}
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), nil
}

package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

func newDemoCmd() *cobra.Command {
	cfg := DefaultConfig()
	var exit bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a server with zero setup and log a sample run to it",
		Long: `Start the Cairn server with everything under --data (SQLite and a local
artifact folder), log a sample run to it (params, a metric curve, a dataset
input and an artifact), print where to look, and keep serving until Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			ready := make(chan string, 1)
			done := make(chan error, 1)
			go func() { done <- runServer(ctx, cfg, log, ready) }()
			var addr string
			select {
			case addr = <-ready:
			case err := <-done:
				return err
			}
			base := "http://" + addr
			c, err := client.New(base, client.DefaultOptions())
			if err != nil {
				return err
			}
			run, err := logSampleRun(ctx, c)
			if err != nil {
				return fmt.Errorf("log sample run: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "\nCairn is running at %s\n", base)
			fmt.Fprintf(out, "  logged sample run %s (experiment %q)\n", run.Info.RunID, "cairn-demo")
			fmt.Fprintf(out, "  MLflow clients:   export MLFLOW_TRACKING_URI=%s\n", base)
			fmt.Fprintf(out, "  look at it:       cairn runs list --experiment cairn-demo --tracking-uri %s\n", base)
			fmt.Fprintf(out, "                    cairn runs show %s --tracking-uri %s\n", run.Info.RunID, base)
			if exit {
				cancel()
				return <-done
			}
			fmt.Fprintln(out, "Press Ctrl-C to stop.")
			return <-done
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Data, "data", cfg.Data, "data folder for the database and artifacts")
	f.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address")
	f.BoolVar(&exit, "exit", false, "stop after logging the sample run instead of serving")
	return cmd
}

// logSampleRun logs a small training-like run: params, a loss and accuracy
// curve over 20 epochs, a dataset input, and a text artifact.
func logSampleRun(ctx context.Context, c *client.Client) (*tracking.Run, error) {
	exp, err := c.GetExperimentByName(ctx, "cairn-demo")
	var expID string
	switch {
	case err == nil:
		expID = exp.ID
	case errs.KindOf(err) == errs.NotFound:
		if expID, err = c.CreateExperiment(ctx, "cairn-demo", tracking.Tag{Key: "mlflow.note.content", Value: "Sample runs logged by 'cairn demo'."}); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	run, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: expID, UserID: "demo",
		Tags: []tracking.Tag{{Key: "mlflow.source.name", Value: "cairn demo"}, {Key: "cairn.synthetic", Value: "true"}}})
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixMilli()
	var metrics []tracking.Metric
	for epoch := 0; epoch < 20; epoch++ {
		loss := 1.8*math.Exp(-float64(epoch)/5) + 0.05
		acc := 1 - 0.8*math.Exp(-float64(epoch)/4)
		metrics = append(metrics,
			tracking.Metric{Key: "train_loss", Value: loss, Timestamp: now, Step: int64(epoch)},
			tracking.Metric{Key: "val_accuracy", Value: acc, Timestamp: now, Step: int64(epoch)})
	}
	params := []tracking.Param{{Key: "model", Value: "demo-mlp"}, {Key: "lr", Value: "0.01"}, {Key: "epochs", Value: "20"}}
	if err := c.LogBatch(ctx, run.Info.RunID, metrics, params, nil); err != nil {
		return nil, err
	}
	if err := c.LogInputs(ctx, run.Info.RunID, []tracking.DatasetInput{{
		Dataset: tracking.Dataset{Name: "synthetic-demo", Digest: "d3m0", SourceType: "code", Source: `{"generator": "cairn demo"}`},
		Tags:    []tracking.Tag{{Key: "mlflow.data.context", Value: "training"}},
	}}); err != nil {
		return nil, err
	}
	notes := "This run was logged by 'cairn demo' with synthetic numbers.\n"
	if err := c.UploadArtifact(ctx, run, "notes.txt", strings.NewReader(notes)); err != nil {
		return nil, err
	}
	if err := c.UpdateRun(ctx, run.Info.RunID, tracking.StatusFinished, time.Now().UnixMilli()); err != nil {
		return nil, err
	}
	return c.GetRun(ctx, run.Info.RunID)
}

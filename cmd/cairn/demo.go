package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-mlops/cairn/examples"
	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/pipeline"
	"github.com/cairn-mlops/cairn/internal/tracking"
	wp "github.com/cairn-mlops/cairn/internal/web/pipelines"
)

func newDemoCmd() *cobra.Command {
	cfg := DefaultConfig()
	var exit, noPipelines, quick bool
	var real string
	var epochs int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a server with zero setup and run both reference pipelines on it",
		Long: `Start the Cairn server with everything under --data (SQLite and a local
artifact folder), log a sample run, then run the two reference pipelines inside
the server: titanic (prepare, train with cross-validation, gate, register,
serve) and fingers (prepare, 4 CNNs x 2 learning rates, register the best,
serve). They train on
the real data under --real (a folder with fingers/ and titanic/train.csv, such
as ../shared/data) or, without it, on SYNTHETIC stand-ins generated on the spot.
It prints where to look, including the model endpoints, and keeps serving
until Ctrl-C.`,
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
			fmt.Fprintf(out, "  web UI:           %s/ (runs, pipelines, models, and a playground for each deployment)\n", base)
			fmt.Fprintf(out, "  logged sample run %s (experiment %q)\n", run.Info.RunID, "cairn-demo")
			fmt.Fprintf(out, "  MLflow clients:   export MLFLOW_TRACKING_URI=%s\n", base)
			fmt.Fprintf(out, "  look at it:       cairn runs list --experiment cairn-demo --tracking-uri %s\n", base)
			fmt.Fprintf(out, "                    cairn runs show %s --tracking-uri %s\n", run.Info.RunID, base)
			if !noPipelines {
				if err := runDemoPipelines(ctx, c, out, real, epochs, quick); err != nil {
					cancel()
					<-done
					return err
				}
			}
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
	f.BoolVar(&exit, "exit", false, "stop after the runs instead of serving")
	f.StringVar(&real, "real", "", "folder with the real data (fingers/, titanic/train.csv); empty: synthetic stand-ins")
	f.IntVar(&epochs, "epochs", 2, "training epochs of the fingers sweep's trials")
	f.BoolVar(&noPipelines, "no-pipelines", false, "only log the sample run")
	f.BoolVar(&quick, "quick", false, "tiny synthetic datasets and one epoch: seconds, to see every step work (accuracy is meaningless)")
	return cmd
}

// logSampleRun logs a small training-like run: params, a loss and accuracy
// curve over 20 epochs, a dataset input, and a text artifact.
func logSampleRun(ctx context.Context, c *client.Client) (*tracking.Run, error) {
	expID, err := c.EnsureExperiment(ctx, "cairn-demo", tracking.Tag{Key: "mlflow.note.content", Value: "Sample runs logged by 'cairn demo'."})
	if err != nil {
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

// runDemoPipelines submits the reference pipelines to the server and waits
// for each, printing task phases as they change.
func runDemoPipelines(ctx context.Context, c *client.Client, out io.Writer, real string, epochs int, quick bool) error {
	if real != "" {
		abs, err := filepath.Abs(real)
		if err != nil {
			return err
		}
		real = abs
	}
	var deployed []string
	for _, name := range examples.Names {
		spec, err := examples.Pipelines.ReadFile(name + "/pipeline.yaml")
		if err != nil {
			return err
		}
		params := map[string]any{}
		switch {
		case name == "fingers":
			params["epochs"] = epochs
			if real != "" {
				params["data"] = filepath.Join(real, "fingers")
			}
		case real != "":
			params["data"] = filepath.Join(real, "titanic", "train.csv")
		default:
			// Synthetic passengers are noisier than the real ones: a bar of
			// 0.7 instead of 0.8 lets the demo register a model, and says so.
			params["min_accuracy"] = 0.7
		}
		if quick && real == "" {
			tiny := map[string]map[string]any{
				"fingers": {"synthetic_images": 48, "size": 16, "epochs": 1},
				"titanic": {"synthetic_rows": 300, "epochs": 20, "cv": 2, "min_accuracy": 0},
			}
			for k, v := range tiny[name] {
				params[k] = v
			}
		}
		what := "SYNTHETIC stand-ins (pass --real DIR for the real data)"
		if name == "titanic" && real == "" {
			what += ", registering at validation accuracy 0.7 or more"
		}
		if real != "" {
			what = "the real data in " + real
		}
		fmt.Fprintf(out, "\npipeline %s on %s\n", name, what)
		var sub struct {
			Run wp.Run `json:"run"`
		}
		if err := c.Do(ctx, "POST", wp.Prefix+"runs/submit", map[string]any{"spec": string(spec), "file": name + ".yaml", "params": params}, &sub); err != nil {
			return fmt.Errorf("submit %s: %w", name, err)
		}
		run, err := waitPipelineRun(ctx, c, sub.Run.RunID, out)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "pipeline %s %s (run %s)\n", name, run.Phase, run.RunID)
		if run.Phase != string(pipeline.Succeeded) {
			return fmt.Errorf("pipeline %s %s: %s (see cairn pipelines logs %s --data DIR)", name, run.Phase, run.Message, run.RunID)
		}
		for _, t := range run.Tasks {
			if t.Task == "promote" || t.Task == "register" {
				if uri := t.Outputs["model_uri"]; uri != "" {
					fmt.Fprintf(out, "  registered %s (version %s, %s %s)\n", uri, t.Outputs["version"], "best_val_accuracy", t.Outputs["metric"])
				}
			}
			if t.Task == "deploy" && t.Outputs["url"] != "" {
				deployed = append(deployed, name)
				fmt.Fprintf(out, "  serving %s version %s at %s\n", t.Outputs["model_uri"], t.Outputs["version"], t.Outputs["url"])
			}
		}
	}
	printEndpoints(out, c.BaseURL(), deployed)
	return nil
}

// printEndpoints says how to call each deployed model.
func printEndpoints(out io.Writer, base string, deployed []string) {
	if len(deployed) == 0 {
		return
	}
	fmt.Fprintf(out, "\nModel endpoints (also: Open Inference Protocol at %s/v2/models/<name>/infer, MLflow's /serve/<name>/invocations):\n", base)
	for _, name := range deployed {
		switch name {
		case "fingers":
			fmt.Fprintf(out, "  fingers  POST %s/serve/fingers/          {\"image\": \"<base64 PNG>\"}\n", base)
			fmt.Fprintf(out, "           e.g. echo \"{\\\"image\\\": \\\"$(base64 -w0 HAND.png)\\\"}\" | curl -s -d @- %s/serve/fingers/\n", base)
		case "titanic":
			fmt.Fprintf(out, "  titanic  POST %s/serve/titanic/predict   one passenger, e.g.\n", base)
			fmt.Fprintf(out, "           curl -s %s/serve/titanic/predict -d '{\"PassengerId\": 892, \"Name\": \"Kelly, Mr. James\", \"Pclass\": 3, \"Age\": 34.5, \"SibSp\": 0, \"Parch\": 0, \"Fare\": 7.83, \"Sex\": \"male\", \"Embarked\": \"Q\"}'\n", base)
		default:
			fmt.Fprintf(out, "  %s  %s/serve/%s/\n", name, base, name)
		}
	}
}

// waitPipelineRun polls a pipeline run until it ends.
func waitPipelineRun(ctx context.Context, c *client.Client, id string, out io.Writer) (*wp.Run, error) {
	seen := map[string]string{}
	for {
		var got struct {
			Run wp.Run `json:"run"`
		}
		if err := c.Do(ctx, "GET", wp.Prefix+"runs/get?run_id="+id, nil, &got); err != nil {
			return nil, err
		}
		for _, t := range got.Run.Tasks {
			if seen[t.Node] != t.Phase && t.Phase != "Pending" {
				seen[t.Node] = t.Phase
				fmt.Fprintf(out, "  %-22s %s\n", t.Node, t.Phase)
			}
		}
		if pipeline.Phase(got.Run.Phase).Done() {
			return &got.Run, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

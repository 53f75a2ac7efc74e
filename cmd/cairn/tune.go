package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/steps"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/tune"
)

func newTuneCmd() *cobra.Command {
	var trackingURI, work, experiment string
	var cpus, gpus float64
	cmd := &cobra.Command{
		Use:   "tune SPEC.yaml",
		Short: "Run a hyperparameter sweep: trials as child runs, early stopping, the best registered",
		Long: `Run the sweep described by SPEC.yaml (the tune.sweep step's inputs): a search
space, a sampler (grid, random, tpe), a scheduler (fifo, asha, median), what each
trial runs and, optionally, the registered model the best trial becomes.

  metric: val_accuracy
  mode: max
  space:
    model: {grid: [small, wide, deep, residual]}
    lr: {grid: [0.002, 0.0005]}
  scheduler: {type: asha, max_t: 4, grace_period: 1, reduction_factor: 2}
  max_concurrent: 2
  resources: {cpu: 1}
  trial:
    uses: train.cnn
    with: {dataset: ./cairn-data/datasets/images-..., epochs: 4}
  register: {name: fingers, alias: champion}

Trials log to the tracking server (--tracking-uri, or one this command serves
over --data), as children of one sweep run. A live table shows each trial's
state, params and best metric. The sweep keeps its state in --work: run the
same command again after Ctrl-C or a crash and only unfinished trials run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := os.ReadFile(args[0])
			if err != nil {
				return usageError{fmt.Errorf("read sweep spec: %w", err)}
			}
			spec, err := tune.ParseSpec(src)
			if err != nil {
				return usageError{fmt.Errorf("%s: %w", args[0], err)}
			}
			sw := &steps.Sweep{Spec: *spec}
			if cmd.Flags().Changed("cpus") || cmd.Flags().Changed("gpus") {
				sw.Capacity = &tune.Resources{CPU: cpus, GPU: gpus}
			}
			if err := sw.Validate(); err != nil {
				return usageError{fmt.Errorf("%s: %w", args[0], err)}
			}
			ctx := cmd.Context()
			uri, token := trackingURI, ""
			data, _ := cmd.Flags().GetString("data")
			if uri == "" {
				db, d, log, err := openDB(cmd, true)
				if err != nil {
					return err
				}
				defer db.Close()
				api, err := serveTracking(ctx, db, d, log)
				if err != nil {
					return err
				}
				defer api.Stop()
				uri = api.URI
				token, _ = api.Credentials.Issue(ctx, nil, false, false)
			}
			copts := client.DefaultOptions()
			if token != "" {
				copts.Token = token
			}
			c, err := client.New(uri, copts)
			if err != nil {
				return usageError{err}
			}
			name := strings.TrimSuffix(filepath.Base(args[0]), filepath.Ext(args[0]))
			if work == "" {
				sum := sha256.Sum256(src)
				work = filepath.Join(data, "tune", name+"-"+hex.EncodeToString(sum[:6]))
			}
			if experiment == "" {
				experiment = "tune-" + name
			}
			parent, expID, resumed, err := sweepRun(cmd, c, work, experiment, name)
			if err != nil {
				return err
			}
			out := cmd.ErrOrStderr()
			if resumed {
				fmt.Fprintf(out, "resuming sweep run %s from %s\n", parent, work)
			} else {
				fmt.Fprintf(out, "sweep run %s (experiment %s); state in %s\n", parent, experiment, work)
			}
			table := newTrialTable(out, spec.Metric)
			sw.OnChange = table.update
			environ := append(os.Environ(), "CAIRN_DATA_DIR="+data)
			if token != "" {
				environ = append(environ, "MLFLOW_TRACKING_TOKEN="+token) // the trials'
			}
			res, runErr := sw.Run(ctx, steps.Env{TrackingURI: uri, RunID: parent, ExperimentID: expID, OutputsDir: work,
				Stdout: table.log(), Stderr: out, Environ: environ})
			status := tracking.StatusFinished
			if runErr != nil {
				status = tracking.StatusFailed
				if ctx.Err() != nil {
					status = tracking.StatusKilled
				}
			}
			_ = c.UpdateRun(ctx, parent, status, time.Now().UnixMilli())
			if runErr != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted; run the same command to resume (state in %s)", work)
				}
				return runErr
			}
			if wantJSON(cmd) {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			keys := make([]string, 0, len(res))
			for k := range res {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(cmd.OutOrStdout(), "%s=%s\n", k, res[k])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&trackingURI, "tracking-uri", "", "tracking server for the runs (default: one served by this command over --data)")
	f.StringVar(&work, "work", "", "folder for the sweep's state and the trials' logs (default: DATA/tune/NAME-HASH)")
	f.StringVar(&experiment, "experiment", "", "experiment of the sweep's runs (default: tune-NAME)")
	f.Float64Var(&cpus, "cpus", float64(runtime.NumCPU()), "CPUs the trials may use together (trials are packed by their resources.cpu)")
	f.Float64Var(&gpus, "gpus", 0, "GPUs the trials may use together (default: those in CUDA_VISIBLE_DEVICES)")
	storeFlags(cmd)
	return cmd
}

// sweepRun returns the sweep's parent run: the one recorded in work, or a
// new one in the experiment.
func sweepRun(cmd *cobra.Command, c *client.Client, work, experiment, name string) (string, string, bool, error) {
	ctx := cmd.Context()
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", "", false, err
	}
	path := filepath.Join(work, "run.json")
	var rec struct {
		RunID        string `json:"run_id"`
		ExperimentID string `json:"experiment_id"`
	}
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &rec) == nil && rec.RunID != "" {
		if _, err := c.GetRun(ctx, rec.RunID); err == nil {
			_ = c.UpdateRun(ctx, rec.RunID, tracking.StatusRunning, 0)
			return rec.RunID, rec.ExperimentID, true, nil
		}
	}
	expID, err := c.EnsureExperiment(ctx, experiment)
	if err != nil {
		return "", "", false, err
	}
	r, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: expID, RunName: "sweep " + name,
		Tags: []tracking.Tag{{Key: "mlflow.source.name", Value: "cairn tune"}, {Key: "cairn.tune.sweep", Value: name}}})
	if err != nil {
		return "", "", false, err
	}
	rec.RunID, rec.ExperimentID = r.Info.RunID, expID
	b, _ := json.Marshal(rec)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", "", false, err
	}
	return rec.RunID, expID, false, nil
}

// trialTable prints the trials as a table: redrawn in place on a
// terminal, appended when it changes otherwise.
type trialTable struct {
	mu     sync.Mutex
	out    io.Writer
	tty    bool
	metric string
	lines  int
	last   string
}

func newTrialTable(out io.Writer, metric string) *trialTable {
	t := &trialTable{out: out, metric: metric}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		t.tty = true
	}
	return t
}

func (t *trialTable) update(trials []tune.Trial, p tune.Progress) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-5s %-10s %-44s %s\n", "TRIAL", "STATE", "PARAMS", "BEST "+t.metric)
	for _, tr := range trials {
		best := "-"
		if tr.HasValue {
			best = fmt.Sprintf("%.4g", tr.Value)
			if n := len(tr.Curve); n > 0 {
				best += fmt.Sprintf(" (step %d)", tr.Curve[n-1].Step)
			}
		}
		note := tr.Reason
		if tr.State == tune.Pending {
			note = tr.Why
		}
		if len(note) > 70 {
			note = note[:67] + "..."
		}
		fmt.Fprintf(&b, "%-5s %-10s %-44s %s  %s\n", tr.ID, tr.State, tr.Params.String(), best, note)
	}
	fmt.Fprintf(&b, "%d running, %d succeeded, %d stopped, %d failed, %d to come", p.Running, p.Succeeded, p.Stopped, p.Failed, p.ToCome)
	if p.Why != "" {
		fmt.Fprintf(&b, "; %s", p.Why)
	}
	b.WriteString("\n")
	s := b.String()
	t.mu.Lock()
	defer t.mu.Unlock()
	if s == t.last {
		return
	}
	t.last = s
	if t.tty && t.lines > 0 {
		fmt.Fprintf(t.out, "\033[%dA\033[J", t.lines)
	}
	_, _ = io.WriteString(t.out, s)
	t.lines = strings.Count(s, "\n")
}

// log is where the sweep's own messages go: on a terminal they would tear
// the table, so they go above it.
func (t *trialTable) log() io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.tty && t.lines > 0 {
			fmt.Fprintf(t.out, "\033[%dA\033[J", t.lines)
			_, _ = t.out.Write(p)
			_, _ = io.WriteString(t.out, t.last)
			return len(p), nil
		}
		return t.out.Write(p)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

package main

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/auth"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/pipeline"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/steps"
	"github.com/cairn-mlops/cairn/internal/store/artifacts"
	"github.com/cairn-mlops/cairn/internal/store/meta"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/web/mlflow"
	wp "github.com/cairn-mlops/cairn/internal/web/pipelines"
)

// machineCapacity is what this machine offers tasks: its CPUs, its memory
// (from /proc/meminfo where there is one) and gpus GPUs.
func machineCapacity(gpus int) spec.Resources {
	c := spec.Resources{CPU: float64(runtime.NumCPU()), GPU: gpus}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				c.Memory = kb << 10
			}
		}
	}
	return c
}

// pipelineFlags adds what every command that executes pipelines needs.
func pipelineFlags(cmd *cobra.Command) {
	cmd.Flags().Int("gpus", 0, "GPUs tasks may request (CUDA_VISIBLE_DEVICES is set per task)")
	taskEnvFlag(cmd.Flags(), new([]string))
}

// taskEnvFlag adds --task-env: the variables tasks inherit besides the usual ones.
func taskEnvFlag(f *pflag.FlagSet, names *[]string) {
	f.StringSliceVar(names, "task-env", nil, "more environment variables tasks inherit from this process, by name or PREFIX* "+
		"(besides PATH, HOME, the locale, proxies and library paths; comma-separated or repeated)")
}

// engineConfig is what an engine needs from the command that runs it.
type engineConfig struct {
	Data        string // the data folder: tasks keep their folders under DATA/pipelines
	TrackingURI string // where tasks log
	GPUs        int
	TaskEnv     []string // more variables tasks inherit (--task-env)
	// Unsandboxed turns the tasks' sandbox off (--task-sandbox=false).
	Unsandboxed bool
	// Hidden are more paths tasks may neither read nor write besides the
	// data folder: a database or artifact folder kept elsewhere.
	Hidden      []string
	Log         *slog.Logger
	OnTask      func(string, pipeline.TaskRun)
	Credentials pipeline.Credentials
	// Remote are the executors besides this machine's; DefaultExecutor
	// names the one for specs that name none.
	Remote          map[string]*pipeline.RemoteExecutor
	DefaultExecutor string
	// Artifacts, when set, is where the files of tasks that run on this
	// machine are kept (pipeline.Files); without it they stay on its disk.
	Artifacts artifact.Resolver
}

// newEngine builds a pipeline engine over db.
func newEngine(db *meta.DB, c engineConfig) (*pipeline.Engine, error) {
	absData, err := filepath.Abs(c.Data)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the cairn executable: %w", err)
	}
	opts := pipeline.DefaultOptions()
	// Tasks inherit only what programs need, not the server's settings and
	// credentials; built-in steps keep datasets and work folders under the
	// data folder.
	env := append(exec.TaskEnviron(os.Environ(), c.TaskEnv...), "CAIRN_DATA_DIR="+absData)
	opts.Root, opts.Capacity, opts.Environ, opts.TrackingURI = filepath.Join(absData, "pipelines"), machineCapacity(c.GPUs), env, c.TrackingURI
	opts.Credentials, opts.Remote, opts.DefaultExecutor = c.Credentials, c.Remote, c.DefaultExecutor
	opts.StepCommand, opts.Logger, opts.OnTask = []string{exe, "step", "exec"}, c.Log, c.OnTask
	if c.Artifacts != nil {
		opts.Files = pipeline.NewArtifactFiles(db, c.Artifacts)
	}
	if !c.Unsandboxed {
		// Tasks see neither the database nor the artifacts: they reach both
		// through the tracking API, with their own credential.
		opts.Sandbox = &exec.SandboxOptions{Command: []string{exe, "sandbox"}, Hidden: append([]string{absData}, c.Hidden...),
			Shared: []string{filepath.Join(absData, "datasets")}, PerRun: []string{filepath.Join(absData, "tune")}}
		if err := exec.HideFromTasks(); err != nil {
			c.Log.Warn("tasks may read this process's memory and environment", "err", err)
		}
		for _, d := range append(opts.Sandbox.Shared, opts.Sandbox.PerRun...) {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
		}
	}
	return pipeline.NewEngine(db, pipeline.NewServiceTracker(tracking.NewService(db)), exec.NewLocal(exec.DefaultLocalOptions()),
		steps.Default(), opts)
}

// sandboxFlag adds --task-sandbox.
func sandboxFlag(f *pflag.FlagSet, off *bool) {
	f.BoolFunc("task-sandbox", "confine tasks to their own folders: they may not read or write the data folder, the database "+
		"or local artifacts (default true; Linux Landlock)", func(v string) error {
		on, err := strconv.ParseBool(v)
		*off = !on
		return err
	})
	f.Lookup("task-sandbox").NoOptDefVal = "true"
}

// openDB opens the database named by --db or --data.
func openDB(cmd *cobra.Command, create bool) (*meta.DB, string, *slog.Logger, error) {
	data, _ := cmd.Flags().GetString("data")
	uri, _ := cmd.Flags().GetString("db")
	if uri == "" {
		uri = filepath.Join(data, "cairn.db")
		if _, err := os.Stat(uri); errors.Is(err, os.ErrNotExist) && !create {
			return nil, "", nil, usageError{fmt.Errorf("no database at %s: pass the server's --data folder or --db URI", uri)}
		}
	}
	log, err := newLogger(cmd)
	if err != nil {
		return nil, "", nil, err
	}
	opts := meta.DefaultOptions()
	opts.Logger = log
	db, err := meta.Open(cmd.Context(), uri, opts)
	if err != nil {
		return nil, "", nil, err
	}
	return db, data, log, nil
}

// serveTracking serves the MLflow API over db on a loopback port for the
// tasks of an in-process run, until ctx ends. Only those tasks may call it:
// it takes one random token, which the returned Credentials give them.
func serveTracking(ctx context.Context, db *meta.DB, data string, log *slog.Logger) (*trackingAPI, error) {
	root, err := filepath.Abs(filepath.Join(data, "artifacts"))
	if err != nil {
		return nil, err
	}
	art, err := artifacts.Open(ctx, root, artifacts.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the tasks' tracking API: %w", err)
	}
	reg := registry.NewService(db, db)
	roots := artifacts.NewRoots(art)
	h := mlflow.NewHandler(tracking.NewService(db), reg, art, mlflow.Options{Logger: log, Roots: roots})
	opts := web.DefaultOptions()
	opts.Logger = log
	secret := auth.NewSecret()
	opts.Auth = secretAuth(secret)
	// serve.deploy tasks deploy here; the deployments are kept in db, so
	// `cairn server` on the same data serves them once this run ends.
	base := "http://" + l.Addr().String()
	models := newModelServer(db, data, "", localModels(reg, roots), opts, log)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer models.Close()
		_ = web.NewServer(opts, h, models).Serve(ctx, l)
	}()
	return &trackingAPI{URI: base, Credentials: staticCredential(secret), Roots: roots, Stop: func() { cancel(); <-done }}, nil
}

// trackingAPI is the tracking server of an in-process run.
type trackingAPI struct {
	URI         string
	Credentials pipeline.Credentials
	Roots       artifact.Resolver // the artifact stores it serves
	Stop        func()
}

// secretAuth admits requests that carry one bearer token, as a user who may
// read and write but not manage users: the API `cairn run` serves its tasks.
type secretAuth string

func (s secretAuth) Authorize(r *http.Request, need web.Access) (context.Context, error) {
	if need <= web.Public {
		return r.Context(), nil
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s)) != 1 {
		return nil, errs.E(errs.Unauthenticated, "this API serves the tasks of one 'cairn run' and takes only their MLFLOW_TRACKING_TOKEN")
	}
	if need > web.Write {
		return nil, errs.E(errs.PermissionDenied, "the tasks of 'cairn run' may not manage users or tokens")
	}
	return r.Context(), nil
}

// staticCredential gives every run the same secret.
type staticCredential string

func (c staticCredential) Issue(context.Context, *pipeline.Run, bool, bool) (string, error) {
	return string(c), nil
}
func (c staticCredential) Revoke(context.Context, string) error { return nil }

func newRunCmd() *cobra.Command {
	var params []string
	var resume string
	var noSandbox bool
	cmd := &cobra.Command{
		Use:   "run [FILE]",
		Short: "Run a pipeline from a YAML file, in this process, against the database in --data",
		Long: `Run a pipeline in this process, recording it in the database of --data (or
--db), the same one 'cairn server' uses, so the run shows up in the server and
in MLflow tools. Tasks get MLFLOW_TRACKING_URI pointing at an API this command
serves on a loopback port while it runs. Ctrl-C stops the run; it resumes with
'cairn run --resume ID', and so does a run whose process was killed.

  cairn run pipeline.yaml -p lr=0.01 -p models=cnn,mlp
  cairn run --resume RUN_ID`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (resume != "") {
				return usageError{errors.New("give a pipeline FILE, or --resume RUN_ID")}
			}
			given, err := spec.ParseParamFlags(params)
			if err != nil {
				return usageError{err}
			}
			if resume != "" && len(given) > 0 {
				return usageError{errors.New("-p cannot change the params of a run being resumed")}
			}
			db, data, log, err := openDB(cmd, true)
			if err != nil {
				return err
			}
			defer db.Close()
			ctx := cmd.Context()
			api, err := serveTracking(ctx, db, data, log)
			if err != nil {
				return err
			}
			defer api.Stop()
			out := cmd.ErrOrStderr()
			gpus, _ := cmd.Flags().GetInt("gpus")
			taskEnv, _ := cmd.Flags().GetStringSlice("task-env")
			e, err := newEngine(db, engineConfig{Data: data, TrackingURI: api.URI, GPUs: gpus, TaskEnv: taskEnv, Unsandboxed: noSandbox,
				Log: log, OnTask: progress(out), Credentials: api.Credentials, Artifacts: api.Roots})
			if err != nil {
				return err
			}
			id := resume
			if id == "" {
				src, err := os.ReadFile(args[0])
				if err != nil {
					return usageError{fmt.Errorf("read pipeline: %w", err)}
				}
				abs, _ := filepath.Abs(args[0])
				run, err := e.Submit(ctx, pipeline.Submission{File: filepath.Base(args[0]), Source: src, WorkDir: filepath.Dir(abs),
					Params: given, Trigger: "cli"})
				if err != nil {
					return err
				}
				id = run.ID
			}
			fmt.Fprintf(out, "pipeline run %s (tracking API for tasks: %s)\n", id, api.URI)
			run, err := e.Execute(ctx, id)
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted; resume with: cairn run --resume %s --data %s", id, data)
				}
				return err
			}
			if stored, err := e.Store().FindPipelineRunByID(ctx, run.ID); err == nil {
				run = stored // tasks in plan order, items after their task
			}
			if err := printPipelineRun(cmd.OutOrStdout(), run, wantJSON(cmd)); err != nil {
				return err
			}
			if run.Phase != pipeline.Succeeded {
				return fmt.Errorf("pipeline run %s %s", run.ID, run.Message)
			}
			return nil
		},
	}
	storeFlags(cmd)
	pipelineFlags(cmd)
	sandboxFlag(cmd.Flags(), &noSandbox)
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "pipeline parameter key=value (repeatable; lists as a,b,c or JSON)")
	cmd.Flags().StringVar(&resume, "resume", "", "resume the run with this ID: what finished is kept, the rest runs")
	return cmd
}

// progress prints a line per task state change.
func progress(w io.Writer) func(string, pipeline.TaskRun) {
	var mu sync.Mutex
	last := map[string]pipeline.Phase{}
	return func(_ string, t pipeline.TaskRun) {
		mu.Lock()
		defer mu.Unlock()
		if last[t.Node] == t.Phase && t.Phase != pipeline.Pending {
			return
		}
		last[t.Node] = t.Phase
		if t.Phase == pipeline.Pending && t.Message == "" {
			return
		}
		msg := t.Message
		if t.CachedFrom != "" {
			msg = "cached"
		}
		fmt.Fprintf(w, "%s  %-24s %-9s %s\n", time.Now().Format("15:04:05.000"), t.Node, t.Phase, msg)
	}
}

func printPipelineRun(w io.Writer, r *pipeline.Run, asJSON bool) error {
	if asJSON {
		return printJSON(w, wp.ToRun(r))
	}
	fmt.Fprintf(w, "run %s  pipeline %s  %s  %s\n", r.ID, r.Pipeline, r.Phase, r.Message)
	fmt.Fprintf(w, "tracking run %s (experiment %s)\n", r.TrackingRunID, r.ExperimentID)
	var rows [][]string
	for _, t := range r.Tasks {
		phase := string(t.Phase)
		if t.CachedFrom != "" {
			phase += " (cached)"
		}
		dur := "-"
		if !t.Started.IsZero() && !t.Finished.IsZero() {
			dur = t.Finished.Sub(t.Started).Round(time.Millisecond).String()
		}
		var outs []string
		for k, v := range t.Outputs {
			outs = append(outs, k+"="+v)
		}
		rows = append(rows, []string{t.Node, phase, strconv.Itoa(t.Attempts), dur, strings.Join(outs, " "), t.Message})
	}
	return printTable(w, []string{"TASK", "PHASE", "ATTEMPTS", "TIME", "OUTPUTS", "MESSAGE"}, rows)
}

// withEngine runs a command body with an engine over --data or --db.
func withEngine(run func(cmd *cobra.Command, e *pipeline.Engine, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		db, data, log, err := openDB(cmd, false)
		if err != nil {
			return err
		}
		defer db.Close()
		gpus, _ := cmd.Flags().GetInt("gpus")
		e, err := newEngine(db, engineConfig{Data: data, GPUs: gpus, Log: log})
		if err != nil {
			return err
		}
		return run(cmd, e, args)
	}
}

func newPipelinesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "pipelines", Short: "List, inspect, tail and cancel pipeline runs (against --data or --db)"}
	list := &cobra.Command{
		Use: "list", Short: "List pipelines and their latest run", Args: cobra.NoArgs,
		RunE: withEngine(func(cmd *cobra.Command, e *pipeline.Engine, _ []string) error {
			defs, err := e.Store().FindPipelines(cmd.Context())
			if err != nil {
				return err
			}
			var rows [][]string
			var js []wp.Pipeline
			for _, d := range defs {
				runs, err := e.Store().FindPipelineRuns(cmd.Context(), pipeline.RunFilter{Pipeline: d.Name, Limit: 1})
				if err != nil {
					return err
				}
				p := wp.Pipeline{Name: d.Name, File: d.File, Schedule: d.Schedule, CreationTime: d.Created.UnixMilli(), LastUpdateTime: d.Updated.UnixMilli()}
				last := []string{"-", "-", "-"}
				if len(runs) > 0 {
					p.LatestRun = wp.ToRun(runs[0])
					last = []string{runs[0].ID, string(runs[0].Phase), fmtTime(runs[0].Created.UnixMilli())}
				}
				js = append(js, p)
				sched := d.Schedule
				if sched == "" {
					sched = "-"
				}
				rows = append(rows, append([]string{d.Name, sched}, last...))
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]any{"pipelines": js})
			}
			return printTable(cmd.OutOrStdout(), []string{"PIPELINE", "SCHEDULE", "LATEST RUN", "PHASE", "CREATED"}, rows)
		}),
	}
	runs := &cobra.Command{
		Use: "runs [PIPELINE]", Short: "List runs, newest first", Args: cobra.MaximumNArgs(1),
		RunE: withEngine(func(cmd *cobra.Command, e *pipeline.Engine, args []string) error {
			f := pipeline.RunFilter{Limit: 50}
			if len(args) == 1 {
				f.Pipeline = args[0]
			}
			rs, err := e.Store().FindPipelineRuns(cmd.Context(), f)
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				var out []*wp.Run
				for _, r := range rs {
					out = append(out, wp.ToRun(r))
				}
				return printJSON(cmd.OutOrStdout(), map[string]any{"runs": out})
			}
			var rows [][]string
			for _, r := range rs {
				rows = append(rows, []string{r.ID, r.Pipeline, string(r.Phase), r.Trigger, fmtTime(r.Created.UnixMilli()), r.Message})
			}
			return printTable(cmd.OutOrStdout(), []string{"RUN", "PIPELINE", "PHASE", "TRIGGER", "CREATED", "MESSAGE"}, rows)
		}),
	}
	show := &cobra.Command{
		Use: "show RUN_ID", Short: "Show a run with its tasks, phases and outputs", Args: cobra.ExactArgs(1),
		RunE: withEngine(func(cmd *cobra.Command, e *pipeline.Engine, args []string) error {
			r, err := e.Store().FindPipelineRunByID(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printPipelineRun(cmd.OutOrStdout(), r, wantJSON(cmd))
		}),
	}
	var follow bool
	logs := &cobra.Command{
		Use: "logs RUN_ID [TASK]", Short: "Print a task's log (every task's without TASK); -f follows it", Args: cobra.RangeArgs(1, 2),
		RunE: withEngine(func(cmd *cobra.Command, e *pipeline.Engine, args []string) error {
			r, err := e.Store().FindPipelineRunByID(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				for _, t := range r.Tasks {
					if t.LogPath == "" {
						continue
					}
					fmt.Fprintf(out, "==> %s (%s) <==\n", t.Node, t.Phase)
					if _, err := tailLog(cmd.Context(), e, out, r.ID, t.Node, false); err != nil {
						return err
					}
				}
				return nil
			}
			_, err = tailLog(cmd.Context(), e, out, r.ID, args[1], follow)
			return err
		}),
	}
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing until the task ends")
	cancel := &cobra.Command{
		Use: "cancel RUN_ID", Short: "Cancel a run: its running tasks are killed and it ends Failed", Args: cobra.ExactArgs(1),
		RunE: withEngine(func(cmd *cobra.Command, e *pipeline.Engine, args []string) error {
			if err := e.Cancel(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cancel requested for pipeline run %s\n", args[0])
			return nil
		}),
	}
	for _, c := range []*cobra.Command{list, runs, show, logs, cancel} {
		storeFlags(c)
		pipelineFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

// tailLog copies a task's log to w, following it until the task ends when
// follow is set.
func tailLog(ctx context.Context, e *pipeline.Engine, w io.Writer, runID, node string, follow bool) (int64, error) {
	var off int64
	for {
		b, next, t, err := e.ReadLog(ctx, runID, node, off, 1<<20)
		if err != nil {
			return off, err
		}
		if _, err := w.Write(b); err != nil {
			return off, err
		}
		off = next
		if len(b) > 0 {
			continue
		}
		if !follow || t.Phase.Done() {
			return off, nil
		}
		select {
		case <-ctx.Done():
			return off, nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func newStepCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "step", Short: "Built-in pipeline step types"}
	var inputs, inputsJSON string
	exec := &cobra.Command{
		Use:   "exec STEP_ID [--inputs FILE | --inputs-json JSON]",
		Short: "Run one built-in step (what the executor starts for a uses: task)",
		Long: `Run one built-in step with its inputs as a JSON object from --inputs (or stdin).
It writes files to $CAIRN_OUTPUTS_DIR and its output values to $CAIRN_OUTPUTS.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in []byte
			var err error
			switch {
			case inputsJSON != "":
				in = []byte(inputsJSON)
			case inputs == "":
				in, err = io.ReadAll(cmd.InOrStdin())
			default:
				in, err = os.ReadFile(inputs)
			}
			if err != nil {
				return usageError{fmt.Errorf("read inputs: %w", err)}
			}
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			outDir := os.Getenv("CAIRN_OUTPUTS_DIR")
			if outDir == "" {
				outDir = "."
			}
			env := steps.Env{
				InputsDir: os.Getenv("CAIRN_INPUTS_DIR"), OutputsDir: outDir, TrackingURI: os.Getenv("MLFLOW_TRACKING_URI"),
				RunID: os.Getenv("MLFLOW_RUN_ID"), ExperimentID: os.Getenv("MLFLOW_EXPERIMENT_ID"),
				Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(), Logger: log, Environ: os.Environ()}
			if args[0] == "tune.sweep" { // in a pod, its trials may be pods of their own
				var stop func()
				if env.Trials, env.TrialPod, stop = kubeTrials(log); stop != nil {
					defer stop()
				}
			}
			vals, err := steps.Default().Exec(cmd.Context(), args[0], in, env)
			if err != nil {
				return err
			}
			dst := cmd.OutOrStdout()
			if p := os.Getenv("CAIRN_OUTPUTS"); p != "" {
				f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
				if err != nil {
					return fmt.Errorf("write outputs: %w", err)
				}
				defer f.Close()
				dst = f
			}
			return spec.WriteOutputs(dst, vals)
		},
	}
	exec.Flags().StringVar(&inputs, "inputs", "", "JSON file with the step's inputs (default: stdin)")
	exec.Flags().StringVar(&inputsJSON, "inputs-json", "", "the step's inputs as a JSON object, for a container that has no file of them")
	exec.MarkFlagsMutuallyExclusive("inputs", "inputs-json")
	list := &cobra.Command{
		Use: "list", Short: "List the built-in step types", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rows [][]string
			for _, s := range steps.Default().List() {
				info := s
				rows = append(rows, []string{s.ID, s.Version, strings.Join(info.Inputs(), ", "), strings.Join(s.Outputs, ", "), s.Doc})
			}
			return printTable(cmd.OutOrStdout(), []string{"STEP", "VERSION", "INPUTS", "OUTPUTS", "DOC"}, rows)
		},
	}
	cmd.AddCommand(exec, list)
	return cmd
}

// newSandboxCmd is how the engine starts a task in its sandbox: it
// confines itself as $CAIRN_SANDBOX says, then becomes the task.
func newSandboxCmd() *cobra.Command {
	return &cobra.Command{
		Use: "sandbox -- COMMAND [ARG...]", Short: "Run a command confined to a task's sandbox (used by the pipeline engine)",
		Hidden: true, DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && args[0] == "--" {
				args = args[1:]
			}
			return exec.RunSandboxed(args)
		},
	}
}

// newPipelineService wires the server's pipeline service and API.
func newPipelineService(db *meta.DB, c engineConfig) (*pipeline.Service, web.Mounter, error) {
	if c.Data == "" {
		c.Data = DefaultConfig().Data
	}
	e, err := newEngine(db, c)
	if err != nil {
		return nil, nil, err
	}
	wd, _ := os.Getwd()
	if !c.Unsandboxed && exec.SandboxSupported() == 0 {
		c.Log.Warn("this kernel cannot sandbox pipeline tasks (no Landlock): they can read and write everything this server's user can, the database included")
	}
	svc := pipeline.NewService(e, c.Log)
	return svc, wp.NewHandler(svc, wd), nil
}

package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/pipeline"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
	"github.com/cairn-mlops/cairn/internal/steps"
	"github.com/cairn-mlops/cairn/internal/store/meta"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// echoStep is a test helper step: it writes its inputs back as outputs.
type echoStep struct {
	Message string `json:"message"`
	Times   int    `json:"times"`
}

func (s *echoStep) Run(_ context.Context, env steps.Env) (map[string]string, error) {
	fmt.Fprintf(env.Stdout, "echo %s\n", s.Message)
	if err := os.WriteFile(filepath.Join(env.OutputsDir, "message.txt"), []byte(s.Message), 0o644); err != nil {
		return nil, err
	}
	return map[string]string{"message": strings.Repeat(s.Message, max(s.Times, 1)), "run_id": env.RunID}, nil
}

func init() {
	steps.Register(steps.Info{ID: "test.echo", Version: "1", Outputs: []string{"message", "run_id"}, Artifacts: []string{"message.txt"},
		New: func() steps.Step { return &echoStep{} }})
}

// TestMain lets the test binary stand in for cairn: "step exec ID --inputs
// FILE" runs a built-in step, and CAIRN_TEST_EXECUTE=DB,ROOT,RUN executes a
// pipeline run (the process the resume test kills).
func TestMain(m *testing.M) {
	if len(os.Args) > 4 && os.Args[1] == "step" && os.Args[2] == "exec" {
		os.Exit(stepExec(os.Args[3], os.Args[5]))
	}
	if v := os.Getenv("CAIRN_TEST_EXECUTE"); v != "" {
		p := strings.Split(v, ",")
		ctx := context.Background()
		db, err := meta.Open(ctx, p[0], meta.DefaultOptions())
		if err != nil {
			panic(err)
		}
		e := newEngine(db, p[1], nil)
		if _, err := e.Execute(ctx, p[2]); err != nil {
			panic(err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func stepExec(id, inputsFile string) int {
	in, err := os.ReadFile(inputsFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out, err := steps.Default().Exec(context.Background(), id, in, steps.Env{OutputsDir: os.Getenv("CAIRN_OUTPUTS_DIR"),
		RunID: os.Getenv("MLFLOW_RUN_ID"), Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f, err := os.OpenFile(os.Getenv("CAIRN_OUTPUTS"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer f.Close()
	if err := spec.WriteOutputs(f, out); err != nil {
		return 1
	}
	return 0
}

func newEngine(db *meta.DB, root string, tweak func(*pipeline.Options)) *pipeline.Engine {
	opts := pipeline.DefaultOptions()
	opts.Root = root
	opts.Capacity = spec.Resources{CPU: 4, GPU: 2}
	opts.DefaultCPU = 0.25
	opts.StepCommand = []string{os.Args[0], "step", "exec"}
	opts.Environ = []string{"PATH=" + os.Getenv("PATH")}
	opts.Heartbeat = 50 * time.Millisecond
	if tweak != nil {
		tweak(&opts)
	}
	local := exec.NewLocal(exec.LocalOptions{KillGrace: 200 * time.Millisecond})
	e, err := pipeline.NewEngine(db, pipeline.NewServiceTracker(tracking.NewService(db)), local, steps.Default(), opts)
	if err != nil {
		panic(err)
	}
	return e
}

type fixture struct {
	t    *testing.T
	db   *meta.DB
	dir  string
	path string
	e    *pipeline.Engine
}

func setup(t *testing.T, tweak func(*pipeline.Options)) *fixture {
	dir := t.TempDir()
	path := filepath.Join(dir, "cairn.db")
	db, err := meta.Open(context.Background(), path, meta.DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return &fixture{t: t, db: db, dir: dir, path: path, e: newEngine(db, filepath.Join(dir, "pipelines"), tweak)}
}

func (f *fixture) submit(src string, params map[string]any) *pipeline.Run {
	f.t.Helper()
	r, err := f.e.Submit(context.Background(), pipeline.Submission{File: "test.yaml", Source: []byte(src), WorkDir: f.dir, Params: params, Trigger: "test"})
	require.NoError(f.t, err)
	return r
}

func (f *fixture) run(src string, params map[string]any) *pipeline.Run {
	f.t.Helper()
	r := f.submit(src, params)
	got, err := f.e.Execute(context.Background(), r.ID)
	require.NoError(f.t, err)
	return got
}

func tasks(r *pipeline.Run) map[string]*pipeline.TaskRun {
	out := map[string]*pipeline.TaskRun{}
	for _, t := range r.Tasks {
		out[t.Node] = t
	}
	return out
}

func phases(r *pipeline.Run) map[string]pipeline.Phase {
	out := map[string]pipeline.Phase{}
	for _, t := range r.Tasks {
		out[t.Node] = t.Phase
	}
	return out
}

func TestRunPassesOutputsArtifactsAndTracking(t *testing.T) {
	f := setup(t, nil)
	r := f.run(`
name: flow
params:
  who: {type: string, default: world}
tasks:
  hello:
    uses: test.echo
    with: {message: "hi ${{ params.who }}", times: 2}
  count:
    needs: [hello]
    run: |
      test -f "$CAIRN_INPUTS_DIR/hello/message.txt" || exit 9
      echo "n=$(cat "$CAIRN_INPUTS_DIR/hello/message.txt" | wc -c | tr -d ' ')" >> "$CAIRN_OUTPUTS"
      echo "env=$MLFLOW_EXPERIMENT_ID/$MLFLOW_RUN_ID/$CAIRN_TASK" >> "$CAIRN_OUTPUTS"
      echo data > "$CAIRN_OUTPUTS_DIR/model"
    outputs: [n, env]
    artifacts: [model]
  report:
    needs: [count]
    run: echo "got ${{ tasks.hello.outputs.message }} ${{ tasks.count.outputs.n }} at ${{ tasks.count.artifacts.model }}"; echo "line=ok" >> "$CAIRN_OUTPUTS"
    env: {MSG: "${{ tasks.hello.outputs.message }}"}
`, nil)
	require.Equal(t, pipeline.Succeeded, r.Phase, r.Message)
	ts := tasks(r)
	require.Equal(t, "hi worldhi world", ts["hello"].Outputs["message"])
	require.Equal(t, "8", ts["count"].Outputs["n"])
	require.False(t, ts["count"].Started.Before(ts["hello"].Finished), "count starts after hello ends")
	require.Equal(t, 1, ts["count"].Attempts)
	log, err := os.ReadFile(ts["report"].LogPath)
	require.NoError(t, err)
	require.Contains(t, string(log), "succeeded")

	// Each task is a child tracking run of the pipeline run, with its params.
	env := strings.Split(strings.TrimPrefix(ts["count"].Outputs["env"], ""), "/")
	require.Equal(t, []string{r.ExperimentID, ts["count"].TrackingRunID, "count"}, env)
	child, err := f.db.FindRunByID(context.Background(), ts["hello"].TrackingRunID)
	require.NoError(t, err)
	require.Equal(t, tracking.StatusFinished, child.Info.Status)
	tags := map[string]string{}
	for _, tg := range child.Tags {
		tags[tg.Key] = tg.Value
	}
	require.Equal(t, r.TrackingRunID, tags["mlflow.parentRunId"])
	params := map[string]string{}
	for _, p := range child.Params {
		params[p.Key] = p.Value
	}
	require.Equal(t, "hi world", params["message"])
	require.Equal(t, ts["hello"].TrackingRunID, ts["hello"].Outputs["run_id"], "the step saw MLFLOW_RUN_ID")
	parent, err := f.db.FindRunByID(context.Background(), r.TrackingRunID)
	require.NoError(t, err)
	require.Equal(t, tracking.StatusFinished, parent.Info.Status)
	exp, err := f.db.FindExperimentByName(context.Background(), "flow")
	require.NoError(t, err)
	require.Equal(t, exp.ID, r.ExperimentID)
}

func TestFanOutCapsConcurrencyAndAggregates(t *testing.T) {
	f := setup(t, nil)
	marks := filepath.Join(f.dir, "marks")
	r := f.run(`
name: fan
tasks:
  tune:
    for_each: {model: [a, b], lr: [1, 2, 3]}
    concurrency: 2
    run: |
      echo "start $(date +%s%N)" >> `+marks+`
      sleep 0.1
      echo "end $(date +%s%N)" >> `+marks+`
      echo "score=${{ item.model }}${{ item.lr }}" >> "$CAIRN_OUTPUTS"
    outputs: [score]
  pick:
    needs: [tune]
    run: echo 'best=${{ tasks.tune.outputs.score }}' >> "$CAIRN_OUTPUTS"
    outputs: [best]
`, nil)
	require.Equal(t, pipeline.Succeeded, r.Phase, r.Message)
	ts := tasks(r)
	require.Len(t, ts, 8)
	var scores []string
	require.NoError(t, json.Unmarshal([]byte(ts["tune"].Outputs["score"]), &scores))
	require.Equal(t, []string{"a1", "b1", "a2", "b2", "a3", "b3"}, scores, "keys in sorted order, the first varying slowest")
	require.Equal(t, ts["tune"].Outputs["score"], ts["pick"].Outputs["best"])
	require.Equal(t, 2, maxConcurrent(t, marks))
}

// maxConcurrent reads "start/end NANOS" lines and returns the peak overlap.
func maxConcurrent(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	type ev struct {
		at    string
		delta int
	}
	var evs []ev
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		kind, at, _ := strings.Cut(l, " ")
		d := 1
		if kind == "end" {
			d = -1
		}
		evs = append(evs, ev{fmt.Sprintf("%020s", at), d})
	}
	for i := range evs {
		for j := i + 1; j < len(evs); j++ {
			if evs[j].at < evs[i].at || (evs[j].at == evs[i].at && evs[j].delta < evs[i].delta) {
				evs[i], evs[j] = evs[j], evs[i]
			}
		}
	}
	cur, peak := 0, 0
	for _, e := range evs {
		cur += e.delta
		peak = max(peak, cur)
	}
	return peak
}

func TestResourcePacking(t *testing.T) {
	f := setup(t, func(o *pipeline.Options) { o.Capacity = spec.Resources{CPU: 2, GPU: 1} })
	marks := filepath.Join(f.dir, "marks")
	body := `run: echo "start $(date +%s%N)" >> ` + marks + `; sleep 0.15; echo "end $(date +%s%N)" >> ` + marks + `; echo "gpu=$CUDA_VISIBLE_DEVICES" >> "$CAIRN_OUTPUTS"
    outputs: [gpu]`
	r := f.run(`
name: pack
tasks:
  a:
    resources: {cpu: 1}
    `+body+`
  b:
    resources: {cpu: 1}
    `+body+`
  c:
    resources: {cpu: 1.5}
    `+body+`
  g1:
    resources: {cpu: 0.1, gpu: 1}
    `+body+`
`, nil)
	require.Equal(t, pipeline.Succeeded, r.Phase, r.Message)
	require.Equal(t, 2, maxConcurrent(t, marks), "2 CPUs hold a and b, or c and g1, never three")
	ts := tasks(r)
	require.Equal(t, "0", ts["g1"].Outputs["gpu"])
	require.Equal(t, "", ts["a"].Outputs["gpu"], "tasks without a GPU request see none")

	_, err := f.e.Submit(context.Background(), pipeline.Submission{File: "big.yaml", Source: []byte(`
name: big
tasks:
  huge: {run: "true", resources: {cpu: 64, gpu: 4}}
`)})
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.ErrorContains(t, err, `task "huge" requests 64 CPUs; this machine offers 2`)
	require.ErrorContains(t, err, `task "huge" requests 4 GPUs; this machine offers 1`)
}

func TestRetriesWithBackoff(t *testing.T) {
	f := setup(t, nil)
	counter := filepath.Join(f.dir, "count")
	start := time.Now()
	r := f.run(`
name: flaky
tasks:
  flaky:
    run: echo x >> `+counter+`; test $(wc -l < `+counter+`) -ge 3
    retries: {limit: 4, backoff: 100ms, factor: 2, max: 150ms}
  hopeless:
    run: exit 3
    retries: {limit: 1, backoff: 10ms}
  after:
    needs: [hopeless]
    run: "true"
`, nil)
	ts := tasks(r)
	require.Equal(t, pipeline.Succeeded, ts["flaky"].Phase)
	require.Equal(t, 3, ts["flaky"].Attempts)
	require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "waits 100ms then 150ms (capped)")
	require.Equal(t, pipeline.Failed, ts["hopeless"].Phase)
	require.Equal(t, 2, ts["hopeless"].Attempts)
	require.Equal(t, "attempt 2: exit status 3", ts["hopeless"].Message)
	require.Equal(t, pipeline.Omitted, ts["after"].Phase)
	require.Equal(t, pipeline.Failed, r.Phase)
	require.Equal(t, "failed: hopeless", r.Message)
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	f := setup(t, nil)
	start := time.Now()
	r := f.run(`
name: slow
tasks:
  slow:
    run: sleep 30 & sleep 30
    timeout: 300ms
`, nil)
	require.Less(t, time.Since(start), 5*time.Second)
	ts := tasks(r)
	require.Equal(t, pipeline.Failed, ts["slow"].Phase)
	require.Contains(t, ts["slow"].Message, "timed out after 300ms")
}

func TestWhenSkipsAndDownstreamRuns(t *testing.T) {
	f := setup(t, nil)
	r := f.run(`
name: cond
params:
  deploy: false
  threshold: 0.5
tasks:
  eval:
    run: echo "acc=0.93" >> "$CAIRN_OUTPUTS"
    outputs: [acc]
  deploy:
    needs: [eval]
    when: params.deploy && tasks.eval.outputs.acc > params.threshold
    run: "true"
  report:
    needs: [eval]
    when: ${{ tasks.eval.outputs.acc > params.threshold }}
    run: "true"
  after:
    needs: [deploy]
    run: "true"
`, nil)
	require.Equal(t, pipeline.Succeeded, r.Phase, r.Message)
	require.Equal(t, map[string]pipeline.Phase{"eval": pipeline.Succeeded, "deploy": pipeline.Skipped, "report": pipeline.Succeeded,
		"after": pipeline.Succeeded}, phases(r))
}

// TestSkippedOutputsReadEmpty: a spec falls back from a skipped task's
// output to another value, as the reference pipelines do for synthetic data.
func TestSkippedOutputsReadEmpty(t *testing.T) {
	f := setup(t, nil)
	r := f.run(`
name: fallback
params:
  data: /real/data
tasks:
  synth:
    when: ${{ params.data == '' }}
    run: echo "path=/synthetic" >> "$CAIRN_OUTPUTS"
    outputs: [path]
  use:
    needs: [synth]
    run: echo "source=${{ params.data }}${{ tasks.synth.outputs.path }}" >> "$CAIRN_OUTPUTS"
    outputs: [source]
  artifacts:
    needs: [synth]
    run: ls ${{ tasks.synth.artifacts }}
`, nil)
	require.Equal(t, pipeline.Skipped, phases(r)["synth"])
	require.Equal(t, pipeline.Succeeded, phases(r)["use"])
	require.Equal(t, "/real/data", tasks(r)["use"].Outputs["source"])
	require.Equal(t, pipeline.Failed, phases(r)["artifacts"], "a skipped task has no artifacts to point at")
	require.Contains(t, tasks(r)["artifacts"].Message, "was skipped, so it has no artifacts")
}

func TestCancelKillsAndFinishes(t *testing.T) {
	f := setup(t, nil)
	r := f.submit(`
name: long
tasks:
  long: {run: sleep 30}
  next: {needs: [long], run: "true"}
`, nil)
	done := make(chan *pipeline.Run, 1)
	go func() {
		got, _ := f.e.Execute(context.Background(), r.ID)
		done <- got
	}()
	waitPhase(t, f.db, r.ID, "long", pipeline.Running)
	// The task started runs of its own (as a sweep starts trials), which a
	// killed process cannot end.
	ctx := context.Background()
	cur, err := f.db.FindPipelineRunByID(ctx, r.ID)
	require.NoError(t, err)
	svc := tracking.NewService(f.db)
	trial, err := svc.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: cur.ExperimentID,
		Tags: []tracking.Tag{{Key: "mlflow.parentRunId", Value: tasks(cur)["long"].TrackingRunID}}})
	require.NoError(t, err)
	grandchild, err := svc.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: cur.ExperimentID,
		Tags: []tracking.Tag{{Key: "mlflow.parentRunId", Value: trial.Info.RunID}}})
	require.NoError(t, err)
	require.NoError(t, f.e.Cancel(ctx, r.ID))
	var got *pipeline.Run
	select {
	case got = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not stop the run")
	}
	require.Equal(t, pipeline.Cancelled, got.Phase)
	require.Equal(t, "cancelled", got.Message)
	require.Equal(t, map[string]pipeline.Phase{"long": pipeline.Cancelled, "next": pipeline.Omitted}, phases(got))
	for _, id := range []string{got.TrackingRunID, tasks(got)["long"].TrackingRunID, trial.Info.RunID, grandchild.Info.RunID} {
		tr, err := f.db.FindRunByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, tracking.StatusKilled, tr.Info.Status, "every run the pipeline started ends KILLED")
		require.NotZero(t, tr.Info.EndTime)
	}
	require.Equal(t, errs.Conflict, errs.KindOf(f.e.Cancel(context.Background(), r.ID)))
	again, err := f.e.Retry(ctx, r.ID, "")
	require.NoError(t, err, "a cancelled run can be retried")
	require.Equal(t, pipeline.Pending, phases(again)["long"])
}

func waitPhase(t *testing.T, db *meta.DB, runID, node string, want pipeline.Phase) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		r, err := db.FindPipelineRunByID(context.Background(), runID)
		require.NoError(t, err)
		if tasks(r)[node] != nil && tasks(r)[node].Phase == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("task %s never reached %s", node, want)
}

func TestCacheReusesOutputs(t *testing.T) {
	f := setup(t, nil)
	counter := filepath.Join(f.dir, "count")
	src := `
name: cached
params:
  n: 1
tasks:
  prep:
    run: echo x >> ` + counter + `; echo ${{ params.n }} > "$CAIRN_OUTPUTS_DIR/data"; echo "v=${{ params.n }}" >> "$CAIRN_OUTPUTS"
    outputs: [v]
    cache: true
  use:
    needs: [prep]
    run: echo x >> ` + counter + `; cat "$CAIRN_INPUTS_DIR/prep/data"
    cache: true
  always:
    needs: [prep]
    run: echo x >> ` + counter
	first := f.run(src, nil)
	require.Equal(t, pipeline.Succeeded, first.Phase, first.Message)
	second := f.run(src, nil)
	require.Equal(t, pipeline.Succeeded, second.Phase, second.Message)
	ts := tasks(second)
	require.Equal(t, first.ID+"/prep", ts["prep"].CachedFrom)
	require.Equal(t, first.ID+"/use", ts["use"].CachedFrom)
	require.Empty(t, ts["always"].CachedFrom)
	require.Equal(t, "1", ts["prep"].Outputs["v"])
	require.Equal(t, tasks(first)["prep"].OutputDir, ts["prep"].OutputDir)
	tr, err := f.db.FindRunByID(context.Background(), ts["prep"].TrackingRunID)
	require.NoError(t, err)
	require.Contains(t, tr.Tags, tracking.Tag{Key: "cairn.cached", Value: "true"})
	b, _ := os.ReadFile(counter)
	require.Equal(t, 4, strings.Count(string(b), "x"), "second run only ran 'always'")

	third := f.run(src, map[string]any{"n": "2"})
	require.Empty(t, tasks(third)["prep"].CachedFrom, "a new param value misses the cache")
	require.Empty(t, tasks(third)["use"].CachedFrom, "and so does what depends on it")
}

func TestBadCommandsFailClearly(t *testing.T) {
	f := setup(t, func(o *pipeline.Options) { o.StepCommand = []string{"/nonexistent/cairn", "step", "exec"} })
	r := f.run(`
name: bad
tasks:
  fails: {run: "echo boom >&2; exit 4"}
  missing: {run: no-such-command-xyz}
  step: {uses: test.echo, with: {message: hi}}
  bad_outputs:
    run: "echo 'no equals sign' >> $CAIRN_OUTPUTS"
  undeclared:
    run: "true"
    outputs: [acc]
`, nil)
	ts := tasks(r)
	require.Equal(t, pipeline.Failed, r.Phase)
	require.Equal(t, "attempt 1: exit status 4", ts["fails"].Message)
	log, err := os.ReadFile(ts["fails"].LogPath)
	require.NoError(t, err)
	require.Contains(t, string(log), "boom")
	require.Equal(t, "attempt 1: exit status 127 (command not found)", ts["missing"].Message)
	require.Contains(t, ts["step"].Message, "start /nonexistent/cairn")
	require.Contains(t, ts["bad_outputs"].Message, `outputs line 1: expected name=value, got "no equals sign"`)
	require.Contains(t, ts["undeclared"].Message, "did not write declared outputs acc")
	for _, tr := range r.Tasks {
		require.True(t, tr.Phase.Done(), "%s is %s", tr.Node, tr.Phase)
	}

	_, err = f.e.Submit(context.Background(), pipeline.Submission{File: "broken.yaml", Source: []byte("name: [x\n")})
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	runs, err := f.db.FindPipelineRuns(context.Background(), pipeline.RunFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 1, "a rejected spec stores no run")
}

// TestKillMidRunAndResume kills the process executing a run with SIGKILL
// while a task runs, then resumes: the finished task is not run again, the
// interrupted one is, and the run completes.
func TestKillMidRunAndResume(t *testing.T) {
	f := setup(t, nil)
	counter, mark := filepath.Join(f.dir, "a-count"), filepath.Join(f.dir, "b-started")
	r := f.submit(`
name: resumable
tasks:
  a:
    run: echo x >> `+counter+`; echo "v=1" >> "$CAIRN_OUTPUTS"
    outputs: [v]
  b:
    needs: [a]
    run: if [ -f `+mark+` ]; then echo second; else touch `+mark+`; sleep 60; fi
  c:
    needs: [b]
    run: echo "a said ${{ tasks.a.outputs.v }}"
`, nil)
	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CAIRN_TEST_EXECUTE="+f.path+","+filepath.Join(f.dir, "pipelines")+","+r.ID)
	require.NoError(t, cmd.Start())
	var once sync.Once
	wait := func() { once.Do(func() { _ = cmd.Wait() }) }
	t.Cleanup(func() { _ = cmd.Process.Kill(); wait() })
	waitPhase(t, f.db, r.ID, "b", pipeline.Running)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	wait()

	mid, err := f.db.FindPipelineRunByID(context.Background(), r.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.Running, mid.Phase)
	require.Equal(t, map[string]pipeline.Phase{"a": pipeline.Succeeded, "b": pipeline.Running, "c": pipeline.Pending}, phases(mid))

	got, err := f.e.Execute(context.Background(), r.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.Succeeded, got.Phase, got.Message)
	ts := tasks(got)
	require.Equal(t, 1, ts["a"].Attempts)
	require.Equal(t, 2, ts["b"].Attempts)
	b, _ := os.ReadFile(counter)
	require.Equal(t, "x\n", string(b), "a ran once")
	log, _ := os.ReadFile(ts["c"].LogPath)
	require.Contains(t, string(log), "a said 1")

	// Retry re-runs only what failed.
	_, err = f.e.Retry(context.Background(), r.ID, "")
	require.Equal(t, errs.Conflict, errs.KindOf(err))
}

func TestRetryRerunsFailedTasks(t *testing.T) {
	f := setup(t, nil)
	flag := filepath.Join(f.dir, "ok")
	r := f.run(`
name: retry
tasks:
  a: {run: "echo a"}
  b: {needs: [a], run: "test -f `+flag+`"}
  c: {needs: [b], run: "true"}
`, nil)
	require.Equal(t, pipeline.Failed, r.Phase)
	require.NoError(t, os.WriteFile(flag, nil, 0o644))
	_, err := f.e.Retry(context.Background(), r.ID, "")
	require.NoError(t, err)
	got, err := f.e.Execute(context.Background(), r.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.Succeeded, got.Phase, got.Message)
	ts := tasks(got)
	require.Equal(t, 1, ts["a"].Attempts)
	require.Equal(t, 1, ts["b"].Attempts, "a retry starts a fresh budget")
}

// TestResumeKillsOnlyItsOwnProcesses reproduces a restart after a crash
// where the PIDs stored for running tasks may since have been reused: the
// task whose process still runs has its group killed, while a PID that now
// names an unrelated process, or one stored without its start (by an older
// version), is left alone.
func TestResumeKillsOnlyItsOwnProcesses(t *testing.T) {
	self := exec.ProcStart(os.Getpid())
	if self == "" {
		t.Skip("no /proc to tell processes apart")
	}
	boot, _, _ := strings.Cut(self, "/")
	ctx := context.Background()
	start := func() (*osexec.Cmd, chan error) {
		cmd := osexec.Command("sleep", "60")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		require.NoError(t, cmd.Start())
		done, exited := make(chan error, 1), make(chan struct{})
		go func() { done <- cmd.Wait(); close(exited) }()
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
		return cmd, done
	}
	ours, oursDone := start()
	reused, reusedDone := start()
	legacy, legacyDone := start()

	f := setup(t, nil)
	r := f.submit("name: resumed\ntasks:\n  a: {run: \"true\"}\n  b: {run: \"true\"}\n  c: {run: \"true\"}\n", nil)
	run, err := f.db.FindPipelineRunByID(ctx, r.ID)
	require.NoError(t, err)
	ts := tasks(run)
	for node, pid := range map[string]int{"a": ours.Process.Pid, "b": reused.Process.Pid, "c": legacy.Process.Pid} {
		ts[node].Phase, ts[node].PID = pipeline.Running, pid
	}
	ts["a"].PIDStart = exec.ProcStart(ours.Process.Pid)
	ts["b"].PIDStart = boot + "/1" // b's process started at tick 1 and is long gone
	require.NoError(t, f.db.UpdatePipelineRun(ctx, run, ts["a"], ts["b"], ts["c"]))
	stored, err := f.db.FindPipelineRunByID(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, ts["a"].PIDStart, tasks(stored)["a"].PIDStart, "the store keeps the start")

	got, err := f.e.Execute(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.Succeeded, got.Phase, got.Message)
	select {
	case err := <-oursDone:
		require.ErrorContains(t, err, "killed")
	case <-time.After(10 * time.Second):
		t.Fatal("the task's own process survived the resume")
	}
	select {
	case <-reusedDone:
		t.Fatal("the resume killed a process that reused a task's PID")
	case <-legacyDone:
		t.Fatal("the resume killed a PID stored without its start")
	case <-time.After(200 * time.Millisecond):
	}
	require.Empty(t, exec.ProcStart(-1))
}

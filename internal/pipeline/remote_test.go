package pipeline_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/pipeline"
)

// outliving is an executor whose attempts outlive the process: the first
// Execute of task hold's attempt runs until its context ends and leaves the
// attempt running (exec.ErrDetached); the next Execute of that name finds
// it done. Other attempts end at once, having written loss=0.25.
type outliving struct {
	hold    string
	mu      sync.Mutex
	jobs    []exec.Job
	running map[string]bool
	started chan struct{}
}

func (o *outliving) Execute(ctx context.Context, job *exec.Job) exec.Result {
	o.mu.Lock()
	o.jobs = append(o.jobs, *job)
	again := o.running[job.Name] || job.Labels[exec.LabelTask] != o.hold
	o.running[job.Name] = true
	o.mu.Unlock()
	if again {
		return exec.Result{Outputs: []byte("loss=0.25\n")}
	}
	job.Started(0)
	close(o.started)
	<-ctx.Done()
	return exec.Result{ExitCode: -1, Canceled: true, Err: exec.ErrDetached}
}

func TestRemoteAttemptIsAttachedToAfterRestart(t *testing.T) {
	remote := &outliving{hold: "train", running: map[string]bool{}, started: make(chan struct{})}
	withRemote := func(o *pipeline.Options) {
		o.Remote = map[string]*pipeline.RemoteExecutor{"kubernetes": {Executor: remote, StepCommand: []string{"/usr/local/bin/cairn", "step", "exec"},
			Environ: []string{"HOME=/data"}, TrackingURI: "http://cairn.ml.svc:5000",
			Root: "/cairn", OutputsFile: "/dev/termination-log", Wrapper: []string{"/cairn/bin/cairn", "pod", "run", "--"},
			Init: []string{"/usr/local/bin/cairn", "pod", "install", "/cairn/bin"}, ServiceAccounts: []string{"tasks"}}}
	}
	f := setup(t, withRemote)
	r := f.submit(`
name: on-a-cluster
executor: kubernetes
kubernetes: {node_selector: {pool: train}, service_account: tasks}
tasks:
  train:
    run: python train.py
    image: python:3.11
    resources: {cpu: 3, memory: 1Gi, gpu: 1}
    outputs: [loss]
    kubernetes:
      tolerations: [{key: nvidia.com/gpu, operator: Exists}]
  report:
    needs: [train]
    run: echo "loss ${{ tasks.train.outputs.loss }}"
`, nil)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan *pipeline.Run)
	go func() {
		got, _ := f.e.Execute(ctx, r.ID)
		done <- got
	}()
	<-remote.started
	stop() // the server shuts down
	mid := <-done
	require.Equal(t, pipeline.Running, mid.Phase, "interrupted, to be resumed")
	train := tasks(mid)["train"]
	require.Equal(t, pipeline.Running, train.Phase, "its attempt runs on")
	require.Equal(t, 1, train.Attempts)

	// A new server resumes the run and attaches to the same attempt.
	f.e = newEngine(f.db, f.dir+"/pipelines", withRemote)
	got, err := f.e.Execute(context.Background(), r.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.Succeeded, got.Phase, got.Message)
	require.Equal(t, 1, tasks(got)["train"].Attempts, "attached, not run again")
	require.Len(t, remote.jobs, 3)
	first, second, report := remote.jobs[0], remote.jobs[1], remote.jobs[2]
	wrap := []string{"/cairn/bin/cairn", "pod", "run", "--"}
	require.Equal(t, append(wrap, "sh", "-c", `echo "loss 0.25"`), report.Args, "the value came back from the container")
	var files map[string]any
	for _, e := range report.Env {
		if v, ok := strings.CutPrefix(e, "CAIRN_TASK_FILES="); ok {
			require.NoError(t, json.Unmarshal([]byte(v), &files))
		}
	}
	require.Equal(t, "/cairn/tasks/report/out", files["outputs"])
	require.Equal(t, "/cairn", files["root"])
	require.Equal(t, []any{map[string]any{"run_id": tasks(got)["train"].TrackingRunID, "dir": "/cairn/tasks/train/out", "link": "/cairn/in/train"}},
		files["inputs"], "train's files come from its tracking run to the path train wrote them at")
	require.Contains(t, report.Env, "CAIRN_DATA_DIR=/cairn/tasks/report/out/.cairn-data")
	require.Equal(t, first.Name, second.Name)
	require.Equal(t, r.ID+"/train/1", first.Name)
	require.Equal(t, map[string]string{exec.LabelRun: r.ID, exec.LabelTask: "train", exec.LabelAttempt: "1"}, first.Labels)
	require.Equal(t, "python:3.11", first.Image)
	require.Equal(t, append(wrap, "sh", "-c", "python train.py"), first.Args)
	require.Equal(t, []string{"/usr/local/bin/cairn", "pod", "install", "/cairn/bin"}, first.Init)
	require.Equal(t, exec.Resources{CPU: 3, Memory: 1 << 30, GPU: 1}, first.Resources, "the cluster packs, not this machine's 4 CPUs and 2 GPUs")
	require.Equal(t, exec.Placement{NodeSelector: map[string]string{"pool": "train"}, ServiceAccount: "tasks",
		Tolerations: []exec.Toleration{{Key: "nvidia.com/gpu", Operator: "Exists"}}}, first.Placement)
	require.Empty(t, first.Dir, "no folder of this machine")
	require.Equal(t, []string{"/cairn"}, first.Scratch)
	require.Equal(t, "/dev/termination-log", first.OutputsFile)
	require.Contains(t, first.Env, "CAIRN_OUTPUTS=/dev/termination-log")
	require.Contains(t, first.Env, "CAIRN_OUTPUTS_DIR=/cairn/tasks/train/out")
	require.Contains(t, first.Env, "CAIRN_INPUTS_DIR=/cairn/in")
	require.Contains(t, first.Env, "MLFLOW_TRACKING_URI=http://cairn.ml.svc:5000")
	require.Contains(t, first.Env, "HOME=/data")
	for _, e := range first.Env {
		require.NotContains(t, e, "CUDA_VISIBLE_DEVICES", "the cluster gives the pod its GPUs")
		require.NotContains(t, e, "PATH=", "the image's environment, not this process's")
	}
}

func TestRemoteStepsGetTheirInputsInline(t *testing.T) {
	remote := &outliving{running: map[string]bool{}, started: make(chan struct{})}
	f := setup(t, func(o *pipeline.Options) {
		o.DefaultExecutor = "kubernetes"
		o.Remote = map[string]*pipeline.RemoteExecutor{"kubernetes": {Executor: remote, StepCommand: []string{"/usr/local/bin/cairn", "step", "exec"},
			Root: "/cairn", OutputsFile: "/dev/termination-log", Wrapper: []string{"/cairn/bin/cairn", "pod", "run", "--"}}}
	})
	r := f.submit(`
name: promote-on-a-cluster
tasks:
  promote:
    uses: registry.promote
    with: {name: m, runs: "abc", metric: acc}
`, nil)
	_, err := f.e.Execute(context.Background(), r.ID)
	require.NoError(t, err)
	require.Len(t, remote.jobs, 1)
	args := remote.jobs[0].Args
	require.Equal(t, []string{"/cairn/bin/cairn", "pod", "run", "--", "/usr/local/bin/cairn", "step", "exec", "registry.promote", "--inputs-json"}, args[:9])
	require.JSONEq(t, `{"name": "m", "runs": "abc", "metric": "acc"}`, args[9])
}

func TestRemoteArtifactReferencesAreContainerPaths(t *testing.T) {
	remote := &outliving{running: map[string]bool{}, started: make(chan struct{})}
	f := setup(t, func(o *pipeline.Options) {
		o.DefaultExecutor = "kubernetes"
		o.Remote = map[string]*pipeline.RemoteExecutor{"kubernetes": {Executor: remote, StepCommand: []string{"cairn", "step", "exec"},
			Root: "/cairn", OutputsFile: "/dev/termination-log", Wrapper: []string{"cairn", "pod", "run", "--"}}}
	})
	r := f.submit(`
name: files
tasks:
  make:
    run: echo
    artifacts: [model]
    outputs: [loss]
    cache: true
  fan:
    for_each: [1, 2]
    run: echo
    outputs: [loss]
  use:
    needs: [make, fan]
    run: ls ${{ tasks.make.artifacts.model }} ${{ tasks.fan.artifacts }}
`, nil)
	got, err := f.e.Execute(context.Background(), r.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.Succeeded, got.Phase, got.Message)
	var use exec.Job
	for _, j := range remote.jobs {
		if j.Labels[exec.LabelTask] == "use" {
			use = j
		}
	}
	require.Equal(t, `ls /cairn/tasks/make/out/model ["/cairn/tasks/fan[0]/out","/cairn/tasks/fan[1]/out"]`, use.Args[len(use.Args)-1])
	require.Len(t, remote.jobs, 4)

	// Cached tasks run again on a remote executor: their files are in the run that made them.
	r = f.submit(`
name: files
tasks:
  make:
    run: echo
    artifacts: [model]
    outputs: [loss]
    cache: true
`, nil)
	got, err = f.e.Execute(context.Background(), r.ID)
	require.NoError(t, err)
	require.Empty(t, tasks(got)["make"].CachedFrom)
	require.Len(t, remote.jobs, 5)
}

func TestServiceAccountsAreTheOperators(t *testing.T) {
	f := setup(t, func(o *pipeline.Options) {
		o.Remote = map[string]*pipeline.RemoteExecutor{"kubernetes": {Executor: &outliving{}, StepCommand: []string{"cairn", "step", "exec"},
			Root: "/cairn", OutputsFile: "/dev/termination-log", Wrapper: []string{"cairn", "pod", "run", "--"}, ServiceAccounts: []string{"cairn-trials"}}}
	})
	submit := func(src string) error {
		_, err := f.e.Submit(context.Background(), pipeline.Submission{File: "sa.yaml", Source: []byte(src)})
		return err
	}
	require.NoError(t, submit(`
name: ok
executor: kubernetes
tasks:
  a: {run: echo, kubernetes: {service_account: cairn-trials}}
`))
	err := submit(`
name: grab
executor: kubernetes
kubernetes: {service_account: cairn}
tasks:
  a: {run: echo}
  b: {run: echo, kubernetes: {service_account: cairn-trials}}
`)
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err))
	require.EqualError(t, err, `pipeline grab: task "a" asks for service account "cairn"; on this server cairn-trials are allowed (--kube-service-accounts)`,
		"the server's own account, with rights to every run's Secrets, is not a task's to take")
}

func TestUnknownExecutorIsRefusedAtSubmit(t *testing.T) {
	f := setup(t, nil)
	_, err := f.e.Submit(context.Background(), pipeline.Submission{File: "k.yaml", Source: []byte(`
name: on-a-cluster
executor: kubernetes
tasks:
  a: {run: echo}
`)})
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.EqualError(t, err, `pipeline on-a-cluster runs on executor "kubernetes", which this server does not have (start it with --executor kubernetes, or give kubernetes: in its config file)`)
}

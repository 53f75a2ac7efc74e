package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/image"
	"github.com/cairn-mlops/cairn/internal/k8s"
	"github.com/cairn-mlops/cairn/internal/k8s/k8stest"
)

// pipelineRun is what the runs/get API says of a run.
type pipelineRun struct {
	Phase   string `json:"phase"`
	Message string `json:"message"`
	Tasks   []struct {
		Node     string            `json:"node"`
		Phase    string            `json:"phase"`
		Outputs  map[string]string `json:"outputs"`
		Message  string            `json:"message"`
		Attempts int               `json:"attempts"`
	} `json:"tasks"`
}

func (r pipelineRun) task(node string) (phase, message string, attempts int) {
	for _, t := range r.Tasks {
		if t.Node == node {
			return t.Phase, t.Message, t.Attempts
		}
	}
	return "", "", 0
}

type kubeServer struct {
	t   *testing.T
	c   *client.Client
	url string
}

func kubeServerConfig(t *testing.T, cluster *k8stest.Cluster, data string) Config {
	cfg := DefaultConfig()
	cfg.Data, cfg.Addr = data, "127.0.0.1:0"
	cfg.Executor = "kubernetes"
	cfg.Kube = kubeConfig{Kubeconfig: cluster.Kubeconfig, Namespace: "default", Image: "cairn:test", ServerURL: "http://10.0.0.1:5000"}
	return cfg
}

func (s *kubeServer) submit(spec string) string { return s.submitWith(spec, nil) }

func (s *kubeServer) submitWith(spec string, params map[string]any) string {
	var sub struct {
		Run struct {
			RunID string `json:"run_id"`
		} `json:"run"`
	}
	require.NoError(s.t, s.c.Do(context.Background(), "POST", "/api/2.0/cairn/pipelines/runs/submit", map[string]any{"spec": spec, "params": params}, &sub))
	return sub.Run.RunID
}

func (s *kubeServer) get(id string) pipelineRun {
	var got struct {
		Run pipelineRun `json:"run"`
	}
	require.NoError(s.t, s.c.Do(context.Background(), "GET", "/api/2.0/cairn/pipelines/runs/get?run_id="+id, nil, &got))
	return got.Run
}

func (s *kubeServer) wait(id string, done func(pipelineRun) bool) pipelineRun {
	var r pipelineRun
	require.Eventually(s.t, func() bool {
		r = s.get(id)
		return done(r)
	}, 90*time.Second, 100*time.Millisecond)
	return r
}

func (s *kubeServer) log(id, task string) string {
	var logs struct {
		Data string `json:"data"`
	}
	require.NoError(s.t, s.c.Do(context.Background(), "GET", "/api/2.0/cairn/pipelines/runs/logs?run_id="+id+"&task="+task, nil, &logs))
	return logs.Data
}

func ended(r pipelineRun) bool {
	return r.Phase == "Succeeded" || r.Phase == "Failed" || r.Phase == "Cancelled"
}

func startKubeServer(t *testing.T, cfg Config) (*kubeServer, context.CancelFunc) {
	url, stop, _ := startServer(t, cfg)
	c, err := client.New(url, client.DefaultOptions())
	require.NoError(t, err)
	return &kubeServer{t: t, c: c, url: url}, stop
}

// TestPipelinesOnKubernetes runs pipelines with --executor kubernetes on a
// control plane whose KWOK node plays the pods' parts: each attempt is a
// Job, retries are the engine's, a cancel deletes the Jobs, and a server
// that stops mid-run leaves its Jobs running for the next one to attach to.
func TestPipelinesOnKubernetes(t *testing.T) {
	cluster := k8stest.Start(t)
	data := t.TempDir()
	s, stop := startKubeServer(t, kubeServerConfig(t, cluster, data))

	id := s.submit(`
name: on-kwok
tasks:
  a:
    run: echo "n=7" >> "$CAIRN_OUTPUTS"
    outputs: [n]
    env: {KWOK_OUTPUTS: "n=7\n"}
  flaky:
    needs: [a]
    run: exit 3
    env: {KWOK_EXIT_CODE: "3"}
    retries: {limit: 1, backoff: 100ms}
  b:
    needs: [a]
    run: python -c 'print(1)'
    image: python:3.11
`)
	r := s.wait(id, ended)
	require.Equal(t, "Failed", r.Phase)
	phase, msg, attempts := r.task("flaky")
	require.Equal(t, "Failed", phase)
	require.Equal(t, "attempt 2: exit status 3", msg)
	require.Equal(t, 2, attempts, "the engine retried: a second Job")
	for _, n := range []string{"a", "b"} {
		phase, msg, _ := r.task(n)
		require.Equal(t, "Succeeded", phase, "%s: %s", n, msg)
	}
	for _, tk := range r.Tasks {
		if tk.Node == "a" {
			require.Equal(t, map[string]string{"n": "7"}, tk.Outputs, "the value came back as the pod's termination message")
		}
	}
	log := s.log(id, "a")
	require.Contains(t, log, "=== Kubernetes Job default/cairn-a-")
	require.Contains(t, log, "image cairn:test")
	require.Contains(t, log, k8stest.LogLine)
	require.Contains(t, s.log(id, "b"), "image python:3.11")
	require.Eventually(t, func() bool { return len(kubeJobs(t, cluster)) == 0 }, 30*time.Second, 100*time.Millisecond, "finished attempts' Jobs are deleted")

	// Cancelled while running: the Job goes.
	id = s.submit(`
name: cancel-me
tasks:
  long: {run: sleep 600, env: {KWOK_RUN_FOR: "600s"}}
`)
	s.wait(id, func(r pipelineRun) bool { p, _, _ := r.task("long"); return p == "Running" })
	require.Len(t, kubeJobs(t, cluster), 1)
	require.NoError(t, s.c.Do(context.Background(), "POST", "/api/2.0/cairn/pipelines/runs/cancel", map[string]any{"run_id": id}, nil))
	r = s.wait(id, ended)
	require.Equal(t, "Cancelled", r.Phase, r.Message)
	require.Empty(t, kubeJobs(t, cluster), "cancel deletes the Job before the run reads as ended")

	// The server stops while a task runs; the next server attaches to its Job.
	id = s.submit(`
name: outlives-the-server
tasks:
  train: {run: train, env: {KWOK_RUN_FOR: "5s"}}
  after: {needs: [train], run: echo after}
`)
	s.wait(id, func(r pipelineRun) bool { p, _, _ := r.task("train"); return p == "Running" })
	stop()
	time.Sleep(200 * time.Millisecond)
	js := kubeJobs(t, cluster)
	require.Len(t, js, 1, "the Job runs on without the server")
	require.Equal(t, "train", js[0].Labels[k8s.LabelTask])
	require.Equal(t, id, js[0].Labels[k8s.LabelRun])
	require.Equal(t, "1", js[0].Labels[k8s.LabelAttempt])

	s, _ = startKubeServer(t, kubeServerConfig(t, cluster, data))
	r = s.wait(id, ended)
	require.Equal(t, "Succeeded", r.Phase, r.Message)
	_, _, attempts = r.task("train")
	require.Equal(t, 1, attempts, "attached to, not run again")
	log = s.log(id, "train")
	require.Contains(t, log, "=== attached to Kubernetes Job default/"+js[0].Name)
	require.Equal(t, 1, strings.Count(log, "=== Kubernetes Job "), log)
}

// TestKubernetesFlags checks the executor's settings.
func TestKubernetesFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--executor", "slurm"}, `invalid --executor "slurm": local or kubernetes`},
		{[]string{"--executor", "kubernetes"}, "--executor kubernetes needs --kube-image"},
		{[]string{"--kube-image", "cairn:1"}, "needs --kube-server-url"},
		{[]string{"--kube-image", "cairn:1", "--kube-server-url", "ftp://x"}, `invalid --kube-server-url "ftp://x"`},
		{[]string{"--kube-image", "cairn:1", "--kube-server-url", "http://cairn:5000", "--kubeconfig", "/nonexistent/kubeconfig"}, "kubernetes executor: kubeconfig:"},
	} {
		_, err := run(t, append([]string{"server", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, tc.args...)...)
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
	require.Equal(t, image.BinaryPath, imageBinary)
	require.Equal(t, image.DataDir, imageDataDir)
}

func kubeJobs(t *testing.T, c *k8stest.Cluster) []metav1.ObjectMeta {
	l, err := c.Client.BatchV1().Jobs("default").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	var out []metav1.ObjectMeta
	for _, j := range l.Items {
		if j.DeletionTimestamp == nil {
			out = append(out, j.ObjectMeta)
		}
	}
	return out
}

// TestTitanicOnARealNode runs the Titanic workload with --executor
// kubernetes on a real kubelet with containerd, in Cairn's own image: one
// pod synthesizes, prepares and trains (its steps chained by the built-in
// shell, since files do not travel between pods), then a pod evaluates,
// one registers the model and one deploys it, which this server then
// serves. A failing task and an OOMKilled one are reported with why.
func TestTitanicOnARealNode(t *testing.T) {
	if why := k8stest.RealNodeMissing(); why != "" {
		if os.Getenv("CAIRN_K8S_REQUIRE") == "1" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	const ref = "cairn.test/cairn:1"
	cluster := k8stest.StartRealNode(t, k8stest.CairnImage(t, t.TempDir(), ref))
	l, err := net.Listen("tcp", k8stest.NodeIP+":0") // where the pods reach this server
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	cfg := kubeServerConfig(t, cluster, t.TempDir())
	cfg.Addr, cfg.Kube.Image, cfg.Kube.ServerURL = addr, ref, "http://"+addr
	s, _ := startKubeServer(t, cfg)

	id := s.submit(`
name: titanic-on-a-node
tasks:
  train:
    run: |
      CAIRN_OUTPUTS=/tmp/synth cairn step exec data.synth --inputs-json '{"kind": "titanic", "n": 300}'
      while IFS='=' read -r k v; do [ "$k" = path ] && src=$v; done < /tmp/synth
      CAIRN_OUTPUTS=/tmp/prepare cairn step exec data.csv --inputs-json "{\"source\": \"$src\", \"preset\": \"titanic\"}"
      while IFS='=' read -r k v; do [ "$k" = dataset ] && ds=$v; done < /tmp/prepare
      cairn step exec train.tabular --inputs-json "{\"dataset\": \"$ds\", \"epochs\": 5, \"model\": \"logistic\"}"
    outputs: [run_id, val_accuracy, model_uri]
    resources: {cpu: 1, memory: 1Gi}
  evaluate:
    needs: [train]
    run: echo "passed=${{ tasks.train.outputs.val_accuracy >= 0 }}" >> "$CAIRN_OUTPUTS"
    outputs: [passed]
  register:
    needs: [train, evaluate]
    when: ${{ tasks.evaluate.outputs.passed == 'true' }}
    uses: registry.promote
    with: {name: titanic-node, runs: "${{ tasks.train.outputs.run_id }}", metric: best_val_accuracy, alias: champion}
  deploy:
    needs: [register]
    uses: serve.deploy
    with: {name: titanic-node, model: "models:/titanic-node@champion"}
  fails:
    run: echo "about to fail"; exit 4
  oom:
    run: x=0123456789abcdef; while :; do x="$x$x"; done
    resources: {memory: 48Mi}
`)
	r := s.wait(id, ended)
	for _, n := range []string{"train", "evaluate", "register", "deploy"} {
		phase, msg, _ := r.task(n)
		require.Equal(t, "Succeeded", phase, "%s: %s\n%s", n, msg, s.log(id, n))
	}
	_, msg, _ := r.task("fails")
	require.Equal(t, "attempt 1: exit status 4", msg)
	require.Contains(t, s.log(id, "fails"), "about to fail\n")
	_, msg, _ = r.task("oom")
	require.Equal(t, "attempt 1: OOMKilled: the task went over its memory limit of 48Mi (exit status 137)", msg)

	log := s.log(id, "train")
	require.Contains(t, log, "image "+ref)
	var runID string
	for _, tk := range r.Tasks {
		if tk.Node == "train" {
			runID = tk.Outputs["run_id"]
		}
	}
	require.NotEmpty(t, runID)
	var got struct {
		Run struct {
			Data struct {
				Metrics []struct{ Key string } `json:"metrics"`
			} `json:"data"`
		} `json:"run"`
	}
	require.NoError(t, s.c.Do(context.Background(), "GET", "/api/2.0/mlflow/runs/get?run_id="+runID, nil, &got))
	var keys []string
	for _, m := range got.Run.Data.Metrics {
		keys = append(keys, m.Key)
	}
	require.Contains(t, keys, "best_val_accuracy", "the pod logged its training to the server")

	passenger := `{"PassengerId": 892, "Name": "Kelly, Mr. James", "Pclass": 3, "Age": 34.5, "SibSp": 0, "Parch": 0, "Fare": 7.8292, "Sex": "male", "Embarked": "Q"}`
	pr := post(t, s.url+"/serve/titanic-node/predict", passenger)
	require.Equal(t, 200, pr.code, pr.raw)
	require.Contains(t, []any{0.0, 1.0}, pr.body["Survived"])
}

// TestReferencePipelinesOnARealNode runs both reference pipelines, as they
// are in examples/, with --executor kubernetes on a real node: every task a
// pod of Cairn's image, the files between them (synthetic data, prepared
// datasets) through this server, the fingers sweep's trials in its pod, the
// models registered and served by this server.
func TestReferencePipelinesOnARealNode(t *testing.T) {
	if why := k8stest.RealNodeMissing(); why != "" {
		if os.Getenv("CAIRN_K8S_REQUIRE") == "1" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	const ref = "cairn.test/cairn:1"
	cluster := k8stest.StartRealNode(t, k8stest.CairnImage(t, t.TempDir(), ref))
	l, err := net.Listen("tcp", k8stest.NodeIP+":0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	cfg := kubeServerConfig(t, cluster, t.TempDir())
	cfg.Addr, cfg.Kube.Image, cfg.Kube.ServerURL = addr, ref, "http://"+addr
	s, _ := startKubeServer(t, cfg)
	for _, tc := range []struct {
		name   string
		params map[string]any
	}{
		{"titanic", map[string]any{"synthetic_rows": 300, "epochs": 30, "cv": 2, "min_accuracy": 0}},
		{"fingers", map[string]any{"synthetic_images": 48, "size": 16, "epochs": 1}},
	} {
		src, err := os.ReadFile(filepath.Join("..", "..", "examples", tc.name, "pipeline.yaml"))
		require.NoError(t, err)
		start := time.Now()
		id := s.submitWith(string(src), tc.params)
		r := s.wait(id, ended)
		t.Logf("%s on the real node: %s in %s", tc.name, r.Phase, time.Since(start).Round(100*time.Millisecond))
		for _, tk := range r.Tasks {
			require.Contains(t, []string{"Succeeded", "Skipped"}, tk.Phase, "%s %s: %s\n%s", tc.name, tk.Node, tk.Message, s.log(id, tk.Node))
		}
		require.Equal(t, "Succeeded", r.Phase, r.Message)
		require.Contains(t, s.log(id, "prepare"), "=== fetched the files of run", "the synthetic data came from the synth task's run")
	}
	passenger := `{"PassengerId": 892, "Name": "Kelly, Mr. James", "Pclass": 3, "Age": 34.5, "SibSp": 0, "Parch": 0, "Fare": 7.8292, "Sex": "male", "Embarked": "Q"}`
	pr := post(t, s.url+"/serve/titanic/predict", passenger)
	require.Equal(t, 200, pr.code, pr.raw)
}

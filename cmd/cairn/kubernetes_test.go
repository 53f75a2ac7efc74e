package main

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/cairn-mlops/cairn/internal/client"
	cexec "github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/image"
	"github.com/cairn-mlops/cairn/internal/jobs"
	"github.com/cairn-mlops/cairn/internal/k8s"
	"github.com/cairn-mlops/cairn/internal/k8s/k8stest"
	"github.com/cairn-mlops/cairn/internal/tune"
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

// wait polls the run until done says so, for up to 5 minutes (a real node
// on 2 busy cores can be slow), and fails with every task's state if not.
func (s *kubeServer) wait(id string, done func(pipelineRun) bool) pipelineRun {
	s.t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		r := s.get(id)
		if done(r) {
			return r
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, tk := range r.Tasks {
				fmt.Fprintf(&b, "\n%s %s (%d attempts): %s\n%s", tk.Node, tk.Phase, tk.Attempts, tk.Message, s.log(id, tk.Node))
			}
			s.t.Fatalf("run %s is %s after 5 minutes: %s%s", id, r.Phase, r.Message, b.String())
		}
	}
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
		{[]string{"--kube-image", "cairn:1", "--kube-server-url", "http://x", "--kube-pending-timeout", "10ms"}, "invalid --kube-pending-timeout 10ms: at least 1s"},
		{[]string{"--kube-image", "cairn:1", "--kube-server-url", "http://cairn:5000", "--kubeconfig", "/nonexistent/kubeconfig"}, "kubernetes executor: kubeconfig:"},
	} {
		_, err := run(t, append([]string{"server", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, tc.args...)...)
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
	cfg := DefaultConfig()
	cfg.Kube = kubeConfig{Image: "cairn:1", ServerURL: "http://cairn.ml.svc:5000"}
	require.NoError(t, cfg.Validate())
	require.Equal(t, []string{"cairn.ml.svc"}, cfg.Guard.Hosts, "task pods call the server by that name: the Host guard lets them")
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

// TestReferencePipelinesOnARealNode runs both reference pipelines, as they
// are in examples/, with --executor kubernetes on a real node: every task a
// pod of Cairn's image, the files between them (synthetic data, prepared
// datasets) through this server, the fingers sweep's trials in its pod, the
// models registered and served by this server.
func TestReferencePipelinesOnARealNode(t *testing.T) {
	const ref = k8stest.CairnRef
	cluster := k8stest.StartRealNodeWithCairn(t)
	addr := fmt.Sprintf("%s:%d", k8stest.NodeIP, k8stest.NodePort(t))
	cfg := kubeServerConfig(t, cluster, t.TempDir())
	cfg.Addr, cfg.Kube.Image, cfg.Kube.ServerURL = addr, ref, "http://"+addr
	cfg.Kube.ServiceAccounts = []string{"trials"} // the sweep starts its trials with it
	s, _ := startKubeServer(t, cfg)
	// The sweep's pod may start its trials as Jobs: a service account, and
	// (no kube-proxy here) the API's address.
	api, err := neturl.Parse(cluster.Config.Host)
	require.NoError(t, err)
	_, err = cluster.Client.CoreV1().ServiceAccounts("default").Create(context.Background(),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "trials"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	trialJobs := watchTrialJobs(t, cluster)
	for _, tc := range []struct {
		name   string
		params map[string]any
	}{
		{"titanic", map[string]any{"synthetic_rows": 300, "epochs": 30, "cv": 2, "min_accuracy": 0}},
		{"fingers", map[string]any{"synthetic_images": 48, "size": 16, "epochs": 1}},
	} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", tc.name, "pipeline.yaml"))
		require.NoError(t, err)
		// Its pod only waits for the trials' pods, which need this 2-core
		// node's CPUs themselves.
		src := strings.Replace(string(b), "    resources: {cpu: 2}\n  promote:", fmt.Sprintf("    resources: {cpu: 0.2}\n"+
			"    kubernetes: {service_account: trials}\n    env: {KUBERNETES_SERVICE_HOST: %q, KUBERNETES_SERVICE_PORT: %q}\n  promote:",
			api.Hostname(), api.Port()), 1)
		start := time.Now()
		id := s.submitWith(src, tc.params)
		r := s.wait(id, ended)
		t.Logf("%s on the real node: %s in %s", tc.name, r.Phase, time.Since(start).Round(100*time.Millisecond))
		for _, tk := range r.Tasks {
			require.Contains(t, []string{"Succeeded", "Skipped"}, tk.Phase, "%s %s: %s\n%s", tc.name, tk.Node, tk.Message, s.log(id, tk.Node))
		}
		require.Equal(t, "Succeeded", r.Phase, r.Message)
		require.Contains(t, s.log(id, "prepare"), "=== fetched the files of run", "the synthetic data came from the synth task's run")
	}
	// data.images split over an Indexed Job merges into what one pod makes.
	id := s.submit(shardedSpec)
	r := s.wait(id, ended)
	for _, tk := range r.Tasks {
		require.Equal(t, "Succeeded", tk.Phase, "%s: %s\n%s", tk.Node, tk.Message, s.log(id, tk.Node))
	}
	outputs := map[string]map[string]string{}
	for _, tk := range r.Tasks {
		outputs[tk.Node] = tk.Outputs
	}
	require.Equal(t, outputs["whole"]["hash"], outputs["split"]["hash"], "the same dataset")
	require.Equal(t, "96", outputs["split"]["count"])
	log := s.log(id, "split")
	for _, want := range []string{"[shard 0] shard 0 of 2: images 0 to 48 of 96", "[shard 1] shard 1 of 2: images 48 to 96 of 96",
		"merged 2 shards: dataset", "=== fetched the files of run"} {
		require.Contains(t, log, want)
	}
	passenger := `{"PassengerId": 892, "Name": "Kelly, Mr. James", "Pclass": 3, "Age": 34.5, "SibSp": 0, "Parch": 0, "Fare": 7.8292, "Sex": "male", "Embarked": "Q"}`
	pr := post(t, s.url+"/serve/titanic/predict", passenger)
	require.Equal(t, 200, pr.code, pr.raw)
	require.Len(t, trialJobs(), 8, "each of the sweep's 8 trials ran as a Job of its own")
}

const shardedSpec = `
name: sharded
tasks:
  synth:
    uses: data.synth
    with: {kind: fingers, n: 96, size: 32}
  split:
    needs: [synth]
    uses: data.images
    shards: 2
    with: {source: "${{ tasks.synth.outputs.path }}", size: 16}
    resources: {cpu: 0.5}
  whole:
    needs: [synth]
    uses: data.images
    with: {source: "${{ tasks.synth.outputs.path }}", size: 16}
    resources: {cpu: 0.5}
`

// TestShardSpeedOnARealNode measures data.images with 1, 2 and 4 shards on
// the real node, preparing the fingers images of ../shared/data (4,800
// 128x128 PNGs, downloaded by every pod as a zip from this machine, as a
// cluster would read them from a store). Set CAIRN_BENCH_SHARDS=1 to run
// it; it reports times, it asserts none.
func TestShardSpeedOnARealNode(t *testing.T) {
	if os.Getenv("CAIRN_BENCH_SHARDS") == "" {
		t.Skip("a measurement: set CAIRN_BENCH_SHARDS=1 to run it")
	}
	zipPath, sum := zipFolder(t, filepath.Join("..", "..", "..", "shared", "data", "fingers"))
	cluster := k8stest.StartRealNodeWithCairn(t)
	addr := fmt.Sprintf("%s:%d", k8stest.NodeIP, k8stest.NodePort(t))
	cfg := kubeServerConfig(t, cluster, t.TempDir())
	cfg.Addr, cfg.Kube.Image, cfg.Kube.ServerURL = addr, k8stest.CairnRef, "http://"+addr
	s, _ := startKubeServer(t, cfg)
	files := &http.Server{Addr: fmt.Sprintf("%s:%d", k8stest.NodeIP, k8stest.NodePort(t)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, zipPath) })}
	go files.ListenAndServe()
	t.Cleanup(func() { files.Close() })
	for round := 0; round < 2; round++ {
		for _, n := range []int{1, 2, 4} {
			src := fmt.Sprintf(`
name: shards-%d
tasks:
  prepare:
    uses: data.images
    shards: %d
    with: {source: "http://%s/fingers.zip", sha256: "%s", size: 32, labels: count}
    resources: {cpu: 1, memory: 1Gi}
`, n, n, files.Addr, sum)
			start := time.Now()
			id := s.submit(src)
			r := s.wait(id, ended)
			require.Equal(t, "Succeeded", r.Phase, "%s\n%s", r.Message, s.log(id, "prepare"))
			t.Logf("round %d: %d shard(s): %s wall, dataset %s (%s images)", round+1, n, time.Since(start).Round(100*time.Millisecond),
				r.Tasks[0].Outputs["hash"][:12], r.Tasks[0].Outputs["count"])
			for _, line := range strings.Split(s.log(id, "prepare"), "\n") {
				if strings.Contains(line, "decoded in") || strings.Contains(line, "dataset ") || strings.Contains(line, "succeeded in") {
					t.Log("  " + line)
				}
			}
		}
	}
}

// zipFolder zips dir into a temporary file and returns its path and SHA-256.
func zipFolder(t *testing.T, dir string) (string, string) {
	path := filepath.Join(t.TempDir(), "fingers.zip")
	f, err := os.Create(path)
	require.NoError(t, err)
	h := sha256.New()
	zw := zip.NewWriter(io.MultiWriter(f, h))
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: filepath.ToSlash(rel), Method: zip.Store})
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil {
			_, err = w.Write(b)
		}
		return err
	})
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	return path, hex.EncodeToString(h.Sum(nil))
}

// watchTrialJobs records the trials (cairn.dev/task t000...) whose Jobs
// appear, until the test ends; the returned function lists them.
func watchTrialJobs(t *testing.T, c *k8stest.Cluster) func() []string {
	var mu sync.Mutex
	seen := map[string]bool{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			l, err := c.Client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{LabelSelector: k8s.LabelManagedBy + "=" + k8s.ManagedBy})
			if err == nil {
				mu.Lock()
				for _, j := range l.Items {
					if task := j.Labels[k8s.LabelTask]; strings.HasPrefix(task, "t0") {
						seen[task+"/"+j.Labels[k8s.LabelRun]] = true
					}
				}
				mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { stop(); <-done })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for k := range seen {
			out = append(out, k)
		}
		return out
	}
}

// TestServerInTheCluster applies deploy/kubernetes/cairn.yaml to a real
// node: the server runs in a pod with the in-cluster config of its service
// account, makes its first admin from the Secret, and runs a pipeline's
// tasks as Jobs whose files and values travel through it; a failing task
// and an OOMKilled one say why. What the test
// cluster lacks is patched in: a volume provisioner (an emptyDir for the
// claim), kube-proxy and DNS (the server on the node's network, its API
// address given explicitly).
func TestServerInTheCluster(t *testing.T) {
	const ref = k8stest.CairnRef
	cluster := k8stest.StartRealNodeWithCairn(t)
	port := k8stest.NodePort(t)
	url := fmt.Sprintf("http://%s:%d", k8stest.NodeIP, port)
	api, err := neturl.Parse(cluster.Config.Host)
	require.NoError(t, err)

	ctx := context.Background()
	kc := cluster.Client
	_, err = kc.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cairn-admin"},
		StringData: map[string]string{"password": "a-long-admin-password"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "cairn.yaml"))
	require.NoError(t, err)
	for _, doc := range strings.Split(string(src), "\n---\n") {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		require.NoError(t, err, doc)
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			_, err = kc.CoreV1().ServiceAccounts("default").Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			_, err = kc.RbacV1().Roles("default").Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = kc.RbacV1().RoleBindings("default").Create(ctx, o, metav1.CreateOptions{})
		case *corev1.PersistentVolumeClaim: // no provisioner here: the Deployment gets an emptyDir
		case *corev1.Service:
			_, err = kc.CoreV1().Services("default").Create(ctx, o, metav1.CreateOptions{})
		case *appsv1.Deployment:
			pod := &o.Spec.Template.Spec
			pod.HostNetwork = true
			pod.Volumes[0].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
			pod.InitContainers[0].Image = ref
			srv := &pod.Containers[0]
			srv.Image = ref
			for i, a := range srv.Args {
				switch {
				case strings.HasPrefix(a, "--addr="):
					srv.Args[i] = fmt.Sprintf("--addr=0.0.0.0:%d", port)
				case strings.HasPrefix(a, "--kube-image="):
					srv.Args[i] = "--kube-image=" + ref
				case strings.HasPrefix(a, "--kube-server-url="):
					srv.Args[i] = "--kube-server-url=" + url
				}
			}
			srv.Ports[0].ContainerPort = int32(port)
			srv.Env = append(srv.Env, corev1.EnvVar{Name: "KUBERNETES_SERVICE_HOST", Value: api.Hostname()},
				corev1.EnvVar{Name: "KUBERNETES_SERVICE_PORT", Value: api.Port()})
			_, err = kc.AppsV1().Deployments("default").Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("unexpected object %T in the manifest", obj)
		}
		require.NoError(t, err)
	}
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server's pod does not answer at %s: %v\n%s", url, err, podReport(kc, "default"))
		}
	}

	opts := client.DefaultOptions()
	opts.Username, opts.Password = "admin", "a-long-admin-password"
	c, err := client.New(url, opts)
	require.NoError(t, err)
	s := &kubeServer{t: t, c: c, url: url}
	id := s.submit(`
name: from-inside
tasks:
  write:
    run: echo "hello from a pod" > "$CAIRN_OUTPUTS_DIR/msg"; echo "n=7" >> "$CAIRN_OUTPUTS"
    outputs: [n]
    artifacts: [msg]
  read:
    needs: [write]
    run: |
      read -r m < "$CAIRN_INPUTS_DIR/write/msg"
      echo "read: $m, n=${{ tasks.write.outputs.n }}"
  fails:
    run: echo "about to fail"; exit 4
  oom:
    run: x=0123456789abcdef; while :; do x="$x$x"; done
    resources: {memory: 48Mi}
`)
	r := s.wait(id, ended)
	for _, n := range []string{"write", "read"} {
		phase, msg, _ := r.task(n)
		require.Equal(t, "Succeeded", phase, "%s: %s\n%s", n, msg, s.log(id, n))
	}
	require.Contains(t, s.log(id, "read"), "read: hello from a pod, n=7")
	_, msg, _ := r.task("fails")
	require.Equal(t, "attempt 1: exit status 4", msg)
	require.Contains(t, s.log(id, "fails"), "about to fail\n")
	_, msg, _ = r.task("oom")
	require.Equal(t, "attempt 1: OOMKilled: the task went over its memory limit of 48Mi (exit status 137)", msg)
	jobs, err := kc.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, jobs.Items, "the server deleted its tasks' Jobs")
}

// podReport describes the pods of a namespace and their containers' logs,
// for a test that waited for one in vain.
func podReport(kc kubernetes.Interface, ns string) string {
	ctx := context.Background()
	pods, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s: %s %s %+v\n", p.Name, p.Status.Phase, p.Status.Message, p.Status.Conditions)
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			fmt.Fprintf(&b, "  container %s: %+v\n", cs.Name, cs.State)
			logs, _ := kc.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: cs.Name}).DoRaw(ctx)
			fmt.Fprintf(&b, "  log: %s\n", logs)
		}
	}
	return b.String()
}

// TestTrialPod checks what a sweep in a pod asks of a trial's Job.
func TestTrialPod(t *testing.T) {
	task := &jobs.TaskFiles{Root: "/cairn", Outputs: "/cairn/tasks/tune/out", RunID: "tune-run",
		Inputs: []jobs.TaskInput{{RunID: "prep-run", Dir: "/cairn/tasks/prepare/out", Link: "/cairn/in/prepare"}}}
	job := &cexec.Job{Args: []string{"/usr/local/bin/cairn", "step", "exec", "train.cnn", "--inputs", "/data/tune/t003/1/inputs.json"},
		Env: []string{"PATH=/usr/local/bin", "MLFLOW_TRACKING_TOKEN=tok", "CAIRN_OUTPUTS_DIR=/data/x", "CAIRN_OUTPUTS=/data/x.txt", "HOSTNAME=tune-pod"}}
	trialPod(task)(job, jobs.TrialAttempt{Trial: "t003", Attempt: 2, RunID: "trial-run", Parent: "tune-run",
		Inputs: []byte(`{"lr":0.01}`), Resources: tune.Resources{CPU: 1, Memory: 1 << 30, GPU: 0.5}})
	require.Equal(t, []string{"/cairn/bin/cairn", "pod", "run", "--", "/usr/local/bin/cairn", "step", "exec", "train.cnn", "--inputs-json", `{"lr":0.01}`}, job.Args)
	require.Equal(t, "tune-run/t003/2", job.Name)
	require.Equal(t, map[string]string{k8s.LabelRun: "tune-run", k8s.LabelTask: "t003", k8s.LabelAttempt: "2"}, job.Labels)
	require.Equal(t, cexec.Resources{CPU: 1, Memory: 1 << 30, GPU: 1}, job.Resources, "a fraction of a GPU is a whole one to Kubernetes")
	require.Equal(t, []string{"MLFLOW_TRACKING_TOKEN"}, job.SecretEnv)
	require.Equal(t, []string{"/cairn"}, job.Scratch)
	require.Equal(t, "/dev/termination-log", job.OutputsFile)
	out := "/cairn/tasks/tune/trials/t003/2/out"
	require.Equal(t, []string{"PATH=/usr/local/bin", "MLFLOW_TRACKING_TOKEN=tok", "CAIRN_OUTPUTS_DIR=" + out, "CAIRN_OUTPUTS=/dev/termination-log",
		"CAIRN_DATA_DIR=" + out + "/.cairn-data",
		`CAIRN_TASK_FILES={"root":"/cairn","inputs":[{"run_id":"prep-run","dir":"/cairn/tasks/prepare/out","link":"/cairn/in/prepare"}],"outputs":"` + out + `","run_id":"trial-run"}`},
		job.Env, "the trial fetches what its sweep task fetched")
}

package k8stest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// NodeName is the KWOK node every cluster has.
const NodeName = "kwok-node-0"

// FailLabel makes a pod on the KWOK node fail (with FailExitCode's exit
// code) instead of completing.
const (
	FailLabel    = "pod-container-running-failed.stage.kwok.x-k8s.io"
	FailExitCode = "pod-container-running-failed.stage.kwok.x-k8s.io/exit-code"
)

// Test-only pod behaviours on the KWOK node, chosen by the environment of
// the pod's first container (which a pipeline task's env: sets) or by a
// label: how long it runs before it ends, the exit code it fails with, and
// an image pull that fails. LogLine is what every pod's log holds.
const (
	RunForEnv   = "KWOK_RUN_FOR"   // a duration, e.g. "30s"
	ExitCodeEnv = "KWOK_EXIT_CODE" // a failing exit code, e.g. "3"
	OutputsEnv  = "KWOK_OUTPUTS"   // what the container "wrote" to its termination message
	// FailShardEnv makes the pod of that index of an Indexed Job fail
	// with exit code 3 (at once; the others run as usual).
	FailShardEnv   = "KWOK_FAIL_SHARD"
	ImagePullLabel = "cairn.dev/test-image-pull-fails"
	LogLine        = "hello from the KWOK node"
)

// Cluster is a running control plane.
type Cluster struct {
	Dir        string // its folder: kubeconfig, logs, etcd data
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
}

// Bin returns the folder of the control-plane binaries: $CAIRN_K8S_BIN, or
// the cache folder scripts/k8s-tools.sh builds for this checkout's
// tools/k8s. ok is false when they are not there.
func Bin() (string, bool) {
	dir := os.Getenv("CAIRN_K8S_BIN")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", false
		}
		h := sha256.New()
		for _, f := range []string{"go.mod", "go.sum"} {
			b, err := os.ReadFile(filepath.Join(root, "tools", "k8s", f))
			if err != nil {
				return "", false
			}
			h.Write(b)
		}
		cache := os.Getenv("CAIRN_K8S_CACHE")
		if cache == "" {
			c, err := os.UserCacheDir()
			if err != nil {
				return "", false
			}
			cache = filepath.Join(c, "cairn")
		}
		dir = filepath.Join(cache, "k8s-"+hex.EncodeToString(h.Sum(nil))[:16], "bin")
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return dir, false
		}
	}
	return dir, true
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "k8s", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no tools/k8s above the working folder")
		}
		dir = parent
	}
}

// Start starts a fresh cluster with one Ready KWOK node and the default
// namespace's service account, and stops it when the test ends. It skips
// the test when the binaries are missing (fails with CAIRN_K8S_REQUIRE=1).
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin := binaries(t)
	c, p, kwokPort := controlPlane(t, bin, "127.0.0.1", 1)
	stages := stagesFile(t, bin, c.Dir)
	p.start(bin, "kwok", "--kubeconfig", c.Kubeconfig, "--config", stages,
		"--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake", "--node-ip", "127.0.0.1",
		"--node-port", strconv.Itoa(kwokPort[0]), "--server-address", fmt.Sprintf("127.0.0.1:%d", kwokPort[0]), "--cidr", "10.0.0.0/24")
	c.addNode(t, p)
	return c
}

// binaries returns the folder of the binaries, or skips the test.
func binaries(t testing.TB) string {
	t.Helper()
	bin, ok := Bin()
	if !ok {
		skip(t, fmt.Sprintf("the Kubernetes test binaries are not in %s: run scripts/k8s-tools.sh (about 5 minutes, once)", bin))
	}
	return bin
}

// skip skips the test, or fails it with CAIRN_K8S_REQUIRE=1.
func skip(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CAIRN_K8S_REQUIRE") == "1" {
		t.Fatal(msg + " (CAIRN_K8S_REQUIRE=1)")
	}
	t.Skip(msg)
}

// controlPlane starts etcd, the apiserver on apiIP, the controller manager
// and the scheduler in a fresh folder, and returns the cluster, its
// processes and extra free ports for the caller.
func controlPlane(t testing.TB, bin, apiIP string, extra int) (*Cluster, *procs, []int) {
	t.Helper()
	dir := t.TempDir()
	c := &Cluster{Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig")}
	p := &procs{t: t, dir: dir}
	t.Cleanup(p.stop)

	ports := freePorts(t, 6+extra)
	etcdClient, etcdPeer, apiPort, cmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	token := "cairn-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	writeKeys(t, dir)
	must(t, os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(token+",admin,admin-uid,system:masters\n"), 0o600))
	must(t, os.WriteFile(c.Kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "https://%s:%d", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: %q}}]
contexts: [{name: test, context: {cluster: test, user: admin}}]
current-context: test
`, apiIP, apiPort, token)), 0o600))

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	p.start(bin, "etcd", "--data-dir", filepath.Join(dir, "etcd"), "--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL, "--initial-cluster", "default="+peerURL,
		"--unsafe-no-fsync", "--log-level", "warn", "--listen-metrics-urls", fmt.Sprintf("http://127.0.0.1:%d", ports[5]))
	p.start(bin, "kube-apiserver", "--etcd-servers", etcdURL, "--bind-address", apiIP, "--secure-port", strconv.Itoa(apiPort),
		"--advertise-address", apiIP, "--cert-dir", filepath.Join(dir, "certs"), "--service-cluster-ip-range", "10.96.0.0/16",
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"), "--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "AlwaysAllow", "--anonymous-auth=false", "--kubelet-preferred-address-types", "InternalIP")
	waitReady(t, p, fmt.Sprintf("https://%s:%d/readyz", apiIP, apiPort), token)
	p.start(bin, "kube-controller-manager", "--kubeconfig", c.Kubeconfig, "--leader-elect=false", "--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(cmPort), "--service-account-private-key-file", filepath.Join(dir, "sa.key"),
		"--root-ca-file", filepath.Join(dir, "certs", "apiserver.crt"),
		"--controllers", "job-controller,serviceaccount-controller,serviceaccount-token-controller,garbage-collector-controller,"+
			"namespace-controller,ttl-after-finished-controller,pod-garbage-collector-controller,root-ca-certificate-publisher-controller,"+
			"node-lifecycle-controller,resourcequota-controller,deployment-controller,replicaset-controller")
	p.start(bin, "kube-scheduler", "--kubeconfig", c.Kubeconfig, "--authentication-kubeconfig", c.Kubeconfig,
		"--authorization-kubeconfig", c.Kubeconfig, "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(schedPort))

	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	must(t, err)
	cfg.QPS, cfg.Burst = 200, 400
	c.Config = cfg
	c.Client, err = kubernetes.NewForConfig(cfg)
	must(t, err)
	return c, p, ports[6:]
}

// addNode creates the KWOK node and waits until it is Ready and pods can
// be created in the default namespace.
func (c *Cluster) addNode(t testing.TB, p *procs) {
	t.Helper()
	ctx := context.Background()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: NodeName, Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			Labels: map[string]string{"type": "kwok", "kubernetes.io/hostname": NodeName}},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{"cpu": resource.MustParse("32"), "memory": resource.MustParse("256Gi"), "pods": resource.MustParse("110")},
			Allocatable: corev1.ResourceList{"cpu": resource.MustParse("32"), "memory": resource.MustParse("256Gi"), "pods": resource.MustParse("110")},
		},
	}
	if _, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		p.fail("create the KWOK node: %v", err)
	}
	c.waitNode(t, p, NodeName, 60*time.Second)
}

// waitNode waits until node is Ready (and untainted by not-ready) and the
// default namespace's service account exists, so pods can be created.
func (c *Cluster) waitNode(t testing.TB, p *procs, name string, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		ready := false
		if err == nil {
			for _, cond := range n.Status.Conditions {
				ready = ready || cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue
			}
			for _, taint := range n.Spec.Taints {
				if taint.Key == "node.kubernetes.io/not-ready" {
					ready = false
				}
			}
		}
		_, saErr := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if ready && saErr == nil {
			return
		}
		if time.Now().After(deadline) {
			p.fail("node %s is not Ready, or the default service account is missing, after %s (node: %v, service account: %v)", name, timeout, err, saErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stagesFile joins the KWOK stage definitions scripts/k8s-tools.sh keeps
// beside the binaries into one config file.
func stagesFile(t testing.TB, bin, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(filepath.Dir(bin), "stages", "*.yaml"))
	must(t, err)
	if len(files) == 0 {
		t.Fatalf("no KWOK stages in %s: run scripts/k8s-tools.sh again", filepath.Join(filepath.Dir(bin), "stages"))
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		must(t, err)
		text := string(data)
		switch filepath.Base(f) {
		case "pod-fast-pod-complete.yaml": // runs for RunForEnv; OutputsEnv is its termination message
			text = strings.Replace(text, "            reason: Completed\n", "            reason: Completed\n"+
				"            {{ $out := \"\" }}{{ range $item.env }}{{ if eq .name \""+OutputsEnv+"\" }}{{ $out = .value }}{{ end }}{{ end }}\n"+
				"            message: {{ $out | Quote }}\n", 1)
			text = strings.Replace(text, "  next:\n", "  delay:\n    durationMilliseconds: 0\n    durationFrom:\n"+
				"      expressionFrom: '"+envExpr(RunForEnv)+"'\n  next:\n", 1)
		case "pod-fast-pod-ready.yaml": // not for pods whose image cannot be pulled
			text = strings.Replace(text, "    matchExpressions:\n", "    matchExpressions:\n"+
				"    - key: '.metadata.labels[\""+ImagePullLabel+"\"]'\n      operator: 'DoesNotExist'\n", 1)
		}
		b.WriteString("---\n")
		b.WriteString(text)
		b.WriteString("\n")
	}
	b.WriteString(imagePullStage)
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(exitCodeStage, "EXPR", envExpr(ExitCodeEnv)), "NAME", ExitCodeEnv))
	for i := range 4 {
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(failShardStage, "EXPR", envExpr(FailShardEnv)), "INDEX", strconv.Itoa(i)))
	}
	logFile := filepath.Join(dir, "pod.log")
	must(t, os.WriteFile(logFile, []byte("2026-01-01T00:00:00.000000000Z stdout F "+LogLine+"\n"), 0o644))
	fmt.Fprintf(&b, "---\napiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterLogs\nmetadata: {name: all}\n"+
		"spec: {selector: {}, logs: [{containers: [], logsFile: %q}]}\n", logFile)
	path := filepath.Join(dir, "stages.yaml")
	must(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

// imagePullStage leaves a scheduled pod with ImagePullLabel waiting in
// ImagePullBackOff, as a kubelet does when the image cannot be pulled.
const imagePullStage = `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: cairn-image-pull-backoff
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.labels["` + ImagePullLabel + `"]'
      operator: 'Exists'
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Pending']
    - key: '.status.containerStatuses'
      operator: 'DoesNotExist'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: PodScheduled
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        state:
          waiting:
            reason: ImagePullBackOff
            message: 'Back-off pulling image "{{ .image }}"'
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      phase: Pending
`

// envExpr selects the value of the pod's first container's variable name.
func envExpr(name string) string {
	return `.spec.containers.[0].env.[] | select( .name == "` + name + `" ) | .value`
}

// exitCodeStage fails a running pod whose container has ExitCodeEnv with
// that exit code (after its RunForEnv, like a completing pod).
const exitCodeStage = `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: cairn-exit-code
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Running']
    - key: 'EXPR'
      operator: 'Exists'
  weight: 10000
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range .spec.containers }}
      {{ $code := "1" }}
      {{ range .env }}{{ if eq .name "NAME" }}{{ $code = .value }}{{ end }}{{ end }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: {{ $code }}
            finishedAt: {{ $now | Quote }}
            reason: Error
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Failed
`

// procs are the cluster's processes, each in its own process group, with
// its output in DIR/NAME.log.
type procs struct {
	t    testing.TB
	dir  string
	list []*exec.Cmd
	logs []string
}

func (p *procs) start(bin, name string, args ...string) {
	p.t.Helper()
	log := filepath.Join(p.dir, name+".log")
	f, err := os.Create(log)
	must(p.t, err)
	defer f.Close()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = f, f, p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.fail("start %s: %v", name, err)
	}
	p.list, p.logs = append(p.list, cmd), append(p.logs, log)
}

// fail stops the test with the message and the last lines of each log.
func (p *procs) fail(format string, args ...any) {
	p.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, format, args...)
	for _, l := range p.logs {
		data, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 8 {
			lines = lines[len(lines)-8:]
		}
		fmt.Fprintf(&b, "\n--- %s:\n%s", filepath.Base(l), strings.Join(lines, "\n"))
	}
	p.t.Fatal(b.String())
}

// stop ends the processes, newest first: SIGTERM, then SIGKILL after 5 s.
func (p *procs) stop() {
	for i := len(p.list) - 1; i >= 0; i-- {
		cmd := p.list[i]
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

func waitReady(t testing.TB, p *procs, url, token string) {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			p.fail("the apiserver is not ready after 60 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeKeys(t testing.TB, dir string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644))
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var out []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// failShardStage fails the running pod of index INDEX of an Indexed Job
// whose container has FailShardEnv=INDEX, with exit code 3.
const failShardStage = `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: cairn-fail-shard-INDEX
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Running']
    - key: 'EXPR'
      operator: 'In'
      values: ['INDEX']
    - key: '.metadata.annotations["batch.kubernetes.io/job-completion-index"]'
      operator: 'In'
      values: ['INDEX']
  weight: 20000
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 3
            finishedAt: {{ $now | Quote }}
            reason: Error
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Failed
`

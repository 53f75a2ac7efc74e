package k8stest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cairn-mlops/cairn/internal/image"
)

// The real node: a kubelet with containerd and runc from the system's
// packages, its pods on a bridge whose gateway is the node's address (a
// kubelet refuses a loopback node IP). Pods reach this machine at NodeIP.
const (
	NodeIP       = "10.244.0.1"
	RealNodeName = "cairn-node"
	PauseImage   = "cairn.test/pause:1"
	bridge       = "cairnbr0"
	podCIDR      = "10.244.0.0/24"
)

// The kernel settings a kubelet changes, put back when the node stops.
var kubeletSysctls = []string{"vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops",
	"kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes"}

// RealNodeMissing says what this machine lacks to run a real node, or "".
func RealNodeMissing() string {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		return "a real node needs root on Linux"
	}
	for _, b := range []string{"containerd", "runc", "ctr", "ip"} {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Sprintf("a real node needs %s (apt-get install containerd runc containernetworking-plugins iproute2)", b)
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			return "a real node needs the CNI plugins in /usr/lib/cni (apt-get install containernetworking-plugins)"
		}
	}
	if bin, ok := Bin(); !ok {
		return "the Kubernetes test binaries are missing: run scripts/k8s-tools.sh"
	} else if _, err := os.Stat(filepath.Join(bin, "kubelet")); err != nil {
		return "no kubelet in " + bin + ": run scripts/k8s-tools.sh"
	}
	return ""
}

// StartRealNode starts a control plane and one real node, imports the
// image archives (ctr images import) into its containerd, and tears all of
// it down when the test ends: pods, containers, mounts, network namespaces,
// the bridge, cgroups and the kernel settings the kubelet changed. One at
// a time per machine. It skips the test where RealNodeMissing says so
// (fails with CAIRN_K8S_REQUIRE=1).
func StartRealNode(t testing.TB, archives ...string) *Cluster {
	t.Helper()
	if why := RealNodeMissing(); why != "" {
		skip(t, why)
	}
	// One real node per machine: tests in other packages wait their turn.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "cairn-realnode.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	must(t, err)
	must(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_EX))
	t.Cleanup(func() { lock.Close() }) // last: after the teardown below
	if exec.Command("ip", "link", "show", bridge).Run() == nil {
		t.Fatalf("bridge %s exists: another real node runs on this machine, or one was not torn down (ip link del %s)", bridge, bridge)
	}
	bin, _ := Bin()
	h := &host{t: t, sysctls: map[string]string{}}
	for _, s := range kubeletSysctls {
		if out, err := exec.Command("sysctl", "-n", s).Output(); err == nil {
			h.sysctls[s] = strings.TrimSpace(string(out))
		}
	}
	h.netnsBefore = netns()
	t.Cleanup(h.down) // after the processes stop

	// The bridge first: its gateway is the node's and the apiserver's address.
	h.run("ip", "link", "add", bridge, "type", "bridge")
	h.bridge = true
	h.run("ip", "addr", "add", NodeIP+"/24", "dev", bridge)
	h.run("ip", "link", "set", bridge, "up")

	c, p, ports := controlPlane(t, bin, NodeIP, 3)
	h.dir = c.Dir
	sock := filepath.Join(c.Dir, "containerd", "containerd.sock")
	h.sock = sock
	cni := filepath.Join(c.Dir, "cni")
	must(t, os.MkdirAll(filepath.Join(cni, "net.d"), 0o755))
	must(t, os.WriteFile(filepath.Join(cni, "net.d", "10-cairn.conflist"), []byte(fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "cairn-test", "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}}]}
`, bridge, podCIDR, filepath.Join(cni, "ipam"))), 0o644))
	ctrDir := filepath.Join(c.Dir, "containerd")
	must(t, os.MkdirAll(ctrDir, 0o755))
	// runc cannot set oom_score_adj -998 where the process lacks
	// CAP_SYS_RESOURCE (containers in VMs): restrict_oom_score_adj.
	must(t, os.WriteFile(filepath.Join(ctrDir, "config.toml"), []byte(fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = "%s.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "%d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
`, filepath.Join(ctrDir, "root"), filepath.Join(ctrDir, "state"), sock, sock, PauseImage, ports[0],
		filepath.Join(ctrDir, "runc"), filepath.Join(cni, "net.d"))), 0o644))
	containerd, _ := exec.LookPath("containerd")
	p.start(filepath.Dir(containerd), "containerd", "--config", filepath.Join(ctrDir, "config.toml"))
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command("ctr", "-a", sock, "version").Run() != nil {
		if time.Now().After(deadline) {
			p.fail("containerd did not answer in 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, a := range append([]string{pauseArchive(t, c.Dir)}, archives...) {
		if out, err := exec.Command("ctr", "-a", sock, "-n", "k8s.io", "images", "import", a).CombinedOutput(); err != nil {
			p.fail("import %s: %v: %s", a, err, out)
		}
	}

	kubelet := filepath.Join(c.Dir, "kubelet")
	must(t, os.MkdirAll(kubelet, 0o755))
	// A local image must never be garbage-collected: it cannot be pulled back.
	must(t, os.WriteFile(filepath.Join(c.Dir, "kubelet.yaml"), []byte(fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://%s
address: %s
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
failSwapOn: false
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
evictionHard: {memory.available: "100Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
makeIPTablesUtilChains: false
podLogsDir: %s
`, sock, NodeIP, ports[1], ports[2], filepath.Join(c.Dir, "pod-logs"))), 0o644))
	p.start(bin, "kubelet", "--config", filepath.Join(c.Dir, "kubelet.yaml"), "--kubeconfig", c.Kubeconfig, "--root-dir", kubelet,
		"--hostname-override", RealNodeName, "--node-ip", NodeIP, "--cert-dir", filepath.Join(kubelet, "pki"))
	// Pods go before the kubelet stops, so that it tears their sandboxes
	// (and network) down itself.
	t.Cleanup(func() { deletePods(c) })
	c.waitNode(t, p, RealNodeName, 120*time.Second)
	return c
}

// pauseArchive builds the sandbox image from ./pause.
func pauseArchive(t testing.TB, dir string) string {
	t.Helper()
	bin := staticBuild(t, "./internal/k8s/k8stest/pause", filepath.Join(dir, "pause"))
	img, err := image.Program(bin, "/pause", runtime.GOARCH, time.Unix(0, 0))
	must(t, err)
	archive := filepath.Join(dir, "pause.tar")
	f, err := os.Create(archive)
	must(t, err)
	defer f.Close()
	must(t, image.WriteArchive(f, img, PauseImage))
	return archive
}

// deletePods deletes every pod and waits up to 60 s for them to go.
func deletePods(c *Cluster) {
	ctx := context.Background()
	nss, err := c.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	zero := int64(1)
	for _, ns := range nss.Items {
		_ = c.Client.CoreV1().Pods(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		pods, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// host is what a real node changes on this machine, to put back.
type host struct {
	t           testing.TB
	dir, sock   string
	bridge      bool
	sysctls     map[string]string
	netnsBefore map[string]bool
}

func (h *host) run(name string, args ...string) {
	h.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		h.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// down runs after the processes have stopped: containers the kubelet left,
// their shims, mounts, network namespaces, the bridge, the kubelet's
// cgroups, log links and kernel settings.
func (h *host) down() {
	quiet := func(name string, args ...string) { _ = exec.Command(name, args...).Run() }
	if h.sock != "" {
		// Shims outlive containerd: find ours by the address they serve.
		if out, err := exec.Command("pgrep", "-f", "containerd-shim-runc-v2 .*-address "+h.sock).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				if n, err := strconv.Atoi(pid); err == nil {
					if p, err := os.FindProcess(n); err == nil {
						_ = p.Kill()
					}
				}
			}
		}
	}
	if h.dir != "" {
		if out, err := exec.Command("findmnt", "-rn", "-o", "TARGET").Output(); err == nil {
			var mounts []string
			for _, m := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(m, h.dir) {
					mounts = append(mounts, m)
				}
			}
			for i := len(mounts) - 1; i >= 0; i-- { // deepest first
				quiet("umount", "-l", mounts[i])
			}
		}
		if links, err := filepath.Glob("/var/log/containers/*"); err == nil {
			for _, l := range links {
				if dst, err := os.Readlink(l); err == nil && strings.HasPrefix(dst, h.dir) {
					os.Remove(l)
				}
			}
		}
	}
	for ns := range netns() {
		if !h.netnsBefore[ns] && strings.HasPrefix(ns, "cni-") {
			quiet("ip", "netns", "del", ns)
		}
	}
	if h.bridge {
		quiet("ip", "link", "del", bridge)
	}
	if hier, err := filepath.Glob("/sys/fs/cgroup/*/kubepods"); err == nil {
		for _, d := range hier {
			removeCgroups(d)
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/kubepods"); err == nil {
		removeCgroups("/sys/fs/cgroup/kubepods")
	}
	for k, v := range h.sysctls {
		if out, err := exec.Command("sysctl", "-n", k).Output(); err == nil && strings.TrimSpace(string(out)) != v {
			quiet("sysctl", "-qw", k+"="+v)
		}
	}
}

// removeCgroups removes a cgroup tree, deepest first (rmdir only: a
// cgroup with processes left stays).
func removeCgroups(root string) {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i])
	}
}

func netns() map[string]bool {
	out := map[string]bool{}
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		out[e.Name()] = true
	}
	return out
}

// CairnImage builds Cairn's image as make image does (a static build of
// ./cmd/cairn), tagged ref, into an archive in dir, and returns its path.
func CairnImage(t testing.TB, dir, ref string) string {
	t.Helper()
	bin := staticBuild(t, "./cmd/cairn", filepath.Join(dir, "cairn"))
	img, err := image.Build(image.Options{Binary: bin, CACerts: "/etc/ssl/certs/ca-certificates.crt", Arch: runtime.GOARCH, Created: time.Unix(0, 0)})
	must(t, err)
	archive := filepath.Join(dir, "cairn.tar")
	f, err := os.Create(archive)
	must(t, err)
	defer f.Close()
	must(t, image.WriteArchive(f, img, ref))
	return archive
}

// staticBuild builds the package pkg of this module (CGO_ENABLED=0) to bin.
func staticBuild(t testing.TB, pkg, bin string) string {
	t.Helper()
	root, err := repoRoot()
	must(t, err)
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, pkg)
	cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v: %s", pkg, err, out)
	}
	return bin
}

// CairnRef is the tag StartRealNodeWithCairn gives Cairn's image.
const CairnRef = "cairn.test/cairn:1"

// StartRealNodeWithCairn skips (or fails, with CAIRN_K8S_REQUIRE=1) where
// RealNodeMissing says so, before building anything; otherwise it builds
// Cairn's image (CairnRef) and starts a real node with it.
func StartRealNodeWithCairn(t testing.TB) *Cluster {
	t.Helper()
	if why := RealNodeMissing(); why != "" {
		skip(t, why)
	}
	return StartRealNode(t, CairnImage(t, t.TempDir(), CairnRef))
}

// NodePort returns a free port on NodeIP, for a server the pods reach.
func NodePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", NodeIP+":0")
	must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

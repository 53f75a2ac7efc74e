// Package k8stest starts a real Kubernetes control plane for tests: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler, built from
// the module proxy by scripts/k8s-tools.sh, with a KWOK node whose pods
// run (and complete, or fail when labelled to) without a container
// runtime. Each Start is a fresh cluster on free loopback ports in a
// temporary folder, stopped when the test ends. Without the binaries a
// test skips, unless CAIRN_K8S_REQUIRE=1 makes that a failure. Only tests
// import it; it imports no Cairn package.
package k8stest

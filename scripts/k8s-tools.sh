#!/usr/bin/env bash
# Builds the Kubernetes control plane the Kubernetes tests run against
# (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# kwok, and the kubelet of the real-node tests), pinned in tools/k8s, from the Go module proxy, and prints the folder
# holding the binaries. The folder is named after a hash of tools/k8s/go.sum
# and kept outside the clone (~/.cache/cairn/k8s-<hash>), so a build happens
# once per version: cold about 5 minutes on 2 cores, then nothing.
set -euo pipefail
cd "$(dirname "$0")/../tools/k8s"
hash=$(cat go.mod go.sum | sha256sum | cut -c1-16)
dir="${CAIRN_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn}/k8s-$hash"
bins="etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kubelet"
have=1
for b in $bins; do [ -x "$dir/bin/$b" ] || have=0; done
if [ "$have" = 0 ]; then
  echo "building the Kubernetes test binaries into $dir (once per version; ~5 min cold)" >&2
  tmp=$(mktemp -d "${dir}.tmp-XXXXXX" 2>/dev/null || { mkdir -p "$(dirname "$dir")"; mktemp -d "${dir}.tmp-XXXXXX"; })
  trap 'rm -rf "$tmp"' EXIT
  ldf="-s -w -X k8s.io/component-base/version.gitVersion=v1.36.3 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36"
  GOFLAGS=-buildvcs=false go build -trimpath -ldflags "$ldf" -o "$tmp/bin/" go.etcd.io/etcd/server/v3 \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet sigs.k8s.io/kwok/cmd/kwok >&2
  mv "$tmp/bin/server" "$tmp/bin/etcd" # named after its package folder
  # KWOK's stage definitions come from the same pinned module.
  kwokdir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  mkdir -p "$tmp/stages"
  for s in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml \
    pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml pod/chaos/pod-container-running-failed.yaml; do
    cp "$kwokdir/kustomize/stage/$s" "$tmp/stages/$(echo "$s" | tr / -)"
  done
  chmod -R u+w "$tmp"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
fi
echo "$dir"

#!/usr/bin/env bash
# Runs every test the way CI does: real PostgreSQL (installed from Debian's
# packages and started on loopback if needed) and a real S3 endpoint
# (moto_server, started by the artifact-store tests on a loopback port); the
# web UI's Vitest and Playwright tests in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CAIRN_TEST_POSTGRES_URL:-}" ]; then
  CAIRN_TEST_POSTGRES_URL=$(bash .ci/postgres.sh)
  export CAIRN_TEST_POSTGRES_URL
fi
echo "PostgreSQL for tests: ${CAIRN_TEST_POSTGRES_URL%%@*}@..." | sed 's#//[^:]*:[^@]*@#//***@#'
if ! command -v moto_server >/dev/null && ! python3 -c 'import moto.server' 2>/dev/null; then
  echo "moto is not installed: the S3 tests need moto_server (Python package 'moto')" >&2
  exit 1
fi
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
# The web UI: Node.js and npm are on the machine; Chromium comes from Debian's
# packages (playwright's own browser download is not used). The UI is built
# before the Go tests so that the binary they and the e2e tests build embeds it.
if ! command -v npm >/dev/null; then
  echo "npm is not installed: the web UI needs Node.js 20.19+ and npm" >&2
  exit 1
fi
if ! command -v chromium >/dev/null; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
# The real-node Kubernetes tests run pods with containerd and runc on a CNI
# bridge: root and Debian's packages.
if [ "$(id -u)" = 0 ] && ! { command -v containerd && command -v runc && [ -x /usr/lib/cni/bridge ]; } >/dev/null; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd runc containernetworking-plugins iproute2 >&2
fi
make ui
go vet ./...
# The Kubernetes control plane the internal/k8s tests start (built once per
# version into ~/.cache/cairn; about 5 minutes cold on 2 cores).
CAIRN_K8S_BIN="$(bash scripts/k8s-tools.sh)/bin"
export CAIRN_K8S_BIN
go test -count=1 -timeout 20m ./...
# Every fuzz target for a few seconds: about a minute on 2 cores.
FUZZTIME=3s scripts/fuzz.sh
(cd web/ui && npx vitest run && node --test --test-reporter=spec e2e/ui.test.mjs)

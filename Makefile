# Cairn: the two commands a newcomer needs are `make demo` and `make test`.
GO ?= go

.PHONY: build ui demo test test-k8s bench bench-ui vet eval image

build: ui
	$(GO) build -o bin/cairn ./cmd/cairn

# The web UI (web/ui, TypeScript + Vite), built into internal/web/ui/dist/app and
# embedded into the binary; npm ci runs again only when the lockfile changed.
ui: web/ui/node_modules/.package-lock.json
	cd web/ui && npm run build

# Cairn's OCI image, without docker: bin/cairn-image.tar (docker load, podman load,
# ctr images import, kind load image-archive). The same commit builds the same bytes:
# file and image times are the commit's. PUSH=registry/repo:tag also pushes it.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
image: ui
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags "-s -w -buildid= -X github.com/cairn-mlops/cairn/internal/web.Version=$(VERSION)" \
		-o bin/cairn-linux-$$($(GO) env GOARCH) ./cmd/cairn
	$(GO) run ./cmd/cairn-image --binary bin/cairn-linux-$$($(GO) env GOARCH) --out bin/cairn-image.tar --tag cairn:$(VERSION) \
		--revision "$$(git rev-parse HEAD)" --created "$$(git log -1 --format=%ct)" $(if $(PUSH),--push $(PUSH))

web/ui/node_modules/.package-lock.json: web/ui/package-lock.json web/ui/package.json
	cd web/ui && npm ci --no-audit --no-fund

# The main job: start a zero-setup server (./cairn-data) and log a sample run.
demo: build
	./bin/cairn demo

# Every test: installs and starts PostgreSQL from Debian's packages if needed,
# checks moto_server (the S3 test endpoint) is present, then vets and tests.
test:
	bash .ci/test.sh

# The Kubernetes tests, both tiers: a real control plane (etcd, kube-apiserver,
# controller-manager, scheduler) with a KWOK node, and with a real node (kubelet,
# containerd and runc from Debian's packages; needs root), binaries built once from
# the module proxy by scripts/k8s-tools.sh. .ci/test.sh runs them with everything else.
test-k8s:
	CAIRN_K8S_BIN="$$(bash scripts/k8s-tools.sh)/bin" CAIRN_K8S_REQUIRE=1 $(GO) test -count=1 ./internal/k8s/...
	CAIRN_K8S_BIN="$$(bash scripts/k8s-tools.sh)/bin" CAIRN_K8S_REQUIRE=1 $(GO) test -count=1 -run 'Kubernetes|RealNode' ./cmd/cairn/

vet:
	$(GO) vet ./...

# Store, API, pipeline, training and model-server (loopback load) benchmarks; the store ones on SQLite
# and (with CAIRN_TEST_POSTGRES_URL) PostgreSQL.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/store/meta/ ./internal/web/... ./internal/pipeline/ ./internal/train/ ./internal/jobs/

# The runs table against 10,000 runs in Chromium: time to first render and to filter.
bench-ui: ui
	cd web/ui && node e2e/bench-runs.mjs

# Train every reference model on the real data in ../shared/data and print the results (minutes).
eval:
	bash scripts/eval.sh

# Cairn: the two commands a newcomer needs are `make demo` and `make test`.
GO ?= go

.PHONY: build demo test bench vet eval

build:
	$(GO) build -o bin/cairn ./cmd/cairn

# The main job: start a zero-setup server (./cairn-data) and log a sample run.
demo: build
	./bin/cairn demo

# Every test: installs and starts PostgreSQL from Debian's packages if needed,
# checks moto_server (the S3 test endpoint) is present, then vets and tests.
test:
	bash .ci/test.sh

vet:
	$(GO) vet ./...

# Store and API benchmarks on SQLite and (with CAIRN_TEST_POSTGRES_URL) PostgreSQL.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/store/meta/ ./internal/web/... ./internal/pipeline/ ./internal/train/

# Train every reference model on the real data in ../shared/data and print the results (minutes).
eval:
	bash scripts/eval.sh

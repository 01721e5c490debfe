# Akosha: two commands matter. `make run` starts the whole system locally;
# `make test` brings up a real S3 server and redis-server and runs every test.

GO        ?= go
VERSITYGW_VERSION := v1.8.0
TOOLS     := $(CURDIR)/.tools/bin
VERSITYGW := $(TOOLS)/versitygw
BIN       := bin/akosha
# Race detection costs ~3x; it is on for the whole suite while the time allows.
RACE ?= -race
TEST_FLAGS ?= -count=1 -timeout 15m

.PHONY: all build run test test-long test-unit deploy-check image image-test bench bench-fulltext fuzz tools clean docs ui ui-check bench-console

all: build

build:
	$(GO) build -o $(BIN) ./cmd/akosha

run: build
	./$(BIN) serve --dev

# versitygw is built once from its Go module and cached in .tools (git-ignored).
tools: $(VERSITYGW)
$(VERSITYGW):
	@mkdir -p $(TOOLS)
	@echo "building versitygw $(VERSITYGW_VERSION) (once; cached in .tools/bin)"
	cd /tmp && GOBIN=$(TOOLS) GOFLAGS=-mod=mod $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

test: tools
	# vet, then the race-enabled suite beside the passes without it:
	# scripts/test.sh says which and why.
	GO=$(GO) TEST_FLAGS="$(TEST_FLAGS)" RACE="$(RACE)" ./scripts/test.sh

# The generated references, docs/cli (cobra's generator) and the README's
# MCP tool table (tools/list), and the client generated from api/openapi.yaml;
# make test fails while they are stale.
docs:
	$(GO) generate ./cmd/akosha
	cd api/clienttest && $(GO) generate ./...

# The web console (/ui): web/console's sources bundled by esbuild into
# functions/query/console/dist, which the binary embeds. The bundle is
# committed, so building and testing need no Node.js; `make ui` rebuilds it
# from package-lock.json (npm ci) and `make ui-check` fails when the
# committed bundle is not what the sources and the lock file build.
UI_DIST := functions/query/console/dist
ui:
	cd web/console && npm ci --no-audit --no-fund && node build.mjs
ui-check: ui
	@git diff --exit-code --stat -- $(UI_DIST) && test -z "$$(git status --porcelain -- $(UI_DIST))" || \
		{ echo "ui-check: $(UI_DIST) differs from what web/console builds; run make ui and commit it" >&2; exit 1; }

# The longer forms, run in addition to make test, never instead: HNSW
# recall at 100,000 vectors, and three minutes of the chaos test.
test-long: tools
	$(GO) test $(TEST_FLAGS) ./lake/hnsw
	AKOSHA_CHAOS_LONG=1 ./scripts/with-services.sh $(GO) test -count=1 -timeout 30m $(RACE) -run 'TestChaos|TestAgeProgresses' ./jobs/chaos

# The manifests (Dockerfile, knative/, kubernetes/, func.yaml) against the
# upstream API types, Knative's validation, kustomize and the code's config
# keys and metrics; a separate module (deploy/check), offline once downloaded.
deploy-check:
	cd deploy/check && $(GO) vet ./... && $(GO) test -count=1 ./...

# Container images: the generic image and the per-function ones kn func
# deploy uses, with Docker (BuildKit) or podman; podman is picked when Docker's
# daemon does not answer and podman is installed. IMAGE_TAG=0.1.0 make image.
# GO_IMAGE / RUNTIME_IMAGE name other bases than the Dockerfile's pinned ones
# (local ones where no registry is reachable: scripts/image-bases.sh).
CONTAINER ?= $(shell if docker info >/dev/null 2>&1 || ! command -v podman >/dev/null; then echo docker; else echo podman; fi)
IMAGE     ?= ghcr.io/akosha/akosha
IMAGE_TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE_BUILD = $(CONTAINER) build $(IMAGE_BUILD_FLAGS) --build-arg VERSION=$(IMAGE_TAG) \
	$(if $(GO_IMAGE),--build-arg GO_IMAGE=$(GO_IMAGE)) $(if $(RUNTIME_IMAGE),--build-arg RUNTIME_IMAGE=$(RUNTIME_IMAGE))
image:
	$(IMAGE_BUILD) -t $(IMAGE):$(IMAGE_TAG) .
	$(IMAGE_BUILD) --target ingest -t $(IMAGE)-ingest:$(IMAGE_TAG) .
	$(IMAGE_BUILD) --target query -t $(IMAGE)-query:$(IMAGE_TAG) .

# Builds the three images with podman (installed with apt when missing; bases
# bootstrapped from Debian's archive when no registry answers) and runs them
# as the cluster does: read-only, uid 1000, no capabilities. See the script.
image-test:
	./scripts/image-test.sh

# Unit tests only: service-backed tests skip.
test-unit:
	$(GO) test -short ./...

bench: tools
	./scripts/with-services.sh ./scripts/bench.sh

# lake/fulltext beside SQLite FTS5 on fortunes and 1M fleet memories (no
# services needed; FULLTEXT_N=100000 for a shorter run). BENCHMARKS.md.
bench-fulltext:
	./scripts/bench-fulltext.sh

# The console's page loads on a lake of CONSOLE_SYSTEMS systems (3 small
# records each), in headless Chromium; BENCHMARKS.md records the table.
CONSOLE_SYSTEMS ?= 10000
bench-console:
	AKOSHA_CONSOLE_SYSTEMS=$(CONSOLE_SYSTEMS) AKOSHA_FIGURES_DIR=$(CURDIR)/bin/figures \
		$(GO) test -count=1 -timeout 30m -v -run '^TestConsolePageLoadAtScale$$' ./cmd/akosha/

# Short fuzz runs of every target; FUZZTIME=10m for a long one.
FUZZTIME ?= 20s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin .tools

# Issue #8's long runs (RELIABILITY.md records their figures): 50 SIGKILL
# iterations of the ingest function and the compact job, 3 minutes of load,
# and a larger run under S3 faults. `make test` runs their short forms. The
# figures are printed and written to bin/figures/.
CRASH_ITERATIONS ?= 50
LOAD_DURATION    ?= 3m
FAULT_BATCHES    ?= 200
RELIABILITY_RUN   = AKOSHA_FIGURES_DIR=$(CURDIR)/bin/figures ./scripts/with-services.sh $(GO) test -count=1 -timeout 60m -v
.PHONY: crash load faults
crash: tools
	AKOSHA_CRASH_ITERATIONS=$(CRASH_ITERATIONS) $(RELIABILITY_RUN) -run '^TestCrashLoop$$' ./internal/reliability/
load: tools
	AKOSHA_LOAD_DURATION=$(LOAD_DURATION) $(RELIABILITY_RUN) -run '^TestLoad$$' ./internal/reliability/
faults: tools
	AKOSHA_FAULT_BATCHES=$(FAULT_BATCHES) $(RELIABILITY_RUN) -run '^TestHTTPUnderS3Faults$$' ./internal/reliability/

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

.PHONY: all build run test test-unit bench fuzz tools clean

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
	$(GO) vet ./...
	./scripts/with-services.sh $(GO) test $(TEST_FLAGS) $(RACE) ./...

# Unit tests only: service-backed tests skip.
test-unit:
	$(GO) test -short ./...

bench: tools
	./scripts/with-services.sh ./scripts/bench.sh

# Short fuzz runs of every target; FUZZTIME=10m for a long one.
FUZZTIME ?= 20s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin .tools

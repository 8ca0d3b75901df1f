# Exekra Orchestrator — every set-up step a fresh machine needs lives here.
SHELL := /bin/bash
GO ?= go
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.8.2
PKGS := ./...

.PHONY: all build run test vet check-imports cross dist lint bench fuzz clean

all: build

## build: compile bin/exekra
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/exekra ./cmd/exekra

## run: build, then start the server on ./data with a development license
## (generated once), activated and bootstrapped; prints the admin login
run: build
	@scripts/dev-run.sh

## test: vet + import rules + every platform's build + unit tests with -race
## + the end-to-end suite
test: build vet check-imports cross
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

vet:
	$(GO) vet $(PKGS)

## check-imports: adapters import messages only, never each other (README.md, Layout)
check-imports:
	@scripts/check-imports.sh

## cross: vet and build every released platform, so a platform break fails CI
## (docs/windows.md; TARGETS below)
## (the build machine's own platform is already vetted and built by vet and build)
TARGETS := linux/amd64 linux/arm64 windows/amd64 windows/arm64 darwin/arm64
HOST := $(shell $(GO) env GOOS)/$(shell $(GO) env GOARCH)
cross:
	@set -e; for t in $(filter-out $(HOST),$(TARGETS)); do \
	  echo "cross: $$t"; \
	  GOOS=$${t%/*} GOARCH=$${t#*/} CGO_ENABLED=0 $(GO) vet $(PKGS); \
	  GOOS=$${t%/*} GOARCH=$${t#*/} CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/exekra; \
	done

## dist: release binaries dist/exekra-<os>-<arch>[.exe] and dist/SHA256SUMS
dist:
	@rm -rf dist && mkdir -p dist
	@set -e; for t in $(TARGETS); do \
	  os=$${t%/*}; arch=$${t#*/}; ext=; [ "$$os" = windows ] && ext=.exe; \
	  echo "dist: exekra-$$os-$$arch$$ext"; \
	  GOOS=$$os GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/exekra-$$os-$$arch$$ext ./cmd/exekra; \
	done
	@cd dist && sha256sum exekra-* > SHA256SUMS && cat SHA256SUMS

## lint: gofmt + staticcheck (pinned, via the Go module proxy) + OpenAPI lint
## + the alerting rules of docs/monitoring (promtool check/test rules)
## + systemd-analyze verify of docs/deploy's unit
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	@scripts/openapi-lint.sh
	@scripts/monitoring-lint.sh
	@scripts/verify-units.sh

## bench: Go micro-benchmarks of the hot paths and a short run of every load
## scenario; writes docs/performance.md
bench: build
	@scripts/bench.sh

## fuzz: every fuzz target for FUZZTIME each (default 20s); make test runs
## their seed corpora as plain tests
FUZZTIME ?= 20s
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

clean:
	rm -rf bin dist

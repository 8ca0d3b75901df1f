# Exekra Orchestrator — every set-up step a fresh machine needs lives here.
SHELL := /bin/bash
GO ?= go
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.8.2
PKGS := ./...

.PHONY: all build run test vet check-imports lint bench fuzz clean

all: build

## build: compile bin/exekra
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/exekra ./cmd/exekra

## run: build, then start the server on ./data with a development license
## (generated once), activated and bootstrapped; prints the admin login
run: build
	@scripts/dev-run.sh

## test: vet + import rules + unit tests with -race + the end-to-end suite
test: build vet check-imports
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

vet:
	$(GO) vet $(PKGS)

## check-imports: adapters import messages only, never each other (STYLE)
check-imports:
	@scripts/check-imports.sh

## lint: gofmt + staticcheck (pinned, via the Go module proxy) + OpenAPI lint
## + the alerting rules of docs/monitoring (promtool check/test rules)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	@scripts/openapi-lint.sh
	@scripts/monitoring-lint.sh

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
	rm -rf bin

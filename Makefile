# Fengcheng Data Hub — developer and CI entry points.
#
#   make run     start the services, create + migrate + seed the database,
#                build and serve on http://127.0.0.1:8080
#   make test    start the services, then run every Go test (race detector on)
#
# Both work on a fresh Debian 12 machine that has Go: scripts/services.sh
# installs and starts PostgreSQL (+PostGIS) and Redis when they are not
# already answering on 127.0.0.1:5432 / 127.0.0.1:6379.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Go may be installed without being on PATH (/usr/local/go on our machines).
ifeq ($(shell command -v go 2>/dev/null),)
export PATH := /usr/local/go/bin:$(PATH)
endif
GO ?= go
# The Go release the hub is built and tested with (go.mod's toolchain line):
# the standard library's security fixes come with it. The go command fetches
# it through the module proxy when the installed Go is older, even where the
# installation says GOTOOLCHAIN=local.
GOTOOLCHAIN ?= go1.26.11+auto
export GOTOOLCHAIN

# Where the binary and the tests find the services. Override on the command
# line or in the environment, e.g. `make run DATABASE_URL=postgres://...`.
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/datahub?sslmode=disable
REDIS_URL    ?= redis://127.0.0.1:6379/0
export DATABASE_URL REDIS_URL

BIN          := bin/datahub
SERVE_FLAGS  ?=
TEST_FLAGS   ?= -race -count=1 -timeout 60m
BENCH_FLAGS  ?= -run '^$$' -bench . -benchmem

.PHONY: help run test unit vulncheck build generate check fmt-check vet lint generate-check bench bench-db bench-cases bench-load \
	services createdb npm-deps test-readers toolchain clean console console-deps

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk -F':.*## ' '{ printf "  make %-10s %s\n", $$1, $$2 }'

# ---------------------------------------------------------------- main targets

run: services createdb build ## services, database, migrate, seed, then serve on 127.0.0.1:8080
	$(BIN) migrate
	$(BIN) seed --if-empty
	$(BIN) serve $(SERVE_FLAGS)

test: services npm-deps test-readers console-deps toolchain check generate-check vulncheck ## checks, generated code current, govulncheck, every Go test against the real services, every benchmark once
	$(GO) test $(TEST_FLAGS) ./...
	@# Every benchmark once, so none rots (timings here mean nothing).
	DATAHUB_BENCH_IMPORT_ROWS=2000 $(GO) test -run '^$$' -bench . -benchtime 1x ./...

unit: ## fast tier: the tests that need no services, go test -short ./...
	$(GO) test -short ./...

# govulncheck reads the Go vulnerability database from the golang.org/x/vulndb
# module (its data/osv folder) fetched through the Go module proxy, so it works
# where vuln.go.dev is unreachable. CI pins the database so a run is
# reproducible; `make vulncheck VULNDB_VERSION=latest` checks against the newest
# one (do so before a release, then move the pin forward).
GOVULNCHECK_VERSION ?= v1.1.4
VULNDB_VERSION      ?= v0.0.0-20261105234957-e22db6528018

vulncheck: ## govulncheck against the Go vulnerability database (offline-capable)
	db=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	[[ -d $$db/data/osv ]] || { echo "vulncheck: golang.org/x/vulndb@$(VULNDB_VERSION) has no data/osv"; exit 1; }; \
	$(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db file://$$db/data/osv ./...

build: console ## build bin/datahub (with the console, rebuilt first when Node is present)
	$(GO) build -o $(BIN) ./cmd/datahub

console: ## build the governance console into internal/console/dist when its sources changed (needs Node; else the committed build)
	scripts/console-build.sh

generate: ## regenerate code (gqlgen etc.)
	$(GO) generate ./...

check: fmt-check vet lint ## gofmt, go vet, golangci-lint (.golangci.yml)

GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT         := bin/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)

$(GOLANGCI_LINT):
	mkdir -p bin/tools
	GOBIN=$(CURDIR)/bin/tools $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv bin/tools/golangci-lint $@

lint: $(GOLANGCI_LINT) ## golangci-lint: staticcheck, unused, gocognit, depguard (domain packages stay off pgx, Redis, Casbin, the policy engine, YAML, net/http)
	$(GOLANGCI_LINT) run ./...

generate-check: ## fail when go generate ./... would change the generated code
	scripts/generate-check.sh

fmt-check: # fails listing the files gofmt would change
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*' -print0 | \
		xargs -0 -r gofmt -l); \
	if [[ -n $$out ]]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

bench: services ## benchmarks only, no tests
	$(GO) test $(BENCH_FLAGS) ./...

BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/datahub_bench?sslmode=disable
BENCH_CASES        ?= 1000000

bench-db: services build ## a 1,000,000-case database for the case-list benchmarks
	DATABASE_URL=$(BENCH_DATABASE_URL) scripts/createdb.sh
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN) migrate
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN) seed --if-empty --cases $(BENCH_CASES)

bench-cases: bench-db ## the hub's benchmarks at 1,000,000 cases (figures in the README)
	DATAHUB_BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(GO) test -run '^$$' -bench . -benchmem -benchtime 3s ./internal/app/

BENCH_LOAD_FLAGS ?=

bench-load: services build ## the load benchmark S1–S7 through a hub it starts (1,000,000 cases; README's table)
	$(BIN) bench --database-url '$(BENCH_DATABASE_URL)' $(BENCH_LOAD_FLAGS)

clean: ## remove build output
	rm -rf bin

# ---------------------------------------------------------------- set-up steps

services: ## make sure PostgreSQL+PostGIS and Redis answer on 127.0.0.1
	scripts/services.sh

createdb: services ## create the database named by DATABASE_URL if missing
	scripts/createdb.sh

test-readers: ## python3-openpyxl and hyparquet, which the export tests read files back with
	scripts/test-readers.sh

npm-deps: ## npm packages for test/federation (no-op without its package.json)
	scripts/npm-deps.sh

console-deps: ## chromium, CJK fonts and the console's npm packages, for test/console
	scripts/console-deps.sh

toolchain: ## a C compiler for cgo / the race detector
	scripts/toolchain.sh

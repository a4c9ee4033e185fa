# Sightline. `make run` starts the server with embedded defaults (data in
# ./data); `make test` builds everything and runs every test.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X main.version=$(VERSION) -X main.revision=$(REVISION)

.PHONY: build run test lint fmt node ui ui-check ui-deps plugin plugin-backend

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/sightline ./cmd/sightline

run: build
	./bin/sightline -data.dir ./data

# Go's ./... would take in any Go files an npm package ships under
# ui/node_modules (one under grafana-plugin/node_modules does): the Go
# packages are listed without them.
GOPKGS = $(shell $(GO) list -e ./... | grep -v /node_modules/)

# bench/ and grafana-plugin/ are modules of their own, so that their
# libraries (plotting; Grafana's plugin SDK) are not dependencies of the
# server; lint and test cover all three modules. vet's stdmethods check
# wants every Seek to be io.Seeker's; a chunk iterator's is Prometheus'
# chunkenc.Iterator.Seek.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet -stdmethods=false $(GOPKGS)
	$(GO) -C bench vet ./...
	$(GO) -C grafana-plugin vet ./pkg/...

test: lint build ui-check
	$(GO) test -count=1 -timeout 15m $(GOPKGS)
	$(GO) -C bench test -count=1 -timeout 10m ./...
	$(GO) -C grafana-plugin test -count=1 -timeout 5m ./pkg/...

fmt:
	gofmt -w .

# The web UI (ui/, README "Web UI"). Its built files, ui/dist, are committed
# and embedded by go:embed, so building and running Sightline needs no Node;
# Node (20) and npm are needed only to change the UI. `make ui` rebuilds
# ui/dist from ui/src; `make ui-check` (part of `make test`) typechecks,
# runs the component tests, and builds a second copy to fail if the
# committed ui/dist is not what the sources build.
NPM ?= npm

# node installs Node and npm from Debian's packages when they are missing
# (as root), so that make test alone sets up a fresh machine.
node:
	@command -v $(NPM) >/dev/null 2>&1 || { \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "installing nodejs and npm (Debian packages)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm; \
		else echo "npm (Node 20) is needed to build and check the web UI and the Grafana plugin; install it"; exit 1; fi; }

ui-deps: node
	@if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then \
		cd ui && $(NPM) ci --no-audit --no-fund --loglevel=error; fi

ui: ui-deps
	cd ui && $(NPM) run --silent build

ui-check: ui-deps
	cd ui && $(NPM) run --silent typecheck && $(NPM) run --silent test
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
		(cd ui && node build.mjs $$tmp/dist) && \
		if ! diff -r ui/dist $$tmp/dist >/dev/null; then \
			echo "ui/dist is not what ui/src builds: run make ui and commit ui/dist"; exit 1; fi

# The Grafana datasource plugin (grafana-plugin/, issue 13). Its frontend is
# TypeScript/React built by webpack into grafana-plugin/dist (module.js,
# plugin.json, img/, README.md), which is not committed; Node (20) and npm are
# needed to build it. `make plugin-frontend` builds dist/ (keeping the Go
# backend's gpx_sightline_* executables there); `make plugin-check` (run by
# .ci/run, not by make test) typechecks, lints, runs the Jest tests, builds a
# production bundle into a temporary directory and checks its size budget, its
# plugin.json against Grafana's plugin.json schema, and that the bundle loads
# as Grafana loads it (AMD, Grafana's libraries external) and renders.
.PHONY: plugin-deps plugin-frontend plugin-check

plugin-deps: node
	@if [ ! -d grafana-plugin/node_modules ] || [ grafana-plugin/package-lock.json -nt grafana-plugin/node_modules/.package-lock.json ]; then \
		cd grafana-plugin && $(NPM) ci --no-audit --no-fund --loglevel=error; fi

plugin-frontend: plugin-deps
	cd grafana-plugin && $(NPM) run --silent build

plugin-check: plugin-deps
	cd grafana-plugin && $(NPM) run --silent typecheck && $(NPM) run --silent lint && $(NPM) run --silent test:ci
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && cd grafana-plugin && \
		$(NPM) run --silent build -- --env dist=$$tmp/dist >$$tmp/build.log 2>&1 || { cat $$tmp/build.log; exit 1; }; \
		node scripts/bundle-budget.js $$tmp/dist && node scripts/plugin-json.js src/plugin.json $$tmp/dist/plugin.json && \
		SIGHTLINE_PLUGIN_DIST=$$tmp/dist $(NPM) run --silent test:bundle

# `make plugin` builds all of grafana-plugin/dist (the frontend, plugin.json
# and the backend executables for the platforms Grafana runs on, named as
# Grafana looks them up: gpx_sightline_<os>_<arch>) and zips it as Grafana's
# plugin installer and plugins directory expect: one folder named after the
# plugin ID, in grafana-plugin/build.
PLUGIN_ID        := sightline-observability-datasource
PLUGIN_PLATFORMS := linux/amd64 linux/arm64 darwin/arm64 windows/amd64

plugin-backend:
	@for p in $(PLUGIN_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "plugin: backend for $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) -C grafana-plugin build -trimpath -ldflags "-s -w" \
			-o dist/gpx_sightline_$${os}_$${arch}$$ext ./pkg || exit 1; \
	done

plugin: plugin-frontend plugin-backend
	@rm -rf grafana-plugin/build && mkdir -p grafana-plugin/build && \
		cp -r grafana-plugin/dist grafana-plugin/build/$(PLUGIN_ID) && \
		(cd grafana-plugin/build && rm -f $(PLUGIN_ID).zip && zip -qr $(PLUGIN_ID).zip $(PLUGIN_ID)) && \
		echo "plugin: grafana-plugin/build/$(PLUGIN_ID).zip" && ls -l grafana-plugin/build/$(PLUGIN_ID).zip

# Benchmarks (bench/README.md): Sightline side by side with Prometheus and
# VictoriaMetrics on identical data; writes bench/results/$(BENCH_NAME).md and
# its plots. Takes about 15 minutes with the defaults. Extra slbench flags go
# in BENCH_FLAGS, e.g. `make bench BENCH_FLAGS="-repeats 1 -series 20000"`.
BENCH_NAME  ?= latest
BENCH_FLAGS ?=

.PHONY: bench bench-metrics bench-metrics-long bench-logs bench-logs-longrun bench-traces bench-traces-soak bench-soak bench-ui bench-deps bench-deps-logs bench-deps-traces bench-deps-metrics

bench: bench-metrics bench-logs bench-traces

# The benchmark's VictoriaMetrics is the one make bench-deps builds into
# bin/peers, or else the one in PATH (Debian's).
VM_FLAG = $$(test -x $(PEERS)/victoria-metrics && echo "-victoria-metrics $(PEERS)/victoria-metrics")

bench-metrics: build bench-deps
	$(GO) -C bench run ./cmd/slbench -sightline $(CURDIR)/bin/sightline $(VM_FLAG) -out $(CURDIR)/bench/results -name $(BENCH_NAME) $(BENCH_FLAGS)

# The long-retention simulation (issues 15 and 18): a week of data at a 60 s
# interval for 5,000 active series (about 50M samples), ingested as fast as
# the systems take it, so that the TSDBs compact it into long blocks
# (Sightline's and Prometheus' 2 h blocks merge into 6 h and 18 h ones under
# a 15-day retention) and the 24 h and 7 d queries read them. One repeat, all
# five targets; writes bench/results/long.md. About 20 minutes.
bench-metrics-long: build bench-deps
	$(GO) -C bench run ./cmd/slbench -sightline $(CURDIR)/bin/sightline $(VM_FLAG) -out $(CURDIR)/bench/results -name long -repeats 1 -series 5000 -intervals 10080 $(BENCH_FLAGS)

# The log benchmark (issues 3 and 10): 10 million OTLP log records, then
# trace-ID lookups, single-word searches, Grafana's LogQL queries (limit=100,
# log volume over 1 h and 24 h), parts, open files and RSS, and a restart
# after kill -9 with 1 million records in the head; writes
# bench/results/logs.md, logs.json and two plots. About 15 minutes: the volume queries read every
# record, which extrapolates to over a minute a run at 10M. Extra logbench
# flags go in LOGBENCH_FLAGS, e.g. `make bench-logs LOGBENCH_FLAGS="-records 1000000"`.
# With VictoriaLogs installed by `make bench-deps` (bin/peers), the same load
# and the equivalent LogsQL queries run against it too, side by side (issue
# 16); without it, Sightline runs alone. `LOGBENCH_FLAGS="-repeats 3"` runs
# the whole benchmark 3 times on fresh data: logs.md is then the median run
# with each key figure's median and min–max and the Sightline/VictoriaLogs
# ratios, logs-ratios.png and logs-latency.png plot them, logs.json keeps
# every run.
LOGBENCH_FLAGS ?=
bench-logs: build bench-deps-logs
	$(GO) -C bench run ./cmd/logbench -sightline $(CURDIR)/bin/sightline -victorialogs $(PEERS)/victoria-logs -out $(CURDIR)/bench/results -name logs $(LOGBENCH_FLAGS)

# The log long run (issue 10): a simulated week (7 × 24 hour partitions of
# 20,000 records) sent at a steady 6,000 records/s to a Sightline flushing
# every 2,000 records or second, sampling parts, open files and RSS; writes
# bench/results/logs-longrun.md, .json and two plots. About 10 minutes.
# Extra logbench flags go in LOGBENCH_FLAGS (-days, -records-per-hour, -rate, …).
bench-logs-longrun: build
	$(GO) -C bench run ./cmd/logbench -longrun -sightline $(CURDIR)/bin/sightline -out $(CURDIR)/bench/results -name logs-longrun $(LOGBENCH_FLAGS)

# The trace benchmark: 10 million realistic OTLP spans (span metrics and
# service graph on), then trace-by-ID, correlate and TraceQL search
# latencies, and 2 million spans in telemetrygen's shape for bytes per span;
# writes bench/results/traces.md, traces.json and two plots. Extra tracebench flags go in
# TRACEBENCH_FLAGS, e.g. `make bench-traces TRACEBENCH_FLAGS="-spans 1000000"`.
# With Jaeger v2 installed by `make bench-deps` (bin/peers), the realistic
# load, the trace-by-ID lookups and the equivalent searches run against it
# too, side by side, and the telemetrygen-shaped load (issue 16): Jaeger
# ingests 10-20 times slower (4,000-9,000 spans/s on 2 shared cores), so
# 30-60 minutes and 9 GB of disk more; without it, Sightline runs alone.
# `TRACEBENCH_FLAGS="-repeats 3"` runs the whole benchmark 3 times on fresh
# data: traces.md is then the median run with each key figure's median and
# min–max and the Sightline/Jaeger ratios, traces-ratios.png and
# traces-latency.png plot them, traces.json keeps every run.
TRACEBENCH_FLAGS ?=
bench-traces: build bench-deps-traces
	$(GO) -C bench run ./cmd/tracebench -sightline $(CURDIR)/bin/sightline -jaeger $(PEERS)/jaeger -out $(CURDIR)/bench/results -name traces $(TRACEBENCH_FLAGS)

# The trace soak (issue 16): realistic spans at a steady 1,000 spans/s for an
# hour to a Sightline cutting its head every second, then the same hour to
# Jaeger when bench-deps has built it, sampling every minute parts, open
# files, RSS, goroutines, bytes on disk and a fixed search's latency; writes
# bench/results/traces-soak.md, .json and a PNG per measure with both
# systems' curves. About 2 hours with Jaeger. Extra tracebench flags go in
# TRACEBENCH_FLAGS, e.g. `make bench-traces-soak TRACEBENCH_FLAGS="-soak-duration 10m"`.
bench-traces-soak: build bench-deps-traces
	$(GO) -C bench run ./cmd/tracebench -soak -sightline $(CURDIR)/bin/sightline -jaeger $(PEERS)/jaeger -out $(CURDIR)/bench/results -name traces-soak $(TRACEBENCH_FLAGS)

# The soak (issue 16): one Sightline under a steady load of logs, traces and
# metrics at once for an hour, heads flushed every 10 s, sampled every
# minute (parts, bytes on disk, open files, goroutines, RSS, one fixed query
# per signal); writes bench/results/soak.md, .json and five plots. Extra
# soakbench flags go in SOAKBENCH_FLAGS, e.g. `-duration 10m -sample-every 10s`.
SOAKBENCH_FLAGS ?=
bench-soak: build
	$(GO) -C bench run ./cmd/soakbench -sightline $(CURDIR)/bin/sightline -out $(CURDIR)/bench/results -name soak $(SOAKBENCH_FLAGS)

# The web UI in headless Chromium (issue 14): a trace of 10,000 spans and
# 5,000 log lines drawn and scrolled, the times printed (they depend on the
# machine; nothing is asserted). Needs chromium, as .ci/run installs it.
bench-ui:
	SIGHTLINE_UI_PERF=1 $(GO) test -count=1 -run '^TestWebUIPerformance$$' -v ./cmd/sightline

# VictoriaLogs, the logs peer, is built from its module (Apache-2.0) into
# bin/peers: about 8 minutes the first time, needing gcc for its zstd. A
# failed build leaves the log benchmark to run Sightline alone.
PEERS := $(CURDIR)/bin/peers
VICTORIALOGS_VERSION := v1.52.1
bench-deps-logs:
	@test -x $(PEERS)/victoria-logs || { echo "bench: building victoria-logs $(VICTORIALOGS_VERSION) into bin/peers"; \
		GOBIN=$(PEERS) $(GO) install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@$(VICTORIALOGS_VERSION) \
			|| echo "bench: building victoria-logs failed; the log benchmark runs Sightline alone"; }

# VictoriaMetrics, the metrics peer, is built from its module (Apache-2.0)
# into bin/peers too: a current release, which takes OTLP (the
# victoriametrics-otlp target); Debian's 1.79 has no OTLP ingest. About a
# minute the first time. A failed build leaves Debian's to run.
VICTORIAMETRICS_VERSION := v1.151.0
bench-deps-metrics:
	@test -x $(PEERS)/victoria-metrics || { echo "bench: building victoria-metrics $(VICTORIAMETRICS_VERSION) into bin/peers"; \
		GOBIN=$(PEERS) $(GO) install github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-metrics@$(VICTORIAMETRICS_VERSION) \
			|| echo "bench: building victoria-metrics failed; the metrics benchmark runs the one in PATH"; }

# Jaeger v2, the traces peer (Apache-2.0), is built as a Go tool of a scratch
# module in a temporary directory (its module is built that way, not by a
# plain go install) into bin/peers: about 15 minutes the first time. A
# failed build leaves the trace benchmark to run Sightline alone.
JAEGER_VERSION := v1.76.0
bench-deps-traces:
	@test -x $(PEERS)/jaeger || { echo "bench: building jaeger $(JAEGER_VERSION) into bin/peers"; \
		tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && cd $$tmp && \
		{ $(GO) mod init jaeger-build && $(GO) get -tool github.com/jaegertracing/jaeger/cmd/jaeger@$(JAEGER_VERSION); } >get.log 2>&1 && \
		GOBIN=$(PEERS) $(GO) install tool \
			|| { tail -20 get.log 2>/dev/null; echo "bench: building jaeger failed; the trace benchmark runs Sightline alone"; }; }

# Prometheus comes from Debian's package, and so does the VictoriaMetrics the
# metrics benchmark falls back to. Their services are stopped right after
# installation: the benchmark runs its own instances on its own ports and
# data directories, and a packaged instance would compete for the CPUs.
bench-deps: bench-deps-logs bench-deps-traces bench-deps-metrics
	@if command -v prometheus >/dev/null 2>&1 && command -v victoria-metrics >/dev/null 2>&1; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "bench: installing prometheus and victoria-metrics (Debian packages)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus victoria-metrics; } \
			|| echo "bench: installing the peers failed; the benchmark skips missing peers"; \
		for s in prometheus victoria-metrics; do \
			systemctl stop $$s >/dev/null 2>&1 || service $$s stop >/dev/null 2>&1 || true; \
		done; \
	else \
		echo "bench: prometheus or victoria-metrics missing and apt-get unusable here; the benchmark skips missing peers"; \
	fi

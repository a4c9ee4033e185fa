package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"

	"github.com/sightline-dev/sightline/alerting"
	"github.com/sightline-dev/sightline/ingest/collector"
	"github.com/sightline-dev/sightline/ingest/exporters"
	"github.com/sightline-dev/sightline/ingest/exporters/logsexporter"
	"github.com/sightline-dev/sightline/ingest/exporters/metricsexporter"
	"github.com/sightline-dev/sightline/ingest/exporters/tracesexporter"
	"github.com/sightline-dev/sightline/ingest/generator"
	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/gcgoal"
	"github.com/sightline-dev/sightline/internal/limits"
	"github.com/sightline-dev/sightline/query/logsapi"
	"github.com/sightline-dev/sightline/query/promapi"
	"github.com/sightline-dev/sightline/storage/diskguard"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/tracestore"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

// Set at build time with -ldflags "-X main.version=... -X main.revision=...".
var (
	version  = "dev"
	revision = "unknown"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "check" && os.Args[2] == "rules" {
		// sightline check rules <file>...: promtool check rules, for
		// files with LogQL (and MetricsQL) groups too.
		if len(os.Args) == 3 {
			fmt.Fprintln(os.Stderr, "usage: sightline check rules <rule file>...")
			os.Exit(2)
		}
		if !alerting.CheckRuleFiles(os.Stdout, os.Args[3:]...) {
			os.Exit(1)
		}
		return
	}
	cfg, err := loadConfig(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sightline:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "sightline:", err)
		os.Exit(1)
	}
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// stack holds what run must close, in the order it was started; unwind
// closes it in reverse.
type stack []func()

func (s *stack) push(f func()) { *s = append(*s, f) }

func (s stack) unwind() {
	for i := len(s) - 1; i >= 0; i-- {
		s[i]()
	}
}

// stores are the three stores and the span-metrics generator that writes
// into one of them.
type stores struct {
	metrics   *tsdbstore.Store
	logs      *logstore.Store
	traces    *tracestore.Store
	generator *generator.Generator
}

// openStores opens the stores and starts the generator; closes stops the
// generator before the metrics store it writes to.
func openStores(cfg config, logger *slog.Logger, reg prometheus.Registerer, closes *stack) (*stores, error) {
	closer := func(name string, close func() error) func() {
		return func() {
			if err := close(); err != nil {
				logger.Error("closing "+name, "err", err)
			}
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	guard, err := diskguard.New(cfg.DataDir, cfg.Disk, logger.With("component", "diskguard"), reg)
	if err != nil {
		return nil, err
	}
	closes.push(guard.Close)
	cfg.Metrics.Guard, cfg.Logs.Guard, cfg.Traces.Guard = guard, guard, guard
	var s stores
	if s.metrics, err = tsdbstore.Open(cfg.DataDir, logger.With("component", "tsdb"), reg, cfg.Metrics); err != nil {
		return nil, err
	}
	closes.push(closer("metrics store", s.metrics.Close))
	if s.logs, err = logstore.Open(cfg.DataDir, cfg.Logs, logger.With("component", "logstore"), reg); err != nil {
		return nil, err
	}
	closes.push(closer("log store", s.logs.Close))
	if s.traces, err = tracestore.Open(cfg.DataDir, cfg.Traces, logger.With("component", "tracestore"), reg); err != nil {
		return nil, err
	}
	closes.push(closer("trace store", s.traces.Close))
	if s.generator, err = generator.New(s.metrics, cfg.Generator, logger.With("component", "generator"), reg); err != nil {
		return nil, err
	}
	s.generator.Start()
	closes.push(s.generator.Stop)
	return &s, nil
}

// alertParts are the built-in Alertmanager, the external ones and the
// rules.
type alertParts struct {
	am       *alerting.Alertmanager
	external *alerting.External // nil without -alertmanager.url
	rules    *alerting.Rules
}

// startAlerting starts the Alertmanagers and the rules, whose LogQL
// groups logQuery evaluates.
func startAlerting(cfg config, externalURL *url.URL, st *stores, engine promql.QueryEngine, logQuery rules.QueryFunc, logger *slog.Logger, reg prometheus.Registerer, closes *stack) (*alertParts, error) {
	var a alertParts
	amOpts := cfg.Alertmanager
	amOpts.DataDir = filepath.Join(cfg.DataDir, "alertmanager")
	amOpts.ExternalURL = externalURL
	var err error
	if a.am, err = alerting.NewAlertmanager(amOpts, logger.With("component", "alertmanager"), reg); err != nil {
		return nil, err
	}
	closes.push(a.am.Stop)
	senders := alerting.Senders{a.am}
	if len(cfg.External.URLs) > 0 {
		if a.external, err = alerting.NewExternal(cfg.External, logger.With("component", "notifier"), reg); err != nil {
			return nil, err
		}
		closes.push(a.external.Stop)
		senders = append(senders, a.external)
	}
	ruleOpts := cfg.Rules
	ruleOpts.ExternalURL = externalURL
	ruleOpts.LogQuery = logQuery
	a.rules = alerting.NewRules(ruleOpts, engine, st.metrics, st.metrics, senders, logger.With("component", "rules"), reg)
	if err := a.rules.Reload(); err != nil {
		return nil, err
	}
	a.rules.Run()
	closes.push(a.rules.Stop)
	return &a, nil
}

// reload reloads the rules and the Alertmanager's configuration.
func (a *alertParts) reload() error { return errors.Join(a.rules.Reload(), a.am.Reload()) }

// reloadOnHUP reloads on every SIGHUP until the returned stop is called.
func reloadOnHUP(reload func() error, logger *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if err := reload(); err != nil {
				logger.Error("reload failed; the previous rules and Alertmanager configuration stay", "err", err)
			} else {
				logger.Info("reloaded rules and Alertmanager configuration")
			}
		}
	}()
	return func() { signal.Stop(hup); close(hup) }
}

// run starts the stores, the query engine and APIs, the Alertmanager and the
// rules, the HTTP port and last the collector's receivers; when ctx is done
// it stops them in reverse order, receivers first.
func run(ctx context.Context, cfg config) error {
	logger, err := newLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	if cfg.GOGC < 1 {
		return fmt.Errorf("runtime.gogc is %d: it must be at least 1", cfg.GOGC)
	}
	if cfg.GCMinHeadroom < 0 {
		return fmt.Errorf("runtime.gc-min-headroom is %d bytes: it must not be negative", cfg.GCMinHeadroom)
	}
	if os.Getenv("GOGC") == "" {
		defer gcgoal.Start(cfg.GOGC, uint64(cfg.GCMinHeadroom)).Stop()
	}
	externalURL, err := externalURL(cfg)
	if err != nil {
		return err
	}
	users, err := auth.Load(cfg.Auth)
	if err != nil {
		return err
	}
	cfg.Collector.Auth = users
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), exporters.Panics)
	var closes stack
	defer func() { closes.unwind() }()

	lim, err := limits.New(cfg.Limits, logger.With("component", "limits"), reg)
	if err != nil {
		return err
	}
	closes.push(lim.Close)
	lim.AdmitExisting(existingTenants(cfg.DataDir)...)
	cfg.Collector.Tenants = lim
	cfg.Metrics.Limiter, cfg.Logs.Limiter, cfg.Traces.Limiter, cfg.RemoteWrite.Limits, cfg.Alertmanager.Limits = lim, lim, lim, lim, lim
	st, err := openStores(cfg, logger, reg, &closes)
	if err != nil {
		return err
	}
	engine := promapi.NewEngine(cfg.Engine, logger, reg)
	lokiOpts := cfg.LogsAPI
	lokiOpts.Version = version
	logsAPI := logsapi.New(st.logs, engine, lokiOpts, logger.With("component", "logs-api"), reg)
	closes.push(logsAPI.Close)
	alerts, err := startAlerting(cfg, externalURL, st, engine, logsAPI.InstantQuery, logger, reg, &closes)
	if err != nil {
		return err
	}
	reload := func() error { return errors.Join(alerts.reload(), lim.Reload()) }
	closes.push(reloadOnHUP(reload, logger))

	// The collector is built before the HTTP port so readiness can ask it.
	col, err := collector.New(cfg.Collector, collector.Exporters{
		Metrics: metricsexporter.NewFactory(st.metrics, logger.With("component", "metrics-exporter"), reg),
		Logs:    logsexporter.NewFactory(st.logs, logger.With("component", "logs-exporter")),
		Traces:  tracesexporter.NewFactory(st.traces, st.generator, logger.With("component", "traces-exporter")),
	}, logger, reg)
	if err != nil {
		return err
	}

	var ready atomic.Bool
	ln, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPListen, err)
	}
	parts, err := newHTTPParts(cfg, st, engine, logsAPI, alerts, reload, ready.Load, logger, reg)
	if err != nil {
		return err
	}
	parts.limitQueries(lim)
	parts.compressAnswers()
	var handler http.Handler = newHTTPHandler(parts, reg, ready.Load, logger)
	if users != nil {
		handler = users.Middleware(handler, adminOnly)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	httpDone := make(chan error, 1)
	go func() { httpDone <- serveHTTP(srv, ln, cfg.Auth.WebConfigFile, logger) }()
	closes.push(func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	})

	colCtx, stopCol := context.WithCancel(ctx)
	defer stopCol()
	colDone := make(chan error, 1)
	go func() { colDone <- col.Run(colCtx) }()
	if err := waitRunning(ctx, col, colDone); err != nil || ctx.Err() != nil {
		return err
	}
	ready.Store(true)
	logger.Info("Sightline is ready", "version", version, "http", ln.Addr().String(),
		"otlp_grpc", cfg.Collector.GRPCEndpoint, "otlp_http", cfg.Collector.HTTPEndpoint, "data_dir", cfg.DataDir)

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-colDone:
		return fmt.Errorf("collector stopped: %w", err)
	case err := <-httpDone:
		return fmt.Errorf("HTTP server stopped: %w", err)
	}
	ready.Store(false)
	// Receivers first, so nothing is acknowledged that cannot be stored.
	col.Shutdown()
	<-colDone
	logsAPI.Close() // ends live tails, which the HTTP server's shutdown would wait for
	return nil
}

// waitRunning waits until the collector's receivers listen, it stops, or
// ctx is done.
func waitRunning(ctx context.Context, col *collector.Collector, done <-chan error) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !col.Running() {
		select {
		case err := <-done:
			if err == nil {
				err = errors.New("collector stopped during start-up")
			}
			return err
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// existingTenants are the tenants with data in dataDir.
func existingTenants(dataDir string) []string {
	entries, _ := os.ReadDir(filepath.Join(dataDir, "tenants")) // none yet is no tenant
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// externalURL is -web.external-url, or http://<hostname><listen address>.
func externalURL(cfg config) (*url.URL, error) {
	s := cfg.ExternalURL
	if s == "" {
		host, err := os.Hostname()
		if err != nil {
			host = "localhost"
		}
		_, port, _ := net.SplitHostPort(cfg.HTTPListen)
		s = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("web.external-url %q: want an absolute URL", s)
	}
	return u, nil
}

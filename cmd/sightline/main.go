package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	promv1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/sightline-dev/sightline/alerting"
	"github.com/sightline-dev/sightline/ingest/collector"
	"github.com/sightline-dev/sightline/ingest/exporters/logsexporter"
	"github.com/sightline-dev/sightline/ingest/exporters/metricsexporter"
	"github.com/sightline-dev/sightline/ingest/exporters/tracesexporter"
	"github.com/sightline-dev/sightline/ingest/generator"
	"github.com/sightline-dev/sightline/ingest/lokipush"
	"github.com/sightline-dev/sightline/ingest/remotewrite"
	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/limits"
	"github.com/sightline-dev/sightline/query/correlate"
	"github.com/sightline-dev/sightline/query/logsapi"
	"github.com/sightline-dev/sightline/query/promapi"
	"github.com/sightline-dev/sightline/query/tempoapi"
	"github.com/sightline-dev/sightline/storage/diskguard"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/tenant"
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
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var closes stack
	defer func() { closes.unwind() }()

	lim, err := limits.New(cfg.Limits, logger.With("component", "limits"), reg)
	if err != nil {
		return err
	}
	closes.push(lim.Close)
	lim.Admit(existingTenants(cfg.DataDir)...)
	cfg.Metrics.Limiter, cfg.Logs.Limiter, cfg.Traces.Limiter, cfg.RemoteWrite.Limits = lim, lim, lim, lim
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

// serveHTTP serves the HTTP port, with TLS and basic authentication as
// Prometheus serves its own when webConfigFile is set (exporter-toolkit).
func serveHTTP(srv *http.Server, ln net.Listener, webConfigFile string, logger *slog.Logger) error {
	if webConfigFile == "" {
		return srv.Serve(ln)
	}
	noSystemd := false
	return web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &webConfigFile, WebSystemdSocket: &noSystemd, WebListenAddresses: &[]string{}}, logger)
}

// adminOnly are the paths of the operator, not of a tenant: with users,
// only admins may use them.
func adminOnly(path string) bool {
	return path == "/metrics" || path == "/-/reload" || strings.HasPrefix(path, "/debug/pprof/")
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

// newHTTPParts builds the handlers of the HTTP port.
func newHTTPParts(cfg config, st *stores, engine promql.QueryEngine, logsAPI *logsapi.API, alerts *alertParts, reload func() error, ready func() bool, logger *slog.Logger, reg *prometheus.Registry) (httpParts, error) {
	apiOpts := cfg.PromAPI
	if alerts.external != nil {
		apiOpts.Alertmanagers = alerts.external
	}
	apiOpts.LookbackDelta = cfg.Engine.LookbackDelta
	apiOpts.Version, apiOpts.Revision = version, revision
	apiOpts.DataDir, _ = filepath.Abs(cfg.DataDir)
	apiOpts.Ready = ready
	apiOpts.Flags = flagsMap(cfg)
	apiOpts.Rules = func(ctx context.Context) promv1.RulesRetriever { return alerts.rules.ForContext(ctx) }
	tempoOpts := tempoapi.DefaultOptions()
	tempoOpts.Version = version
	promAPI, err := promapi.New(st.metrics, engine, apiOpts, logger, reg, reg)
	if err != nil {
		return httpParts{}, err
	}
	return httpParts{
		remoteWrite:  remotewrite.New(st.metrics, cfg.RemoteWrite, logger.With("component", "remote-write"), reg),
		lokiPush:     lokipush.New(st.logs, cfg.LokiPush, logger.With("component", "loki-push"), reg),
		promAPI:      promAPI,
		logsAPI:      logsAPI.Handler(),
		alertmanager: alerts.am.TenantHandler(),
		tempoAPI:     tempoapi.New(tempoapi.NewStore(st.traces), tempoOpts, logger.With("component", "tempo-api"), reg).Handler(),
		correlate:    correlate.New(st.traces, st.logs, st.metrics, logger.With("component", "correlate"), reg).Handler(),
		reload:       lifecycle(cfg, reload),
		pprof:        cfg.EnablePprof,
	}, nil
}

// limitQueries runs the query APIs within each tenant's concurrency limit.
func (p *httpParts) limitQueries(lim *limits.Registry) {
	liveTail := func(path string) bool { return path == "/loki/api/v1/tail" }
	for _, h := range []*http.Handler{&p.promAPI, &p.logsAPI, &p.tempoAPI, &p.correlate} {
		*h = lim.QueryMiddleware(*h, liveTail)
	}
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

// lifecycle is reload if -web.enable-lifecycle allows reloading over HTTP.
func lifecycle(cfg config, reload func() error) func() error {
	if !cfg.EnableLifecycle {
		return nil
	}
	return reload
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

// httpParts are the handlers the HTTP port serves.
type httpParts struct {
	remoteWrite  http.Handler // POST /api/v1/write
	lokiPush     http.Handler // POST /loki/api/v1/push
	promAPI      http.Handler // /api/v1/
	logsAPI      http.Handler // /api/v1/logs/ and /loki/
	alertmanager http.Handler // Alertmanager's /api/v2/
	tempoAPI     http.Handler // Tempo's /api/traces/, /api/search, /api/metrics/...
	correlate    http.Handler // /api/v1/correlate/
	reload       func() error // POST /-/reload; nil answers 403
	pprof        bool         // serve /debug/pprof/
}

// newHTTPHandler lays out the HTTP port.
func newHTTPHandler(parts httpParts, reg *prometheus.Registry, ready func() bool, logger *slog.Logger) http.Handler {
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:                        "sightline_http_request_duration_seconds",
		Help:                        "Duration of HTTP requests on the HTTP port, by handler and status code.",
		Buckets:                     prometheus.DefBuckets,
		NativeHistogramBucketFactor: 1.1,
	}, []string{"handler", "code", "method"})
	reg.MustRegister(dur)
	panics := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sightline_http_panics_total",
		Help: "Requests on the HTTP port whose handler panicked (answered 500), by handler. Each is a bug.",
	}, []string{"handler"})
	reg.MustRegister(panics)
	instrument := func(name string, h http.Handler) http.Handler {
		return promhttp.InstrumentHandlerDuration(dur.MustCurryWith(prometheus.Labels{"handler": name}), recoverPanics(h, panics.WithLabelValues(name), logger))
	}

	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/write", instrument("/api/v1/write", whenReady(ready, tenant.Middleware(parts.remoteWrite))))
	mux.Handle("POST /loki/api/v1/push", instrument("/loki/api/v1/push", whenReady(ready, tenant.Middleware(parts.lokiPush))))
	mux.Handle("/api/v1/", instrument("/api/v1", tenant.Middleware(parts.promAPI)))
	mux.Handle("/api/v1/logs/", instrument("/api/v1/logs", tenant.Middleware(parts.logsAPI)))
	mux.Handle("/loki/", instrument("/loki", tenant.Middleware(parts.logsAPI)))
	mux.Handle("/api/v1/correlate/", instrument("/api/v1/correlate", tenant.Middleware(parts.correlate)))
	for _, p := range []string{"/api/traces/", "/api/v2/traces/", "/api/search", "/api/search/", "/api/v2/search/", "/api/echo", "/api/status/buildinfo", "/api/metrics/"} {
		mux.Handle(p, instrument("/api (tempo)", tenant.Middleware(parts.tempoAPI)))
	}
	for _, p := range []string{"/api/v2/alerts", "/api/v2/alerts/", "/api/v2/silences", "/api/v2/silence/", "/api/v2/status", "/api/v2/receivers"} {
		mux.Handle(p, instrument("/api/v2 (alertmanager)", tenant.Middleware(parts.alertmanager)))
	}
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if parts.reload == nil {
			http.Error(w, "Lifecycle API is not enabled: start with -web.enable-lifecycle, or send SIGHUP.", http.StatusForbidden)
			return
		}
		if err := parts.reload(); err != nil {
			http.Error(w, "failed to reload config: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded.")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Sightline is Healthy.")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) {
		if !ready() {
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Sightline is Ready.")
	})
	if parts.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// whenReady answers 503 until the server is ready, as Prometheus does for
// its write endpoints.
func whenReady(ready func() bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready() {
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics answers 500 for a request whose handler panics, instead of
// net/http's dropped connection, and counts and logs it with its stack:
// no request may take a goroutine's panic any further than its own answer.
func recoverPanics(next http.Handler, panics prometheus.Counter, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler { // the handler's way to abort a response on purpose
				panic(p)
			}
			panics.Inc()
			logger.Error("panic serving a request; answered 500", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			http.Error(w, fmt.Sprintf("internal error: %v", p), http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}

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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	promv1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/sightline-dev/sightline/alerting"
	"github.com/sightline-dev/sightline/collector"
	"github.com/sightline-dev/sightline/exporters/logsexporter"
	"github.com/sightline-dev/sightline/exporters/metricsexporter"
	"github.com/sightline-dev/sightline/exporters/spanmetrics"
	"github.com/sightline-dev/sightline/exporters/tracesexporter"
	"github.com/sightline-dev/sightline/query/correlate"
	"github.com/sightline-dev/sightline/query/logsapi"
	"github.com/sightline-dev/sightline/query/promapi"
	"github.com/sightline-dev/sightline/query/tempoapi"
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

// run starts the stores, the query engine and APIs, the Alertmanager and the
// rules, the HTTP port and last the collector's receivers; when ctx is done
// it stops them in reverse order, receivers first.
func run(ctx context.Context, cfg Config) error {
	logger, err := newLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Storage.
	st := tsdbstore.DefaultOptions()
	st.Retention = time.Duration(cfg.MetricsRetention)
	st.MaxBytes = int64(cfg.MetricsRetentionMax)
	st.OutOfOrderWindow = time.Duration(cfg.MetricsOOOWindow)
	st.MaxExemplars = cfg.MetricsMaxExemplars
	store, err := tsdbstore.Open(cfg.DataDir, logger.With("component", "tsdb"), reg, st)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			logger.Error("closing metrics store", "err", err)
		}
	}()

	lo := logstore.DefaultOptions()
	lo.Retention = time.Duration(cfg.LogsRetention)
	lo.MaxBytes = int64(cfg.LogsRetentionSize)
	lo.MaxRecordBytes = int(cfg.LogsMaxRecordSize)
	lo.MaxScanRecords = cfg.LogsMaxScanRecords
	lo.HeadMaxRows = cfg.LogsHeadMaxRecords
	lo.HeadMaxAge = time.Duration(cfg.LogsHeadMaxAge)
	lo.WALSyncInterval = time.Duration(cfg.LogsWALSync)
	lo.MergeMaxRows = cfg.LogsMergeMaxRecs
	lo.FullTextMinRecords = cfg.LogsFullTextMin
	logStore, err := logstore.Open(cfg.DataDir, lo, logger.With("component", "logstore"), reg)
	if err != nil {
		return err
	}
	defer func() {
		if err := logStore.Close(); err != nil {
			logger.Error("closing log store", "err", err)
		}
	}()

	to := tracestore.DefaultOptions()
	to.Retention = time.Duration(cfg.TracesRetention)
	to.MaxBytes = int64(cfg.TracesRetentionSize)
	to.MaxSpanBytes = int(cfg.TracesMaxSpanSize)
	to.MaxScanSpans = cfg.TracesMaxScanSpans
	to.HeadMaxRows = cfg.TracesHeadMaxSpans
	to.HeadMaxAge = time.Duration(cfg.TracesHeadMaxAge)
	to.WALSyncInterval = time.Duration(cfg.TracesWALSync)
	to.MergeMaxRows = cfg.TracesMergeMaxSpans
	traceStore, err := tracestore.Open(cfg.DataDir, to, logger.With("component", "tracestore"), reg)
	if err != nil {
		return err
	}
	defer func() {
		if err := traceStore.Close(); err != nil {
			logger.Error("closing trace store", "err", err)
		}
	}()
	smo := spanmetrics.DefaultOptions()
	smo.FlushInterval = time.Duration(cfg.SpanMetricsInterval)
	spanMetrics, err := spanmetrics.New(store, smo, logger.With("component", "spanmetrics"), reg)
	if err != nil {
		return err
	}
	spanMetrics.Start()
	// Stopped after the collector (which feeds it) and before the metrics
	// store (which it writes to): defers run in reverse.
	defer spanMetrics.Stop()

	externalURL, err := externalURL(cfg)
	if err != nil {
		return err
	}
	engine := promapi.NewEngine(promapi.EngineOptions{
		QueryTimeout:  time.Duration(cfg.QueryTimeout),
		MaxSamples:    cfg.QueryMaxSamples,
		LookbackDelta: time.Duration(cfg.QueryLookbackDelta),
	}, logger, reg)

	lokiOpts := logsapi.DefaultOptions()
	lokiOpts.Version = version
	logsAPI := logsapi.New(logStore, engine, lokiOpts, logger.With("component", "logs-api"), reg)
	defer logsAPI.Close()

	// Alerting: the built-in Alertmanager, external ones, then the rules.
	am, err := alerting.NewAlertmanager(alerting.AlertmanagerOptions{
		ConfigFile:  cfg.AlertmanagerConfig,
		DataDir:     filepath.Join(cfg.DataDir, "alertmanager"),
		Retention:   time.Duration(cfg.AlertmanagerRetain),
		ExternalURL: externalURL,
	}, logger.With("component", "alertmanager"), reg)
	if err != nil {
		return err
	}
	defer am.Stop()
	senders := alerting.Senders{am}
	apiOpts := promapi.DefaultOptions()
	if len(cfg.AlertmanagerURLs) > 0 {
		ext, err := alerting.NewExternal(cfg.AlertmanagerURLs, logger.With("component", "notifier"), reg)
		if err != nil {
			return err
		}
		defer ext.Stop()
		senders = append(senders, ext)
		apiOpts.Alertmanagers = ext
	}
	ruleOpts := alerting.DefaultRulesOptions()
	ruleOpts.Files = cfg.RuleFiles
	ruleOpts.TenantDir = cfg.RuleTenantDir
	ruleOpts.EvaluationInterval = time.Duration(cfg.RuleEvalInterval)
	ruleOpts.ExternalURL = externalURL
	ruleOpts.ResendDelay = time.Duration(cfg.RuleResendDelay)
	ruleOpts.OutageTolerance = time.Duration(cfg.RuleOutageTolerance)
	ruleOpts.ForGracePeriod = time.Duration(cfg.RuleForGracePeriod)
	ruleOpts.LogQuery = logsAPI.InstantQuery
	rules := alerting.NewRules(ruleOpts, engine, store, store, senders, logger.With("component", "rules"), reg)
	if err := rules.Reload(); err != nil {
		return err
	}
	rules.Run()
	defer rules.Stop()
	reload := func() error {
		return errors.Join(rules.Reload(), am.Reload())
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := reload(); err != nil {
				logger.Error("reload failed; the previous rules and Alertmanager configuration stay", "err", err)
			} else {
				logger.Info("reloaded rules and Alertmanager configuration")
			}
		}
	}()

	// Collector (built before the HTTP port so readiness can ask it).
	col, err := collector.New(collector.Options{
		GRPCEndpoint:          cfg.OTLPGRPCListen,
		HTTPEndpoint:          cfg.OTLPHTTPListen,
		MaxRecvMsgSizeMiB:     cfg.OTLPMaxRecvMsgMiB,
		MaxRequestBodyBytes:   int64(cfg.OTLPMaxBodySize),
		MemoryLimitPercentage: uint32(cfg.MemoryLimitPercent),
		MemorySpikePercentage: uint32(cfg.MemorySpikePercent),
		MemoryLimitMiB:        uint32(cfg.MemoryLimitMiB),
		ConfigFiles:           cfg.CollectorConfigs,
		LogLevel:              cfg.CollectorLogLevel,
	}, collector.Exporters{
		Metrics: metricsexporter.NewFactory(store, logger.With("component", "metrics-exporter"), reg),
		Logs:    logsexporter.NewFactory(logStore, logger.With("component", "logs-exporter")),
		Traces:  tracesexporter.NewFactory(traceStore, spanMetrics, logger.With("component", "traces-exporter")),
	}, logger, reg)
	if err != nil {
		return err
	}

	// HTTP port.
	var ready atomic.Bool
	apiOpts.LookbackDelta = time.Duration(cfg.QueryLookbackDelta)
	apiOpts.MaxRequestBodyBytes = int64(cfg.RemoteWriteMaxBody)
	apiOpts.Version, apiOpts.Revision = version, revision
	apiOpts.DataDir, _ = filepath.Abs(cfg.DataDir)
	apiOpts.Ready = ready.Load
	apiOpts.Flags = flagsMap(cfg)
	apiOpts.Rules = func(ctx context.Context) promv1.RulesRetriever { return rules.ForContext(ctx) }
	tempoOpts := tempoapi.DefaultOptions()
	tempoOpts.Version = version
	handler := newHTTPHandler(httpParts{
		promAPI:      promapi.New(store, engine, apiOpts, logger, reg, reg),
		logsAPI:      logsAPI.Handler(),
		alertmanager: am.Handler(),
		tempoAPI:     tempoapi.New(tempoapi.NewStore(traceStore), tempoOpts, logger.With("component", "tempo-api"), reg).Handler(),
		correlate:    correlate.New(traceStore, logStore, store, logger.With("component", "correlate"), reg).Handler(),
		reload:       reload,
	}, reg, ready.Load)

	ln, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPListen, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()

	colCtx, stopCol := context.WithCancel(ctx)
	defer stopCol()
	colDone := make(chan error, 1)
	go func() { colDone <- col.Run(colCtx) }()

	// Ready once the collector's receivers listen.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !col.Running() {
		select {
		case err := <-colDone:
			if err == nil {
				err = errors.New("collector stopped during start-up")
			}
			return err
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	ready.Store(true)
	logger.Info("Sightline is ready", "version", version, "http", ln.Addr().String(),
		"otlp_grpc", cfg.OTLPGRPCListen, "otlp_http", cfg.OTLPHTTPListen, "data_dir", cfg.DataDir)

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
	logsAPI.Close()
	return nil
}

func flagsMap(cfg Config) map[string]string {
	m := map[string]string{}
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	cfg.register(fs)
	fs.VisitAll(func(f *flag.Flag) { m[f.Name] = f.Value.String() })
	return m
}

// externalURL is -web.external-url, or http://<hostname><listen address>.
func externalURL(cfg Config) (*url.URL, error) {
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
	promAPI      http.Handler // /api/v1/
	logsAPI      http.Handler // /api/v1/logs/ and /loki/
	alertmanager http.Handler // Alertmanager's /api/v2/
	tempoAPI     http.Handler // Tempo's /api/traces/, /api/search...
	correlate    http.Handler // /api/v1/correlate/
	reload       func() error // POST /-/reload
}

// newHTTPHandler lays out the HTTP port.
func newHTTPHandler(parts httpParts, reg *prometheus.Registry, ready func() bool) http.Handler {
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:                        "sightline_http_request_duration_seconds",
		Help:                        "Duration of HTTP requests on the HTTP port, by handler and status code.",
		Buckets:                     prometheus.DefBuckets,
		NativeHistogramBucketFactor: 1.1,
	}, []string{"handler", "code", "method"})
	reg.MustRegister(dur)
	instrument := func(name string, h http.Handler) http.Handler {
		return promhttp.InstrumentHandlerDuration(dur.MustCurryWith(prometheus.Labels{"handler": name}), h)
	}

	mux := http.NewServeMux()
	mux.Handle("/api/v1/", instrument("/api/v1", tenant.Middleware(parts.promAPI)))
	mux.Handle("/api/v1/logs/", instrument("/api/v1/logs", tenant.Middleware(parts.logsAPI)))
	mux.Handle("/loki/", instrument("/loki", tenant.Middleware(parts.logsAPI)))
	mux.Handle("/api/v1/correlate/", instrument("/api/v1/correlate", tenant.Middleware(parts.correlate)))
	for _, p := range []string{"/api/traces/", "/api/v2/traces/", "/api/search", "/api/search/", "/api/v2/search/", "/api/echo", "/api/status/buildinfo"} {
		mux.Handle(p, instrument("/api (tempo)", tenant.Middleware(parts.tempoAPI)))
	}
	for _, p := range []string{"/api/v2/alerts", "/api/v2/alerts/", "/api/v2/silences", "/api/v2/silence/", "/api/v2/status", "/api/v2/receivers"} {
		mux.Handle(p, instrument("/api/v2 (alertmanager)", parts.alertmanager))
	}
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
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
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/prometheus/promql"
	promv1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/sightline-dev/sightline/ingest/lokipush"
	"github.com/sightline-dev/sightline/ingest/remotewrite"
	"github.com/sightline-dev/sightline/internal/limits"
	"github.com/sightline-dev/sightline/query/correlate"
	"github.com/sightline-dev/sightline/query/logsapi"
	"github.com/sightline-dev/sightline/query/promapi"
	"github.com/sightline-dev/sightline/query/statusapi"
	"github.com/sightline-dev/sightline/query/tempoapi"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/ui"
)

// The HTTP port: which handler serves which path, and what wraps them
// (tenants, authentication, readiness, limits, panics, metrics).

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
		status:       statusapi.Handler(st.metrics, st.logs, st.traces, time.Now()),
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

// compressAnswers gzips the query APIs' answers for clients that accept
// gzip, as Prometheus, Loki and Tempo do, with writers from one pool at the
// fastest level, as VictoriaMetrics does (gzhttp); an answer under 1 KiB
// goes as it is, since gzip would not make it much smaller. Prometheus' API
// compresses every answer itself, with a gzip writer made for the request:
// about 1 MB allocated for each, which over a large head meant a garbage
// collection every hundred requests, and 3 ms at p90 for an answer of 100
// bytes (TestAnswersCompressedFromPool). So the APIs behind it see no
// Accept-Encoding. A live tail's WebSocket handshake is passed through: the
// connection is taken over, and nothing may be written after it.
func (p *httpParts) compressAnswers() {
	gz, err := gzhttp.NewWrapper(gzhttp.CompressionLevel(gzip.BestSpeed))
	if err != nil {
		panic(err) // the options are fixed
	}
	for _, h := range []*http.Handler{&p.promAPI, &p.logsAPI, &p.tempoAPI, &p.correlate} {
		next := *h
		compressed := gz(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del("Accept-Encoding")
			next.ServeHTTP(w, r)
		}))
		*h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Upgrade") != "" {
				next.ServeHTTP(w, r)
				return
			}
			compressed(w, r)
		})
	}
}

// lifecycle is reload if -web.enable-lifecycle allows reloading over HTTP.
func lifecycle(cfg config, reload func() error) func() error {
	if !cfg.EnableLifecycle {
		return nil
	}
	return reload
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
	status       http.Handler // GET /api/v1/status/sightline
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
	mux.Handle("GET /api/v1/status/sightline", instrument("/api/v1/status/sightline", tenant.Middleware(parts.status)))
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
	mux.Handle("/-/ready", whenReady(ready, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Sightline is Ready.")
	})))
	// The web UI takes every path no pattern above claims: "/" is the least
	// specific pattern, so it shadows none of them. It is not behind the
	// tenant middleware: the page is the same for all tenants, and its API
	// calls carry the tenant.
	mux.Handle("/", instrument("/ (ui)", ui.Handler()))
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

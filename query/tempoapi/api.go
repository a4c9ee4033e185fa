package tempoapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/throttle"
	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tracestore"
)

// Store is what the API reads traces from: NewStore makes one of the trace
// store (storage/tracestore) and the TraceQL engine. Every method reads the
// tenant of ctx only.
type Store interface {
	// Trace returns every stored span of trace id of the ctx's tenant (any
	// age, no time range), sorted by start; none → empty slice, nil error.
	Trace(ctx context.Context, id [16]byte) ([]*record.Span, error)
	// Search finds traces matching req.Query in [req.From, req.To], newest
	// first, at most req.Limit (traceql.Search). It returns
	// tracestore.ErrTooMuchData (wrapped) when the search would read more
	// than the store's limit.
	Search(ctx context.Context, req traceql.SearchRequest) ([]traceql.TraceSummary, record.FetchStats, error)
	// Tags returns the attribute names of spans that started in [from, to]
	// (unix ns), by scope.
	Tags(ctx context.Context, from, to int64) (tracestore.TagNames, error)
	// TagValues returns the distinct values of tag, named in TraceQL form:
	// "resource.service.name", "span.http.method", ".x" (either scope), or
	// an intrinsic "name", "status", "kind" — in [from,to] (unix ns). The
	// attribute name after the scope is passed unquoted (span.my attr for
	// TraceQL's span."my attr").
	TagValues(ctx context.Context, tag string, from, to int64) ([]traceql.Value, error)
	// MatchSpans calls fn with each spanset of a trace in [from, to] in
	// which q matches spans, and their indices (traceql.MatchSpans); fn's
	// error stops it. Tag autocomplete narrowed by a TraceQL filter reads
	// the matched spans' tags.
	MatchSpans(ctx context.Context, q *traceql.Query, from, to int64, fn func(ss *record.Spanset, matched []int) error) (record.FetchStats, error)
	// Metrics evaluates a TraceQL metrics query (traceql.Metrics); like
	// Search it returns tracestore.ErrTooMuchData (wrapped) past the
	// store's limit.
	Metrics(ctx context.Context, req traceql.MetricsRequest) (*traceql.MetricsResult, error)
}

// Options configure the API. Zero fields take DefaultOptions' values.
type Options struct {
	// DefaultLimit is the number of traces a search returns when it names no
	// limit; MaxLimit bounds the limit a search may ask for (Tempo's
	// query_frontend.search.default_result_limit and max_result_limit).
	DefaultLimit, MaxLimit int
	// DefaultSpansPerSpanSet and MaxSpansPerSpanSet are the same for the
	// matched spans returned per trace (spss).
	DefaultSpansPerSpanSet, MaxSpansPerSpanSet int
	// MaxSearchDuration bounds end-start of a search (Tempo's
	// query_frontend.search.max_duration): wider searches are refused with
	// 400 before the store is asked.
	MaxSearchDuration time.Duration
	// DefaultRange is the time range searched, and read for tag names and
	// values, when a request names no start and end. Tempo then searches
	// only its ingesters, which hold about the last hour.
	DefaultRange time.Duration
	// MaxQueryBytes bounds the size of a TraceQL query (Tempo's
	// query_frontend.max_query_expression_size_bytes).
	MaxQueryBytes int
	// MaxMetricsDuration bounds end-start of a metrics query, and
	// MaxMetricsIntervals its number of steps (Tempo's
	// query_frontend.metrics.max_duration and max_intervals).
	MaxMetricsDuration  time.Duration
	MaxMetricsIntervals int
	// MaxMetricsSeries bounds the series of a metrics query; past it the
	// answer is partial (Tempo's query_frontend.metrics.max_response_series).
	MaxMetricsSeries int
	// MaxMetricsSpans bounds the spans a metrics query may read (the
	// store's scan limit, -traces.query.max-scan-spans, is for searches,
	// which hold what they find; metrics stream).
	MaxMetricsSpans int
	// DefaultExemplars is the number of exemplars a metrics query returns
	// when it names none, MaxExemplars the most it may ask for.
	DefaultExemplars, MaxExemplars int
	// PadTraceIDs left-pads trace IDs in search results to 32 hex digits
	// (Tempo's left_pad_trace_ids); by default leading zeros are trimmed, as
	// Tempo does.
	PadTraceIDs bool
	// Version is Sightline's, reported as buildinfo's revision.
	Version string
}

// DefaultOptions are Tempo's defaults.
func DefaultOptions() Options {
	return Options{
		DefaultLimit:           20,
		MaxLimit:               256 * 1024,
		DefaultSpansPerSpanSet: 3,
		MaxSpansPerSpanSet:     100,
		MaxSearchDuration:      168 * time.Hour,
		DefaultRange:           time.Hour,
		MaxQueryBytes:          128 * 1024,
		MaxMetricsDuration:     3 * time.Hour,
		MaxMetricsIntervals:    10_000,
		MaxMetricsSeries:       traceql.DefaultMaxSeries,
		MaxMetricsSpans:        100_000_000,
		DefaultExemplars:       100,
		MaxExemplars:           1000,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&o.DefaultLimit, d.DefaultLimit)
	set(&o.MaxLimit, d.MaxLimit)
	set(&o.DefaultSpansPerSpanSet, d.DefaultSpansPerSpanSet)
	set(&o.MaxSpansPerSpanSet, d.MaxSpansPerSpanSet)
	set(&o.MaxQueryBytes, d.MaxQueryBytes)
	set(&o.MaxMetricsIntervals, d.MaxMetricsIntervals)
	set(&o.MaxMetricsSeries, d.MaxMetricsSeries)
	set(&o.MaxMetricsSpans, d.MaxMetricsSpans)
	set(&o.DefaultExemplars, d.DefaultExemplars)
	set(&o.MaxExemplars, d.MaxExemplars)
	if o.MaxMetricsDuration <= 0 {
		o.MaxMetricsDuration = d.MaxMetricsDuration
	}
	if o.MaxSearchDuration <= 0 {
		o.MaxSearchDuration = d.MaxSearchDuration
	}
	if o.DefaultRange <= 0 {
		o.DefaultRange = d.DefaultRange
	}
	return o
}

// Reasons a request is refused, the values of the bad requests metric's
// reason label.
const (
	reasonTraceID     = "trace_id"
	reasonParams      = "params"
	reasonTraceQL     = "traceql"
	reasonUnsupported = "unsupported"
	reasonTooMuchData = "too_much_data"
)

// API serves Tempo's HTTP API over a Store.
type API struct {
	store  Store
	opts   Options
	logger *slog.Logger
	warn   *throttle.Logger // bad input and store errors, at a bounded rate
	now    func() time.Time // the clock default time ranges are taken from

	badReq   *prometheus.CounterVec
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns the API over store.
func New(store Store, opts Options, logger *slog.Logger, reg prometheus.Registerer) *API {
	a := &API{
		store:  store,
		opts:   opts.withDefaults(),
		logger: logger,
		warn:   throttle.New(logger, 10*time.Second),
		now:    time.Now,
		badReq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_tempo_bad_requests_total",
			Help: "Tempo API requests refused as bad input, by reason.",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_tempo_requests_total",
			Help: "Tempo API requests, by endpoint and HTTP status code.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sightline_tempo_request_duration_seconds",
			Help:    "Time taken to answer Tempo API requests, by endpoint.",
			Buckets: prometheus.DefBuckets,
		}, []string{"endpoint"}),
	}
	reg.MustRegister(a.badReq, a.requests, a.duration)
	return a
}

// Handler serves /api/traces/<id>, /api/v2/traces/<id>, /api/search,
// /api/search/tags, /api/v2/search/tags, /api/search/tag/<tag>/values,
// /api/v2/search/tag/<tag>/values, /api/echo, /api/status/buildinfo,
// /api/metrics/query_range and /api/metrics/query (TraceQL metrics).
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, endpoint string, h http.HandlerFunc) {
		mux.Handle(pattern, a.instrument(endpoint, h))
	}
	handle("GET /api/traces/{id}", "traces", a.traceV1)
	handle("GET /api/v2/traces/{id}", "traces_v2", a.traceV2)
	handle("GET /api/search", "search", a.search)
	handle("GET /api/search/tags", "tags", a.tagNamesV1)
	handle("GET /api/v2/search/tags", "tags_v2", a.tagNamesV2)
	// The tag name may hold slashes (Tempo's route is {tagName:.*}), so the
	// path is split by hand rather than by a {tag} wildcard.
	handle("GET /api/search/tag/", "tag_values", a.tagValuesV1)
	handle("GET /api/v2/search/tag/", "tag_values_v2", a.tagValuesV2)
	handle("GET /api/echo", "echo", echo)
	handle("GET /api/status/buildinfo", "buildinfo", a.buildInfo)
	handle("GET /api/metrics/query_range", "metrics_query_range", a.metricsQueryRange)
	handle("GET /api/metrics/query", "metrics_query", a.metricsQueryInstant)
	return mux
}

// instrument counts and times the requests of one endpoint.
func (a *API) instrument(endpoint string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		a.requests.WithLabelValues(endpoint, strconv.Itoa(sw.code)).Inc()
		a.duration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// echo answers as Tempo's echoHandler does (http.Error with 200), which is
// what Grafana's "Save & test" calls.
func echo(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "echo", http.StatusOK)
}

// tempoVersion is the Tempo version buildinfo reports. Grafana compares it
// with semver to enable features (search streaming from 2.2.0, metrics
// streaming from 2.7.0, both still opt-in in the datasource settings); as a
// prerelease of 2.6.0 it is modern, and the suffix says what answers.
const tempoVersion = "2.6.0-sightline"

// buildInfo answers in the shape of Tempo's (Prometheus' PrometheusVersion).
func (a *API) buildInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"version":   tempoVersion,
		"revision":  "sightline-" + a.opts.Version,
		"branch":    "sightline",
		"buildUser": "",
		"buildDate": "",
		"goVersion": "",
	})
}

// badRequest answers 400 with err's text, as Tempo does (plain text).
func (a *API) badRequest(w http.ResponseWriter, r *http.Request, reason string, err error) {
	a.badReq.WithLabelValues(reason).Inc()
	a.warn.Warn("bad Tempo API request", "path", r.URL.Path, "reason", reason, "err", err)
	textError(w, http.StatusBadRequest, err.Error())
}

// storeError answers a failed store call.
func (a *API) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, tracestore.ErrTooMuchData):
		a.badRequest(w, r, reasonTooMuchData, err)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; 499 is what Tempo (and nginx) log for it.
		textError(w, 499, err.Error())
	default:
		a.warn.Warn("Tempo API request failed", "path", r.URL.Path, "err", err)
		textError(w, http.StatusInternalServerError, err.Error())
	}
}

func textError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		textError(w, http.StatusInternalServerError, "cannot encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// wantsProtobuf reports whether the client asked for protobuf, with Tempo's
// test (api.MarshalingFormatFromAcceptHeader): the Accept header contains
// application/protobuf.
func wantsProtobuf(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/protobuf")
}

package logsapi

import (
	"flag"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"

	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/storage/logstore"
)

// Options configure the API.
type Options struct {
	// MaxEntries is the largest limit a log query may ask for (Loki's
	// max_entries_limit_per_query).
	MaxEntries int
	// MaxResponseBytes bounds the bytes of the lines a log query returns
	// (and so holds): a query over it is refused, naming the limit.
	MaxResponseBytes int64
	// Version is Sightline's, for buildinfo.
	Version string
}

// DefaultOptions are Loki's defaults.
func DefaultOptions() Options {
	return Options{MaxEntries: 5000, MaxResponseBytes: 64 << 20}
}

// RegisterFlags declares the options a user sets as flags, with their
// current values as defaults.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.MaxEntries, "logs.query.max-entries", o.MaxEntries, "The largest limit a log query may ask for (Loki's max_entries_limit_per_query).")
	flagext.Bytes(fs, &o.MaxResponseBytes, "logs.query.max-response-bytes", "A log query whose lines come to more than this is refused (400), naming the limit: ask for fewer lines or a shorter range.")
}

// API serves the native log API and the Loki API.
type API struct {
	store  *logstore.Store
	engine promql.QueryEngine
	opts   Options
	logger *slog.Logger
	badReq *prometheus.CounterVec

	stop     chan struct{} // closed by Close: ends tails
	stopOnce sync.Once
	tails    sync.WaitGroup
}

// New returns the API over store. engine evaluates the queries without a
// log selector that Grafana sends, such as vector(1)+vector(1).
func New(store *logstore.Store, engine promql.QueryEngine, opts Options, logger *slog.Logger, reg prometheus.Registerer) *API {
	a := &API{store: store, engine: engine, opts: opts, logger: logger, stop: make(chan struct{}),
		badReq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_logs_bad_requests_total", Help: "Log API requests refused as bad input, by endpoint.",
		}, []string{"endpoint"}),
	}
	reg.MustRegister(a.badReq)
	return a
}

// Handler serves /api/v1/logs/... and /loki/api/v1/....
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/logs/search", a.search)
	mux.HandleFunc("POST /api/v1/logs/search", a.search)
	mux.HandleFunc("GET /api/v1/logs/trace/{id}", a.byTrace)
	mux.HandleFunc("GET /api/v1/logs/histogram", a.histogram)

	mux.HandleFunc("/loki/api/v1/query_range", a.queryRange)
	mux.HandleFunc("/loki/api/v1/query", a.queryInstant)
	mux.HandleFunc("/loki/api/v1/labels", a.labelNames)
	mux.HandleFunc("/loki/api/v1/label", a.labelNames)
	mux.HandleFunc("/loki/api/v1/label/{name}/values", a.labelValues)
	mux.HandleFunc("/loki/api/v1/series", a.series)
	mux.HandleFunc("/loki/api/v1/index/stats", a.indexStats)
	mux.HandleFunc("GET /loki/api/v1/detected_fields", a.detectedFields)
	mux.HandleFunc("GET /loki/api/v1/detected_field/{name}/values", a.detectedFieldValues)
	mux.HandleFunc("GET /loki/api/v1/detected_labels", a.detectedLabels)
	mux.HandleFunc("/loki/api/v1/index/volume", a.volume)
	mux.HandleFunc("/loki/api/v1/index/volume_range", a.volumeRange)
	mux.HandleFunc("GET /loki/api/v1/patterns", a.patterns)
	mux.HandleFunc("GET /loki/api/v1/tail", a.tail)
	mux.HandleFunc("GET /loki/api/v1/status/buildinfo", a.buildInfo)
	return mux
}

// Close ends the open tails.
func (a *API) Close() {
	a.stopOnce.Do(func() { close(a.stop) })
	a.tails.Wait()
}

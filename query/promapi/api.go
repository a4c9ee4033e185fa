package promapi

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/grafana/regexp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/route"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/notifications"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/query/mql"
	"github.com/sightline-dev/sightline/query/shard"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

// PrometheusVersion is the version of the Prometheus engine and API that
// Sightline embeds (module github.com/prometheus/prometheus v0.308.0). It is
// what /api/v1/status/buildinfo reports, because clients such as Grafana use
// it to decide which API features they may use.
const PrometheusVersion = "3.8.0"

// EngineOptions configure the query engine.
type EngineOptions struct {
	// QueryTimeout bounds one query's evaluation.
	QueryTimeout time.Duration
	// MaxSamples bounds the samples one query may hold in memory at once.
	MaxSamples int
	// LookbackDelta is PromQL's staleness lookback.
	LookbackDelta time.Duration
	// MaxResponseBytes bounds a query's result, estimated as the API's
	// JSON; 0 for no bound.
	MaxResponseBytes int64
	// Shards is how many shards a range query's aggregations are split
	// into, evaluated as many at once as Go has cores (package shard);
	// below 2 none is.
	Shards int
}

// DefaultEngineOptions are Prometheus' defaults.
func DefaultEngineOptions() EngineOptions {
	return EngineOptions{QueryTimeout: 2 * time.Minute, MaxSamples: 50_000_000, LookbackDelta: 5 * time.Minute,
		// About 8M samples: far more than a graph can show, and what a
		// 2-core server encodes in a few seconds.
		MaxResponseBytes: 256 << 20,
		// More shards than cores: each evaluation holds its shard's
		// series, so fewer are held at once (a third less memory for a
		// day-long query of 74k series at 8 shards on 2 cores), at the
		// cost of a pass over the head's postings per shard.
		Shards: max(8, 2*runtime.GOMAXPROCS(0))}
}

// RegisterFlags declares the options as flags, with their current values
// as defaults.
func (o *EngineOptions) RegisterFlags(fs *flag.FlagSet) {
	flagext.Duration(fs, &o.QueryTimeout, "query.timeout", "Longest a query may run.")
	fs.IntVar(&o.MaxSamples, "query.max-samples", o.MaxSamples, "Most samples a query may load into memory at once.")
	flagext.Duration(fs, &o.LookbackDelta, "query.lookback-delta", "PromQL staleness lookback.")
	flagext.Bytes(fs, &o.MaxResponseBytes, "query.max-response-bytes", "A PromQL query whose result would be more than this as JSON (estimated) gets 422 naming the limit. 0 for no limit.")
	fs.IntVar(&o.Shards, "query.shards", o.Shards, "Split a range query's aggregations of per-series functions (sum by (job) (rate(x[5m])), also count, min, max, group) into this many shards of its series, evaluated as many at once as Go has cores (an instant query's, and the sums of rate, increase, irate, idelta or plain series that are evaluated without the engine, into as many as cores); their sums may differ from one evaluation's in the last bits. Default: 8, or twice the cores if more. 1 to evaluate every query in one piece, as Prometheus does.")
}

// NewEngine returns the PromQL engine, with MetricsQL in front of it, that
// the API and the rule engine share.
func NewEngine(opts EngineOptions, logger *slog.Logger, reg prometheus.Registerer) promql.QueryEngine {
	var engine promql.QueryEngine = promql.NewEngine(promql.EngineOpts{
		Logger:               logger.With("component", "promql"),
		Reg:                  reg,
		MaxSamples:           opts.MaxSamples,
		Timeout:              opts.QueryTimeout,
		LookbackDelta:        opts.LookbackDelta,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		EnablePerStepStats:   true,
	})
	engine = shard.Engine{QueryEngine: engine, Shards: opts.Shards, Timeout: opts.QueryTimeout, MaxSamples: opts.MaxSamples, LookbackDelta: opts.LookbackDelta}
	if opts.MaxResponseBytes > 0 {
		refused := prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_query_results_too_large_total",
			Help: "PromQL queries refused because their result was over -query.max-response-bytes.",
		})
		reg.MustRegister(refused)
		engine = sizeBoundEngine{QueryEngine: engine, max: opts.MaxResponseBytes, refused: refused}
	}
	return mql.Engine{QueryEngine: engine}
}

// Options configure the API.
type Options struct {
	// CORSOrigin is a regular expression of the origins that browsers may
	// call the API from (Prometheus' --web.cors.origin); "" for none.
	CORSOrigin string
	// LookbackDelta is PromQL's staleness lookback (for remote read).
	LookbackDelta time.Duration
	// Version and Revision of Sightline, for buildinfo.
	Version, Revision string
	// Flags are shown by /api/v1/status/flags.
	Flags map[string]string
	// DataDir is shown by /api/v1/status/runtimeinfo.
	DataDir string
	// Ready gates query and write endpoints until the server is ready; nil
	// is always ready.
	Ready func() bool
	// Rules serves /api/v1/rules and /api/v1/alerts with the rules of the
	// request's tenant (from its context); nil for none.
	Rules func(context.Context) v1.RulesRetriever
	// Alertmanagers serves /api/v1/alertmanagers; nil for none.
	Alertmanagers v1.AlertmanagerRetriever
}

// DefaultOptions are the embedded defaults.
func DefaultOptions() Options {
	return Options{
		LookbackDelta: 5 * time.Minute,
	}
}

// RegisterFlags declares the options a user sets as flags, with their
// current values as defaults.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.CORSOrigin, "web.cors.origin", o.CORSOrigin, "Regular expression of the origins from which browsers may call the Prometheus API, e.g. 'https?://(domain1|domain2)\\.com'. Empty (the default): none; Grafana calls it from its server and needs none.")
}

// New returns the handler of /api/v1/ over store, evaluating queries with
// engine. Mount it at "/api/v1/" behind tenant.Middleware.
func New(store *tsdbstore.Store, engine promql.QueryEngine, opts Options, logger *slog.Logger, reg prometheus.Registerer, gatherer prometheus.Gatherer) (http.Handler, error) {
	cors := regexp.MustCompile("^$") // matches no Origin a browser sends
	if opts.CORSOrigin != "" {
		var err error
		if cors, err = regexp.Compile("^(?:" + opts.CORSOrigin + ")$"); err != nil {
			return nil, fmt.Errorf("web.cors.origin: %w", err)
		}
	}
	rulesRetriever := func(context.Context) v1.RulesRetriever { return noRules{} }
	if opts.Rules != nil {
		rulesRetriever = opts.Rules
	}
	var amRetriever v1.AlertmanagerRetriever = noTargets{}
	if opts.Alertmanagers != nil {
		amRetriever = opts.Alertmanagers
	}
	start := time.Now()
	ready := func(f http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if opts.Ready != nil && !opts.Ready() {
				http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
				return
			}
			f(w, r)
		}
	}
	api := v1.NewAPI(
		engine,
		store, store, store,
		func(context.Context) v1.ScrapePoolsRetriever { return noTargets{} },
		func(context.Context) v1.TargetRetriever { return noTargets{} },
		func(context.Context) v1.AlertmanagerRetriever { return amRetriever },
		func() config.Config { return config.DefaultConfig },
		opts.Flags,
		v1.GlobalURLOptions{},
		ready,
		adminStats{},
		opts.DataDir,
		false, // no admin API: deleting series is not offered yet
		logger.With("component", "api"),
		rulesRetriever,
		50_000_000, 10, 1<<20, // remote read limits, Prometheus' defaults
		false,
		cors,
		func() (v1.RuntimeInfo, error) {
			return v1.RuntimeInfo{
				StartTime:        start,
				CWD:              cwd(),
				GoroutineCount:   runtime.NumGoroutine(),
				GOMAXPROCS:       runtime.GOMAXPROCS(0),
				GOMEMLIMIT:       -1,
				GOGC:             os.Getenv("GOGC"),
				StorageRetention: "see -metrics.retention",
			}, nil
		},
		&v1.PrometheusVersion{
			Version:   PrometheusVersion,
			Revision:  opts.Revision,
			Branch:    "sightline-" + opts.Version,
			GoVersion: runtime.Version(),
		},
		func() []notifications.Notification { return nil },
		func() (<-chan notifications.Notification, func(), bool) { return nil, func() {}, false },
		gatherer, reg,
		v1.DefaultStatsRenderer,
		false, nil, // remote_write is received by package ingest/remotewrite
		false, false, false, // OTLP arrives through the embedded collector
		false,
		opts.LookbackDelta,
		false, true,
		nil,
	)
	r := route.New()
	api.Register(r.WithPrefix("/api/v1"))

	mux := http.NewServeMux()
	mux.Handle("/api/v1/", r)
	mux.Handle("GET /api/v1/metadata", metadataHandler(store))
	mux.Handle("GET /api/v1/status/tsdb", tsdbStatus(store))
	mux.Handle("GET /api/v1/status/tsdb/blocks", tsdbBlocks(store))
	return mux, nil
}

func cwd() string {
	d, err := os.Getwd()
	if err != nil {
		return "<unknown>"
	}
	return d
}

// metadataHandler serves /api/v1/metadata from the metadata seen at ingest,
// in Prometheus' shape: {"status":"success","data":{"<family>":[{type,help,unit}]}}.
func metadataHandler(store *tsdbstore.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := intParam(r, "limit")
		if err != nil {
			writeError(w, err)
			return
		}
		perMetric, err := intParam(r, "limit_per_metric")
		if err != nil {
			writeError(w, err)
			return
		}
		md := store.Metadata(tenant.FromContext(r.Context()), r.FormValue("metric"), limit, perMetric)
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": md})
	})
}

func intParam(r *http.Request, name string) (int, error) {
	s := r.FormValue(name)
	if s == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid parameter %q: %q is not an integer", name, s)
	}
	return n, nil
}

// noTargets answers the scrape-related endpoints: Sightline receives pushes
// and scrapes nothing.
type noTargets struct{}

func (noTargets) ScrapePools() []string                       { return nil }
func (noTargets) TargetsActive() map[string][]*scrape.Target  { return nil }
func (noTargets) TargetsDropped() map[string][]*scrape.Target { return nil }
func (noTargets) TargetsDroppedCounts() map[string]int        { return nil }
func (noTargets) Alertmanagers() []*url.URL                   { return nil }
func (noTargets) DroppedAlertmanagers() []*url.URL            { return nil }
func (noTargets) ScrapePoolConfig(string) (*config.ScrapeConfig, error) {
	return nil, errors.New("sightline scrapes nothing")
}

type noRules struct{}

func (noRules) RuleGroups() []*rules.Group           { return nil }
func (noRules) AlertingRules() []*rules.AlertingRule { return nil }

// adminStats stands in for Prometheus' TSDB admin interface, which knows
// no tenants: the endpoints that would change data are disabled, and the
// status of the TSDB is served per tenant by tsdbStatus and tsdbBlocks,
// which shadow the API's own routes.
type adminStats struct{}

var errPerTenant = errors.New("served per tenant by Sightline")

func (adminStats) CleanTombstones() error { return errors.New("admin API disabled") }
func (adminStats) Delete(context.Context, int64, int64, ...*labels.Matcher) error {
	return errors.New("admin API disabled")
}
func (adminStats) Snapshot(string, bool) error                    { return errors.New("admin API disabled") }
func (adminStats) Stats(string, int) (*tsdb.Stats, error)         { return nil, errPerTenant }
func (adminStats) WALReplayStatus() (tsdb.WALReplayStatus, error) { return tsdb.WALReplayStatus{}, nil }
func (adminStats) BlockMetas() ([]tsdb.BlockMeta, error)          { return nil, errPerTenant }

// maxStatusLimit bounds the limit of /api/v1/status/tsdb: the entries of
// each of its lists.
const maxStatusLimit = 10_000

// tsdbStatus is /api/v1/status/tsdb (cardinality statistics of the head)
// for the request's tenant, in Prometheus' shape.
func tsdbStatus(store *tsdbstore.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := 10
		if s := r.FormValue("limit"); s != "" {
			var err error
			if limit, err = strconv.Atoi(s); err != nil || limit < 1 {
				writeError(w, errors.New("limit must be a positive number"))
				return
			}
			// The head sizes a heap by it: an unbounded limit was an
			// out-of-memory crash (FuzzAPIParams).
			if limit > maxStatusLimit {
				writeError(w, fmt.Errorf("limit must be at most %d", maxStatusLimit))
				return
			}
		}
		status := v1.TSDBStatus{}
		store.Existing(tenant.FromContext(r.Context()), func(db *tsdb.DB) {
			st := db.Head().Stats(labels.MetricName, limit)
			status = v1.TSDBStatus{
				// The head's chunk count is a TSDB metric, not a method;
				// Grafana and promtool read the series and label counts.
				HeadStats:                   v1.HeadStats{NumSeries: st.NumSeries, MinTime: st.MinTime, MaxTime: st.MaxTime, NumLabelPairs: st.IndexPostingStats.NumLabelPairs},
				SeriesCountByMetricName:     v1.TSDBStatsFromIndexStats(st.IndexPostingStats.CardinalityMetricsStats),
				LabelValueCountByLabelName:  v1.TSDBStatsFromIndexStats(st.IndexPostingStats.CardinalityLabelStats),
				MemoryInBytesByLabelName:    v1.TSDBStatsFromIndexStats(st.IndexPostingStats.LabelValueStats),
				SeriesCountByLabelValuePair: v1.TSDBStatsFromIndexStats(st.IndexPostingStats.LabelValuePairsStats),
			}
		})
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": status})
	})
}

// tsdbBlocks is /api/v1/status/tsdb/blocks for the request's tenant.
func tsdbBlocks(store *tsdbstore.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metas := []tsdb.BlockMeta{}
		store.Existing(tenant.FromContext(r.Context()), func(db *tsdb.DB) {
			for _, b := range db.Blocks() {
				metas = append(metas, b.Meta())
			}
		})
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string][]tsdb.BlockMeta{"blocks": metas}})
	})
}

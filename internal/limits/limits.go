package limits

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"golang.org/x/time/rate"
	"gopkg.in/yaml.v3"

	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// ErrLimited is returned for what a limit refuses; retry later.
var ErrLimited = errors.New("tenant limit reached")

// Limits are one tenant's limits; 0 means no limit.
type Limits struct {
	// IngestionRate is the samples, log records and spans a tenant may
	// write per second, IngestionBurst how many at once.
	IngestionRate  float64 `yaml:"ingestion_rate"`
	IngestionBurst int     `yaml:"ingestion_burst"`
	// IngestionBytesRate is the bytes of log records and spans per second
	// (as written to the WAL), with a burst of IngestionBytesBurst.
	IngestionBytesRate  float64 `yaml:"ingestion_bytes_rate"`
	IngestionBytesBurst int     `yaml:"ingestion_bytes_burst"`
	// MaxConcurrentQueries is the queries a tenant may run at once.
	MaxConcurrentQueries int `yaml:"max_concurrent_queries"`
	// MaxQueryLength is the longest time range a query may cover.
	MaxQueryLength time.Duration `yaml:"max_query_length"`
	// MaxSeries is the active series (those in the metrics store's head)
	// a tenant may have; samples of new series beyond it are refused.
	MaxSeries int `yaml:"max_series"`
	// MaxFetchedSeriesPerQuery is the series one metrics query may read
	// (each counted once), MaxFetchedChunkBytesPerQuery the bytes of
	// compressed TSDB chunks: what a query reads, whatever it returns, as
	// Mimir bounds it (its limits of the same names).
	MaxFetchedSeriesPerQuery     int   `yaml:"max_fetched_series_per_query"`
	MaxFetchedChunkBytesPerQuery int64 `yaml:"max_fetched_chunk_bytes_per_query"`
	// AlertmanagerMaxAlerts is the alerts a tenant may hold in the
	// Alertmanager (firing, or resolved and not yet forgotten), and
	// AlertmanagerMaxAlertsSizeBytes the bytes of their labels,
	// annotations and generator URLs, together (Mimir's
	// alertmanager_max_alerts_count and alertmanager_max_alerts_size_bytes).
	AlertmanagerMaxAlerts          int `yaml:"alertmanager_max_alerts_count"`
	AlertmanagerMaxAlertsSizeBytes int `yaml:"alertmanager_max_alerts_size_bytes"`
}

// Options configure the limits.
type Options struct {
	// Defaults apply to every tenant without an override.
	Defaults Limits
	// MaxTenants bounds the number of tenants; a new one beyond it is
	// refused.
	MaxTenants int
	// OverridesFile is a YAML file `overrides: {<tenant>: {<limit>: ...}}`;
	// a tenant's override replaces the limits it names.
	OverridesFile string
	// ReloadInterval is how often OverridesFile is read again.
	ReloadInterval time.Duration
}

// DefaultOptions keep one tenant from taking more than a machine of a few
// cores can give (a 2-core machine ingests about 0.5M samples/s): a tenant
// may write 1M items/s in bursts of 2M, 128 MiB/s of logs and spans, keep
// 1M active series and run 8 queries at once, over any time range (as
// Prometheus; Loki bounds it at 721h), each reading at most 100k series and
// 512 MiB of chunks (about 400M samples at TSDB's 1.3 bytes a sample: far
// more than a dashboard reads, far less than 8 such queries could take of
// a small machine's memory when decoded), and hold 10k alerts of 16 MiB in
// all in the Alertmanager (a few thousand is a large installation's worth;
// 1000 tenants at their limit are a few GiB, which is why there is one);
// at most 1000 tenants.
func DefaultOptions() Options {
	return Options{
		Defaults: Limits{IngestionRate: 1_000_000, IngestionBurst: 2_000_000, IngestionBytesRate: 128 << 20, IngestionBytesBurst: 256 << 20,
			MaxConcurrentQueries: 8, MaxSeries: 1_000_000, MaxFetchedSeriesPerQuery: 100_000, MaxFetchedChunkBytesPerQuery: 512 << 20,
			AlertmanagerMaxAlerts: 10_000, AlertmanagerMaxAlertsSizeBytes: 16 << 20},
		MaxTenants:     1000,
		ReloadInterval: 10 * time.Second,
	}
}

// RegisterFlags declares the options as flags.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.Float64Var(&o.Defaults.IngestionRate, "limits.ingestion-rate", o.Defaults.IngestionRate, "Samples, log records and spans a tenant may write per second, all signals together; more get 429. 0 for no limit.")
	fs.IntVar(&o.Defaults.IngestionBurst, "limits.ingestion-burst", o.Defaults.IngestionBurst, "Samples, log records and spans a tenant may write at once, above its rate.")
	flagext.Bytes(fs, &o.Defaults.IngestionBytesBurst, "limits.ingestion-bytes-burst", "Bytes of log records and spans a tenant may write at once, above its rate.")
	fs.Float64Var(&o.Defaults.IngestionBytesRate, "limits.ingestion-bytes-rate", o.Defaults.IngestionBytesRate, "Bytes of log records and spans a tenant may write per second; more get 429. 0 for no limit.")
	fs.IntVar(&o.Defaults.MaxConcurrentQueries, "limits.max-concurrent-queries", o.Defaults.MaxConcurrentQueries, "Queries a tenant may run at once; more wait their turn, and get 429 after a minute. 0 for no limit.")
	flagext.Duration(fs, &o.Defaults.MaxQueryLength, "limits.max-query-length", "Longest time range (end - start) a query may cover; longer ones get 400. 0 for no limit (Loki's max_query_length).")
	fs.IntVar(&o.Defaults.MaxSeries, "limits.max-series", o.Defaults.MaxSeries, "Active metric series a tenant may have; samples of new series beyond it are refused (400, counted as series_limit). 0 for no limit.")
	fs.IntVar(&o.Defaults.MaxFetchedSeriesPerQuery, "limits.max-fetched-series-per-query", o.Defaults.MaxFetchedSeriesPerQuery, "Series one metrics query (PromQL, /api/v1/series) may read; a query reading more gets 422. 0 for no limit (Mimir's max_fetched_series_per_query).")
	flagext.Bytes(fs, &o.Defaults.MaxFetchedChunkBytesPerQuery, "limits.max-fetched-chunk-bytes-per-query", "Bytes of compressed TSDB chunks one metrics query may read; a query reading more gets 422. 0 for no limit (Mimir's max_fetched_chunk_bytes_per_query).")
	fs.IntVar(&o.Defaults.AlertmanagerMaxAlerts, "limits.alertmanager-max-alerts", o.Defaults.AlertmanagerMaxAlerts, "Alerts a tenant may hold in the built-in Alertmanager (firing, or resolved and not yet forgotten); posting more gets 429. 0 for no limit (Mimir's alertmanager_max_alerts_count).")
	flagext.Bytes(fs, &o.Defaults.AlertmanagerMaxAlertsSizeBytes, "limits.alertmanager-max-alerts-size-bytes", "Bytes of labels, annotations and generator URLs of all the alerts a tenant holds in the built-in Alertmanager; posting more gets 429. 0 for no limit (Mimir's alertmanager_max_alerts_size_bytes).")
	fs.IntVar(&o.MaxTenants, "limits.max-tenants", o.MaxTenants, "Most tenants; writes of a new tenant beyond it get 429. 0 for no limit.")
	fs.StringVar(&o.OverridesFile, "limits.overrides-file", o.OverridesFile, "YAML file of per-tenant limits, `overrides: {<tenant>: {ingestion_rate: ..., ingestion_burst: ..., ingestion_bytes_rate: ..., ingestion_bytes_burst: ..., max_concurrent_queries: ..., max_query_length: 30d, max_series: ..., max_fetched_series_per_query: ..., max_fetched_chunk_bytes_per_query: ..., alertmanager_max_alerts_count: ..., alertmanager_max_alerts_size_bytes: ...}}`, read again every 10s and on reload.")
}

// Registry holds every tenant's limits and state. A nil *Registry limits
// nothing.
type Registry struct {
	opts    Options
	logger  *slog.Logger
	refused *prometheus.CounterVec

	mu        sync.Mutex
	overrides map[string]override // guarded by mu
	tenants   map[string]*state   // guarded by mu
	stop      chan struct{}
	done      sync.WaitGroup
}

// state is one tenant's.
type state struct {
	limits  Limits
	items   *rate.Limiter // nil: no limit
	bytes   *rate.Limiter
	queries chan struct{} // nil: no limit
}

// New reads the overrides file, if any, and keeps reading it.
func New(opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Registry, error) {
	r := &Registry{opts: opts, logger: logger, tenants: map[string]*state{}, stop: make(chan struct{}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_limits_refused_total",
			Help: "Writes and queries refused by a tenant limit, by reason (ingestion_rate, ingestion_bytes_rate, max_tenants, max_concurrent_queries, max_query_length, max_fetched_series_per_query, max_fetched_chunk_bytes_per_query, alertmanager_max_alerts_count, alertmanager_max_alerts_size_bytes).",
		}, []string{"reason"})}
	reg.MustRegister(r.refused)
	if err := r.Reload(); err != nil {
		return nil, err
	}
	if opts.OverridesFile != "" && opts.ReloadInterval > 0 {
		r.done.Add(1)
		go r.reloadLoop()
	}
	return r, nil
}

func (r *Registry) reloadLoop() {
	defer r.done.Done()
	tick := time.NewTicker(r.opts.ReloadInterval)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
			if err := r.Reload(); err != nil {
				r.logger.Error("reading the limits overrides file; the previous overrides stay", "err", err)
			}
		}
	}
}

// Close stops reading the overrides file.
func (r *Registry) Close() {
	if r == nil {
		return
	}
	close(r.stop)
	r.done.Wait()
}

// Reload reads the overrides file again; an invalid one changes nothing.
func (r *Registry) Reload() error {
	if r == nil || r.opts.OverridesFile == "" {
		return nil
	}
	raw, err := os.ReadFile(r.opts.OverridesFile)
	if err != nil {
		return fmt.Errorf("limits overrides: %w", err)
	}
	var doc struct {
		Overrides map[string]override `yaml:"overrides"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("limits overrides %s: %w", r.opts.OverridesFile, err)
	}
	for id, o := range doc.Overrides {
		if o.MaxQueryLength != nil {
			if _, err := model.ParseDuration(*o.MaxQueryLength); err != nil {
				return fmt.Errorf("limits overrides %s: tenant %q: max_query_length: %w", r.opts.OverridesFile, id, err)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.overrides = doc.Overrides
	for id, st := range r.tenants {
		if l := r.limitsLocked(id); l != st.limits {
			r.tenants[id] = newState(l)
		}
	}
	return nil
}

// override is a tenant's entry of the overrides file: the limits it names
// replace the defaults.
type override struct {
	IngestionRate             *float64 `yaml:"ingestion_rate"`
	IngestionBurst            *int     `yaml:"ingestion_burst"`
	IngestionBytesRate        *float64 `yaml:"ingestion_bytes_rate"`
	IngestionBytesBurst       *int     `yaml:"ingestion_bytes_burst"`
	MaxConcurrentQueries      *int     `yaml:"max_concurrent_queries"`
	MaxQueryLength            *string  `yaml:"max_query_length"` // a Prometheus duration: 30d
	MaxSeries                 *int     `yaml:"max_series"`
	MaxFetchedSeries          *int     `yaml:"max_fetched_series_per_query"`
	MaxFetchedChunkBytes      *int64   `yaml:"max_fetched_chunk_bytes_per_query"`
	AlertmanagerMaxAlerts     *int     `yaml:"alertmanager_max_alerts_count"`
	AlertmanagerMaxAlertsSize *int     `yaml:"alertmanager_max_alerts_size_bytes"`
}

// limitsLocked is the tenant's limits: the defaults, with its overrides.
func (r *Registry) limitsLocked(id string) Limits {
	l := r.opts.Defaults
	o, ok := r.overrides[id]
	if !ok {
		return l
	}
	setOverride(&l.IngestionRate, o.IngestionRate)
	setOverride(&l.IngestionBurst, o.IngestionBurst)
	setOverride(&l.IngestionBytesRate, o.IngestionBytesRate)
	setOverride(&l.IngestionBytesBurst, o.IngestionBytesBurst)
	setOverride(&l.MaxConcurrentQueries, o.MaxConcurrentQueries)
	setOverride(&l.MaxSeries, o.MaxSeries)
	setOverride(&l.MaxFetchedSeriesPerQuery, o.MaxFetchedSeries)
	setOverride(&l.MaxFetchedChunkBytesPerQuery, o.MaxFetchedChunkBytes)
	setOverride(&l.AlertmanagerMaxAlerts, o.AlertmanagerMaxAlerts)
	setOverride(&l.AlertmanagerMaxAlertsSizeBytes, o.AlertmanagerMaxAlertsSize)
	if o.MaxQueryLength != nil {
		d, _ := model.ParseDuration(*o.MaxQueryLength) // checked by Reload
		l.MaxQueryLength = time.Duration(d)
	}
	return l
}

// setOverride sets *dst to the overriding *src, if there is one.
func setOverride[T any](dst, src *T) {
	if src != nil {
		*dst = *src
	}
}

// rateErr is the refusal of a write over the tenant's ingestion rate.
func (st *state) rateErr(id string) error {
	return fmt.Errorf("%w: tenant %q writes more than %g items/s (burst %d); retry later", ErrLimited, id, st.limits.IngestionRate, st.limits.IngestionBurst)
}

func newState(l Limits) *state {
	st := &state{limits: l}
	if l.IngestionRate > 0 {
		st.items = rate.NewLimiter(rate.Limit(l.IngestionRate), max(l.IngestionBurst, 1))
	}
	if l.IngestionBytesRate > 0 {
		st.bytes = rate.NewLimiter(rate.Limit(l.IngestionBytesRate), max(l.IngestionBytesBurst, 1))
	}
	if l.MaxConcurrentQueries > 0 {
		st.queries = make(chan struct{}, l.MaxConcurrentQueries)
	}
	return st
}

// tenant returns the tenant's state, admitting it if MaxTenants allows.
func (r *Registry) tenant(id string) (*state, error) {
	if r == nil {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.tenants[id]; st != nil {
		return st, nil
	}
	if r.opts.MaxTenants > 0 && len(r.tenants) >= r.opts.MaxTenants {
		r.refused.WithLabelValues("max_tenants").Inc()
		return nil, fmt.Errorf("%w: there are already %d tenants (-limits.max-tenants)", ErrLimited, r.opts.MaxTenants)
	}
	st := newState(r.limitsLocked(id))
	r.tenants[id] = st
	return st, nil
}

// reader is the state of a tenant that queries: its own if it has been
// admitted (it has data), else one made for this query and not kept, so
// that queries naming any tenant never use up the places of MaxTenants
// (such a tenant has no data to read, so its queries cost little).
func (r *Registry) reader(id string) *state {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.tenants[id]; st != nil {
		return st
	}
	return newState(r.limitsLocked(id))
}

// Admit admits the tenant under MaxTenants, or refuses it: what keeps
// state per tenant (a TSDB, a collector processor) asks before making it.
func (r *Registry) Admit(id string) error {
	_, err := r.tenant(id)
	return err
}

// AdmitExisting counts tenants that exist already (their data is on disk)
// against MaxTenants, so that a restart does not make room for more.
func (r *Registry) AdmitExisting(ids ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if r.tenants[id] == nil {
			r.tenants[id] = newState(r.limitsLocked(id))
		}
	}
}

// Ingest takes items (samples, records, spans) and bytes (of log records
// and spans; 0 for samples) of the tenant's allowance, or refuses them
// all.
func (r *Registry) Ingest(id string, items, nbytes int) error {
	if r == nil {
		return nil
	}
	st, err := r.tenant(id)
	if err != nil {
		return err
	}
	now := time.Now()
	if st.items != nil {
		res := st.items.ReserveN(now, items)
		if !res.OK() || res.DelayFrom(now) > 0 {
			res.CancelAt(now)
			r.refused.WithLabelValues("ingestion_rate").Inc()
			return st.rateErr(id)
		}
		defer func() {
			if err != nil {
				res.CancelAt(now)
			}
		}()
	}
	if st.bytes != nil && nbytes > 0 {
		res := st.bytes.ReserveN(now, nbytes)
		if !res.OK() || res.DelayFrom(now) > 0 {
			res.CancelAt(now)
			r.refused.WithLabelValues("ingestion_bytes_rate").Inc()
			err = fmt.Errorf("%w: tenant %q writes more than %g bytes/s (burst %d); retry later", ErrLimited, id, st.limits.IngestionBytesRate, st.limits.IngestionBytesBurst)
			return err
		}
	}
	return nil
}

// MaxSeries admits the tenant (Admit) and returns the active series it
// may have; 0 for no limit.
func (r *Registry) MaxSeries(id string) (int, error) {
	if r == nil {
		return 0, nil
	}
	st, err := r.tenant(id)
	if err != nil {
		return 0, err
	}
	return st.limits.MaxSeries, nil
}

// FetchLimits returns the series and compressed chunk bytes one metrics
// query of the tenant may read; 0 for no limit. Like Query, it admits no
// tenant.
func (r *Registry) FetchLimits(id string) (maxSeries int, maxChunkBytes int64) {
	if r == nil {
		return 0, 0
	}
	l := r.limitsOf(id)
	return l.MaxFetchedSeriesPerQuery, l.MaxFetchedChunkBytesPerQuery
}

// AlertmanagerLimits returns the alerts the tenant may hold in the
// Alertmanager and the bytes of their labels, annotations and generator
// URLs; 0 for no limit. It admits no tenant.
func (r *Registry) AlertmanagerLimits(id string) (maxAlerts, maxBytes int) {
	if r == nil {
		return 0, 0
	}
	l := r.limitsOf(id)
	return l.AlertmanagerMaxAlerts, l.AlertmanagerMaxAlertsSizeBytes
}

// limitsOf is the tenant's limits.
func (r *Registry) limitsOf(id string) Limits {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.limitsLocked(id)
}

// Refused counts a refusal by a limit that another package enforces (the
// metrics store stops a query at its FetchLimits), under reason, the
// limit's name.
func (r *Registry) Refused(reason string) {
	if r != nil {
		r.refused.WithLabelValues(reason).Inc()
	}
}

// Allows is nil if the tenant may write now at all, for a receiver that
// cannot count a request's items before handing it on: the store's Ingest
// then takes them.
func (r *Registry) Allows(id string) error {
	if r == nil {
		return nil
	}
	st, err := r.tenant(id)
	if err != nil {
		return err
	}
	if st.items != nil && st.items.Tokens() < 1 {
		r.refused.WithLabelValues("ingestion_rate").Inc()
		return st.rateErr(id)
	}
	return nil
}

// Query admits one query of the tenant, waiting while it runs
// MaxConcurrentQueries already, as Mimir's query frontend queues a
// tenant's queries: a dashboard of many panels loads, a few at a time. A
// query that has waited queueWait, or whose ctx ends while it waits, is
// refused. release ends it.
func (r *Registry) Query(ctx context.Context, id string) (release func(), err error) {
	if r == nil {
		return func() {}, nil
	}
	st := r.reader(id)
	if st.queries == nil {
		return func() {}, nil
	}
	q := st.queries
	wait := time.NewTimer(queueWait)
	defer wait.Stop()
	select {
	case q <- struct{}{}:
		return func() { <-q }, nil
	case <-ctx.Done():
	case <-wait.C:
	}
	r.refused.WithLabelValues("max_concurrent_queries").Inc()
	return nil, fmt.Errorf("%w: tenant %q runs %d queries at once (max_concurrent_queries) and this one waited too long; retry later", ErrLimited, id, st.limits.MaxConcurrentQueries)
}

// queueWait is the longest a query waits for its turn.
const queueWait = time.Minute

// checkLength refuses a request whose start and end parameters (the
// Prometheus, Loki and Tempo APIs all name them so) are further apart than
// the tenant's MaxQueryLength.
func (r *Registry) checkLength(id string, req *http.Request) error {
	if r == nil {
		return nil
	}
	start, end := req.FormValue("start"), req.FormValue("end")
	if start == "" || end == "" {
		return nil
	}
	st := r.reader(id)
	if st.limits.MaxQueryLength <= 0 {
		return nil
	}
	s, ok1 := parseTime(start)
	e, ok2 := parseTime(end)
	if !ok1 || !ok2 {
		return nil // the API itself refuses what it cannot read
	}
	if e.Sub(s) > st.limits.MaxQueryLength {
		r.refused.WithLabelValues("max_query_length").Inc()
		return fmt.Errorf("%w: the query's time range (%s) is longer than tenant %q may ask for (max_query_length %s)",
			ErrLimited, model.Duration(e.Sub(s)), id, model.Duration(st.limits.MaxQueryLength))
	}
	return nil
}

// parseTime reads a time as the query APIs take it: RFC 3339, Unix seconds
// (possibly fractional), or Unix nanoseconds (Loki; more than 10 digits).
func parseTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && len(strings.TrimPrefix(s, "-")) > 10 {
		return time.Unix(0, n), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// QueryMiddleware runs the requests of each tenant (from the context, put
// there by tenant.Middleware) within its MaxConcurrentQueries, answering
// 429 beyond it; requests whose path unlimited approves (a live tail, which
// lasts as long as its client) are not counted.
func (r *Registry) QueryMiddleware(next http.Handler, unlimited func(path string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if unlimited(req.URL.Path) {
			next.ServeHTTP(w, req)
			return
		}
		id := tenant.FromContext(req.Context())
		if err := r.checkLength(id, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		release, err := r.Query(req.Context(), id)
		if err != nil {
			http.Error(w, err.Error(), http.StatusTooManyRequests)
			return
		}
		defer release()
		next.ServeHTTP(w, req)
	})
}

package metricsexporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/storage"
	prw "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/multierr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/ingest/exporters"
	"github.com/sightline-dev/sightline/internal/throttle"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

// lookbackDelta is PromQL's default; the translator spaces target_info
// samples by it so that target_info stays visible to joins.
const lookbackDelta = 5 * time.Minute

type metricsExporter struct {
	store    *tsdbstore.Store
	settings prw.Settings
	fast     *fastPath
	logger   *slog.Logger
	badInput *throttle.Logger
	m        *metrics
}

func newExporter(cfg *Config, store *tsdbstore.Store, logger *slog.Logger, m *metrics) *metricsExporter {
	e := &metricsExporter{
		store: store,
		settings: prw.Settings{
			AddMetricSuffixes: cfg.AddMetricSuffixes,
			PromoteResourceAttributes: prw.NewPromoteResourceAttributes(config.OTLPConfig{
				PromoteResourceAttributes: cfg.PromoteResourceAttributes,
			}),
			KeepIdentifyingResourceAttributes: cfg.KeepIdentifyingResourceAttributes,
			LookbackDelta:                     lookbackDelta,
		},
		logger:   logger,
		badInput: throttle.New(logger, 10*time.Second),
		m:        m,
	}
	e.fast = newFastPath(e.settings)
	return e
}

func (e *metricsExporter) push(ctx context.Context, md pmetric.Metrics) error {
	e.m.received.Add(float64(md.DataPointCount()))
	id, err := exporters.TenantFromContext(ctx)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	ctx = tenant.With(ctx, id)

	// The store's appenders are all tsdbstore.Appenders; the interface
	// says so where storage.Appendable cannot.
	app := &rejectingAppender{Appender: e.store.Appender(ctx).(tsdbstore.Appender), rejected: map[string]int{}}
	// An appender holds its tenant's TSDB until Commit or Rollback (a TSDB
	// whose WAL failed waits for that to be reopened): a panic in the
	// translator must not leave it open.
	defer func() {
		if r := recover(); r != nil {
			_ = app.Rollback()
			panic(r)
		}
	}()
	refs := app.SeriesRefs()
	combined := &seriesAppender{app: app, refs: refs, request: refs.Request(), metrics: e.store, tenant: id, m: e.m}
	// The fast path appends what it knows and takes it out of md; an error
	// is the store's, and app.storageErr says so below.
	var convErr error
	_ = e.fast.appendKnown(ctx, md, combined, func() {
		_, convErr = prw.NewPrometheusConverter(combined).FromMetrics(ctx, md, e.settings)
	})

	if app.storageErr != nil {
		_ = app.Rollback()
		// The store itself failed (closed, disk full): worth a retry.
		return status.Errorf(codes.Unavailable, "store metrics: %v", app.storageErr)
	}
	if err := app.Commit(); err != nil {
		return exporters.StoreAnswer(err, "samples", nil, id, nil)
	}

	var problems []string
	if convErr != nil {
		errs := multierr.Errors(convErr)
		e.m.translationError.Add(float64(len(errs)))
		for _, err := range errs {
			problems = append(problems, err.Error())
		}
	}
	if len(app.rejected) > 0 {
		problems = append(problems, app.summary())
	}
	if len(problems) == 0 {
		return nil
	}
	msg := "partial success: " + strings.Join(problems, "; ")
	e.badInput.Warn("rejected part of an OTLP metrics request", "tenant", id, "problem", msg)
	return status.Error(codes.InvalidArgument, msg)
}

// rejectingAppender turns the TSDB's refusal of single samples into a count,
// so one out-of-order sample does not fail the rest of the request, and
// remembers any other error, which means the store itself is failing.
type rejectingAppender struct {
	tsdbstore.Appender
	rejected   map[string]int // by tsdbstore reason
	example    string         // one refusal, to show the sender
	storageErr error
}

func (a *rejectingAppender) check(ref storage.SeriesRef, l labels.Labels, err error) (storage.SeriesRef, error) {
	if err == nil {
		return ref, nil
	}
	if r := tsdbstore.RejectReason(err); r != "" {
		a.rejected[r]++
		if a.example == "" {
			a.example = fmt.Sprintf("%v for series %s", err, l.String())
		}
		// Ref 0 and no error: the translator skips metadata and exemplars
		// of the sample and goes on with the next.
		return 0, nil
	}
	if a.storageErr == nil {
		a.storageErr = err
	}
	return 0, err
}

// refuse counts a sample the caller refused before appending it, as the
// store's own refusals are counted.
func (a *rejectingAppender) refuse(l labels.Labels, err error) (storage.SeriesRef, error) {
	a.Refuse(err)
	return a.check(0, l, err)
}

func (a *rejectingAppender) Append(ref storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	ref, err := a.Appender.Append(ref, l, t, v)
	return a.check(ref, l, err)
}

func (a *rejectingAppender) AppendHistogram(ref storage.SeriesRef, l labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	ref, err := a.Appender.AppendHistogram(ref, l, t, h, fh)
	return a.check(ref, l, err)
}

func (a *rejectingAppender) summary() string {
	reasons := make([]string, 0, len(a.rejected))
	total := 0
	for r, n := range a.rejected {
		reasons = append(reasons, fmt.Sprintf("%s: %d", r, n))
		total += n
	}
	sort.Strings(reasons)
	return fmt.Sprintf("%d samples rejected (%s), e.g. %s", total, strings.Join(reasons, ", "), a.example)
}

// seriesAppender is the translator's CombinedAppender. It does what
// Prometheus' own does (metadata once per series, exemplars after their
// sample; no zero samples for created timestamps, which Sightline leaves
// off as Prometheus does by default) but looks series up in the tenant's
// long-lived tsdbstore.SeriesRefs instead of a map made for each request:
// a known series costs one lookup and no metadata update, and a request
// allocates no map of its series.
type seriesAppender struct {
	app     *rejectingAppender
	refs    *tsdbstore.SeriesRefs // nil when the store refused the tenant
	request uint64                // this request's marks in refs
	metrics *tsdbstore.Store
	tenant  string
	m       *metrics
	// lastMeta is the metadata of the last series put in refs.
	lastMeta *tsdbstore.SeriesMeta
}

func (a *seriesAppender) AppendSample(ls labels.Labels, meta prw.Metadata, _, t int64, v float64, es []exemplar.Exemplar) error {
	return a.append(ls, meta, t, v, nil, es)
}

func (a *seriesAppender) AppendHistogram(ls labels.Labels, meta prw.Metadata, _, t int64, h *histogram.Histogram, es []exemplar.Exemplar) error {
	if h == nil {
		return errors.New("internal error: nil histogram for series " + ls.String())
	}
	return a.append(ls, meta, t, 0, h, es)
}

func (a *seriesAppender) append(ls labels.Labels, meta prw.Metadata, t int64, v float64, h *histogram.Histogram, es []exemplar.Exemplar) error {
	key := cacheKey{hash: ls.Hash()}
	var mark tsdbstore.Mark
	if h == nil {
		mark = tsdbstore.Mark{Request: a.request, T: t, V: v}
	}
	known, prev, ok := a.refs.Get(key.hash, ls, mark)
	return a.store(key, known, prev, ok, mark, ls, meta, t, v, h, es)
}

// shareMeta returns the cache's metadata of a series with meta: have, the
// series' own, or else that of the last series put, which the translator
// appends family by family, so that a family's series share one.
func (a *seriesAppender) shareMeta(have *tsdbstore.SeriesMeta, meta prw.Metadata) *tsdbstore.SeriesMeta {
	if md, family := have.Data(); md != meta.Metadata || family != meta.MetricFamilyName {
		have = a.lastMeta
	}
	a.lastMeta = tsdbstore.ShareMeta(have, meta.Metadata, meta.MetricFamilyName)
	return a.lastMeta
}

// cacheKey is where a series is in the cache: under the hash of its
// labels, or as a member of the group the fast path found it in (a group
// is never the zero ID).
type cacheKey struct {
	hash   uint64
	group  tsdbstore.ID
	member int
}

func (a *seriesAppender) put(key cacheKey, e tsdbstore.SeriesEntry, mark tsdbstore.Mark) {
	if key.group != (tsdbstore.ID{}) {
		a.refs.SetMember(key.group, key.member, e, mark)
		// The translator put the series by its labels when it first
		// appended it; the group has it now.
		a.refs.Forget(e.Labels.Hash(), e.Labels)
	} else {
		a.refs.Put(key.hash, e, mark)
	}
}

// store appends a sample of the series ls, which the cache had (ok) as
// known with the mark prev, or not; mark is this sample's mark.
func (a *seriesAppender) store(key cacheKey, known tsdbstore.SeriesEntry, prev tsdbstore.Mark, ok bool, mark tsdbstore.Mark,
	ls labels.Labels, meta prw.Metadata, t int64, v float64, h *histogram.Histogram, es []exemplar.Exemplar) error {
	if ok && mark.Request != 0 && prev.Request == mark.Request && prev.T == t {
		// A second sample of the series at this millisecond in this
		// request: the head would drop it silently at commit.
		if math.Float64bits(prev.V) == math.Float64bits(v) {
			return nil // the same sample again, which Prometheus takes
		}
		_, err := a.app.refuse(ls, fmt.Errorf("%w: two values of one series at %s in one request (OTLP nanoseconds are stored as milliseconds)",
			storage.ErrDuplicateSampleForTimestamp, timestamp.Time(t).UTC().Format(time.RFC3339Nano)))
		return err
	}
	var ref storage.SeriesRef
	var err error
	if h != nil {
		ref, err = a.app.AppendHistogram(known.Ref, ls, t, h, nil)
	} else {
		ref, err = a.app.Append(known.Ref, ls, t, v)
	}
	if ref == 0 {
		// Refused (counted by the rejectingAppender) or the store failed:
		// no metadata or exemplars for a sample that is not there.
		return err
	}
	// A new reference is a series the head created (again): the cache
	// takes it. The metadata is not given to the TSDB (UpdateMetadata):
	// the TSDB only writes it to its WAL, which nothing here reads back,
	// as Prometheus does for scrapes and remote_write unless its
	// metadata-wal-records feature is on; /api/v1/metadata is served from
	// the store's index, by family, which only the translator knows.
	if md, _ := known.Meta.Data(); !ok || known.Ref != ref || md != meta.Metadata {
		a.metrics.SetMetadata(a.tenant, meta.MetricFamilyName, meta.Metadata)
		a.put(key, tsdbstore.SeriesEntry{Ref: ref, Labels: ls, Meta: a.shareMeta(known.Meta, meta)}, mark)
	}
	for _, e := range es {
		// Exemplar storage is best effort, as in Prometheus: a refused
		// exemplar does not fail its sample.
		if _, err := a.app.AppendExemplar(ref, ls, e); errors.Is(err, storage.ErrOutOfOrderExemplar) {
			a.m.outOfOrderExemplars.Inc()
		}
	}
	return nil
}

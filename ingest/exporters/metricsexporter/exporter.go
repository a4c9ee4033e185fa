package metricsexporter

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
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
	logger   *slog.Logger
	badInput *throttle.Logger
	m        *metrics
}

func newExporter(cfg *Config, store *tsdbstore.Store, logger *slog.Logger, m *metrics) *metricsExporter {
	return &metricsExporter{
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
}

func (e *metricsExporter) push(ctx context.Context, md pmetric.Metrics) error {
	e.m.received.Add(float64(md.DataPointCount()))
	id, err := exporters.TenantFromContext(ctx)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	ctx = tenant.With(ctx, id)

	app := &rejectingAppender{Appender: e.store.Appender(ctx), rejected: map[string]int{}}
	// An appender holds its tenant's TSDB until Commit or Rollback (a TSDB
	// whose WAL failed waits for that to be reopened): a panic in the
	// translator must not leave it open.
	defer func() {
		if r := recover(); r != nil {
			_ = app.Rollback()
			panic(r)
		}
	}()
	combined := &metadataRecorder{
		CombinedAppender: prw.NewCombinedAppender(app, discardLogger, false, e.m.appender),
		store:            e.store,
		tenant:           id,
	}
	_, convErr := prw.NewPrometheusConverter(combined).FromMetrics(ctx, md, e.settings)

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

var discardLogger = slog.New(slog.DiscardHandler)

// rejectingAppender turns the TSDB's refusal of single samples into a count,
// so one out-of-order sample does not fail the rest of the request, and
// remembers any other error, which means the store itself is failing.
type rejectingAppender struct {
	storage.Appender
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

// metadataRecorder records each metric family's metadata for
// /api/v1/metadata; the translator knows the family name, the TSDB does not.
//
// The translator hands over a metric's samples one after another, so the
// store (and its lock) is only asked when the metric changes.
type metadataRecorder struct {
	prw.CombinedAppender
	store  *tsdbstore.Store
	tenant string
	last   prw.Metadata
}

func (r *metadataRecorder) record(meta prw.Metadata) {
	if meta != r.last {
		r.store.SetMetadata(r.tenant, meta.MetricFamilyName, meta.Metadata)
		r.last = meta
	}
}

func (r *metadataRecorder) AppendSample(ls labels.Labels, meta prw.Metadata, ct, t int64, v float64, es []exemplar.Exemplar) error {
	r.record(meta)
	return r.CombinedAppender.AppendSample(ls, meta, ct, t, v, es)
}

func (r *metadataRecorder) AppendHistogram(ls labels.Labels, meta prw.Metadata, ct, t int64, h *histogram.Histogram, es []exemplar.Exemplar) error {
	r.record(meta)
	return r.CombinedAppender.AppendHistogram(ls, meta, ct, t, h, es)
}

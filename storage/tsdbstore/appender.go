package tsdbstore

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/sightline-dev/sightline/storage/colblock"
)

type annotationsT = annotations.Annotations

// Appender is what Store.Appender returns: a storage.Appender that also
// gives the series cache of the TSDB it writes to, valid until Commit or
// Rollback (nil if the store refused the tenant), and counts a sample its
// caller refused before appending it, with the store's other refusals.
type Appender interface {
	storage.Appender
	SeriesRefs() *SeriesRefs
	Refuse(err error)
}

// errAppender fails every call with err; it stands in for the appender of a
// tenant whose TSDB could not be opened, since storage.Appendable cannot
// return an error itself.
type errAppender struct{ err error }

var (
	_ Appender = errAppender{}
	_ Appender = (*countingAppender)(nil)
)

func (a errAppender) SeriesRefs() *SeriesRefs { return nil }
func (a errAppender) Refuse(error)            {}

func (a errAppender) Append(storage.SeriesRef, labels.Labels, int64, float64) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a errAppender) AppendExemplar(storage.SeriesRef, labels.Labels, exemplar.Exemplar) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a errAppender) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a errAppender) AppendHistogramCTZeroSample(storage.SeriesRef, labels.Labels, int64, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a errAppender) UpdateMetadata(storage.SeriesRef, labels.Labels, metadata.Metadata) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a errAppender) AppendCTZeroSample(storage.SeriesRef, labels.Labels, int64, int64) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a errAppender) SetOptions(*storage.AppendOptions) {}
func (a errAppender) Commit() error                     { return a.err }
func (a errAppender) Rollback() error                   { return nil }

// Rejection reasons, the values of the reason label of
// sightline_metrics_samples_rejected_total.
const (
	ReasonOutOfOrder  = "out_of_order"
	ReasonOutOfBounds = "out_of_bounds"
	ReasonTooOld      = "too_old"
	ReasonDuplicate   = "duplicate"
	ReasonInvalid     = "invalid"
	ReasonSeriesLimit = "series_limit"
)

// ErrSeriesLimit refuses a sample of a new series of a tenant that has as
// many active series as its limits allow.
var ErrSeriesLimit = errors.New("per-tenant limit of active series reached")

// RejectReason names why the TSDB refused a sample, or "" if err is not a
// refusal of that one sample (a closed store, a full disk).
func RejectReason(err error) string {
	switch {
	case errors.Is(err, storage.ErrOutOfOrderSample):
		return ReasonOutOfOrder
	case errors.Is(err, storage.ErrTooOldSample):
		return ReasonTooOld
	case errors.Is(err, storage.ErrOutOfBounds):
		return ReasonOutOfBounds
	case errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
		return ReasonDuplicate
	case errors.Is(err, ErrSeriesLimit):
		return ReasonSeriesLimit
	case errors.Is(err, tsdb.ErrInvalidSample), errors.As(err, new(histogram.Error)):
		// A histogram whose buckets, counts or schema do not add up is
		// that one sample's fault, not the store's.
		return ReasonInvalid
	}
	return ""
}

type appendStats struct {
	appended prometheus.Counter
	rejected *prometheus.CounterVec
}

func newAppendStats(reg prometheus.Registerer) (*appendStats, error) {
	st := &appendStats{
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_metrics_samples_appended_total",
			Help: "Samples (floats and histograms) appended to the metrics store, from any protocol.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_metrics_samples_rejected_total",
			Help: "Samples the metrics store refused, by reason.",
		}, []string{"reason"}),
	}
	for _, r := range []string{ReasonOutOfOrder, ReasonOutOfBounds, ReasonTooOld, ReasonDuplicate, ReasonInvalid, ReasonSeriesLimit} {
		st.rejected.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{st.appended, st.rejected} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics store metrics: %w", err)
		}
	}
	return st, nil
}

// maxAhead is how far in the future a sample may be, as in Prometheus'
// remote-write handler: anything later is a clock error at the sender.
const maxAhead = 10 * time.Minute

// countingAppender counts samples, refuses those too far in the future,
// and takes the samples of a commit from the tenant's allowance.
type countingAppender struct {
	storage.Appender
	stats     *appendStats
	maxTime   int64 // now + maxAhead when the appender was made: one clock read per request
	refs      *SeriesRefs
	tenant    string
	limiter   Limiter
	head      *tsdb.Head
	maxSeries int           // the tenant's active series limit, 0 for none
	n         int           // samples appended, to be committed
	appended  *atomic.Int64 // the tenant's committed samples
	// walExemplars learns from Commit that the WAL has exemplars, if
	// the appender took any (exemplars), and ring makes room for them.
	walExemplars *colblock.WALExemplars
	ring         *exemplarRing
	exemplars    int
	chunks       *fullChunks
	// release lets the tenant's TSDB be reopened again, once, at Commit
	// or Rollback; walFailure reopens it after a failed WAL write.
	release    func()
	walFailure func(error)
}

func (a *countingAppender) SeriesRefs() *SeriesRefs { return a.refs }

func (a *countingAppender) Refuse(err error) { _, _ = a.count(0, err) }

// done releases the TSDB; the appender is not used again.
func (a *countingAppender) done() {
	if a.release != nil {
		a.release()
		a.release = nil
	}
}

func (a *countingAppender) Rollback() error {
	defer a.done()
	return a.Appender.Rollback()
}

// newSeriesOverLimit refuses a sample of a series the head does not have
// while the tenant has as many active series as its limit, as Mimir's
// ingesters do; samples of existing series go on. Only checked at the
// limit, where the head's own lookup of the labels is the cost.
func (a *countingAppender) newSeriesOverLimit(ref storage.SeriesRef, l labels.Labels) error {
	if a.maxSeries <= 0 || ref != 0 || a.head.NumSeries() < uint64(a.maxSeries) {
		return nil
	}
	if g, ok := a.Appender.(storage.GetRef); ok {
		if r, _ := g.GetRef(l, l.Hash()); r != 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: tenant %q has %d active series (limits max_series)", ErrSeriesLimit, a.tenant, a.maxSeries)
}

func (a *countingAppender) count(ref storage.SeriesRef, err error) (storage.SeriesRef, error) {
	if err == nil {
		a.n++
		return ref, nil
	}
	if r := RejectReason(err); r != "" {
		a.stats.rejected.WithLabelValues(r).Inc()
	}
	return ref, err
}

func (a *countingAppender) tooFarAhead(t int64) error {
	if t > a.maxTime {
		return fmt.Errorf("%w: timestamp %s is more than %s in the future", storage.ErrOutOfBounds, timestamp.Time(t).UTC().Format(time.RFC3339), maxAhead)
	}
	return nil
}

func (a *countingAppender) Append(ref storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	if err := a.tooFarAhead(t); err != nil {
		return a.count(0, err)
	}
	if err := a.newSeriesOverLimit(ref, l); err != nil {
		return a.count(0, err)
	}
	return a.count(a.Appender.Append(ref, l, t, v))
}

func (a *countingAppender) AppendHistogram(ref storage.SeriesRef, l labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if err := a.tooFarAhead(t); err != nil {
		return a.count(0, err)
	}
	if err := a.newSeriesOverLimit(ref, l); err != nil {
		return a.count(0, err)
	}
	return a.count(a.Appender.AppendHistogram(ref, l, t, h, fh))
}

// AppendExemplar refuses an exemplar too far in the future, as Prometheus'
// remote-write handler does; exemplars are not counted as samples.
func (a *countingAppender) AppendExemplar(ref storage.SeriesRef, l labels.Labels, e exemplar.Exemplar) (storage.SeriesRef, error) {
	if err := a.tooFarAhead(e.Ts); err != nil {
		return 0, err
	}
	ref, err := a.Appender.AppendExemplar(ref, l, e)
	if err == nil {
		a.exemplars++
	}
	return ref, err
}

// Commit commits the samples the tenant's limits allow: all or none.
func (a *countingAppender) Commit() error {
	defer a.done()
	if a.limiter != nil && a.n > 0 {
		if err := a.limiter.Ingest(a.tenant, a.n, 0); err != nil {
			_ = a.Appender.Rollback()
			return err
		}
	}
	a.ring.reserve(a.exemplars)
	if err := a.Appender.Commit(); err != nil {
		// The head's Commit fails only when it cannot write the WAL.
		if a.walFailure != nil && !errors.Is(err, tsdb.ErrAppenderClosed) {
			a.walFailure(err)
		}
		return err
	}
	if a.exemplars > 0 {
		a.walExemplars.Committed()
	}
	a.chunks.commit()
	a.stats.appended.Add(float64(a.n))
	if a.appended != nil {
		a.appended.Add(int64(a.n))
	}
	return nil
}

package generator

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Generator's own metrics, on the registerer given to New.
// They carry a tenant label, as Tempo's metrics-generator ones do: which
// tenant hits its series bound is the first thing an operator asks.
type metrics struct {
	spans          *prometheus.CounterVec
	invalidSpans   *prometheus.CounterVec
	series         *prometheus.GaugeVec
	seriesDropped  *prometheus.CounterVec
	appendErrors   *prometheus.CounterVec
	unpairedEdges  *prometheus.GaugeVec
	edgesExpired   *prometheus.CounterVec
	edgesDropped   *prometheus.CounterVec
	flushDurations prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	tl := []string{"tenant"}
	m := &metrics{
		spans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_spanmetrics_spans_total",
			Help: "Spans consumed by the span metrics and service graph generator.",
		}, tl),
		invalidSpans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_spanmetrics_spans_invalid_total",
			Help: "Spans left out of span metrics or service graphs because a label value (service or span name) is not valid UTF-8.",
		}, tl),
		series: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sightline_spanmetrics_series",
			Help: "Active series generated from spans, counted as Prometheus series (histogram buckets, _sum and _count each count).",
		}, tl),
		seriesDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_spanmetrics_series_dropped_total",
			Help: "Spans and service graph edges not counted because their new series would exceed the per-tenant series bound.",
		}, tl),
		appendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_spanmetrics_append_errors_total",
			Help: "Samples and exemplars the metrics store refused, and failed commits.",
		}, tl),
		unpairedEdges: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sightline_servicegraph_unpaired_edges",
			Help: "Service graph edges waiting for their other span, at the last flush.",
		}, tl),
		edgesExpired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_servicegraph_unpaired_edges_expired_total",
			Help: "Service graph edges whose other span did not arrive within the wait and that could not be completed as a virtual node.",
		}, tl),
		edgesDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_servicegraph_unpaired_edges_dropped_total",
			Help: "Client or server spans not kept for pairing because the tenant's unpaired edge store was full.",
		}, tl),
		flushDurations: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sightline_spanmetrics_flush_duration_seconds",
			Help:    "Time to append every tenant's span metrics and service graph series.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{
		m.spans, m.invalidSpans, m.series, m.seriesDropped, m.appendErrors,
		m.unpairedEdges, m.edgesExpired, m.edgesDropped, m.flushDurations,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register span metrics metrics: %w", err)
		}
	}
	return m, nil
}

// tenantMetrics are one tenant's children of metrics, looked up once when the
// tenant is first seen so that the ingest path does no label lookups.
type tenantMetrics struct {
	spans         prometheus.Counter
	invalidSpans  prometheus.Counter
	series        prometheus.Gauge
	seriesDropped prometheus.Counter
	appendErrors  prometheus.Counter
	unpairedEdges prometheus.Gauge
	edgesExpired  prometheus.Counter
	edgesDropped  prometheus.Counter
}

func (m *metrics) forTenant(id string) tenantMetrics {
	return tenantMetrics{
		spans:         m.spans.WithLabelValues(id),
		invalidSpans:  m.invalidSpans.WithLabelValues(id),
		series:        m.series.WithLabelValues(id),
		seriesDropped: m.seriesDropped.WithLabelValues(id),
		appendErrors:  m.appendErrors.WithLabelValues(id),
		unpairedEdges: m.unpairedEdges.WithLabelValues(id),
		edgesExpired:  m.edgesExpired.WithLabelValues(id),
		edgesDropped:  m.edgesDropped.WithLabelValues(id),
	}
}

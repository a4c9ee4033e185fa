package metricsexporter

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/sightline-dev/sightline/ingest/exporters"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

// Type is the component type of the exporter in collector configuration.
var Type = component.MustNewType("sightline_metrics")

// NewFactory returns the exporter factory. Every exporter it creates writes
// into store; reg receives the exporter's own metrics.
func NewFactory(store *tsdbstore.Store, logger *slog.Logger, reg prometheus.Registerer) exporter.Factory {
	m := newMetrics(reg)
	return exporter.NewFactory(Type,
		func() component.Config { return &Config{AddMetricSuffixes: true} },
		exporter.WithMetrics(func(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
			e := newExporter(cfg.(*Config), store, logger, m)
			// No queue and no retry: the pipeline answers the sender only
			// once the data is in the WAL, and the sender retries. The
			// fast path takes what it appended out of the request (the
			// pipeline's deltatocumulative processor mutates it already).
			return exporterhelper.NewMetrics(ctx, set, cfg, exporters.NoPanic("metrics", logger, e.push),
				exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}))
		}, component.StabilityLevelBeta),
	)
}

type metrics struct {
	received         prometheus.Counter
	translationError prometheus.Counter
	untranslated     prometheus.Counter
	// Prometheus' names for what its OTLP endpoint counts the same way.
	outOfOrderExemplars prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_otlp_metric_points_received_total",
			Help: "OTLP metric data points received by the metrics exporter.",
		}),
		translationError: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_otlp_metric_translation_errors_total",
			Help: "OTLP metrics that could not be translated to Prometheus series (empty, bad temporality, bad name).",
		}),
		untranslated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_otlp_metric_points_untranslated_total",
			Help: "OTLP metric data points appended from the series cache, without Prometheus' translator: of series seen before.",
		}),
		outOfOrderExemplars: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_api_otlp_out_of_order_exemplars_total",
			Help: "The total number of received OTLP exemplars which were rejected because they were out of order.",
		}),
	}
	reg.MustRegister(m.received, m.translationError, m.untranslated, m.outOfOrderExemplars)
	return m
}

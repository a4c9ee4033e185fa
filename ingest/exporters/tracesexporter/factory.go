package tracesexporter

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sightline-dev/sightline/ingest/exporters"
	"github.com/sightline-dev/sightline/storage/tracestore"
)

// Type is the component type of the exporter in collector configuration.
var Type = component.MustNewType("sightline_traces")

// SpanConsumer sees every request after its spans are stored (the
// span-metrics generator). Consume must not keep td.
type SpanConsumer interface {
	Consume(ctx context.Context, td ptrace.Traces)
}

// NewFactory returns the exporter factory; its exporters write into store
// and then hand the request to derived (nil for none).
func NewFactory(store *tracestore.Store, derived SpanConsumer, logger *slog.Logger) exporter.Factory {
	return exporter.NewFactory(Type,
		func() component.Config { return &Config{} },
		exporter.WithTraces(func(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
			e := newExporter(store, derived, logger)
			return exporterhelper.NewTraces(ctx, set, cfg, exporters.NoPanic("traces", logger, e.push),
				exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}))
		}, component.StabilityLevelBeta),
	)
}

package logsexporter

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/sightline-dev/sightline/ingest/exporters"
	"github.com/sightline-dev/sightline/storage/logstore"
)

// Type is the component type of the exporter in collector configuration.
var Type = component.MustNewType("sightline_logs")

// NewFactory returns the exporter factory; its exporters write into store.
func NewFactory(store *logstore.Store, logger *slog.Logger) exporter.Factory {
	return exporter.NewFactory(Type,
		func() component.Config { return &Config{} },
		exporter.WithLogs(func(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
			e := newExporter(store, logger)
			return exporterhelper.NewLogs(ctx, set, cfg, exporters.NoPanic("logs", logger, e.push),
				exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}))
		}, component.StabilityLevelBeta),
	)
}

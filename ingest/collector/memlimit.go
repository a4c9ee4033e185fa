package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// memoryLimiterFactory is the upstream memory_limiter with one change: its
// refusal becomes gRPC ResourceExhausted (HTTP 429), the OTLP specification's
// signal to back off, instead of the generic Unavailable (503) the receiver
// would otherwise answer for an error it does not know.
func memoryLimiterFactory(refused *prometheus.CounterVec) processor.Factory {
	up := memorylimiterprocessor.NewFactory()
	wrapErr := func(signal string, err error) error {
		if err == nil || err.Error() != dataRefusedText {
			return err
		}
		refused.WithLabelValues(signal).Inc()
		return status.Error(codes.ResourceExhausted, "sightline is over its memory limit, retry later: "+err.Error())
	}
	return processor.NewFactory(up.Type(), up.CreateDefaultConfig,
		processor.WithMetrics(func(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
			p, err := up.CreateMetrics(ctx, set, cfg, next)
			if err != nil {
				return nil, err
			}
			return &limitedMetrics{p, wrapErr}, nil
		}, up.MetricsStability()),
		processor.WithLogs(func(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
			p, err := up.CreateLogs(ctx, set, cfg, next)
			if err != nil {
				return nil, err
			}
			return &limitedLogs{p, wrapErr}, nil
		}, up.LogsStability()),
		processor.WithTraces(func(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
			p, err := up.CreateTraces(ctx, set, cfg, next)
			if err != nil {
				return nil, err
			}
			return &limitedTraces{p, wrapErr}, nil
		}, up.TracesStability()),
	)
}

// dataRefusedText is the text of the memory limiter's ErrDataRefused, which
// lives in an internal package of the collector that we cannot import.
const dataRefusedText = "data refused due to high memory usage"

type limitedMetrics struct {
	processor.Metrics
	wrap func(string, error) error
}

func (p *limitedMetrics) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	return p.wrap("metrics", p.Metrics.ConsumeMetrics(ctx, md))
}

type limitedLogs struct {
	processor.Logs
	wrap func(string, error) error
}

func (p *limitedLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	return p.wrap("logs", p.Logs.ConsumeLogs(ctx, ld))
}

type limitedTraces struct {
	processor.Traces
	wrap func(string, error) error
}

func (p *limitedTraces) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	return p.wrap("traces", p.Traces.ConsumeTraces(ctx, td))
}

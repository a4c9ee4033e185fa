package collector

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/ingest/exporters"
)

// perTenant wraps a stateful metrics processor factory (deltatocumulative)
// so that every tenant gets an instance of its own: its state is keyed by
// the series' identity, which two tenants may share, and one tenant's
// deltas must never add to another's. The wrapper keeps the inner
// component's type and configuration, so a user's collector file
// configures it as before.
// admit, if not nil, refuses tenants beyond those allowed before an
// instance is made for them.
func perTenant(inner processor.Factory, admit interface{ Admit(tenant string) error }) processor.Factory {
	return processor.NewFactory(inner.Type(), inner.CreateDefaultConfig,
		processor.WithMetrics(func(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
			// Created once here so that a bad configuration fails at start-up.
			first, err := inner.CreateMetrics(ctx, set, cfg, next)
			if err != nil {
				return nil, err
			}
			return &tenantProcessors{admit: admit, create: func(ctx context.Context) (processor.Metrics, error) {
				return inner.CreateMetrics(ctx, set, cfg, next)
			}, spare: first, procs: map[string]processor.Metrics{}}, nil
		}, inner.MetricsStability()))
}

// tenantProcessors routes each request to its tenant's processor, created
// on the tenant's first request.
type tenantProcessors struct {
	admit  interface{ Admit(tenant string) error }
	create func(context.Context) (processor.Metrics, error)

	mu      sync.Mutex
	host    component.Host               // guarded by mu; set by Start
	spare   processor.Metrics            // guarded by mu; created, not started
	procs   map[string]processor.Metrics // guarded by mu; started
	stopped bool                         // guarded by mu
}

func (p *tenantProcessors) Start(_ context.Context, host component.Host) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.host = host
	return nil
}

func (p *tenantProcessors) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	var errs []error
	for _, x := range p.procs {
		errs = append(errs, x.Shutdown(ctx))
	}
	if p.spare != nil {
		errs = append(errs, p.spare.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

func (p *tenantProcessors) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

func (p *tenantProcessors) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	id, err := exporters.TenantFromContext(ctx)
	if err != nil {
		// As the exporters answer it: no tenant's state sees the request.
		return status.Error(codes.InvalidArgument, err.Error())
	}
	x, err := p.forTenant(ctx, id)
	if err != nil {
		return err
	}
	return x.ConsumeMetrics(ctx, md)
}

// forTenant returns the tenant's processor, starting it on first use.
func (p *tenantProcessors) forTenant(ctx context.Context, id string) (processor.Metrics, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if x, ok := p.procs[id]; ok {
		return x, nil
	}
	if p.stopped {
		return nil, errors.New("collector is shutting down")
	}
	if p.admit != nil {
		if err := p.admit.Admit(id); err != nil {
			return nil, status.Error(codes.ResourceExhausted, err.Error())
		}
	}
	x := p.spare
	p.spare = nil
	if x == nil {
		var err error
		if x, err = p.create(ctx); err != nil {
			return nil, err
		}
	}
	if err := x.Start(ctx, p.host); err != nil {
		return nil, err
	}
	p.procs[id] = x
	return x, nil
}

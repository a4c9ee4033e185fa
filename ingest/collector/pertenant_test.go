package collector

import (
	"context"
	"errors"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/deltatocumulativeprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// onlyTenant admits one tenant.
type onlyTenant string

func (o onlyTenant) Admit(id string) error {
	if id != string(o) {
		return errors.New("too many tenants")
	}
	return nil
}

// A tenant the limits refuse gets no processor of its own: the state kept
// per tenant is bounded by the tenants allowed.
func TestPerTenantAdmitsFirst(t *testing.T) {
	f := perTenant(deltatocumulativeprocessor.NewFactory(), onlyTenant("a"))
	p, err := f.CreateMetrics(context.Background(), processortest.NewNopSettings(f.Type()), f.CreateDefaultConfig(), new(consumertest.MetricsSink))
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()
	as := func(id string) context.Context {
		return client.NewContext(context.Background(), client.Info{Metadata: client.NewMetadata(map[string][]string{"X-Scope-OrgID": {id}})})
	}
	require.NoError(t, p.ConsumeMetrics(as("a"), pmetric.NewMetrics()))
	err = p.ConsumeMetrics(as("b"), pmetric.NewMetrics())
	require.Equal(t, codes.ResourceExhausted, status.Code(err))
	require.Len(t, p.(*tenantProcessors).procs, 1)
}

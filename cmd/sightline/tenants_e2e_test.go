package main_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Two tenants send the same delta counter, series for series: each reads
// its own sum. The collector's delta-to-cumulative state was shared, so
// tenant b read a's 1000 plus its own 1 (issue 12).
func TestDeltaCountersStayWithTheirTenant(t *testing.T) {
	s := startServer(t, t.TempDir())
	delta := otlpmetrichttp.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality { return metricdata.DeltaTemporality })
	for _, x := range []struct {
		tenant string
		add    int64
	}{{"a", 1000}, {"b", 1}, {"a", 10}} {
		svc := newOTelService(t, s, "http", "shared", delta, otlpmetrichttp.WithHeaders(map[string]string{"X-Scope-OrgID": x.tenant}))
		c, err := svc.mp.Meter("shared").Int64Counter("shared_delta")
		require.NoError(t, err)
		c.Add(ctxT(t), x.add)
		require.NoError(t, svc.flush(t))
	}
	require.InDelta(t, 1010, queryScalar(t, s.promTenant("a"), `shared_delta_total`), 1e-9)
	require.InDelta(t, 1, queryScalar(t, s.promTenant("b"), `shared_delta_total`), 1e-9)
}

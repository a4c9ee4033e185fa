package main_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// remoteWrite sends series through Prometheus' own remote-write client, as a
// Prometheus server or agent would.
func remoteWrite(t *testing.T, s *server, tenantID string, ts ...prompb.TimeSeries) error {
	t.Helper()
	u, err := url.Parse(s.url("/api/v1/write"))
	require.NoError(t, err)
	conf := &remote.ClientConfig{URL: &config_util.URL{URL: u}, Timeout: model.Duration(10 * time.Second)}
	if tenantID != "" {
		conf.Headers = map[string]string{"X-Scope-OrgID": tenantID}
	}
	c, err := remote.NewWriteClient("test", conf)
	require.NoError(t, err)
	raw, err := (&prompb.WriteRequest{Timeseries: ts}).Marshal()
	require.NoError(t, err)
	_, err = c.Store(ctxT(t), snappy.Encode(nil, raw), 0)
	return err
}

func series(name string, t time.Time, v float64, lbls ...string) prompb.TimeSeries {
	ls := []prompb.Label{{Name: "__name__", Value: name}}
	for i := 0; i < len(lbls); i += 2 {
		ls = append(ls, prompb.Label{Name: lbls[i], Value: lbls[i+1]})
	}
	return prompb.TimeSeries{Labels: ls, Samples: []prompb.Sample{{Timestamp: t.UnixMilli(), Value: v}}}
}

type tenantRT struct{ id string }

func (rt tenantRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Scope-OrgID", rt.id)
	return http.DefaultTransport.RoundTrip(r)
}

func (s *server) promTenant(id string) promv1.API {
	c, err := promapi.NewClient(promapi.Config{Address: "http://" + s.httpAddr, RoundTripper: tenantRT{id}})
	require.NoError(s.t, err)
	return promv1.NewAPI(c)
}

func TestRemoteWriteRoundTripAndTenants(t *testing.T) {
	s := startServer(t, t.TempDir())
	now := time.Now()
	require.NoError(t, remoteWrite(t, s, "", series("rw_temperature_celsius", now, 21.5, "room", "lab")))
	require.NoError(t, remoteWrite(t, s, "team-a", series("rw_temperature_celsius", now, 30, "room", "kitchen")))

	require.InDelta(t, 21.5, queryScalar(t, s.prom(), `rw_temperature_celsius{room="lab"}`), 1e-9)
	require.InDelta(t, 30, queryScalar(t, s.promTenant("team-a"), `rw_temperature_celsius`), 1e-9)
	// Tenants do not see each other's data.
	v, _, err := s.prom().Query(ctxT(t), `rw_temperature_celsius{room="kitchen"}`, time.Now())
	require.NoError(t, err)
	require.Empty(t, v.(model.Vector))
}

// TestRestartKeepsData writes through OTLP and remote_write, stops sightline
// cleanly, starts it again and reads the same data.
func TestRestartKeepsData(t *testing.T) {
	s := startServer(t, t.TempDir())
	svc := newOTelService(t, s, "grpc", "restart-1")
	svc.record(t, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
	require.NoError(t, svc.flush(t))
	now := time.Now()
	require.NoError(t, remoteWrite(t, s, "", series("rw_restart", now, 123)))

	s.stop()
	s.restart()

	api := s.prom()
	require.InDelta(t, 7, queryScalar(t, api, `http_server_requests_total{instance="restart-1"}`), 1e-9)
	require.InDelta(t, 100, queryScalar(t, api, `histogram_count(payment_latency_milliseconds{instance="restart-1"})`), 1e-9)
	require.InDelta(t, 123, queryScalar(t, api, `rw_restart`), 1e-9)
	ex, err := api.QueryExemplars(ctxT(t), `request_duration_seconds_bucket`, now.Add(-time.Hour), time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.NotEmpty(t, ex, "exemplars survive a restart (WAL replay)")
}

// TestKill9KeepsAcknowledgedData: every export that sightline acknowledged
// is there after kill -9 and a restart.
func TestKill9KeepsAcknowledgedData(t *testing.T) {
	s := startServer(t, t.TempDir())
	svc := newOTelService(t, s, "http", "kill-1")
	c, err := svc.mp.Meter("kill").Int64Counter("acked.exports")
	require.NoError(t, err)
	const n = 25
	for i := 1; i <= n; i++ {
		// One series per export: two exports within one millisecond would
		// give one series two values at one TSDB timestamp.
		c.Add(context.Background(), 1, metric.WithAttributes(attribute.Int("export", i)))
		require.NoError(t, svc.flush(t), "export %d", i)
	}
	// Remote write acknowledges too.
	base := time.Now().Add(-time.Minute)
	for i := 1; i <= n; i++ {
		require.NoError(t, remoteWrite(t, s, "", series("rw_acked", base.Add(time.Duration(i)*time.Second), float64(i))))
	}

	s.kill()
	s.restart()

	api := s.prom()
	require.InDelta(t, n, queryScalar(t, api, `count(acked_exports_total{instance="kill-1"})`), 1e-9)
	require.InDelta(t, n, queryScalar(t, api, `rw_acked`), 1e-9)
	require.InDelta(t, n, queryScalar(t, api, `count_over_time(rw_acked[10m])`), 1e-9,
		"every acknowledged remote-write sample is there")
}

// TestExemplarsOutliveTheRing: with a ring of 5 exemplars, every exemplar
// sent is found by /api/v1/query_exemplars, from the head's exemplar files
// (their block is not written yet), also after kill -9 and a restart.
func TestExemplarsOutliveTheRing(t *testing.T) {
	s := startServer(t, t.TempDir(), "-metrics.max-exemplars=5")
	base := time.Now().Add(-30 * time.Minute)
	const n = 40
	want := map[string]bool{}
	for i := range n {
		ts := series("ring_requests_total", base.Add(time.Duration(i)*30*time.Second), float64(i), "job", "api")
		traceID := fmt.Sprintf("%032x", i+1)
		ts.Exemplars = []prompb.Exemplar{{Labels: []prompb.Label{{Name: "trace_id", Value: traceID}}, Value: float64(i), Timestamp: ts.Samples[0].Timestamp}}
		require.NoError(t, remoteWrite(t, s, "", ts))
		want[traceID] = true
	}
	got := func() map[string]bool {
		res, err := s.prom().QueryExemplars(ctxT(t), `ring_requests_total`, base.Add(-time.Minute), time.Now())
		require.NoError(t, err)
		ids := map[string]bool{}
		for _, r := range res {
			for _, e := range r.Exemplars {
				ids[string(e.Labels["trace_id"])] = true
			}
		}
		return ids
	}
	require.Equal(t, want, got())
	s.kill()
	s.restart()
	require.Equal(t, want, got())
}

package logsapi

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
)

// BenchmarkDrilldown times Logs Drilldown's service list (index/volume)
// and patterns tab over an hour of 1M lines of 12 services, in segments
// of 200k lines:
//
//	go test ./query/logsapi/ -run XXX -bench Drilldown -benchtime 5x
func BenchmarkDrilldown(b *testing.B) {
	const n, services = 1_000_000, 12
	s, err := logstore.Open(b.TempDir(), logstore.DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(b, err)
	defer s.Close()
	end := time.Now().Truncate(time.Minute)
	start := end.Add(-time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))
	res := make([][]record.KV, services)
	for i := range res {
		res[i] = []record.KV{{Key: "service.name", Value: fmt.Sprintf("svc-%d", i)}, {Key: "k8s.namespace.name", Value: "prod"}}
	}
	lines := []func() string{
		func() string {
			return fmt.Sprintf("GET /api/v1/orders/%d returned 200 in %dms", rng.IntN(1e6), rng.IntN(900))
		},
		func() string {
			return fmt.Sprintf("level=warn msg=\"slow query\" table=orders took=%dms rows=%d", rng.IntN(5000), rng.IntN(100))
		},
		func() string {
			return fmt.Sprintf("payment %x declined: insufficient funds for customer c-%d", rng.Uint64(), rng.IntN(1e4))
		},
		func() string {
			return fmt.Sprintf("cache miss for session:%d, loaded in %d ms", rng.IntN(1e6), rng.IntN(50))
		},
	}
	sevs := []string{"INFO", "WARN", "ERROR", "INFO"}
	batch := make([]*logstore.Record, 0, 10_000)
	for i := range n {
		k := rng.IntN(len(lines))
		batch = append(batch, &logstore.Record{Timestamp: start.Add(time.Duration(i) * (time.Hour / n)).UnixNano(), Body: lines[k](),
			SeverityText: sevs[k], Resource: res[rng.IntN(services)]})
		if len(batch) == cap(batch) {
			_, err := s.Append(context.Background(), batch)
			require.NoError(b, err)
			batch = batch[:0]
		}
		if (i+1)%200_000 == 0 {
			require.NoError(b, s.Flush())
		}
	}
	h := New(s, nil, DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry()).Handler()
	iso := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	for _, c := range []struct{ name, path, query, step string }{
		{"volume", "/loki/api/v1/index/volume", `{service_name=~".+"}`, ""},
		{"volume_range", "/loki/api/v1/index/volume_range", `{service_name=~".+"}`, "60s"},
		{"patterns_one_service", "/loki/api/v1/patterns", `{service_name="svc-3"}`, "60s"},
		{"patterns_all", "/loki/api/v1/patterns", `{service_name=~".+"}`, "60s"},
	} {
		b.Run(c.name, func(b *testing.B) {
			v := url.Values{"query": {c.query}, "start": {iso(start)}, "end": {iso(end)}, "limit": {"5000"}}
			if c.step != "" {
				v.Set("step", c.step)
			}
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path+"?"+v.Encode(), nil))
				require.Equal(b, http.StatusOK, rec.Code, rec.Body.String())
			}
		})
	}
}

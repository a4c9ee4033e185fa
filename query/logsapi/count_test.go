package logsapi

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/query/logql"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
)

// volumeRecords makes n records from start, every gap: 12 services on 4
// hosts, four severities, 100–200-byte lines, three attributes and, when
// levels, a level attribute on one record in 50 (Loki's structured
// metadata, which a volume query groups by).
func volumeRecords(n int, start time.Time, gap time.Duration, levels bool, rng *rand.Rand) []*logstore.Record {
	resources := make([][]record.KV, 12)
	for i := range resources {
		resources[i] = []record.KV{{Key: "service.name", Value: fmt.Sprintf("service-%d", i), Type: record.TypeString},
			{Key: "host.name", Value: fmt.Sprintf("node-%d", i%4), Type: record.TypeString}}
	}
	sevs := []string{"INFO", "DEBUG", "WARN", "ERROR"}
	out := make([]*logstore.Record, n)
	for i := range out {
		r := &logstore.Record{
			Timestamp:    start.Add(time.Duration(i) * gap).UnixNano(),
			SeverityText: sevs[rng.IntN(len(sevs))],
			Body:         fmt.Sprintf("GET /api/v1/orders/%d returned 200 in %d ms for customer %x%s", rng.IntN(1e6), rng.IntN(1000), rng.Uint64(), make([]byte, rng.IntN(100))),
			BodyType:     record.TypeString,
			Resource:     resources[rng.IntN(len(resources))],
			Attributes: []record.KV{{Key: "http.method", Value: "POST", Type: record.TypeString},
				{Key: "attempt", Value: fmt.Sprint(rng.IntN(3)), Type: record.TypeInt},
				{Key: "user.id", Value: fmt.Sprintf("u%d", rng.IntN(10000)), Type: record.TypeString}},
			ScopeName: "app",
		}
		if levels && rng.IntN(50) == 0 {
			r.Attributes = append(r.Attributes, record.KV{Key: "level", Value: []string{"info", "error"}[rng.IntN(2)], Type: record.TypeString})
		}
		if rng.IntN(10) != 0 {
			r.TraceID[0], r.TraceID[8] = byte(i/4), byte(rng.Uint32())
			r.SpanID[0] = byte(i)
		}
		out[i] = r
	}
	return out
}

// fillStore appends recs in requests of 1,000 records, flushing a segment
// every perSegment records; what is left stays in the head.
func fillStore(tb testing.TB, s *logstore.Store, recs []*logstore.Record, perSegment int) {
	tb.Helper()
	for i := 0; i < len(recs); i += 1000 {
		_, err := s.Append(context.Background(), recs[i:min(i+1000, len(recs))])
		require.NoError(tb, err)
		if (i+1000)%perSegment == 0 && i+1000 < len(recs) {
			require.NoError(tb, s.Flush())
		}
	}
}

// TestCountedMetricQueries: metric queries give the same matrices counted
// from the store's columns (logql.CountFunc) as evaluated over every
// record, with records in the head, in flushed segments and in a merged
// one, and with and without the level metadata that Grafana's volume query
// groups by.
func TestCountedMetricQueries(t *testing.T) {
	s, err := logstore.Open(t.TempDir(), func() logstore.Options {
		o := logstore.DefaultOptions()
		o.MergeFanIn = 3
		return o
	}(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	defer s.Close()
	start := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
	rng := rand.New(rand.NewPCG(1, 2))
	// Three segments merged (Compact), then four more (which may merge in
	// the background), and the head; the level attribute appears in the
	// second part only.
	fillStore(t, s, volumeRecords(9000, start, 40*time.Millisecond, false, rng), 3000)
	require.NoError(t, s.Flush())
	require.NoError(t, s.Compact())
	fillStore(t, s, volumeRecords(20000, start.Add(6*time.Minute), 60*time.Millisecond, true, rng), 5000)
	a := New(s, nil, DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())

	counts := 0
	opts := logql.DefaultEvalOptions()
	opts.Count = func(ctx context.Context, ms []*labels.Matcher, names []string, from, to time.Time, together func(minT, maxT int64) bool, fn func(logql.CountEntry) error) error {
		counts++
		return a.count(ctx, ms, names, from, to, together, fn)
	}
	for _, c := range []struct {
		q       string
		counted bool
	}{
		{`sum by (level, detected_level) (count_over_time({service_name=~".+"} | drop __error__ [1m]))`, true},
		{`sum by (service_name) (rate({service_name="service-1"}[5m]))`, true},
		{`sum by (service_name, severity) (bytes_over_time({service_name=~".+"}[1m]))`, true},
		{`sum(bytes_rate({service_name=~"service-[12]"}[2m]))`, true},
		{`topk(3, sum by (service_name) (count_over_time({service_name=~".+"}[1m])))`, true},
		{`bottomk(2, sum by (host_name, level) (count_over_time({service_name=~".+"} | severity!="debug" [30s] offset 1m)))`, true},
		{`avg(sum by (service_name) (rate({severity="error"} | service_name=~"service-[0-5]" or level="error" [1m])))`, true},
		{`sum by (service_name) (count_over_time({service_name=~".+"} | drop service_name="service-3" [1m])) / 60`, true},
		{`sum without (severity) (count_over_time({service_name="service-2"}[1m]))`, false},
		{`sum by (service_name) (count_over_time({service_name=~".+"} |= "orders/1" [1m]))`, false},
	} {
		m, err := logql.ParseExpr(c.q)
		require.NoError(t, err, c.q)
		mq := m.(*logql.MetricQuery)
		for _, step := range []time.Duration{time.Minute, 17 * time.Second} {
			end := start.Add(30 * time.Minute)
			want, err := mq.EvalWithOptions(context.Background(), start, end, step, a.fetch, logql.DefaultEvalOptions())
			require.NoError(t, err, c.q)
			require.NotEmpty(t, want, c.q)
			counts = 0
			got, err := mq.EvalWithOptions(context.Background(), start, end, step, a.fetch, opts)
			require.NoError(t, err, c.q)
			require.Equal(t, want, got, c.q)
			require.Equal(t, c.counted, counts > 0, c.q)
		}
	}
}

// BenchmarkVolumeQuery evaluates Grafana's log volume query and a rate by
// service over 1M records in 20 segments (merges off) and the head, step
// 1m over the whole 5.5 hours: by decoding every record (fetch) and from
// the store's count columns (count).
func BenchmarkVolumeQuery(b *testing.B) {
	const n, perSegment = 1_000_000, 50_000
	o := logstore.DefaultOptions()
	o.MergeFanIn = 0
	s, err := logstore.Open(b.TempDir(), o, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(b, err)
	defer s.Close()
	start := time.Now().Add(-6 * time.Hour).Truncate(time.Minute)
	fillStore(b, s, volumeRecords(n, start, 20*time.Millisecond, false, rand.New(rand.NewPCG(1, 2))), perSegment)
	a := New(s, nil, DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	end := start.Add(n * 20 * time.Millisecond)
	for _, q := range []struct{ name, q string }{
		{"volume", `sum by (level, detected_level) (count_over_time({service_name=~".+"} | drop __error__ [1m]))`},
		{"rate", `sum by (service_name) (rate({service_name=~".+"}[5m]))`},
	} {
		m, err := logql.ParseMetricQuery(q.q)
		require.NoError(b, err)
		for _, path := range []string{"fetch", "count"} {
			opts := logql.DefaultEvalOptions()
			if path == "count" {
				opts.Count = a.count
			}
			b.Run(q.name+"/"+path, func(b *testing.B) {
				for range b.N {
					res, err := m.EvalWithOptions(context.Background(), start, end, time.Minute, a.fetch, opts)
					require.NoError(b, err)
					require.NotEmpty(b, res)
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

package metricsexporter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// benchRequest is one request shaped like the benchmark's (bench/workload):
// instances resources, each with a counter of 20 routes and codes, a
// 10-bucket histogram of 5 routes and three gauges, all at ts.
func benchRequest(instances int, ts time.Time, v float64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for i := range instances {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%02d", i%10))
		rm.Resource().Attributes().PutStr("service.instance.id", fmt.Sprintf("host-%d", i))
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()

		m := ms.AppendEmpty()
		m.SetName("http.requests")
		m.SetUnit("{request}")
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for r := range 20 {
			p := sum.DataPoints().AppendEmpty()
			p.Attributes().PutStr("route", fmt.Sprintf("/api/r%d", r%10))
			p.Attributes().PutStr("code", []string{"200", "500"}[r/10])
			p.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			p.SetDoubleValue(v)
		}

		m = ms.AppendEmpty()
		m.SetName("http.request.duration")
		m.SetUnit("s")
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for r := range 5 {
			p := h.DataPoints().AppendEmpty()
			p.Attributes().PutStr("route", fmt.Sprintf("/api/r%d", r))
			p.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			p.ExplicitBounds().FromRaw([]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})
			p.BucketCounts().FromRaw([]uint64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, uint64(v)})
			p.SetCount(10 + uint64(v))
			p.SetSum(v)
		}

		for _, name := range []string{"process.memory.usage", "go.goroutines", "queue.length"} {
			m = ms.AppendEmpty()
			m.SetName(name)
			p := m.SetEmptyGauge().DataPoints().AppendEmpty()
			p.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			p.SetDoubleValue(v)
		}
	}
	return md
}

// BenchmarkPush measures the exporter alone (translation or fast path,
// series cache, head append and WAL commit) on requests of 20 instances,
// each request a second after the last for the same series, from a day
// ago, with and without the fast path; samples/s is what to compare.
//
// Each instance has 20 + 5×(11 buckets + _sum + _count) + 3 = 88 samples.
func BenchmarkPush(b *testing.B) {
	for _, path := range []string{"fast-path", "translator"} {
		b.Run(path, func(b *testing.B) {
			e, _ := newTestExporter(b)
			if path == "translator" {
				e.fast = nil
			}
			const instances = 20
			start := time.Now().Add(-24 * time.Hour)
			reqs := make([]pmetric.Metrics, 0, 60)
			for i := range cap(reqs) {
				reqs = append(reqs, benchRequest(instances, start.Add(time.Duration(i)*time.Second), float64(i)))
			}
			const samples = instances * 88
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i > 0 && i%len(reqs) == 0 {
					// The next minute of the same series.
					b.StopTimer()
					for j := range reqs {
						reqs[j] = benchRequest(instances, start.Add(time.Duration(i+j)*time.Second), float64(i+j))
					}
					b.StartTimer()
				}
				if err := e.push(context.Background(), reqs[i%len(reqs)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*samples)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

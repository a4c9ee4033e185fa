package metricsexporter

import (
	"context"
	"math/rand/v2"
	"testing"

	prw "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// randomExpPoint fills p with an exponential histogram of random scale
// (below, within and above Prometheus' schemas), offsets and bucket
// counts with runs of empty buckets of every length.
func randomExpPoint(rng *rand.Rand, p pmetric.ExponentialHistogramDataPoint) {
	p.SetScale(int32(rng.IntN(27) - 6))
	p.SetZeroCount(uint64(rng.IntN(3)))
	total := p.ZeroCount()
	buckets := func(b pmetric.ExponentialHistogramDataPointBuckets) {
		b.SetOffset(int32(rng.IntN(101) - 50))
		n := rng.IntN(30)
		counts := make([]uint64, 0, n)
		for len(counts) < n {
			if rng.IntN(3) == 0 {
				for range rng.IntN(6) {
					counts = append(counts, 0)
				}
				continue
			}
			c := uint64(rng.IntN(20))
			counts = append(counts, c)
			total += c
		}
		b.BucketCounts().FromRaw(counts)
	}
	buckets(p.Positive())
	if rng.IntN(2) == 0 {
		buckets(p.Negative())
	}
	// The count is the buckets' total, or in a few points not, which the
	// TSDB refuses.
	p.SetCount(total)
	if rng.IntN(10) == 0 {
		p.SetCount(total + 1)
	}
	if rng.IntN(4) != 0 {
		p.SetSum(rng.Float64() * 100)
	}
	if rng.IntN(10) == 0 {
		p.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
	}
	p.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + rng.Int64N(1e12)))
}

// likeTranslator checks nativeHistogram against Prometheus' translator
// on the point p: the same histogram, bit for bit and span for span, or
// a refusal by both, which it reports.
func likeTranslator(t testing.TB, p pmetric.ExponentialHistogramDataPoint) (refused bool) {
	t.Helper()
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("latency")
	eh := m.SetEmptyExponentialHistogram()
	eh.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	p.CopyTo(eh.DataPoints().AppendEmpty())

	var rec recorder
	_, err := prw.NewPrometheusConverter(&rec).FromMetrics(context.Background(), md, prw.Settings{})
	got, ok := nativeHistogram(p)
	if err != nil {
		require.False(t, ok, "the translator refused it: %v", err)
		return true
	}
	require.True(t, ok)
	require.NotEmpty(t, rec.calls)
	want := rec.calls[0].h
	require.True(t, sameHistogram(want, got), "scale %d\nwant %#v\ngot  %#v", p.Scale(), want, got)
	return false
}

// TestNativeHistogramLikeTranslator runs likeTranslator on random
// exponential histograms.
func TestNativeHistogramLikeTranslator(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	refused := 0
	for range 20000 {
		p := pmetric.NewExponentialHistogramDataPoint()
		randomExpPoint(rng, p)
		if likeTranslator(t, p) {
			refused++
		}
	}
	require.Greater(t, refused, 100, "scales below Prometheus' smallest schema")
}

// FuzzNativeHistogramLikeTranslator runs likeTranslator on fuzzed scales,
// offsets and bucket counts (a byte each).
func FuzzNativeHistogramLikeTranslator(f *testing.F) {
	f.Add(int32(3), int32(-2), []byte{1, 0, 0, 0, 4}, int32(0), []byte{})
	f.Add(int32(12), int32(5), []byte{0, 0, 3, 0, 1, 1}, int32(-7), []byte{2})
	f.Fuzz(func(t *testing.T, scale, posOffset int32, pos []byte, negOffset int32, neg []byte) {
		p := pmetric.NewExponentialHistogramDataPoint()
		p.SetScale(scale)
		total := uint64(0)
		fill := func(b pmetric.ExponentialHistogramDataPointBuckets, offset int32, counts []byte) {
			b.SetOffset(offset)
			for _, c := range counts {
				b.BucketCounts().Append(uint64(c))
				total += uint64(c)
			}
		}
		fill(p.Positive(), posOffset, pos)
		fill(p.Negative(), negOffset, neg)
		p.SetCount(total)
		likeTranslator(t, p)
	})
}

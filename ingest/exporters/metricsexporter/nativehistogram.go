package metricsexporter

import (
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// otlpZeroThreshold is the zero bucket's width Prometheus' translator
// gives every native histogram it makes of an OTLP one (it does not read
// the data point's own zero threshold).
const otlpZeroThreshold = 1e-128

// nativeHistogram makes of the cumulative exponential histogram point p
// the native histogram Prometheus' translator makes of it, field for field
// and bucket layout for bucket layout: the fast path stores what the
// translator would have, and learning compares the two bit for bit. False
// for a scale the translator refuses.
func nativeHistogram(p pmetric.ExponentialHistogramDataPoint) (*histogram.Histogram, bool) {
	scale := p.Scale()
	if scale < histogram.ExponentialSchemaMin {
		return nil, false
	}
	// A finer scale than Prometheus has merges 2^down buckets into one.
	var down int32
	if scale > histogram.ExponentialSchemaMax {
		down, scale = scale-histogram.ExponentialSchemaMax, histogram.ExponentialSchemaMax
	}
	h := &histogram.Histogram{
		// Counter resets are left to the TSDB to find, as the translator
		// does: a wrong "no reset" hint would corrupt a chunk.
		CounterResetHint: histogram.UnknownCounterReset,
		Schema:           scale,
		ZeroThreshold:    otlpZeroThreshold,
		ZeroCount:        p.ZeroCount(),
	}
	h.PositiveSpans, h.PositiveBuckets = bucketLayout(p.Positive().BucketCounts(), p.Positive().Offset(), down)
	h.NegativeSpans, h.NegativeBuckets = bucketLayout(p.Negative().BucketCounts(), p.Negative().Offset(), down)
	if p.Flags().NoRecordedValue() {
		h.Sum, h.Count = math.Float64frombits(value.StaleNaN), value.StaleNaN
		return h, true
	}
	if p.HasSum() {
		h.Sum = p.Sum()
	}
	h.Count = p.Count()
	return h, true
}

// bucketLayout turns OTLP bucket counts, the first at index offset, into
// Prometheus' spans and count deltas at a scale down steps coarser. OTLP's
// bucket i covers (base^i, base^(i+1)], Prometheus' (base^(i-1), base^i],
// so indexes move up by one after the merge.
//
// It takes the steps of the translator's own conversion, so that it lays
// the buckets out as the translator does, including where that is odd: a
// run of more than two empty buckets starts a new span and shorter runs
// are written as zeros, but an empty bucket met where a new index begins
// is not written and the next bucket's count is reckoned from its index,
// and the first span starts at the first bucket even when that is empty.
func bucketLayout(counts pcommon.UInt64Slice, offset, down int32) ([]histogram.Span, []int64) {
	n := counts.Len()
	if n == 0 {
		return nil, nil
	}
	index := func(i int) int32 { return (int32(i)+offset)>>down + 1 }
	spans := []histogram.Span{{Offset: index(0)}}
	deltas := make([]int64, 0, n)
	var last int64 // the last count written
	write := func(c int64) {
		spans[len(spans)-1].Length++
		deltas = append(deltas, c-last)
		last = c
	}
	// writeAfter writes count c after a gap of empty buckets.
	writeAfter := func(gap int32, c int64) {
		if gap > 2 {
			spans = append(spans, histogram.Span{Offset: gap})
		} else {
			for range gap {
				write(0)
			}
		}
		write(c)
	}
	at, count := index(0), int64(0) // count is reckoned from index at
	for i := range n {
		c := int64(counts.At(i))
		switch next := index(i); {
		case next == at:
			count += c
		case count == 0:
			count = c
		default:
			writeAfter(next-at-1, count)
			at, count = next, c
		}
	}
	writeAfter(index(n-1)-at, count)
	return spans, deltas
}

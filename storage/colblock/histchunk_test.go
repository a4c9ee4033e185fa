package colblock

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/tsdbutil"
	"github.com/stretchr/testify/require"
)

// Histograms come back as they went in: counts, sum bits, layout and
// every sample's counter-reset hint, through Next and Seek.
func TestHistogramChunkRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	check := func(t *testing.T, hs []*histogram.Histogram, jitter int64) {
		t.Helper()
		ts := timestamps(len(hs), 1_700_000_000_000, 15_000, jitter, r)
		c := NewHistogramChunk(EncodeHistograms(nil, ts, hs), ts[0], ts[len(ts)-1])
		require.Equal(t, len(hs), c.NumSamples())
		it := c.Iterator(nil)
		for i := range hs {
			require.Equal(t, chunkenc.ValHistogram, it.Next(), "%v", it.Err())
			gt, gh := it.AtHistogram(nil)
			require.Equal(t, ts[i], gt)
			require.Equal(t, math.Float64bits(hs[i].Sum), math.Float64bits(gh.Sum))
			want := hs[i].Copy()
			want.Sum, gh.Sum = 0, 0
			require.Equal(t, want, gh, "histogram %d", i)
			_, fh := it.AtFloatHistogram(nil)
			require.Equal(t, hs[i].Count, uint64(fh.Count))
		}
		require.Equal(t, chunkenc.ValNone, it.Next())
		require.NoError(t, it.Err())
		it = c.Iterator(it)
		require.Equal(t, chunkenc.ValHistogram, it.Seek(ts[len(ts)/2]))
		require.Equal(t, ts[len(ts)/2], it.AtT())
		// A histogram given to fill gets its own copy of the buckets.
		reuse := &histogram.Histogram{PositiveBuckets: make([]int64, 0, 64)}
		_, got := it.AtHistogram(reuse)
		require.Same(t, reuse, got)
	}
	for name, hs := range histogramCases() {
		t.Run(name, func(t *testing.T) {
			check(t, hs, 0)
			check(t, hs, 5) // not evenly spaced
		})
	}
	t.Run("iterator reused for fewer buckets", func(t *testing.T) {
		wide := tsdbutil.GenerateTestHistogram(7)
		narrow := &histogram.Histogram{Count: 5, Sum: 2, Schema: 0,
			PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}}, PositiveBuckets: []int64{3},
			NegativeSpans: []histogram.Span{{Offset: 0, Length: 1}}, NegativeBuckets: []int64{2}}
		it := NewHistogramChunk(EncodeHistograms(nil, []int64{1, 2}, []*histogram.Histogram{wide, wide}), 1, 2).Iterator(nil)
		for it.Next() == chunkenc.ValHistogram {
		}
		it = NewHistogramChunk(EncodeHistograms(nil, []int64{1, 2, 3}, []*histogram.Histogram{narrow, narrow, narrow}), 1, 3).Iterator(it)
		for it.Next() == chunkenc.ValHistogram {
			_, got := it.AtHistogram(nil)
			require.Equal(t, narrow, got)
		}
	})
}

// Histogram chunks written before their first and last timestamps were
// left to the meta still decode (testdata/histogram-chunks-v1.json, of
// histogramCases at even timestamps), whatever times they are given.
func TestHistogramChunksOfFirstFormatDecode(t *testing.T) {
	b, err := os.ReadFile("testdata/histogram-chunks-v1.json")
	require.NoError(t, err)
	var golden map[string][]byte
	require.NoError(t, json.Unmarshal(b, &golden))
	cases := histogramCases()
	require.Len(t, golden, len(cases))
	for name, hs := range cases {
		require.Zero(t, golden[name][0]&flagTimes, name)
		ts := timestamps(len(hs), 1_700_000_000_000, 15_000, 0, nil)
		it := NewHistogramChunk(golden[name], -1, -1).Iterator(nil)
		for i := range hs {
			require.Equal(t, chunkenc.ValHistogram, it.Next(), "%s: %v", name, it.Err())
			gt, gh := it.AtHistogram(nil)
			require.Equal(t, ts[i], gt)
			require.Equal(t, math.Float64bits(hs[i].Sum), math.Float64bits(gh.Sum))
			want := hs[i].Copy()
			want.Sum, gh.Sum = 0, 0
			require.Equal(t, want, gh, "%s: histogram %d", name, i)
		}
		require.Equal(t, chunkenc.ValNone, it.Next())
		require.NoError(t, it.Err())
	}
}

// A histogram chunk, like a float chunk, takes its first and last
// timestamps from its meta: wrong times or none make it corrupt.
func TestHistogramChunkTimesFromMeta(t *testing.T) {
	hs := histogramCases()["gauges"]
	even := timestamps(len(hs), 1_700_000_000_000, 60_000, 0, nil)
	b := EncodeHistograms(nil, even, hs)
	require.NotZero(t, b[0]&flagRegular)
	requireTimesChecked(t, EncColumnarHistogram, b, even[0], even[len(even)-1])
}

// histogramCases are runs of histograms of several shapes, made the same
// way every time.
func histogramCases() map[string][]*histogram.Histogram {
	var counters, gauges, custom []*histogram.Histogram
	for i := range 300 {
		h := tsdbutil.GenerateTestHistogram(int64(i * 3))
		h.CounterResetHint = histogram.NotCounterReset
		if i == 0 {
			h.CounterResetHint = histogram.UnknownCounterReset
		}
		counters = append(counters, h)
	}
	counters[100].CounterResetHint = histogram.CounterReset
	counters[150].Sum = math.Float64frombits(value.StaleNaN)
	for i := range 50 {
		gauges = append(gauges, tsdbutil.GenerateTestGaugeHistogram(int64(50-i)))
	}
	for i := range 20 {
		custom = append(custom, tsdbutil.GenerateTestCustomBucketsHistogram(int64(i)))
	}
	return map[string][]*histogram.Histogram{
		"counters":       counters,
		"gauges":         gauges,
		"custom buckets": custom,
		"no buckets":     {{Count: 5, Sum: 1.5, ZeroCount: 5, ZeroThreshold: 0.001}},
	}
}

// TestHistIteratorsShareNoColumns is TestIteratorsShareNoColumns for
// histogram chunks.
func TestHistIteratorsShareNoColumns(t *testing.T) {
	chunkOf := func(n int, gen func(int) *histogram.Histogram) (*HistogramChunk, []*histogram.Histogram) {
		var hs []*histogram.Histogram
		for i := range n {
			hs = append(hs, gen(i))
		}
		ts := timestamps(n, 1_700_000_000_000, 15_000, 0, nil)
		return NewHistogramChunk(EncodeHistograms(nil, ts, hs), ts[0], ts[len(ts)-1]), hs
	}
	a, _ := chunkOf(300, func(i int) *histogram.Histogram { return tsdbutil.GenerateTestGaugeHistogram(int64(i)) })
	b, hs := chunkOf(100, func(i int) *histogram.Histogram { return tsdbutil.GenerateTestGaugeHistogram(int64(1000 - i)) })
	ita := a.Iterator(nil)
	for ita.Next() != chunkenc.ValNone {
	}
	itb := b.Iterator(nil) // may take over ita's columns
	require.Equal(t, chunkenc.ValNone, ita.Next())
	require.Equal(t, chunkenc.ValNone, ita.Seek(0))
	for i := range hs {
		require.Equal(t, chunkenc.ValHistogram, itb.Next())
		_, h := itb.AtHistogram(nil)
		require.Equal(t, hs[i].Count, h.Count)
		require.Equal(t, hs[i].PositiveBuckets, h.PositiveBuckets)
	}
	if raceDetector {
		return // its pool does not keep the columns
	}
	allocs := testing.AllocsPerRun(100, func() {
		it := b.Iterator(nil)
		for it.Next() != chunkenc.ValNone {
		}
	})
	// The iterator and the layout's spans; the columns were 19 more.
	require.LessOrEqual(t, allocs, 4.0)
}

func FuzzHistogramChunkDecode(f *testing.F) {
	var hs []*histogram.Histogram
	for i := range 10 {
		hs = append(hs, tsdbutil.GenerateTestHistogram(int64(i)))
	}
	f.Add(EncodeHistograms(nil, timestamps(10, 0, 10, 0, nil), hs), int64(0), int64(90))
	f.Add(EncodeHistograms(nil, timestamps(10, 0, 10, 3, rand.New(rand.NewPCG(1, 1))), hs), int64(0), int64(100))
	f.Add([]byte{0, 1, 2}, int64(0), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, mint, maxt int64) {
		c := NewHistogramChunk(b, mint, maxt)
		it := c.Iterator(nil)
		n := 0
		for it.Next() == chunkenc.ValHistogram {
			_, h := it.AtHistogram(nil)
			it.AtFloatHistogram(nil)
			_ = h.String()
			n++
		}
		if it.Err() == nil && n != c.NumSamples() {
			t.Fatalf("decoded %d histograms of a chunk that says %d", n, c.NumSamples())
		}
	})
}

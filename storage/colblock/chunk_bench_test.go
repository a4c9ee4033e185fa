package colblock

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/tsdbutil"
)

// BenchmarkDecode decodes 512-sample chunks of the shapes the compactor
// sees, against Prometheus' XOR chunks of the same samples.
func BenchmarkDecode(b *testing.B) {
	const n = 512
	ts := timestamps(n, 1_700_000_000_000, 15_000, 0, nil)
	for name, vs := range benchColumns(n) {
		col := NewChunk(Encode(nil, ts, vs), ts[0], ts[len(ts)-1])
		xor := chunkenc.NewXORChunk()
		app, _ := xor.Appender()
		for i := range ts {
			app.Append(ts[i], vs[i])
		}
		for kind, c := range map[string]chunkenc.Chunk{"columnar": col, "xor": xor} {
			b.Run(name+"/"+kind, func(b *testing.B) {
				var it chunkenc.Iterator
				for b.Loop() {
					it = c.Iterator(it)
					for it.Next() == chunkenc.ValFloat {
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sample")
				b.ReportMetric(float64(len(c.Bytes()))/n, "bytes/sample")
			})
		}
	}
}

// BenchmarkEncode encodes 512-sample chunks of the shapes the compactor
// sees, and a native histogram's: the largest part of a compaction's CPU
// (the rest is reading the chunks merged, and Prometheus' index writer).
func BenchmarkEncode(b *testing.B) {
	const n = 512
	ts := timestamps(n, 1_700_000_000_000, 15_000, 0, nil)
	run := func(name string, encode func(dst []byte) []byte) {
		b.Run(name, func(b *testing.B) {
			var dst []byte
			for b.Loop() {
				dst = encode(dst[:0])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sample")
			b.ReportMetric(float64(len(dst))/n, "bytes/sample")
		})
	}
	for name, vs := range benchColumns(n) {
		run(name, func(dst []byte) []byte { return Encode(dst, ts, vs) })
	}
	hs := make([]*histogram.Histogram, n)
	for i := range hs {
		hs[i] = tsdbutil.GenerateTestHistogram(int64(i * 3))
	}
	run("histogram", func(dst []byte) []byte { return EncodeHistograms(dst, ts, hs) })
	wide := wideHistograms(n)
	run("histogram-64-buckets", func(dst []byte) []byte { return EncodeHistograms(dst, ts, wide) })
}

// wideHistograms returns n samples of a cumulative histogram of 64
// buckets, as OTLP's exponential histograms of latencies are (bench/
// workload's): requests fall into the middle twenty, so the other
// buckets' columns never change.
func wideHistograms(n int) []*histogram.Histogram {
	r := rand.New(rand.NewPCG(6, 6))
	var counts [64]int64
	hs := make([]*histogram.Histogram, n)
	for i := range hs {
		for range 50 {
			counts[22+r.IntN(10)+r.IntN(10)]++
		}
		h := &histogram.Histogram{Schema: 2, PositiveSpans: []histogram.Span{{Offset: -43, Length: 64}}, PositiveBuckets: make([]int64, 64)}
		prev := int64(0)
		for j, c := range counts {
			h.PositiveBuckets[j], prev = c-prev, c
			h.Count += uint64(c)
		}
		h.Sum = float64(h.Count) * 0.05
		hs[i] = h
	}
	return hs
}

// benchColumns returns n values of each shape the benchmarks encode and
// decode, by name.
func benchColumns(n int) map[string][]float64 {
	r := rand.New(rand.NewPCG(5, 5))
	shapes := map[string]func(i int) float64{
		"counter":       func(i int) float64 { return float64(i*7 + r.IntN(5)) },
		"decimal-gauge": func(int) float64 { return float64(r.IntN(10000)) / 100 },
		"random-floats": func(int) float64 { return r.Float64() },
		"tenth-steps":   func(i int) float64 { return float64(i) * 0.1 },
		// Increments that bunch around their mean, as requests an
		// interval do: the column is entropy-coded.
		"bell-counter": func() func(int) float64 {
			c := 0.0
			return func(int) float64 {
				c += math.Round(r.NormFloat64()*30 + 500)
				return c
			}
		}(),
	}
	cols := make(map[string][]float64, len(shapes))
	for _, name := range slices.Sorted(maps.Keys(shapes)) { // r's draws in one order
		f := shapes[name]
		vs := make([]float64, n)
		for i := range vs {
			vs[i] = f(i)
		}
		cols[name] = vs
	}
	return cols
}

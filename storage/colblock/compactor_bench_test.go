package colblock

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/tsdbutil"
	"github.com/stretchr/testify/require"
)

// BenchmarkCompactHead writes a 2-hour head block of 10,000 series at a
// 15-second interval (4.8M samples; counters, gauges and floats as the
// metrics benchmark's) with Sightline's compactor and with Prometheus'.
func BenchmarkCompactHead(b *testing.B) {
	const series, samples = 10_000, 480
	db, err := tsdb.Open(b.TempDir(), nil, nil, options(false), nil)
	require.NoError(b, err)
	defer db.Close()
	t0 := int64(1_700_000_000_000) / (2 * hour) * (2 * hour)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range samples {
		app := db.Appender(context.Background())
		for s := range series {
			ls := labels.FromStrings("__name__", fmt.Sprintf("metric_%d", s%50), "instance", fmt.Sprintf("10.0.%d.%d:8080", s/250, s%250), "job", "bench")
			var v float64
			switch s % 4 {
			case 0, 1: // counters with random increments
				v = float64(i * (s%13 + r.IntN(5)))
			case 2: // a small gauge
				v = float64(r.IntN(8))
			default: // a random float gauge
				v = r.Float64() * 100
			}
			_, err := app.Append(0, ls, t0+int64(i)*step, v)
			require.NoError(b, err)
		}
		require.NoError(b, app.Commit())
	}
	ranges := tsdb.ExponentialBlockRanges(2*hour, 3, 3)
	head := tsdb.NewRangeHead(db.Head(), t0, t0+2*hour-1)
	for _, kind := range []string{"columnar", "prometheus"} {
		b.Run(kind, func(b *testing.B) {
			var c tsdb.Compactor
			if kind == "columnar" {
				c, err = NewCompactorFunc(DefaultOptions(), NewReaders())(context.Background(), nil, nil, ranges, nil, tsdb.DefaultOptions())
			} else {
				c, err = tsdb.NewLeveledCompactor(context.Background(), nil, nil, ranges, nil, nil)
			}
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				_, err := c.Write(b.TempDir(), head, t0, t0+2*hour, nil)
				require.NoError(b, err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*series*samples), "ns/sample")
		})
	}
}

// BenchmarkCompactHistograms writes a 2-hour head block of 1,000 native
// histogram series at a 15-second interval (480,000 histograms of 8
// buckets), then merges that block into a new one, as the compactor does
// to every block as it ages: both decode every histogram and encode it
// again.
func BenchmarkCompactHistograms(b *testing.B) {
	const series, samples = 1_000, 480
	db, err := tsdb.Open(b.TempDir(), nil, nil, options(false), nil)
	require.NoError(b, err)
	defer db.Close()
	t0 := int64(1_700_000_000_000) / (2 * hour) * (2 * hour)
	for i := range samples {
		app := db.Appender(context.Background())
		for s := range series {
			ls := labels.FromStrings("__name__", "rpc_duration_seconds", "instance", fmt.Sprintf("10.0.%d.%d:8080", s/250, s%250), "job", "bench")
			_, err := app.AppendHistogram(0, ls, t0+int64(i)*step, tsdbutil.GenerateTestHistogram(int64(i*(s%7+1))), nil)
			require.NoError(b, err)
		}
		require.NoError(b, app.Commit())
	}
	ranges := tsdb.ExponentialBlockRanges(2*hour, 3, 3)
	c, err := NewCompactorFunc(DefaultOptions(), NewReaders())(context.Background(), nil, nil, ranges, nil, options(true))
	require.NoError(b, err)
	head := tsdb.NewRangeHead(db.Head(), t0, t0+2*hour-1)
	dir := b.TempDir()
	ids, err := c.Write(dir, head, t0, t0+2*hour, nil)
	require.NoError(b, err)
	block := filepath.Join(dir, ids[0].String())
	for _, kind := range []string{"write", "merge"} {
		b.Run(kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if kind == "write" {
					_, err = c.Write(b.TempDir(), head, t0, t0+2*hour, nil)
				} else {
					_, err = c.Compact(b.TempDir(), []string{block}, nil)
				}
				require.NoError(b, err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*series*samples), "ns/sample")
		})
	}
}

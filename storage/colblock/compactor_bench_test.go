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
// when it writes a window's last block (the longest range here is 2
// hours): both decode every histogram and encode it again.
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
	ranges := []int64{2 * hour} // every merge is a last one, which cuts chunks again
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

// BenchmarkMergeSixHours merges three 2-hour blocks of 5,000 float series
// at a 60-second interval (1.8M samples, the week-long benchmark's load)
// into a 6-hour block: one that will be merged again, which copies the
// blocks' chunks, and the last of its window (6 hours being the longest
// range), which cuts every series' samples into one chunk again.
func BenchmarkMergeSixHours(b *testing.B) {
	const series, minute = 5_000, 60_000
	db, err := tsdb.Open(b.TempDir(), nil, nil, options(false), nil)
	require.NoError(b, err)
	defer db.Close()
	db.DisableCompactions()
	t0 := int64(1_700_000_000_000) / (18 * hour) * (18 * hour) // a window of 18 hours starts here
	for t := t0; t < t0+6*hour; t += minute {
		app := db.Appender(context.Background())
		for s := range series {
			ls := labels.FromStrings("__name__", fmt.Sprintf("metric_%d", s%50), "instance", fmt.Sprintf("10.0.%d.%d:8080", s/250, s%250))
			_, err := app.Append(0, ls, t, float64((t-t0)/minute*int64(s%13)))
			require.NoError(b, err)
		}
		require.NoError(b, app.Commit())
	}
	for _, kind := range []string{"copy", "cut"} {
		b.Run(kind, func(b *testing.B) {
			ranges := []int64{2 * hour, 6 * hour, 18 * hour}
			if kind == "cut" {
				ranges = ranges[:2]
			}
			c, err := NewCompactorFunc(DefaultOptions(), NewReaders())(context.Background(), nil, nil, ranges, nil, options(true))
			require.NoError(b, err)
			dir := b.TempDir()
			var blocks []string
			for mint := t0; mint < t0+6*hour; mint += 2 * hour {
				ids, err := c.Write(dir, tsdb.NewRangeHead(db.Head(), mint, mint+2*hour-1), mint, mint+2*hour, nil)
				require.NoError(b, err)
				blocks = append(blocks, filepath.Join(dir, ids[0].String()))
			}
			b.ReportAllocs()
			for b.Loop() {
				_, err := c.Compact(b.TempDir(), blocks, nil)
				require.NoError(b, err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*series*360), "ns/sample")
		})
	}
}

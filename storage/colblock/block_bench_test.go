package colblock

import (
	"context"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
)

// BenchmarkSelect reads blocks of the test data (30 float series and 2
// histogram series, 30 hours at 15 s, merged up to 18-hour blocks) through
// the TSDB's querier: one series over an hour (a query's fixed cost: opening
// the blocks' chunk files and decoding whole chunks for a few samples), and
// every float series over all 30 hours. Columnar blocks against Prometheus'.
func BenchmarkSelect(b *testing.B) {
	t0 := day0
	for _, columnar := range []bool{true, false} {
		name := "prometheus"
		if columnar {
			name = "columnar"
		}
		db, err := tsdb.Open(b.TempDir(), nil, nil, options(columnar), nil)
		require.NoError(b, err)
		appendTestData(b, db, t0, 30)
		require.NoError(b, db.Compact(context.Background()))
		read := func(b *testing.B, mint, maxt int64, ms ...*labels.Matcher) int {
			q, err := db.Querier(mint, maxt)
			require.NoError(b, err)
			defer q.Close()
			set := q.Select(context.Background(), false, nil, ms...)
			n := 0
			var it chunkenc.Iterator
			for set.Next() {
				it = set.At().Iterator(it)
				for it.Next() == chunkenc.ValFloat {
					n++
				}
			}
			require.NoError(b, set.Err())
			return n
		}
		b.Run(name+"/one-series-1h", func(b *testing.B) {
			m := labels.MustNewMatcher(labels.MatchEqual, "series", "4")
			for b.Loop() {
				read(b, t0+10*hour, t0+11*hour, m)
			}
		})
		b.Run(name+"/all-floats-30h", func(b *testing.B) {
			m := labels.MustNewMatcher(labels.MatchRegexp, "__name__", "m.")
			n := 0
			for b.Loop() {
				n = read(b, t0, t0+30*hour, m)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sample")
		})
		require.NoError(b, db.Close())
	}
}

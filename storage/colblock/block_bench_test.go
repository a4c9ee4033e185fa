package colblock

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/index"
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

// BenchmarkBlockSeries reads every series (labels and chunk metas) of a
// block of 5,000 series labelled as the benchmark's are (job, instance,
// route, code: a few hundred symbols) through Prometheus' index reader,
// which walks the symbol table from every 32nd symbol, and through the
// block's index as Readers gives it, whose symbols are in memory.
func BenchmarkBlockSeries(b *testing.B) {
	db := requestsDB(b)
	blk := db.Blocks()[0]
	theirs, err := blk.Index()
	require.NoError(b, err)
	defer theirs.Close()
	ours, err := columnarBlock{Block: blk, readers: NewReaders()}.Index()
	require.NoError(b, err)
	defer ours.Close()
	name, value := index.AllPostingsKey()
	p, err := theirs.Postings(context.Background(), name, value)
	require.NoError(b, err)
	refs, err := index.ExpandPostings(p)
	require.NoError(b, err)
	for _, ir := range []struct {
		name string
		r    tsdb.IndexReader
	}{{"prometheus", theirs}, {"symbol-table", ours}} {
		b.Run(ir.name, func(b *testing.B) {
			var lb labels.ScratchBuilder
			var chks []chunks.Meta
			for b.Loop() {
				for _, ref := range refs {
					require.NoError(b, ir.r.Series(ref, &lb, &chks))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(refs)), "ns/series")
		})
	}
}

// requestsDB is a TSDB of 5,000 series labelled as the benchmark's are
// (job, instance, route, code: a few hundred symbols), five hours of them:
// a block and the head.
func requestsDB(b *testing.B) *tsdb.DB {
	db, err := tsdb.Open(b.TempDir(), nil, nil, options(true), nil)
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, db.Close()) })
	app := db.Appender(context.Background())
	for i := range 5000 {
		ls := labels.FromStrings("__name__", "http_requests_total", "code", fmt.Sprint(200+i%5*100), "instance", fmt.Sprintf("host-%03d:9100", i/100),
			"job", fmt.Sprintf("svc-%02d", i/500), "route", fmt.Sprintf("/api/r%02d", i%20))
		for ts := int64(0); ts < 5*hour; ts += 10 * step {
			_, err := app.Append(0, ls, day0+ts, float64(ts))
			require.NoError(b, err)
		}
	}
	require.NoError(b, app.Commit())
	require.NoError(b, db.Compact(context.Background()))
	require.NotEmpty(b, db.Blocks())
	return db
}

// BenchmarkReadOnce reads every series of a block and of the head, labels
// and samples, as the engine selects them and as package shard's direct
// evaluation does (ReadOnce), which keeps nothing of a series past it.
func BenchmarkReadOnce(b *testing.B) {
	db := requestsDB(b)
	blk, head := db.Blocks()[0], db.Head()
	m := labels.MustNewMatcher(labels.MatchEqual, "__name__", "http_requests_total")
	for _, part := range []struct {
		name string
		b    tsdb.BlockReader
	}{{"block", blk}, {"head", tsdb.NewRangeHead(head, head.MinTime(), head.MaxTime())}} {
		for _, once := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/once=%v", part.name, once), func(b *testing.B) {
				ctx := context.Background()
				if once {
					ctx = ReadOnce(ctx)
				}
				q, err := NewReaders().BlockQuerier(part.b, math.MinInt64, math.MaxInt64)
				require.NoError(b, err)
				defer q.Close()
				b.ReportAllocs()
				var it chunkenc.Iterator
				for b.Loop() {
					set := q.Select(ctx, false, nil, m)
					for set.Next() {
						_ = set.At().Labels().Len()
						it = set.At().Iterator(it)
						for it.Next() != chunkenc.ValNone {
						}
					}
					require.NoError(b, set.Err())
				}
			})
		}
	}
}

package colblock

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/tsdbutil"
	"github.com/stretchr/testify/require"
)

const (
	hour = int64(time.Hour / time.Millisecond)
	step = int64(15 * time.Second / time.Millisecond)
	// day0 is a day boundary: the tests' data starts there, so that which
	// blocks exist and merge does not depend on the time of day.
	day0 = int64(1_700_000_000_000) / (24 * hour) * (24 * hour)
)

func options(columnar bool) *tsdb.Options {
	o := tsdb.DefaultOptions()
	o.RetentionDuration = 0
	o.MaxBlockDuration = 24 * hour
	o.EnableSharding = true // as tsdbstore opens it: the head's postings are sharded too
	if columnar {
		Configure(o, NewReaders(), DefaultOptions())
	}
	return o
}

func openDB(t *testing.T, dir string, columnar bool) *tsdb.DB {
	t.Helper()
	db, err := tsdb.Open(dir, nil, nil, options(columnar), nil)
	require.NoError(t, err)
	return db
}

// appendTestData writes hours of 15-second samples from t0: float series of
// every kind the codec distinguishes, stale markers, integer and float
// native histograms.
func appendTestData(t testing.TB, db *tsdb.DB, t0 int64, hours int) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	kinds := []func(i int) float64{
		func(i int) float64 { return float64(i * 7) },                                // counter
		func(i int) float64 { return float64(r.IntN(10000)) / 100 },                  // decimal gauge
		func(i int) float64 { return r.NormFloat64() },                               // random floats
		func(i int) float64 { return 1 },                                             // constant
		func(i int) float64 { return float64(i) * 0.1 },                              // 0.1 steps, not exact in binary
		func(i int) float64 { return []float64{math.Inf(1), math.NaN(), -0.0}[i%3] }, // special values
	}
	app := db.Appender(context.Background())
	n := 0
	for i := 0; i < hours*int(hour/step); i++ {
		ts := t0 + int64(i)*step
		for s := 0; s < 30; s++ {
			ls := labels.FromStrings("__name__", fmt.Sprintf("m%d", s%3), "series", fmt.Sprint(s), "kind", fmt.Sprint(s%len(kinds)))
			v := kinds[s%len(kinds)](i)
			if s == 7 && i%40 == 39 {
				v = math.Float64frombits(value.StaleNaN)
			}
			if s == 8 && i%100 < 30 { // a gap
				continue
			}
			_, err := app.Append(0, ls, ts, v)
			require.NoError(t, err)
		}
		ih := tsdbutil.GenerateTestHistogram(int64(i))
		if i%50 == 49 {
			ih = &histogram.Histogram{Sum: math.Float64frombits(value.StaleNaN)}
		}
		_, err := app.AppendHistogram(0, labels.FromStrings("__name__", "h", "type", "int"), ts, ih, nil)
		require.NoError(t, err)
		_, err = app.AppendHistogram(0, labels.FromStrings("__name__", "h", "type", "float"), ts, nil, tsdbutil.GenerateTestFloatHistogram(int64(i)))
		require.NoError(t, err)
		// Buckets that come and go, and a counter reset: the layout
		// changes, and chunks of fewer buckets follow chunks of more.
		vh := tsdbutil.GenerateTestHistogram(int64(i % 700))
		if i%300 >= 200 {
			vh = &histogram.Histogram{Count: uint64(i), Sum: float64(i), Schema: 1,
				PositiveSpans: []histogram.Span{{Offset: 2, Length: 1}}, PositiveBuckets: []int64{int64(i) / 2},
				NegativeSpans: []histogram.Span{{Offset: 0, Length: 1}}, NegativeBuckets: []int64{int64(i) - int64(i)/2}}
		}
		_, err = app.AppendHistogram(0, labels.FromStrings("__name__", "h", "type", "varying"), ts, vh, nil)
		require.NoError(t, err)
		if n++; n%500 == 0 {
			require.NoError(t, app.Commit())
			app = db.Appender(context.Background())
		}
	}
	require.NoError(t, app.Commit())
}

type sample struct {
	t  int64
	f  uint64 // bits
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
	// staleHistogram says f is a histogram's staleness marker.
	staleHistogram bool
}

// selectAll reads every series in [mint, maxt] through the querier.
func selectAll(t *testing.T, q storage.Querier, ms ...*labels.Matcher) map[string][]sample {
	t.Helper()
	defer q.Close()
	if len(ms) == 0 {
		ms = []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")}
	}
	out := map[string][]sample{}
	set := q.Select(context.Background(), true, nil, ms...)
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		var got []sample
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			got = append(got, readSample(it, vt))
		}
		require.NoError(t, it.Err())
		out[s.Labels().String()] = got
	}
	require.NoError(t, set.Err())
	return out
}

// readSample reads the sample it is at, of type vt.
func readSample(it chunkenc.Iterator, vt chunkenc.ValueType) sample {
	switch vt {
	case chunkenc.ValHistogram:
		return histogramSample(it.AtHistogram(nil))
	case chunkenc.ValFloatHistogram:
		ts, fh := it.AtFloatHistogram(nil)
		return sample{t: ts, fh: fh}
	}
	ts, v := it.At()
	return sample{t: ts, f: math.Float64bits(v)}
}

func query(t *testing.T, db *tsdb.DB, mint, maxt int64, ms ...*labels.Matcher) map[string][]sample {
	t.Helper()
	q, err := db.Querier(mint, maxt)
	require.NoError(t, err)
	return selectAll(t, q, ms...)
}

func blockMetas(db *tsdb.DB) []tsdb.BlockMeta {
	var ms []tsdb.BlockMeta
	for _, b := range db.Blocks() {
		ms = append(ms, b.Meta())
	}
	return ms
}

// The same data in a TSDB with columnar blocks and in a plain one reads
// back identically, over the whole range and over ranges that cut chunks,
// once the head is compacted and again once blocks are merged.
func TestColumnarBlocksReadAsPrometheus(t *testing.T) {
	t0 := day0
	col := openDB(t, t.TempDir(), true)
	defer col.Close()
	ref := openDB(t, t.TempDir(), false)
	defer ref.Close()
	for _, db := range []*tsdb.DB{col, ref} {
		appendTestData(t, db, t0, 30)
		require.NoError(t, db.Compact(context.Background()))
	}

	metas := blockMetas(col)
	require.NotEmpty(t, metas)
	merged := false
	for _, m := range metas {
		require.Contains(t, m.Compaction.Hints, HintColumnar)
		merged = merged || m.Compaction.Level > 1
	}
	require.True(t, merged, "no block was merged: %+v", metas)
	require.Equal(t, len(blockMetas(ref)), len(metas))

	check := func(mint, maxt int64, ms ...*labels.Matcher) {
		t.Helper()
		want := query(t, ref, mint, maxt, ms...)
		got := query(t, col, mint, maxt, ms...)
		require.Equal(t, len(want), len(got))
		for k, w := range want {
			require.Equal(t, w, got[k], "series %s in [%d, %d]", k, mint, maxt)
		}
	}
	check(math.MinInt64, math.MaxInt64)
	check(t0+hour+7*step, t0+5*hour+3)
	check(t0+20*hour, t0+20*hour+10*step, labels.MustNewMatcher(labels.MatchNotEqual, "kind", "2"))
	check(t0, t0+30*hour, labels.MustNewMatcher(labels.MatchRegexp, "series", "1.|7"))

	// Columnar chunks are smaller than XOR chunks.
	var colBytes, refBytes int64
	for _, b := range col.Blocks() {
		colBytes += b.Size()
	}
	for _, b := range ref.Blocks() {
		refBytes += b.Size()
	}
	t.Logf("blocks: %d bytes columnar, %d bytes Prometheus", colBytes, refBytes)
	require.Less(t, colBytes, refBytes)
}

// compactedDB is a TSDB of columnar blocks, read with rs, that holds hours
// of the test data, compacted. It is closed when the test ends, after the
// test's deferred calls have closed its queriers, which it waits for.
func compactedDB(t *testing.T, hours int) (rs *Readers, db *tsdb.DB) {
	rs = NewReaders()
	o := options(false)
	Configure(o, rs, DefaultOptions())
	db, err := tsdb.Open(t.TempDir(), nil, nil, o, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	appendTestData(t, db, day0, hours)
	require.NoError(t, db.Compact(context.Background()))
	require.NotEmpty(t, db.Blocks())
	return rs, db
}

// A block's series iterators hand over the float samples that Next and At
// read, a run at a time (Floats), within the range asked for, and go on
// from the last of a run with Next and Seek.
func TestSeriesFloatsReadAsSamples(t *testing.T) {
	rs, db := compactedDB(t, 30)
	m := labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")
	runs := 0
	for _, b := range db.Blocks() {
		for _, r := range [][2]int64{{b.MinTime(), b.MaxTime() - 1}, {b.MinTime() + 7*step + 3, b.MaxTime() - hour - 1}} {
			q, err := rs.BlockQuerier(b, r[0], r[1])
			require.NoError(t, err)
			want := selectAll(t, q, m)

			q, err = rs.BlockQuerier(b, r[0], r[1])
			require.NoError(t, err)
			defer q.Close() // before the TSDB, which waits for it, should the test fail
			set := q.Select(context.Background(), true, nil, m)
			got := map[string][]sample{}
			for set.Next() {
				it := set.At().Iterator(nil)
				runner, ok := it.(FloatRuns)
				require.True(t, ok, "%T has no Floats", it)
				var samples []sample
				seek := true
				for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
					samples = append(samples, readSample(it, vt))
					for vt == chunkenc.ValFloat {
						ts, vs := runner.Floats()
						if len(ts) == 0 {
							break
						}
						runs++
						for i := range ts {
							samples = append(samples, sample{t: ts[i], f: math.Float64bits(vs[i])})
						}
						require.Equal(t, ts[len(ts)-1], it.AtT(), "the iterator is at the run's last sample")
						if seek { // a Seek to the sample read stays there
							seek = false
							require.Equal(t, chunkenc.ValFloat, it.Seek(ts[len(ts)-1]))
							require.Equal(t, ts[len(ts)-1], it.AtT())
						}
					}
				}
				require.NoError(t, it.Err())
				for _, s := range samples {
					require.True(t, s.t >= r[0] && s.t <= r[1], "sample at %d outside [%d, %d]", s.t, r[0], r[1])
				}
				got[set.At().Labels().String()] = samples
			}
			require.NoError(t, set.Err())
			require.Len(t, got, len(want))
			for k, w := range want {
				require.Equal(t, w, got[k], "series %s", k)
			}
		}
	}
	require.NotZero(t, runs, "no run was handed over")
}

// A block's series set (series.go) selects and reads what Prometheus'
// block querier does over the same block, with every hint it heeds, and
// its querier may be closed twice, as Prometheus' may.
func TestSeriesSetLikePrometheus(t *testing.T) {
	rs, db := compactedDB(t, 30)
	m := labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")
	type series struct {
		labels  string
		samples []sample
	}
	read := func(set storage.SeriesSet) (out []series) {
		var it chunkenc.Iterator
		for set.Next() {
			s := series{labels: set.At().Labels().String()}
			it = set.At().Iterator(it)
			for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
				s.samples = append(s.samples, readSample(it, vt))
			}
			require.NoError(t, it.Err())
			out = append(out, s)
		}
		require.NoError(t, set.Err())
		return out
	}
	// compare reads b (as the TSDB passes it to BlockQuerier) and ref (b
	// as Prometheus' block querier reads it) under every hint seriesSet
	// heeds.
	compare := func(b, ref tsdb.BlockReader, mint, maxt int64, own bool) {
		for _, h := range []*storage.SelectHints{
			nil,
			{Start: mint, End: maxt},
			{Start: mint, End: maxt, DisableTrimming: true},
			{Start: mint, End: maxt, ShardIndex: 1, ShardCount: 3},
			{Start: mint, End: maxt, Func: "series"},
		} {
			q, err := rs.BlockQuerier(b, mint, maxt)
			require.NoError(t, err)
			defer q.Close()
			_, isOwn := q.Select(context.Background(), true, h, m).(*seriesSet)
			require.Equal(t, own, isOwn, "read through seriesSet")
			rq, err := tsdb.NewBlockQuerier(ref, mint, maxt)
			require.NoError(t, err)
			defer rq.Close()
			want := read(rq.Select(context.Background(), true, h, m))
			require.NotEmpty(t, want)
			// Read as the engine reads, and as package shard's direct
			// evaluation does (ReadOnce), with one series reused.
			for _, ctx := range []context.Context{context.Background(), ReadOnce(context.Background())} {
				got := read(q.Select(ctx, true, h, m))
				require.Len(t, got, len(want), "hints %+v", h)
				for i := range want { // one series at a time: testify's diff of them all takes minutes
					require.Equal(t, want[i], got[i], "hints %+v, read once: %v", h, IsReadOnce(ctx))
				}
			}
			require.NoError(t, q.Close())
			require.Error(t, q.Close(), "closed twice")
		}
	}
	for _, b := range db.Blocks() {
		compare(b, columnarBlock{Block: b, readers: rs}, b.MinTime()+hour+7*step+3, b.MaxTime()-hour-1, true)
	}

	// The head, with its m-mapped chunks and the open ones, read as the
	// TSDB reads it; with a deletion, through Prometheus' querier.
	head := db.Head()
	require.Greater(t, head.MaxTime()-head.MinTime(), hour, "the head holds more than its open chunks (120 samples, 30 minutes)")
	mint, maxt := head.MinTime()+7*step+3, head.MaxTime()-step-1
	compare(tsdb.NewRangeHead(head, mint, maxt), tsdb.NewRangeHead(head, mint, maxt), mint, maxt, true)
	require.NoError(t, db.Delete(context.Background(), mint+hour, mint+hour+10*step, labels.MustNewMatcher(labels.MatchEqual, "series", "4")))
	compare(tsdb.NewRangeHead(head, mint, maxt), tsdb.NewRangeHead(head, mint, maxt), mint, maxt, false)
}

// Remote read gets chunks any Prometheus client decodes: no columnar ones.
func TestChunkQuerierGivesPrometheusChunks(t *testing.T) {
	t0 := day0
	db := openDB(t, t.TempDir(), true)
	defer db.Close()
	appendTestData(t, db, t0, 6)
	require.NoError(t, db.Compact(context.Background()))
	require.NotEmpty(t, db.Blocks())

	q, err := db.ChunkQuerier(t0, t0+3*hour)
	require.NoError(t, err)
	defer q.Close()
	set := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "m0"))
	n := 0
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() {
			require.True(t, chunkenc.IsValidEncoding(it.At().Chunk.Encoding()), "encoding %v", it.At().Chunk.Encoding())
			n++
		}
		require.NoError(t, it.Err())
	}
	require.NoError(t, set.Err())
	require.Positive(t, n)
}

// A data directory whose blocks Prometheus' compactor wrote (Sightline
// before columnar blocks) opens, reads the same, and its blocks are
// merged into columnar ones.
func TestPrometheusBlocksMigrate(t *testing.T) {
	t0 := day0
	dir := t.TempDir()
	old := openDB(t, dir, false)
	appendTestData(t, old, t0, 8)
	require.NoError(t, old.Compact(context.Background()))
	want := query(t, old, math.MinInt64, math.MaxInt64)
	require.NoError(t, old.Close())

	db := openDB(t, dir, true)
	require.Equal(t, want, query(t, db, math.MinInt64, math.MaxInt64))
	// Eight more hours make the 2-hour blocks of the first 18 mergeable.
	appendTestData(t, db, t0+8*hour, 12)
	require.NoError(t, db.Compact(context.Background()))
	columnar := 0
	for _, m := range blockMetas(db) {
		if m.MinTime < t0+6*hour {
			require.Contains(t, m.Compaction.Hints, HintColumnar, "block %+v", m)
			columnar++
		}
	}
	require.Positive(t, columnar)
	got := query(t, db, math.MinInt64, t0+8*hour-1)
	require.Equal(t, want, got)
	require.NoError(t, db.Close())

	// No temporary directory is left behind.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NotContains(t, e.Name(), tmpSuffix)
	}
}

// Exemplars outlive the TSDB's ring: a head block takes those of its range
// from the WAL, merges keep them, and the querier gives them with the
// ring's, once each.
func TestExemplarsPersistWithBlocks(t *testing.T) {
	t0 := day0
	dir := t.TempDir()
	o := options(true)
	o.EnableExemplarStorage = true
	o.MaxExemplars = 10 // the ring turns over many times
	db, err := tsdb.Open(dir, nil, nil, o, nil)
	require.NoError(t, err)
	ls := labels.FromStrings("__name__", "requests_total", "job", "api")
	other := labels.FromStrings("__name__", "other_total", "job", "api")
	var want []exemplar.Exemplar
	const n = 20 * int(hour/step) // 20 hours
	for i := range n {
		ts := t0 + int64(i)*step
		app := db.Appender(context.Background())
		ref, err := app.Append(0, ls, ts, float64(i))
		require.NoError(t, err)
		_, err = app.Append(0, other, ts, float64(i))
		require.NoError(t, err)
		if i%10 == 0 {
			e := exemplar.Exemplar{Labels: labels.FromStrings("trace_id", fmt.Sprintf("%032x", i)), Value: float64(i), Ts: ts, HasTs: true}
			_, err = app.AppendExemplar(ref, ls, e)
			require.NoError(t, err)
			want = append(want, e)
		}
		require.NoError(t, app.Commit())
	}
	require.NoError(t, db.Compact(context.Background()))
	merged := false
	for _, m := range blockMetas(db) {
		merged = merged || m.Compaction.Level > 1
	}
	require.True(t, merged)

	get := func(db *tsdb.DB, head *HeadExemplars, start, end int64) []exemplar.Exemplar {
		t.Helper()
		ring, err := db.ExemplarQuerier(context.Background())
		require.NoError(t, err)
		res, err := ExemplarQuerier(ring, head, db.Blocks()).Select(start, end, []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "__name__", "requests_total")})
		require.NoError(t, err)
		if len(res) == 0 {
			return nil
		}
		require.Len(t, res, 1)
		require.Equal(t, ls, res[0].SeriesLabels)
		return res[0].Exemplars
	}
	// Those older than the head are in blocks, the ring holds the last
	// 10, and those between, in the WAL, are read from it into the head's
	// exemplar files: without those, some are missing.
	require.Less(t, len(get(db, nil, math.MinInt64, math.MaxInt64)), len(want)-10)
	check := func(db *tsdb.DB, head *HeadExemplars) {
		t.Helper()
		require.Equal(t, want, get(db, head, math.MinInt64, math.MaxInt64))
		for _, r := range [][2]int64{{t0 + 5*hour, t0 + 9*hour}, {t0 + 17*hour, t0 + 19*hour}} { // in blocks; in the head
			var sub []exemplar.Exemplar
			for _, e := range want {
				if e.Ts >= r[0] && e.Ts <= r[1] {
					sub = append(sub, e)
				}
			}
			require.NotEmpty(t, sub)
			require.Equal(t, sub, get(db, head, r[0], r[1]))
		}
	}
	head, err := OpenHeadExemplars(db, nil)
	require.NoError(t, err)
	check(db, head)
	require.NoError(t, head.Close())
	require.NoError(t, db.Close())

	// And after a restart.
	db, err = tsdb.Open(dir, nil, nil, o, nil)
	require.NoError(t, err)
	defer db.Close()
	head, err = OpenHeadExemplars(db, nil)
	require.NoError(t, err)
	defer head.Close()
	require.Positive(t, head.Files())
	check(db, head)
}

// The head's exemplar files stay few: a catch-up adds one, more than
// maxHeadFiles are merged, and those whose exemplars a block has are
// deleted.
func TestHeadExemplarFilesBounded(t *testing.T) {
	t0 := day0
	o := options(true)
	o.EnableExemplarStorage = true
	o.MaxExemplars = 10
	db, err := tsdb.Open(t.TempDir(), nil, nil, o, nil)
	require.NoError(t, err)
	defer db.Close()
	head, err := OpenHeadExemplars(db, nil)
	require.NoError(t, err)
	defer head.Close()
	head.maxFileExemplars = 20
	ls := labels.FromStrings("__name__", "requests_total")
	now := time.Now()
	var want []exemplar.Exemplar
	for i := range 40 * int(hour/step) / 10 { // 40 hours, a catch-up every 20 minutes
		ts := t0 + int64(i)*10*step
		app := db.Appender(context.Background())
		ref, err := app.Append(0, ls, ts, float64(i))
		require.NoError(t, err)
		e := exemplar.Exemplar{Labels: labels.FromStrings("trace_id", fmt.Sprintf("%032x", i)), Value: float64(i), Ts: ts, HasTs: true}
		_, err = app.AppendExemplar(ref, ls, e)
		require.NoError(t, err)
		require.NoError(t, app.Commit())
		want = append(want, e)
		if i%8 == 7 {
			now = now.Add(catchUpEvery)
			require.NoError(t, head.catchUp(now))
			// Files of at most 20 exemplars: the head's (3 hours at
			// most, 24 exemplars an hour) fill 4, and up to 8 files
			// are left as they are; more, and the newest are merged.
			require.LessOrEqual(t, head.Files(), maxHeadFiles+2)
			for _, f := range head.files {
				require.LessOrEqual(t, f.n, 20)
			}
			require.NoError(t, db.Compact(context.Background()))
		}
	}
	blocksMaxt := head.blocksMaxt()
	require.Greater(t, blocksMaxt, t0+30*hour)
	now = now.Add(catchUpEvery)
	require.NoError(t, head.catchUp(now))
	for _, f := range head.files {
		require.GreaterOrEqual(t, f.maxt, blocksMaxt)
	}
	ring, err := db.ExemplarQuerier(context.Background())
	require.NoError(t, err)
	res, err := ExemplarQuerier(ring, head, db.Blocks()).Select(math.MinInt64, math.MaxInt64, []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "__name__", "requests_total")})
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Equal(t, want, res[0].Exemplars)
}

// A compaction killed part-way leaves a temporary directory; the TSDB
// deletes it at start-up and reads what it had, whole.
func TestCrashDuringCompaction(t *testing.T) {
	t0 := day0
	dir := t.TempDir()
	db := openDB(t, dir, true)
	appendTestData(t, db, t0, 8)
	require.NoError(t, db.Compact(context.Background()))
	want := query(t, db, math.MinInt64, math.MaxInt64)
	blocks := db.Blocks()
	require.NotEmpty(t, blocks)
	require.NoError(t, db.Close())

	// What a merge interrupted after writing some of its chunks leaves.
	tmp := filepath.Join(dir, ulid.MustNew(ulid.Now(), nil).String()+tmpSuffix)
	require.NoError(t, os.MkdirAll(filepath.Join(tmp, "chunks"), 0o777))
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "chunks", "000001"), []byte("partial"), 0o666))

	db = openDB(t, dir, true)
	defer db.Close()
	_, err := os.Stat(tmp)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Equal(t, len(blocks), len(db.Blocks()))
	require.Equal(t, want, query(t, db, math.MinInt64, math.MaxInt64))
}

// Shared chunk readers go with their blocks: merged or deleted blocks,
// once garbage, leave no reader (and no mmapped deleted file) behind.
func TestReadersFollowBlocks(t *testing.T) {
	t0 := day0
	rs := NewReaders()
	o := options(false)
	Configure(o, rs, DefaultOptions())
	db, err := tsdb.Open(t.TempDir(), nil, nil, o, nil)
	require.NoError(t, err)
	appendTestData(t, db, t0, 6) // two 2-hour blocks, not yet merged
	require.NoError(t, db.Compact(context.Background()))
	require.Len(t, db.Blocks(), 2)
	query(t, db, math.MinInt64, math.MaxInt64)
	require.Equal(t, 2, rs.Len())

	appendTestData(t, db, t0+6*hour, 4) // the first 6 hours merge
	require.NoError(t, db.Compact(context.Background()))
	query(t, db, math.MinInt64, math.MaxInt64)
	live := len(db.Blocks())
	require.Less(t, live, 4)
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for rs.Len() != want {
			require.True(t, time.Now().Before(deadline), "%d readers, want %d", rs.Len(), want)
			runtime.GC() // the cleanups of unreachable blocks run after it
			runtime.Gosched()
		}
	}
	waitFor(live)
	require.NoError(t, db.Close())
	db = nil
	waitFor(0)
}

// A merge of blocks whose samples were all deleted writes an empty block,
// which takes the sources away (they are its parents), once: it is not
// planned again and again.
func TestMergeOfDeletedBlocks(t *testing.T) {
	t0 := day0
	db := openDB(t, t.TempDir(), true)
	defer db.Close()
	appendTestData(t, db, t0, 6)
	require.NoError(t, db.Compact(context.Background()))
	old := blockMetas(db)
	require.Len(t, old, 2)
	require.NoError(t, db.Delete(context.Background(), t0, t0+6*hour-1, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")))

	app := db.Appender(context.Background())
	ls := labels.FromStrings("__name__", "later")
	for ts := t0 + 6*hour; ts < t0+14*hour; ts += step {
		_, err := app.Append(0, ls, ts, 1)
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
	require.NoError(t, db.Compact(context.Background()))

	after := blockMetas(db)
	for _, m := range after {
		for _, o := range old {
			require.NotEqual(t, o.ULID, m.ULID, "a deleted block is still there")
		}
	}
	require.Empty(t, query(t, db, t0, t0+6*hour-1))
	require.NoError(t, db.Compact(context.Background()))
	require.Equal(t, after, blockMetas(db))
}

// A run of float samples is cut into as few chunks of equal length as keep
// each within SamplesPerChunk and ChunkRange.
func TestCutterChunkLengths(t *testing.T) {
	cut := func(n int, step int64) []int {
		c := newCutter(DefaultOptions())
		x := chunkenc.NewXORChunk()
		app, err := x.Appender()
		require.NoError(t, err)
		for i := range n {
			app.Append(int64(i)*step, float64(i))
		}
		out, err := c.addChunk(nil, x)
		require.NoError(t, err)
		var lens []int
		for _, m := range c.flush(out) {
			lens = append(lens, m.Chunk.NumSamples())
		}
		return lens
	}
	minute := int64(time.Minute / time.Millisecond)
	require.Equal(t, []int{1080}, cut(1080, minute))           // an 18-hour block at 60 s
	require.Equal(t, []int{1500, 1500}, cut(3000, minute/4))   // 12.5 hours at 15 s
	require.Equal(t, []int{288, 288, 288}, cut(864, 5*minute)) // 3 days at 5 minutes: a chunk a day
	require.Equal(t, []int{1}, cut(1, minute))
	require.Len(t, cut(maxRunChunks*2048+1, 1), maxRunChunks+1) // a run is bounded
}

// The cutter fills the histograms of chunks it has written again, and
// keeps at most a chunk's worth of them, though Prometheus' iterator
// gives every staleness marker as a new histogram; the chunks it cuts hold
// what it was given.
func TestCutterSpareHistogramsBounded(t *testing.T) {
	opts := DefaultOptions()
	opts.SamplesPerChunk = 4
	c := newCutter(opts)
	chks := []chunkenc.Chunk{chunkenc.NewHistogramChunk()}
	app, err := chks[0].Appender()
	require.NoError(t, err)
	var want []sample
	for i := range 40 {
		h := tsdbutil.GenerateTestHistogram(int64(i))
		if i%2 == 1 {
			h.Sum = math.Float64frombits(value.StaleNaN)
		}
		var next chunkenc.Chunk
		var recoded bool
		next, recoded, app, err = app.(*chunkenc.HistogramAppender).AppendHistogram(nil, int64(i)*step, h, false)
		require.NoError(t, err)
		switch {
		case recoded:
			chks[len(chks)-1] = next
		case next != nil:
			chks = append(chks, next)
		}
		want = append(want, unhinted(histogramSample(int64(i)*step, h)))
	}
	var out []chunks.Meta
	for _, chk := range chks {
		out, err = c.addHistograms(out, chk)
		require.NoError(t, err)
	}
	out = c.flush(out)
	require.LessOrEqual(t, len(c.spare), opts.SamplesPerChunk)

	var got []sample
	for _, m := range out {
		it := m.Chunk.Iterator(nil)
		for it.Next() == chunkenc.ValHistogram {
			got = append(got, unhinted(histogramSample(it.AtHistogram(nil))))
		}
		require.NoError(t, it.Err())
	}
	require.Equal(t, want, got)
}

// histogramSample is a histogram sample as selectAll keeps it: a
// staleness marker by its bits, since NaN equals nothing.
func histogramSample(t int64, h *histogram.Histogram) sample {
	if value.IsStaleNaN(h.Sum) {
		return sample{t: t, f: math.Float64bits(h.Sum), staleHistogram: true}
	}
	return sample{t: t, h: h}
}

// unhinted is s with its histogram's counter reset hint left out (a
// chunk's first sample says "unknown").
func unhinted(s sample) sample {
	if s.h != nil {
		s.h = s.h.Copy()
		s.h.CounterResetHint = histogram.UnknownCounterReset
	}
	return s
}

// Size retention counts the blocks' exemplar files: with a limit that
// Prometheus' own accounting (blocks without them, and the head) stays
// under, Prometheus deletes nothing and Retention deletes the oldest
// blocks until the total with the exemplars is within the limit.
func TestRetentionCountsExemplars(t *testing.T) {
	dir := t.TempDir()
	o := options(true)
	o.EnableExemplarStorage = true
	o.MaxExemplars = 1000
	db, err := tsdb.Open(dir, nil, nil, o, nil)
	require.NoError(t, err)
	ls := labels.FromStrings("__name__", "requests_total", "job", "api")
	r := rand.New(rand.NewPCG(1, 2)) // trace and span IDs are random: they do not compress
	for i := range 30 * int(hour/step) {
		ts := day0 + int64(i)*step
		app := db.Appender(context.Background())
		ref, err := app.Append(0, ls, ts, float64(i))
		require.NoError(t, err)
		e := exemplar.Exemplar{Labels: labels.FromStrings("trace_id", fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()), "span_id", fmt.Sprintf("%016x", r.Uint64())), Value: float64(i), Ts: ts, HasTs: true}
		_, err = app.AppendExemplar(ref, ls, e)
		require.NoError(t, err)
		require.NoError(t, app.Commit())
	}
	require.NoError(t, db.Compact(context.Background()))
	require.NoError(t, db.Close())

	// Reopened with a limit between the two accountings.
	sizes := func(db *tsdb.DB) (prom, all int64) {
		prom, all = db.Head().Size(), db.Head().Size()
		for _, b := range db.Blocks() {
			prom += b.Size()
			all += b.Size() + fileSize(filepath.Join(b.Dir(), exemplarsFile))
		}
		return prom, all
	}
	db, err = tsdb.Open(dir, nil, nil, o, nil)
	require.NoError(t, err)
	prom, all := sizes(db)
	require.NoError(t, db.Close())
	t.Logf("%d bytes without the exemplar files, %d with", prom, all)
	limit := prom + (all-prom)/2
	o.MaxBytes = limit
	ret := NewRetention(limit)
	o.BlocksToDelete = ret.BlocksToDelete
	db, err = tsdb.Open(dir, nil, nil, o, nil)
	require.NoError(t, err)
	defer db.Close()
	require.Nil(t, ret.BlocksToDelete(db.Blocks()), "nothing before Attach")
	ret.Attach(db)

	blocks := db.Blocks()
	require.Greater(t, len(blocks), 1)
	require.Empty(t, tsdb.DefaultBlocksToDelete(db)(slices.Clone(blocks)), "Prometheus' accounting is within the limit")
	del := ret.BlocksToDelete(slices.Clone(blocks))
	require.NotEmpty(t, del)
	kept := db.Head().Size()
	for i, b := range db.Blocks() { // oldest first
		if _, gone := del[b.Meta().ULID]; !gone {
			kept += b.Size() + fileSize(filepath.Join(b.Dir(), exemplarsFile))
			for _, newer := range db.Blocks()[i:] {
				require.NotContains(t, del, newer.Meta().ULID, "only the oldest go")
			}
		}
	}
	require.LessOrEqual(t, kept, limit)
	require.NotContains(t, del, blocks[len(blocks)-1].Meta().ULID, "the newest stays")
}

// The merge of a query's blocks calls At for every comparison in its heap:
// a block's series set makes its series once, and At gives it again.
func TestBlockSeriesMadeOnce(t *testing.T) {
	rs, db := compactedDB(t, 6)
	b := db.Blocks()[0]
	m := labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")

	// Closed before the TSDB (deferred after it), which waits for them.
	q, err := rs.BlockQuerier(b, b.MinTime(), b.MaxTime())
	require.NoError(t, err)
	defer q.Close()
	cq, err := rs.CountingBlockQuerier(b, b.MinTime(), b.MaxTime(), func(int) error { return nil })
	require.NoError(t, err)
	defer cq.Close()
	chq, err := rs.BlockChunkQuerier(b, b.MinTime(), b.MaxTime())
	require.NoError(t, err)
	defer chq.Close()
	for name, set := range map[string]interface {
		Next() bool
		Err() error
	}{
		"samples":         q.Select(context.Background(), true, nil, m),
		"counted":         cq.Select(context.Background(), true, nil, m),
		"chunks (remote)": chq.Select(context.Background(), true, nil, m),
	} {
		at := func() any { return set.(storage.SeriesSet).At() }
		if cs, ok := set.(storage.ChunkSeriesSet); ok {
			at = func() any { return cs.At() }
		}
		n := 0
		for set.Next() {
			first := at()
			require.Same(t, first, at(), "%s: At made a second series", name)
			require.Zero(t, testing.AllocsPerRun(10, func() { at() }), "%s: At allocates", name)
			n++
		}
		require.NoError(t, set.Err())
		require.Positive(t, n, name)
	}
}

package tsdbstore

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/tsdbutil"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/colblock"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// openWindow opens a store whose out-of-order window reaches back 4 hours,
// so that out-of-order samples can fall into blocks already written.
func openWindow(t *testing.T) *Store {
	t.Helper()
	opts := DefaultOptions()
	opts.OutOfOrderWindow = 4 * time.Hour
	s, err := Open(t.TempDir(), slog.New(slog.DiscardHandler), prometheus.NewRegistry(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// fillStart is where fillHours' samples start in the tests: a fixed time,
// on a boundary of every block range, so that the head is cut into the
// same blocks whatever the time of day.
var fillStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fillHours writes, from start on for the given hours, a sample a minute
// of float series (some of which start or stop half-way), a counter
// native histogram that resets now and then, and a gauge histogram.
func fillHours(t *testing.T, s *Store, start time.Time, hours int) {
	t.Helper()
	app := s.Appender(tenant.With(context.Background(), "a"))
	end := start.Add(time.Duration(hours) * time.Hour)
	n := int64(0)
	for ts := start; ts.Before(end); ts, n = ts.Add(time.Minute), n+1 {
		for i := range 6 {
			if (i == 4 && ts.Before(start.Add(end.Sub(start)/2))) || (i == 5 && ts.After(start.Add(end.Sub(start)/3))) {
				continue // series that come and go
			}
			_, err := app.Append(0, labels.FromStrings("__name__", "m", "i", fmt.Sprint(i)), ts.UnixMilli(), float64(n*int64(i+1)%97))
			require.NoError(t, err)
		}
		_, err := app.AppendHistogram(0, labels.FromStrings("__name__", "h"), ts.UnixMilli(), tsdbutil.GenerateTestHistogram(n%300), nil)
		require.NoError(t, err)
		_, err = app.AppendHistogram(0, labels.FromStrings("__name__", "g"), ts.UnixMilli(), nil, tsdbutil.GenerateTestGaugeFloatHistogram(n%7))
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
}

// readStep is one step of reading an iterator: Next, or Seek(t).
type readStep struct {
	seek bool
	t    int64
}

// readAll reads it with steps, until it is exhausted, and returns what
// each step showed.
func readAll(it chunkenc.Iterator, steps []readStep) []string {
	var out []string
	for _, s := range steps {
		var vt chunkenc.ValueType
		if s.seek {
			vt = it.Seek(s.t)
		} else {
			vt = it.Next()
		}
		if vt == chunkenc.ValNone {
			return append(out, fmt.Sprintf("none err=%v", it.Err()))
		}
		out = append(out, sampleString(it, vt))
	}
	return out
}

// sampleString is the sample it is at, of type vt.
func sampleString(it chunkenc.Iterator, vt chunkenc.ValueType) string {
	switch vt {
	case chunkenc.ValFloat:
		t, v := it.At()
		return fmt.Sprintf("%d %g", t, v)
	case chunkenc.ValHistogram:
		t, h := it.AtHistogram(nil)
		return fmt.Sprintf("%d %s hint=%d", t, h, h.CounterResetHint)
	default:
		t, h := it.AtFloatHistogram(nil)
		return fmt.Sprintf("%d %s hint=%d", t, h, h.CounterResetHint)
	}
}

// selectAll reads every series of q with the steps, by labels.
func selectAll(t *testing.T, q storage.Querier, hints *storage.SelectHints, steps []readStep) map[string][]string {
	return readEach(t, q, hints, func(it chunkenc.Iterator) []string { return readAll(it, steps) })
}

// samplesWithin reads every sample of q's series from time from to time
// to, of the series that have any.
func samplesWithin(t *testing.T, q storage.Querier, hints *storage.SelectHints, from, to int64) map[string][]string {
	got := readEach(t, q, hints, func(it chunkenc.Iterator) []string {
		var read []string
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if ts := it.AtT(); ts >= from && ts <= to {
				read = append(read, sampleString(it, vt))
			}
		}
		require.NoError(t, it.Err())
		return read
	})
	for series, read := range got {
		if len(read) == 0 {
			delete(got, series)
		}
	}
	return got
}

// readOnceQuerier selects with colblock.ReadOnce, as package shard's
// direct evaluation does.
type readOnceQuerier struct{ storage.Querier }

func (q readOnceQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	return q.Querier.Select(colblock.ReadOnce(ctx), sortSeries, hints, ms...)
}

// readEach reads every series of q with read, by labels.
func readEach(t *testing.T, q storage.Querier, hints *storage.SelectHints, read func(chunkenc.Iterator) []string) map[string][]string {
	t.Helper()
	set := q.Select(context.Background(), true, hints, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	got := map[string][]string{}
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		it = s.Iterator(it) // reused, as the engine does
		got[s.Labels().String()] = read(it)
	}
	require.NoError(t, set.Err())
	return got
}

// withoutHints is read without the counter reset hints of histograms.
func withoutHints(read map[string][]string) map[string][]string {
	out := map[string][]string{}
	for series, steps := range read {
		for _, s := range steps {
			if i := strings.LastIndex(s, " hint="); i >= 0 {
				s = s[:i]
			}
			out[series] = append(out[series], s)
		}
	}
	return out
}

// withoutFirstHint is read without the counter reset hint of each
// series' first sample.
func withoutFirstHint(read map[string][]string) map[string][]string {
	for series, steps := range read {
		read[series] = append(withoutHints(map[string][]string{series: steps[:1]})[series], steps[1:]...)
	}
	return read
}

// requireSame fails at the first step where got differs from want (a
// diff of the whole would be long).
func requireSame(t *testing.T, want, got map[string][]string, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for series, w := range want {
		g, ok := got[series]
		require.True(t, ok, "%s: %s missing", what, series)
		for i := range min(len(w), len(g)) {
			require.Equal(t, w[i], g[i], "%s: %s, step %d", what, series, i)
		}
		require.Len(t, g, len(w), "%s: %s", what, series)
	}
}

// requireLikeTSDBQuerier checks that querierInTimeOrder shows what the
// TSDB's own Querier shows, over random ranges, hints and mixes of Next
// and Seek (forwards, backwards, over whole blocks), and returns how many
// blocks it read in time order in the widest range.
func requireLikeTSDBQuerier(t *testing.T, s *Store, db *tsdb.DB, rng *rand.Rand) int {
	t.Helper()
	first, last := db.Blocks()[0].MinTime(), db.Head().MaxTime()
	inOrder, _ := blocksInTimeOrder(db, first, last)
	for range 40 {
		mint := first + rng.Int64N(last-first) - rng.Int64N(last-first)/4
		maxt := mint + rng.Int64N(last-mint+int64(time.Hour/time.Millisecond))
		if rng.IntN(4) == 0 {
			mint, maxt = first, last
		}
		// hints, when there are, are the engine's; Store's querier asks
		// for chunks whole (untrimmed), the TSDB's trims them to the
		// hints' range.
		var hints, untrimmed *storage.SelectHints
		if rng.IntN(3) > 0 {
			hints = &storage.SelectHints{Start: mint + rng.Int64N(600_000) - 300_000, End: maxt}
			untrimmed = &storage.SelectHints{Start: hints.Start, End: hints.End, DisableTrimming: true}
		}
		steps := make([]readStep, 50+rng.IntN(400))
		for i := range steps {
			if rng.IntN(3) == 0 {
				steps[i] = readStep{seek: true, t: mint + rng.Int64N(maxt-mint+1)}
			}
		}
		func() { // closes the queriers when it fails too, or the TSDB would wait for them
			want, err := db.Querier(mint, maxt)
			require.NoError(t, err)
			defer want.Close()
			got, err := querierInTimeOrder(db, s.queryParts(db, nil), mint, maxt)
			require.NoError(t, err)
			defer got.Close()
			from, to := mint, maxt
			if hints != nil {
				from, to = hints.Start, hints.End
			}
			// Read as the engine reads, and as the direct evaluation
			// (package shard) does, whose sets reuse their series.
			for _, got := range []storage.Querier{got, readOnceQuerier{got}} {
				if hints == nil {
					requireSame(t, selectAll(t, want, hints, steps), selectAll(t, got, hints, steps), fmt.Sprintf("range %d-%d", mint, maxt))
					continue
				}
				// Whole chunks give samples beyond the hints' range
				// too: what lies in it is compared. But for the counter
				// reset hint of a histogram's first sample there: the
				// TSDB trims the chunk and says "unknown", where the
				// whole chunk knows.
				requireSame(t, withoutFirstHint(samplesWithin(t, want, hints, from, to)), withoutFirstHint(samplesWithin(t, got, untrimmed, from, to)),
					fmt.Sprintf("range %d-%d, hints %+v", mint, maxt, hints))
			}
			// And within fetch limits, which it counts but does not reach.
			limited, err := querierInTimeOrder(db, s.queryParts(db, &fetchLimit{maxSeries: 1 << 30, maxBytes: 1 << 50, series: map[uint64]struct{}{}}), mint, maxt)
			require.NoError(t, err)
			defer limited.Close()
			// Its head part reads through the TSDB's ChunkQuerier, which
			// gives whole chunks, samples beyond the range included, and
			// chains a series' chunks (a counter reset hint is unknown at
			// the first sample of each): what lies in the range is
			// compared, without hints.
			requireSame(t, withoutHints(samplesWithin(t, want, hints, from, to)), withoutHints(samplesWithin(t, limited, untrimmed, from, to)),
				fmt.Sprintf("within limits: range %d-%d, hints %+v", mint, maxt, hints))
		}()
	}
	return len(inOrder)
}

// TestTimeOrderedLikeTSDBQuerier: the querier that reads blocks one after
// the other returns exactly what the TSDB's Querier returns, samples,
// histograms and their counter reset hints, with blocks in time order,
// with out-of-order samples in the head for the time of earlier blocks,
// and with blocks that overlap once those are compacted.
func TestTimeOrderedLikeTSDBQuerier(t *testing.T) {
	s, db := compactedWindow(t)
	rng := rand.New(rand.NewPCG(1, 2))
	require.Len(t, db.Blocks(), 3, "18, 6 and 2 hours")
	require.Equal(t, 3, requireLikeTSDBQuerier(t, s, db, rng), "the blocks are read one after the other")

	// Two blocks are left before the out-of-order samples below: still
	// read in order.
	// Out-of-order samples for the time of a block 4 hours back (within
	// the window, after the end of the blocks before it): it, and
	// the blocks after it, are left to the TSDB's Querier, which merges
	// the head's out-of-order samples into them.
	var late *tsdb.Block
	at := db.Head().MaxTime() - (4*time.Hour - time.Minute).Milliseconds()
	for _, b := range db.Blocks() {
		if b.MinTime() <= at && at < b.MaxTime() {
			late = b
		}
	}
	require.NotNil(t, late)
	app := s.Appender(tenant.With(context.Background(), "a"))
	for ts := at + 30_000; ts < late.MaxTime(); ts += 600_000 {
		_, err := app.Append(0, labels.FromStrings("__name__", "m", "i", "0"), ts, -1)
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
	blocks, boundary := blocksInTimeOrder(db, math.MinInt64, math.MaxInt64)
	require.LessOrEqual(t, boundary, at)
	require.Greater(t, len(blocks), 1)
	requireLikeTSDBQuerier(t, s, db, rng)

	// Compacted, they make a block that overlaps the late one.
	require.NoError(t, db.CompactOOOHead(context.Background()))
	blocks, boundary = blocksInTimeOrder(db, math.MinInt64, math.MaxInt64)
	require.LessOrEqual(t, boundary, at)
	require.Greater(t, len(blocks), 1)
	requireLikeTSDBQuerier(t, s, db, rng)
}

// tenantTSDB returns the TSDB of tenant id; the tests that call it do not
// reopen it.
func tenantTSDB(t *testing.T, s *Store, id string) *tsdb.DB {
	t.Helper()
	var db *tsdb.DB
	require.True(t, s.Existing(id, func(d *tsdb.DB) { db = d }))
	return db
}

// TestTimeOrderedWhileCompacting: queries that run while the head is cut
// into blocks, blocks are merged and the head truncated see every sample
// once: never twice from a block and the head that still holds it, never
// an error from a block closed since they looked.
func TestTimeOrderedWhileCompacting(t *testing.T) {
	s := openWindow(t)
	fillHours(t, s, fillStart, 29)
	samples := func() (int, error) {
		q, err := s.Querier(math.MinInt64, math.MaxInt64)
		if err != nil {
			return 0, err
		}
		defer q.Close()
		// With hints, as the engine gives them: the TSDB's queriers read
		// the hints' range, not their own.
		hints := &storage.SelectHints{Start: math.MinInt64, End: math.MaxInt64}
		set := q.Select(tenant.With(context.Background(), "a"), false, hints, labels.MustNewMatcher(labels.MatchEqual, "__name__", "m"))
		n := 0
		var it chunkenc.Iterator
		for set.Next() {
			it = set.At().Iterator(it)
			for it.Next() != chunkenc.ValNone {
				n++
			}
			if it.Err() != nil {
				return 0, it.Err()
			}
		}
		return n, set.Err()
	}
	want, err := samples()
	require.NoError(t, err)
	// A fixed number of queries: a head truncation waits for the queries
	// that read what it cuts, so queries without end would hold it back.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 3000 {
			if got, err := samples(); err != nil || got != want {
				t.Errorf("a query while compacting read %d samples (%v), want %d", got, err, want)
				return
			}
		}
	}()
	require.NoError(t, tenantTSDB(t, s, "a").Compact(context.Background()))
	wg.Wait()
	got, err := samples()
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// The merge of the parts reads each part's series once (a block's set
// makes it anew at every At), and its At gives the series it made.
func TestTimeOrderedSeriesMadeOnce(t *testing.T) {
	s, db := compactedWindow(t)
	blocks, boundary := blocksInTimeOrder(db, math.MinInt64, math.MaxInt64)
	require.Len(t, blocks, 3)
	all := labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")
	var parts []storage.Querier
	want := 0 // series of the parts together
	ats := 0
	for _, b := range blocks {
		q, err := s.queryParts(db, nil).block(b, b.MinTime(), b.MaxTime())
		require.NoError(t, err)
		defer q.Close()
		want += len(samplesWithin(t, q, nil, math.MinInt64, math.MaxInt64))
		parts = append(parts, atCountingQuerier{Querier: q, ats: &ats})
	}
	rest, err := s.queryParts(db, nil).rest(boundary, math.MaxInt64)
	require.NoError(t, err)
	defer rest.Close()
	want += len(samplesWithin(t, rest, nil, math.MinInt64, math.MaxInt64))
	parts = append(parts, atCountingQuerier{Querier: rest, ats: &ats})

	q := &timeOrderedQuerier{parts: parts, restFrom: boundary}
	set := q.Select(context.Background(), true, nil, all)
	n := 0
	for set.Next() {
		first := set.At()
		require.Same(t, first, set.At())
		require.Zero(t, testing.AllocsPerRun(10, func() { set.At() }), "At allocates")
		n++
	}
	require.NoError(t, set.Err())
	require.Equal(t, 8, n, "m 0-5, h and g")
	require.Equal(t, want, ats, "each part's series read once")
	limited := q.Select(context.Background(), true, &storage.SelectHints{Start: math.MinInt64, End: math.MaxInt64, Limit: 3}, all)
	n = 0
	for limited.Next() {
		n++
	}
	require.Equal(t, 3, n, "the hints' limit of series")

	// Within fetch limits, the series the limit counted is the one the
	// query reads: the merged parts are not merged again at every At.
	limit := &fetchLimit{maxSeries: 1 << 30, maxBytes: 1 << 50, series: map[uint64]struct{}{}}
	merged, err := querierInTimeOrder(db, s.queryParts(db, limit), math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	defer merged.Close()
	counted := seriesCountingQuerier{Querier: merged, limit: limit}.Select(context.Background(), true, nil, all)
	n = 0
	for counted.Next() {
		require.Zero(t, testing.AllocsPerRun(10, func() { counted.At() }), "At merges again")
		n++
	}
	require.NoError(t, counted.Err())
	require.Positive(t, n)
}

// atCountingQuerier counts the At calls of its sets.
type atCountingQuerier struct {
	storage.Querier
	ats *int
}

func (q atCountingQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	return atCountingSet{SeriesSet: q.Querier.Select(ctx, sortSeries, hints, ms...), ats: q.ats}
}

type atCountingSet struct {
	storage.SeriesSet
	ats *int
}

func (s atCountingSet) At() storage.Series {
	*s.ats++
	return s.SeriesSet.At()
}

// Within fetch limits, a query of one block before the head reads the
// block's chunks as stored: it counts the bytes the block's own counting
// querier counts, not those of its chunks re-encoded as XOR ones, as the
// TSDB's ChunkQuerier hands them over (and which took a day-long query
// two thirds longer).
func TestLimitedQueryReadsOneBlockAsStored(t *testing.T) {
	s, db := compactedWindow(t)
	blocks, _ := blocksInTimeOrder(db, math.MinInt64, math.MaxInt64)
	require.NotEmpty(t, blocks)
	for _, b := range blocks {
		mint, maxt := b.MinTime(), b.MaxTime()-1
		only, _ := blocksInTimeOrder(db, mint, maxt)
		require.Len(t, only, 1)

		stored := &fetchLimit{maxBytes: 1 << 50}
		q, err := s.readers.CountingBlockQuerier(b, mint, maxt, stored.addChunkBytes)
		require.NoError(t, err)
		require.NotEmpty(t, samplesWithin(t, q, nil, math.MinInt64, math.MaxInt64))
		require.NoError(t, q.Close())
		limit := &fetchLimit{maxSeries: 1 << 30, maxBytes: 1 << 50, series: map[uint64]struct{}{}}
		q, err = querierInTimeOrder(db, s.queryParts(db, limit), mint, maxt)
		require.NoError(t, err)
		require.NotEmpty(t, samplesWithin(t, q, nil, math.MinInt64, math.MaxInt64))
		require.NoError(t, q.Close())
		require.Positive(t, stored.bytes)
		require.Equal(t, stored.bytes, limit.bytes, "bytes of block %s's chunks read", b.Meta().ULID)
	}
}

// TestEngineLikeTSDBQuerier: PromQL over the store (blocks read in time
// order, chunks whole) answers exactly what it answers over the TSDB's own
// Querier (blocks merged, chunks trimmed to the range), over ranges that
// start and end anywhere in blocks and head, for functions that read every
// sample of their windows, counter resets of floats and native histograms
// included: with blocks in time order, with out-of-order samples in the
// head for the time of a block, and with the block they make once
// compacted, which overlaps it.
func TestEngineLikeTSDBQuerier(t *testing.T) {
	s, db := compactedWindow(t)
	blocks, _ := blocksInTimeOrder(db, math.MinInt64, math.MaxInt64)
	require.NotEmpty(t, blocks)
	rng := rand.New(rand.NewPCG(3, 4))
	requireEngineLikeTSDB(t, s, db, rng)

	at := db.Head().MaxTime() - (4*time.Hour - time.Minute).Milliseconds()
	app := s.Appender(tenant.With(context.Background(), "a"))
	for ts := at + 30_000; ts < at+2*time.Hour.Milliseconds(); ts += 600_000 {
		_, err := app.Append(0, labels.FromStrings("__name__", "m", "i", "0"), ts, -1)
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
	requireEngineLikeTSDB(t, s, db, rng)
	require.NoError(t, db.CompactOOOHead(context.Background()))
	requireEngineLikeTSDB(t, s, db, rng)
}

// requireEngineLikeTSDB compares PromQL over s and over db's Querier.
func requireEngineLikeTSDB(t *testing.T, s *Store, db *tsdb.DB, rng *rand.Rand) {
	t.Helper()
	engine := promql.NewEngine(promql.EngineOpts{Logger: slog.New(slog.DiscardHandler), MaxSamples: 1e8, Timeout: time.Minute})
	ctx := tenant.With(context.Background(), "a")
	tsdbQueryable := storage.QueryableFunc(db.Querier)
	queries := []string{
		`rate(m[5m])`, `resets(m[1h])`, `count_over_time(m[7m])`, `timestamp(m)`, `m`,
		`rate(h[5m])`, `resets(h[1h])`, `histogram_count(increase(h[10m]))`, `histogram_quantile(0.9, rate(h[5m]))`,
		`last_over_time(g[3m])`, `sum by (i) (rate(m[5m] offset 1h))`,
	}
	first, last := db.Blocks()[0].MinTime(), db.Head().MaxTime()
	answer := func(q storage.Queryable, qs string, start, end time.Time, step time.Duration) string {
		qry, err := engine.NewRangeQuery(ctx, q, nil, qs, start, end, step)
		require.NoError(t, err)
		defer qry.Close()
		res := qry.Exec(ctx)
		require.NoError(t, res.Err)
		return res.Value.String()
	}
	for range 20 {
		start := time.UnixMilli(first + rng.Int64N(last-first))
		end := start.Add(time.Duration(rng.Int64N(last-start.UnixMilli())) * time.Millisecond)
		step := time.Duration(30+rng.IntN(600)) * time.Second
		for _, qs := range queries {
			want := answer(tsdbQueryable, qs, start, end, step)
			require.Equal(t, want, answer(s, qs, start, end, step), "%s from %s to %s every %s", qs, start, end, step)
		}
	}
}

// compactedWindow is openWindow with 29 hours of tenant "a" in it,
// compacted into blocks, and the tenant's TSDB.
func compactedWindow(t *testing.T) (*Store, *tsdb.DB) {
	t.Helper()
	s := openWindow(t)
	fillHours(t, s, fillStart, 29)
	db := tenantTSDB(t, s, "a")
	require.NoError(t, db.Compact(context.Background()))
	return s, db
}

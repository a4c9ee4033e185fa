package tsdbstore

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
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

	"github.com/sightline-dev/sightline/internal/limits"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// openLimited opens a store whose queries are bounded by lim.
func openLimited(t testing.TB, lim *limits.Registry) *Store {
	t.Helper()
	opts := DefaultOptions()
	opts.Limiter = lim
	s, err := Open(t.TempDir(), slog.New(slog.DiscardHandler), prometheus.NewRegistry(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// fill writes series m{i="0"}..m{i="<series-1>"} with a sample every 15 s
// over the hour before end, a native histogram h likewise, and a few
// out-of-order samples, which the TSDB keeps in chunks of their own.
func fill(t testing.TB, s *Store, id string, series int, end time.Time) {
	t.Helper()
	app := s.Appender(tenant.With(context.Background(), id))
	for i := range series {
		lset := labels.FromStrings("__name__", "m", "i", fmt.Sprint(i))
		for ts := end.Add(-time.Hour); !ts.After(end); ts = ts.Add(15 * time.Second) {
			_, err := app.Append(0, lset, ts.UnixMilli(), float64(ts.Unix()%1000+int64(i)))
			require.NoError(t, err)
		}
	}
	hist := labels.FromStrings("__name__", "h")
	for ts, n := end.Add(-time.Hour), int64(0); !ts.After(end); ts, n = ts.Add(15*time.Second), n+1 {
		_, err := app.AppendHistogram(0, hist, ts.UnixMilli(), tsdbutil.GenerateTestHistogram(n), nil)
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
	app = s.Appender(tenant.With(context.Background(), id))
	for i := range series {
		_, err := app.Append(0, labels.FromStrings("__name__", "m", "i", fmt.Sprint(i)), end.Add(-time.Minute-7*time.Second).UnixMilli(), -1)
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
}

// rangeQuery returns the result of q over the hour before end, as text:
// the engine reuses the result's memory after Close.
func rangeQuery(t testing.TB, s *Store, id, q string, end time.Time) (string, error) {
	t.Helper()
	engine := promql.NewEngine(promql.EngineOpts{Logger: slog.New(slog.DiscardHandler), MaxSamples: 1e8, Timeout: time.Minute})
	qry, err := engine.NewRangeQuery(tenant.With(context.Background(), id), s, nil, q, end.Add(-time.Hour), end, 30*time.Second)
	require.NoError(t, err)
	defer qry.Close()
	res := qry.Exec(tenant.With(context.Background(), id))
	if res.Err != nil {
		return "", res.Err
	}
	m, err := res.Matrix()
	require.NoError(t, err)
	return m.String(), nil
}

// A query that reads more series or chunk bytes than its tenant's limits
// allow fails naming the limit, and is counted; a query within them gets
// exactly what it gets without limits; other tenants keep their own limits.
func TestFetchLimits(t *testing.T) {
	file := filepath.Join(t.TempDir(), "overrides.yml")
	require.NoError(t, os.WriteFile(file, []byte("overrides:\n  small-bytes:\n    max_fetched_chunk_bytes_per_query: 1000\n"), 0o644))
	reg := prometheus.NewRegistry()
	lim, err := limits.New(limits.Options{Defaults: limits.Limits{MaxFetchedSeriesPerQuery: 5}, OverridesFile: file}, slog.New(slog.DiscardHandler), reg)
	require.NoError(t, err)
	t.Cleanup(lim.Close)
	limited := openLimited(t, lim)
	unlimited := openLimited(t, nil)
	end := time.Now().Truncate(time.Minute)
	for _, s := range []*Store{limited, unlimited} {
		fill(t, s, "a", 8, end)
		fill(t, s, "small-bytes", 2, end)
		// The older half of a's samples in a block, the rest in the head:
		// queries read and merge both.
		require.True(t, s.Existing("a", func(db *tsdb.DB) {
			require.NoError(t, db.CompactHead(tsdb.NewRangeHead(db.Head(), end.Add(-time.Hour).UnixMilli(), end.Add(-30*time.Minute).UnixMilli())))
			require.Len(t, db.Blocks(), 1)
		}))
	}
	refused := func(reason string) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if mf.GetName() == "sightline_limits_refused_total" && m.GetLabel()[0].GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}

	// Within the limits, the results are those of the TSDB's own querier.
	for _, q := range []string{`m{i=~"[0-4]"}`, `rate(m{i=~"[0-4]"}[5m])`, `sum(m{i="1"}) + sum(m{i=~"[1-4]"})`, `h`, `histogram_quantile(0.9, rate(h[5m]))`} {
		want, err := rangeQuery(t, unlimited, "a", q, end)
		require.NoError(t, err)
		got, err := rangeQuery(t, limited, "a", q, end)
		require.NoError(t, err, q)
		require.Equal(t, want, got, q)
		require.NotEmpty(t, got)
	}

	_, err = rangeQuery(t, limited, "a", `sum(m)`, end)
	require.ErrorIs(t, err, ErrQueryLimit)
	require.ErrorContains(t, err, "the query exceeded the maximum number of series (limit: 5 series")
	require.Equal(t, 1.0, refused(ReasonMaxFetchedSeries))
	_, err = rangeQuery(t, limited, "a", `sum(m{i=~"[0-2]"}) / sum(m{i=~"[2-5]"})`, end)
	require.ErrorIs(t, err, ErrQueryLimit, "six series in all, over two selectors")
	_, err = rangeQuery(t, limited, "a", `sum(m{i=~"[0-4]"}) / sum(m{i=~"[0-4]"})`, end)
	require.NoError(t, err, "a series read twice counts once")

	// An hour of 15 s samples is several hundred bytes of chunks a series.
	_, err = rangeQuery(t, limited, "small-bytes", `sum(m{i="0"})`, end)
	require.NoError(t, err)
	_, err = rangeQuery(t, limited, "small-bytes", `sum(m)`, end)
	require.ErrorIs(t, err, ErrQueryLimit)
	require.ErrorContains(t, err, "the query exceeded the aggregated chunk size limit (limit: 1000 bytes")
	require.Equal(t, 1.0, refused(ReasonMaxFetchedChunkBytes))
	_, err = rangeQuery(t, limited, "a", `sum(m{i=~"[0-4]"})`, end)
	require.NoError(t, err, "the override is small-bytes' alone")
}

// A query whose shards (package shard) select concurrently through one
// fetchLimit is refused once and counted once, however many of its
// Selects go on to read past the limit before they see the refusal.
func TestFetchLimitCountsAQueryOnce(t *testing.T) {
	var counted []string
	f := &fetchLimit{maxSeries: 3, maxBytes: 10, series: map[uint64]struct{}{}, refused: func(r string) { counted = append(counted, r) }}
	for i := range 3 {
		require.NoError(t, f.addSeries(labels.FromStrings("i", fmt.Sprint(i))))
	}
	// Shard 0 reads the fourth series, shard 1 the fifth, before either
	// has stopped.
	require.ErrorIs(t, f.addSeries(labels.FromStrings("i", "3")), ErrQueryLimit)
	require.ErrorIs(t, f.addSeries(labels.FromStrings("i", "4")), ErrQueryLimit)
	require.ErrorIs(t, f.addChunkBytes(11), ErrQueryLimit)
	require.Equal(t, []string{ReasonMaxFetchedSeries}, counted)
}

// TestFetchLimitsOverBlocks: a query over blocks read one after the other
// (timeorder.go) counts their series and the bytes of their chunks as
// stored, against the same limits.
func TestFetchLimitsOverBlocks(t *testing.T) {
	read := func(s *Store, name string) (series, samples int, err error) {
		q, err := s.Querier(math.MinInt64, math.MaxInt64)
		require.NoError(t, err)
		defer q.Close()
		set := q.Select(tenant.With(context.Background(), "a"), true, &storage.SelectHints{Start: math.MinInt64, End: math.MaxInt64},
			labels.MustNewMatcher(labels.MatchRegexp, "__name__", name))
		var it chunkenc.Iterator
		for set.Next() {
			series++
			it = set.At().Iterator(it)
			for it.Next() != chunkenc.ValNone {
				samples++
			}
			if it.Err() != nil {
				return series, samples, it.Err()
			}
		}
		return series, samples, set.Err()
	}
	open := func(l limits.Limits) *Store {
		lim, err := limits.New(limits.Options{Defaults: l}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		require.NoError(t, err)
		t.Cleanup(lim.Close)
		s := openLimited(t, lim)
		fillHours(t, s, fillStart, 29)
		db := tenantTSDB(t, s, "a")
		require.NoError(t, db.Compact(context.Background()))
		inOrder, _ := blocksInTimeOrder(db, math.MinInt64, math.MaxInt64)
		require.Greater(t, len(inOrder), 2)
		return s
	}
	unlimited := openLimited(t, nil)
	fillHours(t, unlimited, fillStart, 29)
	require.NoError(t, tenantTSDB(t, unlimited, "a").Compact(context.Background()))
	wantSeries, wantSamples, err := read(unlimited, "m")
	require.NoError(t, err)
	require.Equal(t, 6, wantSeries)

	fewSeries := open(limits.Limits{MaxFetchedSeriesPerQuery: 5})
	_, _, err = read(fewSeries, "m")
	require.ErrorIs(t, err, ErrQueryLimit)
	require.ErrorContains(t, err, "the query exceeded the maximum number of series (limit: 5 series")
	series, samples, err := read(fewSeries, "h|g")
	require.NoError(t, err, "two series")
	require.Equal(t, 2, series)
	require.Equal(t, 2*29*60, samples)

	// 29 hours of a sample a minute is more than 2,000 bytes of chunks.
	fewBytes := open(limits.Limits{MaxFetchedChunkBytesPerQuery: 2000})
	_, _, err = read(fewBytes, "m")
	require.ErrorIs(t, err, ErrQueryLimit)
	require.ErrorContains(t, err, "the query exceeded the aggregated chunk size limit (limit: 2000 bytes")

	enough := open(limits.Limits{MaxFetchedSeriesPerQuery: 6, MaxFetchedChunkBytesPerQuery: 1 << 30})
	series, samples, err = read(enough, "m")
	require.NoError(t, err)
	require.Equal(t, wantSeries, series)
	require.Equal(t, wantSamples, samples)
}

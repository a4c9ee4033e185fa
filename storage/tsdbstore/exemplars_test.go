package tsdbstore

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/tenant"
)

// A tenant's head compactions stop reading the WAL for exemplars once it
// has none, and read it again once a commit wrote some: an exemplar sent
// after a compaction that found none is in the block of its time, when
// the ring (of one exemplar here) has overwritten it and the head's
// exemplar files no longer keep it.
func TestExemplarsAfterACompactionWithout(t *testing.T) {
	opts := DefaultOptions()
	opts.MaxExemplars = 1
	s, err := Open(t.TempDir(), slog.New(slog.DiscardHandler), prometheus.NewRegistry(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	ctx := tenant.With(context.Background(), "a")
	const hour = int64(time.Hour / time.Millisecond)
	t0 := time.Now().Add(-10*time.Hour).UnixMilli() / (2 * hour) * (2 * hour)
	ls := labels.FromStrings("__name__", "requests_total", "job", "api")
	withExemplar := map[int64]string{t0 + 4*hour + 60_000: "e1", t0 + 7*hour: "e2"}
	fill := func(from, to int64) {
		for ts := from; ts < to; ts += 60_000 {
			app := s.Appender(ctx)
			ref, err := app.Append(0, ls, ts, float64(ts))
			require.NoError(t, err)
			if id, ok := withExemplar[ts]; ok {
				_, err = app.AppendExemplar(ref, ls, exemplar.Exemplar{Labels: labels.FromStrings("trace_id", id), Value: 1, Ts: ts, HasTs: true})
				require.NoError(t, err)
			}
			require.NoError(t, app.Commit())
		}
	}
	fill(t0, t0+4*hour) // no exemplar
	db := tenantTSDB(t, s, "a")
	require.NoError(t, db.Compact(context.Background()))
	require.Len(t, db.Blocks(), 1)

	fill(t0+4*hour, t0+8*hour) // e1 in the block of [t0+4h, t0+6h), e2 in the head
	require.NoError(t, db.Compact(context.Background()))
	require.Equal(t, t0+6*hour, db.Blocks()[len(db.Blocks())-1].Meta().MaxTime)
	q, err := s.ExemplarQuerier(ctx)
	require.NoError(t, err)
	res, err := q.Select(t0+4*hour, t0+5*hour, []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "job", "api")})
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Len(t, res[0].Exemplars, 1, "the exemplar sent after a compaction without any is not in its block")
	require.Equal(t, "e1", res[0].Exemplars[0].Labels.Get("trace_id"))
}

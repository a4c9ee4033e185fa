package tsdbstore

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/internal/limits"
	"github.com/sightline-dev/sightline/storage/tenant"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), DefaultOptions())
	require.NoError(t, err)
	return s
}

// tenantGauge is the value of the gauge name of tenant id in reg; the
// test fails if there is none.
func tenantGauge(t *testing.T, reg *prometheus.Registry, name, id string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "tenant" && l.GetValue() == id {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s for tenant %q", name, id)
	return 0
}

func appendOne(t *testing.T, s *Store, tenantID, name string, ts int64, v float64) error {
	t.Helper()
	app := s.Appender(tenant.With(context.Background(), tenantID))
	_, err := app.Append(0, labels.FromStrings("__name__", name), ts, v)
	if err != nil {
		_ = app.Rollback()
		return err
	}
	return app.Commit()
}

func count(t *testing.T, s *Store, tenantID, name string) int {
	t.Helper()
	q, err := s.Querier(0, time.Now().Add(time.Hour).UnixMilli())
	require.NoError(t, err)
	defer q.Close()
	ss := q.Select(tenant.With(context.Background(), tenantID), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", name))
	n := 0
	for ss.Next() {
		n++
	}
	require.NoError(t, ss.Err())
	return n
}

func TestTenantsAreSeparateAndReopened(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	now := time.Now().UnixMilli()
	require.NoError(t, appendOne(t, s, "a", "m", now, 1))
	require.NoError(t, appendOne(t, s, "b", "m", now, 2))
	require.NoError(t, appendOne(t, s, "b", "only_b", now, 2))
	require.Equal(t, 1, count(t, s, "a", "m"))
	require.Equal(t, 0, count(t, s, "a", "only_b"))
	require.Equal(t, 0, count(t, s, "nobody", "m"), "reading an unknown tenant creates nothing")
	require.ElementsMatch(t, []string{"a", "b"}, s.Tenants())
	require.NoError(t, s.Close())

	s = open(t, dir)
	defer s.Close()
	require.ElementsMatch(t, []string{"a", "b"}, s.Tenants(), "tenants are opened (and their WAL replayed) at start-up")
	require.Equal(t, 1, count(t, s, "b", "only_b"))
}

func TestMaxBlockDuration(t *testing.T) {
	require.Equal(t, 36*time.Hour, maxBlockDuration(15*24*time.Hour), "a tenth of the retention")
	require.Equal(t, 31*24*time.Hour, maxBlockDuration(0), "no time retention: Prometheus' 31 days")
	require.Equal(t, 31*24*time.Hour, maxBlockDuration(2*365*24*time.Hour))
	require.Equal(t, 2*time.Hour, maxBlockDuration(time.Hour), "never under the head's 2 hours")
}

// TestBlocksAreMerged: the 2-hour blocks cut from the head are merged into
// longer ones as they age, as in Prometheus, so a long retention keeps few
// blocks.
func TestBlocksAreMerged(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	// 18 hours from a 6-hour boundary (where TSDB's second compaction
	// range starts): the head is cut into eight 2-hour blocks, and the
	// planner, which leaves the newest block alone, has two whole 6-hour
	// ranges to merge, whatever the time of day.
	start := time.Now().Add(-19 * time.Hour).Truncate(6 * time.Hour)
	app := s.Appender(tenant.With(context.Background(), "a"))
	for ts := start; ts.Before(start.Add(18 * time.Hour)); ts = ts.Add(time.Minute) {
		_, err := app.Append(0, labels.FromStrings("__name__", "m"), ts.UnixMilli(), 1)
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
	var longest time.Duration
	require.True(t, s.Existing("a", func(db *tsdb.DB) {
		require.NoError(t, db.Compact(context.Background()))
		for _, b := range db.Blocks() {
			longest = max(longest, time.Duration(b.MaxTime()-b.MinTime())*time.Millisecond)
		}
	}))
	require.GreaterOrEqual(t, longest, 6*time.Hour, "three 2-hour blocks merged into one")
}

func TestRejections(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	now := time.Now().UnixMilli()
	require.NoError(t, appendOne(t, s, "a", "m", now, 1))
	f := func(ts int64, v float64, reason string) {
		t.Helper()
		err := appendOne(t, s, "a", "m", ts, v)
		require.Error(t, err)
		require.Equal(t, reason, RejectReason(err), "%v", err)
	}
	f(now, 2, ReasonDuplicate)
	f(now-time.Hour.Milliseconds(), 3, ReasonTooOld)
	f(now+time.Hour.Milliseconds(), 4, ReasonOutOfBounds)
	require.Equal(t, "", RejectReason(ErrClosed))
	require.ErrorIs(t, s.Appender(tenant.With(context.Background(), "../x")).Commit(), tenant.ErrInvalid)
}

// At its limit of active series, a tenant's samples of new series are
// refused (series_limit) and those of its existing series go on; another
// tenant is not held back.
func TestSeriesLimit(t *testing.T) {
	lim, err := limits.New(limits.Options{Defaults: limits.Limits{MaxSeries: 2}}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	opts := DefaultOptions()
	opts.Limiter = lim
	s, err := Open(t.TempDir(), slog.New(slog.DiscardHandler), prometheus.NewRegistry(), opts)
	require.NoError(t, err)
	defer s.Close()
	now := time.Now().UnixMilli()
	require.NoError(t, appendOne(t, s, "a", "one", now, 1))
	require.NoError(t, appendOne(t, s, "a", "two", now, 1))
	err = appendOne(t, s, "a", "three", now, 1)
	require.ErrorIs(t, err, ErrSeriesLimit)
	require.Equal(t, ReasonSeriesLimit, RejectReason(err))
	require.NoError(t, appendOne(t, s, "a", "one", now+1, 2), "an existing series goes on")
	require.NoError(t, appendOne(t, s, "b", "three", now, 1), "another tenant has its own limit")
	require.Zero(t, count(t, s, "a", "three"))
}

// A tenant beyond -limits.max-tenants is refused before its TSDB is
// opened: it leaves no directory, no WAL, no goroutines behind.
func TestRefusedTenantOpensNothing(t *testing.T) {
	lim, err := limits.New(limits.Options{MaxTenants: 1}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	opts := DefaultOptions()
	opts.Limiter = lim
	dir := t.TempDir()
	s, err := Open(dir, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), opts)
	require.NoError(t, err)
	defer s.Close()
	now := time.Now().UnixMilli()
	require.NoError(t, appendOne(t, s, "a", "m", now, 1))
	require.ErrorIs(t, appendOne(t, s, "b", "m", now, 1), limits.ErrLimited)
	require.Equal(t, []string{"a"}, s.Tenants())
	_, err = os.Stat(filepath.Join(dir, "tenants", "b"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

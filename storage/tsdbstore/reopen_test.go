package tsdbstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/internal/smallfs"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// A commit whose WAL write fails for lack of space (the TSDB itself hits
// ENOSPC: no disk guard) fails, later appends wait for the TSDB to be
// reopened, and everything acknowledged before and after is there after a
// crash and after a clean restart. Without the reopen, the commit left a
// torn record in the WAL (its series record spans pages: incompressible
// label values) in front of the later ones, and replay after a restart
// deleted them all.
func TestWALWriteFailureLosesNothing(t *testing.T) {
	for _, width := range []int{40, 150, 400} { // where the failed record ends differs
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			fs := smallfs.Mount(t, 16<<20)
			dir := filepath.Join(fs, "data")
			s, err := Open(dir, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), DefaultOptions())
			require.NoError(t, err)
			ctx := tenant.With(context.Background(), "a")
			now := time.Now().UnixMilli()
			value := make([]byte, width/2)
			b, acked := 0, 0
			batch := func() error {
				b++
				app := s.Appender(ctx)
				for i := range 500 {
					_, _ = rand.Read(value)
					if _, err := app.Append(0, labels.FromStrings("__name__", "m", "batch", fmt.Sprint(b), "i", fmt.Sprint(i), "v", hex.EncodeToString(value)), now+int64(b), 1); err != nil {
						_ = app.Rollback()
						return err
					}
				}
				if err := app.Commit(); err != nil {
					return err
				}
				acked += 500
				return nil
			}

			filler := filepath.Join(fs, "filler")
			require.NoError(t, os.WriteFile(filler, make([]byte, 15<<20), 0o644))
			var failed error
			for failed == nil {
				failed = batch()
				require.Less(t, b, 1000, "the disk never filled")
			}
			require.ErrorContains(t, failed, "no space left on device")
			require.Positive(t, acked)
			require.ErrorIs(t, batch(), ErrReopening, "no appends until the reopen")
			require.Equal(t, acked, count(t, s, "a", "m"), "reads go on while the disk is full")

			require.NoError(t, os.Remove(filler))
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			deadline := time.Now().Add(30 * time.Second)
			for resumed := 0; resumed < 20; {
				if err := batch(); err != nil {
					require.ErrorIs(t, err, ErrReopening, "appends wait for the reopen")
					require.True(t, time.Now().Before(deadline), "the TSDB was not reopened")
					<-tick.C
					continue
				}
				resumed++
			}
			require.Equal(t, acked, count(t, s, "a", "m"))

			// kill -9: what is on disk now, opened elsewhere.
			crashed := filepath.Join(t.TempDir(), "crashed")
			require.NoError(t, exec.Command("cp", "-a", dir, crashed).Run())
			require.NoError(t, s.Close())
			for _, d := range []string{crashed, dir} {
				s, err := Open(d, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), DefaultOptions())
				require.NoError(t, err)
				require.Equal(t, acked, count(t, s, "a", "m"), "every acknowledged sample is there after a restart (%s)", filepath.Base(d))
				require.NoError(t, s.Close())
			}
		})
	}
}

// After a failed WAL write, appends are refused until the reopen, which
// waits for the queries reading the TSDB and lets them go on meanwhile;
// then appends are taken again and nothing committed is gone.
func TestReopenWaitsForQueries(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	now := time.Now().UnixMilli()
	require.NoError(t, appendOne(t, s, "a", "m", now, 1))

	ctx := tenant.With(context.Background(), "a")
	q, err := s.Querier(0, now+1)
	require.NoError(t, err)
	ss := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "m"))
	require.True(t, ss.Next(), "the query has opened the tenant's TSDB")

	ta, err := s.tenant("a")
	require.NoError(t, err)
	s.walWriteFailed("a", ta, fmt.Errorf("test: %w", os.ErrClosed))
	require.ErrorIs(t, appendOne(t, s, "a", "m", now+1, 2), ErrReopening)
	require.NoError(t, appendOne(t, s, "b", "m", now, 1), "other tenants write on")
	require.Equal(t, 1, count(t, s, "a", "m"), "other queries go on while the reopen waits")
	require.False(t, ss.Next())
	require.NoError(t, ss.Err())
	require.NoError(t, q.Close())

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for appendOne(t, s, "a", "m", now+1, 2) != nil {
		require.True(t, time.Now().Before(deadline), "the TSDB was not reopened")
		<-tick.C
	}
	require.Equal(t, 1, count(t, s, "a", "m"))
}

package colblock

import (
	"context"
	"testing"
	"weak"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/index"
	"github.com/stretchr/testify/require"
)

// A block's ShardedPostings, from the shards Readers keeps, are those of
// Prometheus' index reader, for every shard count, twice in a row, and
// for a count beyond what it keeps.
func TestShardedPostingsLikePrometheus(t *testing.T) {
	db := openDB(t, t.TempDir(), true)
	defer db.Close()
	appendTestData(t, db, day0, 7)
	require.NoError(t, db.Compact(context.Background()))
	require.NotEmpty(t, db.Blocks())

	rs := NewReaders()
	ctx := context.Background()
	for _, b := range db.Blocks() {
		theirs, err := b.Index()
		require.NoError(t, err)
		ours, err := columnarBlock{Block: b, readers: rs}.Index()
		require.NoError(t, err)
		for _, count := range []uint64{3, 3, 2, 300} {
			allName, allValue := index.AllPostingsKey()
			for _, sel := range [][2]string{{allName, allValue}, {"__name__", "m1"}} {
				name, values := sel[0], []string{sel[1]}
				var all []storage.SeriesRef
				for shard := range count {
					p, err := theirs.Postings(ctx, name, values...)
					require.NoError(t, err)
					want, err := index.ExpandPostings(theirs.ShardedPostings(p, shard, count))
					require.NoError(t, err)
					p, err = ours.Postings(ctx, name, values...)
					require.NoError(t, err)
					got, err := index.ExpandPostings(ours.ShardedPostings(p, shard, count))
					require.NoError(t, err)
					require.Equal(t, want, got, "shard %d of %d of %s=%q", shard, count, name, values)
					all = append(all, got...)
				}
				p, err := theirs.Postings(ctx, name, values...)
				require.NoError(t, err)
				every, err := index.ExpandPostings(p)
				require.NoError(t, err)
				require.ElementsMatch(t, every, all, "the shards are all series")
			}
		}
		require.Equal(t, uint64(3), rs.m[weak.Make(b)].shards.count, "the first count is kept")
		require.NoError(t, theirs.Close())
		require.NoError(t, ours.Close())
	}
}

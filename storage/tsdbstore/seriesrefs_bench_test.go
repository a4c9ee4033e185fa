package tsdbstore

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// BenchmarkSeriesRefsEntry: the remote_write receiver's lookup of a known
// series, from as many goroutines as cores, in a cache of 100k series
// (the standard benchmark's), which does not fit the CPU's caches, as in
// the real ingest: in random order, and in requests of 2,000 series that
// come in the same order every time, as senders send them (with a Cursor).
func BenchmarkSeriesRefsEntry(b *testing.B) {
	const n, perRequest = 100_000, 2_000
	c := newSeriesRefs(time.Now())
	ids := make([]ID, n)
	for i := range ids {
		ls := labels.FromStrings("__name__", "http_requests_total", "instance", fmt.Sprintf("host-%d:9100", i/20), "route", fmt.Sprint(i%20))
		ids[i] = ID{ls.Hash(), rand.Uint64()}
		c.PutEntry(ids[i], SeriesEntry{Ref: storage.SeriesRef(i + 1), Labels: ls})
	}
	b.Run("random", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 0))
			for pb.Next() {
				if _, ok := c.Entry(nil, ids[r.IntN(n)]); !ok {
					b.Fatal("miss")
				}
			}
		})
	})
	b.Run("requests", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var cur Cursor
			for i := rand.IntN(n/perRequest) * perRequest; pb.Next(); i++ {
				if i%perRequest == 0 {
					cur = Cursor{}
				}
				if _, ok := c.Entry(&cur, ids[i%n]); !ok {
					b.Fatal("miss")
				}
			}
		})
	})
}

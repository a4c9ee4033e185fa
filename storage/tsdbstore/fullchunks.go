package tsdbstore

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/tsdb"
)

// mmapEvery is how far the head's newest sample moves on between two
// writes of its full chunks to its chunk files.
const mmapEvery = 15 * time.Minute

// fullChunks writes the head's full chunks out to its memory-mapped chunk
// files as its data moves on, not only once a minute.
//
// TSDB keeps a series' full chunks in memory until its background loop
// maps them, once a minute of wall-clock time. At a scrape's pace that is
// a minute's worth of full chunks. A sender that catches up (a
// remote_write queue after an outage, an agent replaying its WAL, the
// benchmark's load) sends hours of data in that minute, and every
// series' full chunks for those hours stayed on the heap. Native
// histograms cut a chunk every kilobyte or so: on the benchmark's OTLP
// load (100k series, 5,000 of them native histograms, 3.5 hours sent in
// 20 seconds) the process' anonymous memory peaked at 413 MiB, and at
// 330 MiB with the chunks written out as the data moves on (the peak RSS
// went down less, 450 to 431 MiB: reading the mapped chunks back for the
// head's compaction brings their pages into it, which the kernel can
// reclaim).
//
// So a commit that finds the head's newest sample mmapEvery past the last
// write writes them, while it still holds the TSDB (its appender's read
// lock). At a scrape's pace that is every 15 minutes, less often than the
// loop already does it.
type fullChunks struct {
	db *tsdb.DB
	at atomic.Int64 // the head's newest sample at the last write
}

func newFullChunks(db *tsdb.DB) *fullChunks {
	f := &fullChunks{db: db}
	f.at.Store(db.Head().MaxTime())
	return f
}

// commit writes the full chunks if the head has moved on enough: one of
// the commits that find it so does it.
func (f *fullChunks) commit() {
	maxt, at := f.db.Head().MaxTime(), f.at.Load()
	if at == math.MinInt64 { // the head was empty: it starts now
		f.at.CompareAndSwap(at, maxt)
		return
	}
	if maxt-at < mmapEvery.Milliseconds() || !f.at.CompareAndSwap(at, maxt) {
		return
	}
	// Only for tests and benchmarks, TSDB says; it is its background
	// loop's own call, which takes the series' locks one at a time.
	f.db.ForceHeadMMap()
}

package tsdbstore

import (
	"context"
	"log/slog"
	"math"
	"sync"
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
// write starts one in the background. At a scrape's pace that is every 15
// minutes, less often than the loop already does it. It is not written
// within the commit: the write waits for a running compaction of the
// tenant's TSDB (below), which takes seconds for a head and longer for a
// merge of blocks, and the commit's sender would wait with it (the
// benchmark's ingest stopped for 2 to 3 seconds at every head
// compaction, all eight senders behind the one that waited).
type fullChunks struct {
	db      *tsdb.DB
	at      atomic.Int64 // the head's newest sample at the last write
	writing atomic.Bool  // a write runs: the commits start none
	written sync.WaitGroup
}

func newFullChunks(db *tsdb.DB) *fullChunks {
	f := &fullChunks{db: db}
	f.at.Store(db.Head().MaxTime())
	return f
}

// commit starts a write of the full chunks if the head has moved on
// enough and none runs. The caller holds the TSDB open until commit
// returns; wait keeps it open for the write.
func (f *fullChunks) commit() {
	maxt, at := f.db.Head().MaxTime(), f.at.Load()
	if at == math.MinInt64 { // the head was empty: it starts now
		f.at.CompareAndSwap(at, maxt)
		return
	}
	if maxt-at < mmapEvery.Milliseconds() || !f.writing.CompareAndSwap(false, true) {
		return
	}
	f.at.Store(maxt)
	f.written.Go(f.write)
}

func (f *fullChunks) write() {
	defer f.writing.Store(false)
	// Only for tests and benchmarks, TSDB says; it is its background
	// loop's own call, which takes the series' locks one at a time. That
	// loop also compacts the head, never at the same time: the head's
	// garbage collection locks a series, then the stripe of the series map
	// it is in, where the mapping locks a stripe, then its series, and the
	// two at once deadlock (they did, and every append after them, in the
	// week-long benchmark). Disabling compactions waits for a running one
	// to end and holds the next back until the chunks are written: the
	// loop skips it and tries again at the next commit.
	f.db.DisableCompactions()
	defer f.db.EnableCompactions()
	f.db.ForceHeadMMap()
}

// wait waits for the write that commit started, if any; the TSDB is
// closed after it.
func (f *fullChunks) wait() { f.written.Wait() }

// withoutCompactionToggles is a TSDB's logger without the lines
// DisableCompactions and EnableCompactions log at every write of the full
// chunks, twice every 15 minutes of data.
func withoutCompactionToggles(l *slog.Logger) *slog.Logger {
	return slog.New(quietToggles{l.Handler()})
}

type quietToggles struct{ slog.Handler }

func (h quietToggles) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "Compactions disabled" || r.Message == "Compactions enabled" {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietToggles) WithAttrs(as []slog.Attr) slog.Handler {
	return quietToggles{h.Handler.WithAttrs(as)}
}

func (h quietToggles) WithGroup(name string) slog.Handler {
	return quietToggles{h.Handler.WithGroup(name)}
}

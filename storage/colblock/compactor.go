package colblock

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/fileutil"
	"github.com/prometheus/prometheus/tsdb/index"
	"github.com/prometheus/prometheus/tsdb/tombstones"
)

// HintColumnar is the compaction hint in the meta.json of a block whose
// float chunks are columnar.
const HintColumnar = "sightline-columnar-v1"

// tmpSuffix is the suffix of a block being written; tsdb.Open deletes such
// directories, left by a crash, at start-up.
const tmpSuffix = ".tmp-for-creation"

// Options configure the compactor.
type Options struct {
	// SamplesPerChunk caps a chunk's samples (at most maxChunkSamples).
	// A query decodes whole chunks, so it bounds what a short query over
	// a long block decodes for nothing; longer chunks spread a chunk's
	// fixed cost (its record, first timestamp and value, index entry)
	// over more samples.
	SamplesPerChunk int
	// ChunkRange is the longest time one chunk spans, for series sampled
	// seldom.
	ChunkRange time.Duration
	// Limit, if not nil, is the turn a compaction waits for, shared by
	// the TSDBs of a store.
	Limit *CompactionLimit
	// WALExemplars, if not nil, is the TSDB's: whether its WAL may hold
	// exemplars for the head's blocks.
	WALExemplars *WALExemplars
}

// DefaultOptions: up to 2,048 samples (34 hours at a 60-second interval,
// 8.5 at 15 seconds) spanning up to a day. Longer chunks spread a chunk's
// fixed bytes (its record, index entry, first timestamp and value, column
// headers) over more samples: on the benchmark's week of 60-second data, a
// series' 1,080 samples of an 18-hour block take one chunk, not three of at
// most 512. Their cost is on short queries over old data, which decode
// whole chunks: one series over an hour of merged blocks took 25 µs with
// 512 samples a chunk, 44–55 µs with 2,048, and 15 µs in Prometheus'
// 120-sample chunks (BenchmarkSelect).
func DefaultOptions() Options {
	return Options{SamplesPerChunk: 2048, ChunkRange: 24 * time.Hour}
}

// Configure sets the hooks of o that make a TSDB keep its blocks columnar:
// its compactor writes them as co says, its queriers read them through
// rs, and its index readers decode packed postings. The head and the WAL
// stay Prometheus'.
func Configure(o *tsdb.Options, rs *Readers, co Options) {
	o.NewCompactorFunc = NewCompactorFunc(co, rs)
	o.BlockQuerierFunc = rs.BlockQuerier
	o.BlockChunkQuerierFunc = rs.BlockChunkQuerier
	o.PostingsDecoderFactory = PostingsDecoderFor
}

// NewCompactorFunc returns the tsdb.Options.NewCompactorFunc that makes a
// TSDB write columnar blocks: Prometheus' leveled compactor plans (which
// blocks to merge into which longer one), and Compactor writes. It reads
// the blocks it merges through rs, the readers the TSDB's queries share.
func NewCompactorFunc(o Options, rs *Readers) tsdb.NewCompactorFunc {
	return func(ctx context.Context, r prometheus.Registerer, l *slog.Logger, ranges []int64, _ chunkenc.Pool, opts *tsdb.Options) (tsdb.Compactor, error) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		o.SamplesPerChunk = min(max(o.SamplesPerChunk, 1), maxChunkSamples) // the decoder takes no more
		metrics := tsdb.NewCompactorMetrics(r)
		planner, err := tsdb.NewLeveledCompactorWithOptions(ctx, nil, l, ranges, Pool, tsdb.LeveledCompactorOptions{
			PD:                          opts.PostingsDecoderFactory,
			EnableOverlappingCompaction: true,
			Metrics:                     metrics,
		})
		if err != nil {
			return nil, err
		}
		return &Compactor{planner: planner, ctx: ctx, logger: l, metrics: metrics, opts: o, readers: rs,
			postingsDecoder: opts.PostingsDecoderFactory}, nil
	}
}

// Compactor writes the head and merged blocks as columnar blocks. It
// implements tsdb.Compactor.
type Compactor struct {
	planner         *tsdb.LeveledCompactor
	ctx             context.Context
	logger          *slog.Logger
	metrics         *tsdb.CompactorMetrics
	opts            Options
	readers         *Readers
	postingsDecoder tsdb.PostingsDecoderFactory
}

var _ tsdb.Compactor = (*Compactor)(nil)

// Plan returns the blocks Prometheus' leveled compactor would merge next.
func (c *Compactor) Plan(dir string) ([]string, error) { return c.planner.Plan(dir) }

// Write writes the data of b in [mint, maxt) as a new block: the head's
// compaction, the out-of-order head's, and the rewrite of a block with
// tombstones.
func (c *Compactor) Write(dest string, b tsdb.BlockReader, mint, maxt int64, base *tsdb.BlockMeta) ([]ulid.ULID, error) {
	release, err := c.opts.Limit.acquire(c.ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	meta := &tsdb.BlockMeta{ULID: ulid.MustNew(ulid.Now(), rand.Reader), MinTime: mint, MaxTime: maxt}
	meta.Compaction.Level = 1
	meta.Compaction.Sources = []ulid.ULID{meta.ULID}
	if base != nil {
		meta.Compaction.Parents = []tsdb.BlockDesc{{ULID: base.ULID, MinTime: base.MinTime, MaxTime: base.MaxTime}}
		if base.Compaction.FromOutOfOrder() {
			meta.Compaction.SetOutOfOrder()
		}
	}
	exemplars := exemplarSet{}
	switch blk := b.(type) {
	case *tsdb.RangeHead:
		// The in-order head: its exemplars are in the WAL. Failing to
		// read them costs the block its exemplars, not its samples.
		if err := c.opts.WALExemplars.read(c.logger, filepath.Join(dest, "wal"), mint, maxt, exemplars); err != nil {
			c.logger.Error("reading the exemplars of a block from the WAL", "mint", mint, "maxt", maxt, "err", err)
		}
	case *tsdb.Block: // a rewrite without the deleted samples
		b = columnarBlock{Block: blk, readers: c.readers}
		if err := readExemplars(blk.Dir(), mint, maxt-1, keepAll, exemplars); err != nil {
			c.logger.Error("reading the exemplars of a block to rewrite", "ulid", blk.Meta().ULID, "err", err)
		}
	}
	if err := c.write(dest, meta, exemplars, false, b); err != nil {
		return nil, err
	}
	if _, ok := b.(columnarBlock); !ok {
		// The head's chunks just read are dropped by the truncation that
		// follows; their pages need not stay in this process' RSS.
		if err := releaseMappedPages(filepath.Join(dest, "chunks_head")); err != nil {
			c.logger.Warn("releasing the pages of the head's chunks", "err", err)
		}
	}
	if meta.Stats.NumSamples == 0 {
		return nil, nil
	}
	c.logger.Info("write block completed", "mint", mint, "maxt", maxt, "ulid", meta.ULID, "samples", meta.Stats.NumSamples)
	return []ulid.ULID{meta.ULID}, nil
}

// Compact merges the blocks in dirs into one new block.
func (c *Compactor) Compact(dest string, dirs []string, open []*tsdb.Block) ([]ulid.ULID, error) {
	release, err := c.opts.Limit.acquire(c.ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	start := time.Now()
	var (
		blocks    []tsdb.BlockReader
		metas     []*tsdb.BlockMeta
		dirsOf    []string
		exemplars = exemplarSet{}
	)
	for _, d := range dirs {
		var b *tsdb.Block
		for _, o := range open {
			if filepath.Clean(o.Dir()) == filepath.Clean(d) {
				b = o
				break
			}
		}
		if b == nil {
			var err error
			if b, err = tsdb.OpenBlock(c.logger, d, Pool, c.postingsDecoder); err != nil {
				return nil, err
			}
			defer b.Close()
		}
		m := b.Meta()
		metas = append(metas, &m)
		blocks = append(blocks, columnarBlock{Block: b, readers: c.readers})
		dirsOf = append(dirsOf, b.Dir())
		// Exemplars that cannot be read cost the new block those
		// exemplars, not the merge (which the planner would try again
		// and again).
		if err := readExemplars(b.Dir(), m.MinTime, m.MaxTime-1, keepAll, exemplars); err != nil {
			c.logger.Error("reading the exemplars of a block to merge", "ulid", m.ULID, "err", err)
		}
	}
	meta := tsdb.CompactBlockMetas(ulid.MustNew(ulid.Now(), rand.Reader), metas...)
	// A merge whose sources hold no sample any more (all deleted) still
	// writes its empty block: the TSDB then deletes the sources as its
	// parents. Prometheus marks them deletable in their meta.json instead,
	// but the TSDB reads that from the meta it keeps in memory, which only
	// Prometheus' own compactor can change.
	if err := c.write(dest, meta, exemplars, true, blocks...); err != nil {
		if !errors.Is(err, context.Canceled) {
			// As Prometheus does: the planner skips failed blocks
			// rather than failing on them every minute.
			for i, m := range metas {
				m.Compaction.Failed = true
				if merr := writeMeta(dirsOf[i], m); merr != nil {
					c.logger.Error("marking a block's compaction failed", "ulid", m.ULID, "err", merr)
				}
			}
		}
		return nil, err
	}
	c.logger.Info("compact blocks", "count", len(blocks), "mint", meta.MinTime, "maxt", meta.MaxTime, "ulid", meta.ULID,
		"samples", meta.Stats.NumSamples, "duration", time.Since(start))
	return []ulid.ULID{meta.ULID}, nil
}

func keepAll(labels.Labels) bool { return true }

// write writes the union of blocks within meta's time range as a block in
// dest: into a temporary directory, synced, then renamed, so that a crash
// at any moment leaves either no block or a whole one.
func (c *Compactor) write(dest string, meta *tsdb.BlockMeta, exemplars exemplarSet, keepEmpty bool, blocks ...tsdb.BlockReader) (err error) {
	// A panic here would take the process down, at every start again, as
	// the TSDB retries the compaction: it fails the compaction instead
	// (counted in prometheus_tsdb_compactions_failed_total; a merge's
	// sources are then marked failed and not merged again).
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("BUG: writing block %s panicked: %v\n%s", meta.ULID, r, debug.Stack())
		}
	}()
	start := time.Now()
	dir := filepath.Join(dest, meta.ULID.String())
	tmp := dir + tmpSuffix
	var closers []io.Closer
	defer func() {
		for _, cl := range closers {
			err = errors.Join(err, cl.Close())
		}
		if rerr := os.RemoveAll(tmp); rerr != nil {
			c.logger.Error("removing the temporary directory of a block", "err", rerr)
		}
		c.metrics.Ran.Inc()
		c.metrics.Duration.Observe(time.Since(start).Seconds())
	}()
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o777); err != nil {
		return err
	}
	chunkw, err := newChunkWriter(filepath.Join(tmp, "chunks"), chunks.DefaultChunkSegmentSize)
	if err != nil {
		return fmt.Errorf("open chunk writer: %w", err)
	}
	closers = append(closers, chunkw)
	indexw, err := newIndexWriter(filepath.Join(tmp, "index"))
	if err != nil {
		return fmt.Errorf("open index writer: %w", err)
	}
	closers = append(closers, indexw)

	c.metrics.PopulatingBlocks.Set(1)
	err = c.populate(meta, blocks, indexw, chunkw)
	c.metrics.PopulatingBlocks.Set(0)
	if err != nil {
		return fmt.Errorf("populate block: %w", err)
	}
	if err := chunkw.Finish(); err != nil {
		return fmt.Errorf("write chunks: %w", err)
	}
	if err := indexw.Finish(); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	var cerr error
	for _, cl := range closers {
		cerr = errors.Join(cerr, cl.Close())
	}
	closers = nil
	if cerr != nil {
		return cerr
	}
	if meta.Stats.NumSamples == 0 && !keepEmpty {
		return nil
	}
	for _, h := range []string{HintColumnar, HintPostings} {
		if !slices.Contains(meta.Compaction.Hints, h) {
			meta.Compaction.Hints = append(meta.Compaction.Hints, h)
		}
	}
	slices.Sort(meta.Compaction.Hints)
	if err := writeExemplars(tmp, exemplars); err != nil {
		return fmt.Errorf("write exemplars: %w", err)
	}
	if err := writeMeta(tmp, meta); err != nil {
		return fmt.Errorf("write meta: %w", err)
	}
	if _, err := tombstones.WriteFile(c.logger, tmp, tombstones.NewMemTombstones()); err != nil {
		return fmt.Errorf("write tombstones: %w", err)
	}
	df, err := fileutil.OpenDir(tmp)
	if err != nil {
		return err
	}
	err = df.Sync()
	err = errors.Join(err, df.Close())
	if err != nil {
		return fmt.Errorf("sync block directory: %w", err)
	}
	return fileutil.Replace(tmp, dir)
}

// populate writes the merged series of blocks into indexw and chunkw, as
// Prometheus' DefaultBlockPopulator does, except that float samples are
// cut into columnar chunks. Histogram chunks are kept as they are:
// Prometheus' histogram encodings are lossless already.
func (c *Compactor) populate(meta *tsdb.BlockMeta, blocks []tsdb.BlockReader, indexw *indexWriter, chunkw *chunkWriter) (err error) {
	var (
		sets    []storage.ChunkSeriesSet
		symbols index.StringIter
		closers []io.Closer
	)
	defer func() {
		for _, cl := range closers {
			err = errors.Join(err, cl.Close())
		}
	}()
	for i, b := range blocks {
		indexr, err := b.Index()
		if err != nil {
			return fmt.Errorf("open index reader of block %s: %w", b.Meta().ULID, err)
		}
		closers = append(closers, indexr)
		chunkr, err := b.Chunks()
		if err != nil {
			return fmt.Errorf("open chunk reader of block %s: %w", b.Meta().ULID, err)
		}
		closers = append(closers, chunkr)
		tombsr, err := b.Tombstones()
		if err != nil {
			return fmt.Errorf("open tombstones of block %s: %w", b.Meta().ULID, err)
		}
		closers = append(closers, tombsr)
		// Blocks are half-open, [mint, maxt).
		sets = append(sets, tsdb.NewBlockChunkSeriesSet(b.Meta().ULID, indexr, chunkr, tombsr,
			tsdb.AllSortedPostings(c.ctx, indexr), meta.MinTime, meta.MaxTime-1, false))
		if i == 0 {
			symbols = indexr.Symbols()
		} else {
			symbols = tsdb.NewMergedStringIter(symbols, indexr.Symbols())
		}
	}
	if err := indexw.AddSymbols(symbols); err != nil {
		return fmt.Errorf("add symbols: %w", err)
	}
	set := sets[0]
	if len(sets) > 1 {
		set = storage.NewMergeChunkSeriesSet(sets, 0, storage.NewCompactingChunkSeriesMerger(storage.ChainedSeriesMerge))
	}
	var (
		out   []chunks.Meta
		chksI chunks.Iterator
		cut   = newCutter(c.opts)
	)
	for set.Next() {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		s := set.At()
		chksI = s.Iterator(chksI)
		out = out[:0]
		for chksI.Next() {
			chk := chksI.At()
			var err error
			switch chk.Chunk.Encoding() {
			case chunkenc.EncXOR, EncColumnar:
				out, err = cut.addChunk(out, chk.Chunk)
			case chunkenc.EncHistogram, EncColumnarHistogram:
				out, err = cut.addHistograms(out, chk.Chunk)
			default: // float histograms keep Prometheus' encoding
				out = append(cut.flush(out), chk)
			}
			if err != nil {
				return fmt.Errorf("series %s: %w", s.Labels(), err)
			}
		}
		if err := chksI.Err(); err != nil {
			return fmt.Errorf("chunk iterator: %w", err)
		}
		out = cut.flush(out)
		if len(out) == 0 {
			continue // every sample deleted
		}
		if err := chunkw.WriteChunks(out...); err != nil {
			return fmt.Errorf("write chunks: %w", err)
		}
		if err := indexw.AddSeries(s.Labels(), out...); err != nil {
			return fmt.Errorf("add series: %w", err)
		}
		meta.Stats.NumSeries++
		meta.Stats.NumChunks += uint64(len(out))
		for _, chk := range out {
			n := uint64(chk.Chunk.NumSamples())
			meta.Stats.NumSamples += n
			if chk.Chunk.Encoding() == EncColumnar {
				meta.Stats.NumFloatSamples += n
			} else {
				meta.Stats.NumHistogramSamples += n
			}
		}
	}
	return set.Err()
}

// cutter gathers a series' float samples and cuts them into columnar
// chunks: a run of samples not interrupted by histograms into as few chunks
// as keep each within SamplesPerChunk and ChunkRange, of equal length
// (1,080 samples with a cap of 1,024 make two chunks of 540, not 1,024 and
// 56, which would cost a chunk's fixed bytes for 56 samples). It gathers a
// series' integer histograms too, into columnar histogram chunks cut where
// the bucket layout changes or a chunk is full.
type cutter struct {
	opts Options
	rng  int64 // opts.ChunkRange in milliseconds
	ts   []int64
	vs   []float64
	hts  []int64
	hs   []*histogram.Histogram
	// spare holds the histograms of chunks already written, to be filled
	// again: a histogram of its own for every sample would be a quarter of
	// what the ingest of native histograms allocates (every sample is
	// decoded again at each merge). At most SamplesPerChunk are kept.
	spare []*histogram.Histogram
	it    chunkenc.Iterator
}

// maxRunChunks bounds a run's samples, so what a series of very frequent
// samples holds in memory while it is cut: 16 chunks' worth, 32,768
// samples (512 KiB) by default.
const maxRunChunks = 16

func newCutter(o Options) *cutter {
	return &cutter{opts: o, rng: max(o.ChunkRange.Milliseconds(), 1)}
}

// addChunk adds the samples of chk to the run.
func (c *cutter) addChunk(out []chunks.Meta, chk chunkenc.Chunk) ([]chunks.Meta, error) {
	out = c.flushHistograms(out)
	c.it = chk.Iterator(c.it)
	for vt := c.it.Next(); vt != chunkenc.ValNone; vt = c.it.Next() {
		if vt != chunkenc.ValFloat {
			return out, fmt.Errorf("a %s sample in a float chunk", vt)
		}
		if len(c.ts) >= maxRunChunks*c.opts.SamplesPerChunk {
			out = c.flushFloats(out)
		}
		t, v := c.it.At()
		c.ts = append(c.ts, t)
		c.vs = append(c.vs, v)
	}
	return out, c.it.Err()
}

// addHistograms adds the histograms of chk.
func (c *cutter) addHistograms(out []chunks.Meta, chk chunkenc.Chunk) ([]chunks.Meta, error) {
	out = c.flushFloats(out)
	c.it = chk.Iterator(c.it)
	for vt := c.it.Next(); vt != chunkenc.ValNone; vt = c.it.Next() {
		if vt != chunkenc.ValHistogram {
			return out, fmt.Errorf("a %s sample in a histogram chunk", vt)
		}
		var h *histogram.Histogram
		if n := len(c.spare); n > 0 {
			h, c.spare = c.spare[n-1], c.spare[:n-1]
		}
		t, got := c.it.AtHistogram(h)
		if got != h && h != nil { // a staleness marker comes as a new histogram
			c.spare = append(c.spare, h)
		}
		h = got
		if n := len(c.hs); n > 0 && (n >= c.opts.SamplesPerChunk || t-c.hts[0] >= c.rng || !sameLayout(h, c.hs[0])) {
			out = c.flushHistograms(out)
		}
		c.hts = append(c.hts, t)
		c.hs = append(c.hs, h)
	}
	return out, c.it.Err()
}

func (c *cutter) flushHistograms(out []chunks.Meta) []chunks.Meta {
	if len(c.hs) == 0 {
		return out
	}
	out = append(out, chunks.Meta{
		Chunk:   NewHistogramChunk(EncodeHistograms(nil, c.hts, c.hs), c.hts[0], c.hts[len(c.hts)-1]),
		MinTime: c.hts[0],
		MaxTime: c.hts[len(c.hts)-1],
	})
	keep := max(0, min(len(c.hs), c.opts.SamplesPerChunk-len(c.spare)))
	c.spare = append(c.spare, c.hs[:keep]...)
	clear(c.hs)
	c.hts, c.hs = c.hts[:0], c.hs[:0]
	return out
}

// flush cuts what is gathered into chunks.
func (c *cutter) flush(out []chunks.Meta) []chunks.Meta {
	return c.flushHistograms(c.flushFloats(out))
}

// flushFloats cuts the run of floats, if any, into chunks of equal length.
func (c *cutter) flushFloats(out []chunks.Meta) []chunks.Meta {
	n := len(c.ts)
	if n == 0 {
		return out
	}
	span := uint64(c.ts[n-1]) - uint64(c.ts[0]) // as uint64, it cannot overflow
	k := uint64((n + c.opts.SamplesPerChunk - 1) / c.opts.SamplesPerChunk)
	k = min(max(k, span/uint64(c.rng)+1), uint64(n))
	for i := range int(k) {
		lo, hi := i*n/int(k), (i+1)*n/int(k)
		out = append(out, chunks.Meta{
			Chunk:   NewChunk(Encode(nil, c.ts[lo:hi], c.vs[lo:hi]), c.ts[lo], c.ts[hi-1]),
			MinTime: c.ts[lo],
			MaxTime: c.ts[hi-1],
		})
	}
	c.ts, c.vs = c.ts[:0], c.vs[:0]
	return out
}

// writeMeta writes meta.json into dir atomically and durably, as
// Prometheus does.
func writeMeta(dir string, meta *tsdb.BlockMeta) error {
	meta.Version = 1
	b, err := json.MarshalIndent(meta, "", "\t")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "meta.json")
	tmp := path + ".tmp"
	defer os.Remove(tmp)
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	err = errors.Join(err, f.Sync(), f.Close())
	if err != nil {
		return err
	}
	return fileutil.Replace(tmp, path)
}

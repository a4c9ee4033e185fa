package colblock

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"weak"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// Pool is a chunkenc.Pool that knows columnar chunks besides Prometheus'
// own encodings.
var Pool chunkenc.Pool = pool{std: chunkenc.NewPool()}

type pool struct{ std chunkenc.Pool }

func (p pool) Get(e chunkenc.Encoding, b []byte) (chunkenc.Chunk, error) {
	switch e {
	case EncColumnar:
		return &Chunk{b: b}, nil // its times are set by chunkReader, from its meta
	case EncColumnarHistogram:
		return &HistogramChunk{b: b}, nil // its times are set by chunkReader, from its meta
	}
	return p.std.Get(e, b)
}

func (p pool) Put(c chunkenc.Chunk) error {
	switch c.(type) {
	case *Chunk, *HistogramChunk:
		return nil
	}
	return p.std.Put(c)
}

// Readers shares what queries and compactions read of each block: its
// chunk reader, the shard hashes of its series (shardhash.go) and its
// index's symbols (symbols.go). The TSDB opens its blocks with Prometheus'
// chunk pool, which does not know columnar chunks, and takes no other; so
// a block's chunk files are opened (mmapped) again with Pool, once per
// block rather than per query: that cost 100 µs a query a block, five
// times a selective query's time.
//
// A block's state is dropped, and its reader closed, once the block is
// garbage: the TSDB has dropped it (merged or past retention) and no query
// holds it. Until then a deleted block's files keep their disk space, a GC
// cycle at most (two minutes, when nothing else triggers one).
type Readers struct {
	mu sync.Mutex
	m  map[weak.Pointer[tsdb.Block]]*blockState // guarded by mu
}

type blockState struct {
	chunks  *chunks.Reader
	shards  shardHashes
	symbols symbolTable
}

// NewReaders returns an empty Readers.
func NewReaders() *Readers {
	return &Readers{m: map[weak.Pointer[tsdb.Block]]*blockState{}}
}

// Len is the number of open readers.
func (rs *Readers) Len() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return len(rs.m)
}

func (rs *Readers) state(b *tsdb.Block) (*blockState, error) {
	wp := weak.Make(b)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if st, ok := rs.m[wp]; ok {
		return st, nil
	}
	r, err := chunks.NewDirReader(filepath.Join(b.Dir(), "chunks"), Pool)
	if err != nil {
		return nil, err
	}
	st := &blockState{chunks: r}
	rs.m[wp] = st
	runtime.AddCleanup(b, func(wp weak.Pointer[tsdb.Block]) {
		rs.mu.Lock()
		st := rs.m[wp]
		delete(rs.m, wp)
		rs.mu.Unlock()
		if st != nil {
			_ = st.chunks.Close()
			_ = st.symbols.close()
		}
	}, wp)
	return st, nil
}

// BlockQuerier is the tsdb.Options.BlockQuerierFunc that reads columnar
// blocks: Prometheus' block querier, with a chunk reader that decodes
// columnar chunks. Blocks written by Prometheus' own compactor (a data
// directory from before columnar blocks) are read through the same reader.
// The TSDB asks it for the head's querier too (a *tsdb.RangeHead), which
// reads the head's own index and chunks through the same series set.
func (rs *Readers) BlockQuerier(b tsdb.BlockReader, mint, maxt int64) (storage.Querier, error) {
	if blk, ok := b.(*tsdb.Block); ok {
		b = columnarBlock{Block: blk, readers: rs}
	}
	return newBlockQuerier(b, mint, maxt)
}

// CountingBlockQuerier is BlockQuerier for a query with a limit on the
// bytes of chunks it reads: count is called with the size of every chunk
// the querier reads, as stored, and an error from it fails the read.
func (rs *Readers) CountingBlockQuerier(b *tsdb.Block, mint, maxt int64, count func(bytes int) error) (storage.Querier, error) {
	return newBlockQuerier(columnarBlock{Block: b, readers: rs, count: count}, mint, maxt)
}

// BlockChunkQuerier is the tsdb.Options.BlockChunkQuerierFunc. Its chunks
// leave Sightline (remote read), so columnar chunks are handed over as
// iterables, which Prometheus' chunk querier encodes as XOR chunks that any
// client reads.
func (rs *Readers) BlockChunkQuerier(b tsdb.BlockReader, mint, maxt int64) (storage.ChunkQuerier, error) {
	if blk, ok := b.(*tsdb.Block); ok {
		b = columnarBlock{Block: blk, readers: rs, iterables: true}
	}
	q, err := tsdb.NewBlockChunkQuerier(b, mint, maxt)
	if err != nil {
		return nil, err
	}
	return blockChunkQuerier{q}, nil
}

// The TSDB's block series sets make a new series every time At is
// called, and storage.NewMergeQuerier, which merges a query's blocks, calls
// At for every comparison in its heap and more: a week-long rate() over
// fifteen blocks made 450,000 of them, 41 MB, and the GC that followed
// took a quarter of its time. The queriers of blocks keep the series At
// made until Next.

// newBlockQuerier is Prometheus' block querier of b, whose Select reads
// through seriesSet (series.go) when b has no tombstones.
func newBlockQuerier(b tsdb.BlockReader, mint, maxt int64) (_ storage.Querier, err error) {
	q, err := tsdb.NewBlockQuerier(b, mint, maxt)
	if err != nil {
		return nil, err
	}
	bq := &blockQuerier{Querier: q, mint: mint, maxt: maxt}
	defer func() {
		if err != nil {
			err = errors.Join(err, bq.Close())
		}
	}()
	tr, err := b.Tombstones()
	if err != nil {
		return nil, err
	}
	deleted := tr.Total() > 0
	if err := tr.Close(); err != nil {
		return nil, err
	}
	if deleted {
		return bq, nil
	}
	if bq.ix, err = b.Index(); err != nil {
		return nil, err
	}
	if bq.cr, err = b.Chunks(); err != nil {
		return nil, err
	}
	return bq, nil
}

type blockQuerier struct {
	storage.Querier
	mint, maxt int64
	ix         tsdb.IndexReader // nil when the block has tombstones
	cr         tsdb.ChunkReader
	closed     bool // its readers release the block once only
}

func (q *blockQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	if q.ix != nil && q.cr != nil {
		return selectSeries(ctx, sortSeries, hints, ms, q.ix, q.cr, q.mint, q.maxt)
	}
	return &atOnce[storage.Series]{set: q.Querier.Select(ctx, sortSeries, hints, ms...)}
}

func (q *blockQuerier) Close() error {
	err := q.Querier.Close() // which says so when it is closed twice
	if q.closed {
		return err
	}
	q.closed = true
	if q.ix != nil {
		err = errors.Join(err, q.ix.Close())
	}
	if q.cr != nil {
		err = errors.Join(err, q.cr.Close())
	}
	return err
}

type blockChunkQuerier struct{ storage.ChunkQuerier }

func (q blockChunkQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.ChunkSeriesSet {
	return &atOnce[storage.ChunkSeries]{set: q.ChunkQuerier.Select(ctx, sortSeries, hints, ms...)}
}

// atOnce is a storage.SeriesSet or storage.ChunkSeriesSet that asks set
// for the current series once.
type atOnce[S any] struct {
	set interface {
		Next() bool
		At() S
		Err() error
		Warnings() annotations.Annotations
	}
	cur  S
	have bool
}

func (s *atOnce[S]) Next() bool {
	var none S
	s.cur, s.have = none, false
	return s.set.Next()
}

func (s *atOnce[S]) At() S {
	if !s.have {
		s.cur, s.have = s.set.At(), true
	}
	return s.cur
}

func (s *atOnce[S]) Err() error                        { return s.set.Err() }
func (s *atOnce[S]) Warnings() annotations.Annotations { return s.set.Warnings() }

// columnarBlock is a block read with the chunk reader readers shares for
// it, which decodes columnar chunks. The block's own chunk reader is taken
// too, and released with this one: it keeps the block from being closed
// (and its files deleted) while they are read.
type columnarBlock struct {
	*tsdb.Block
	readers   *Readers
	iterables bool
	count     func(bytes int) error // nil, or CountingBlockQuerier's
}

func (b columnarBlock) Chunks() (tsdb.ChunkReader, error) {
	held, err := b.Block.Chunks()
	if err != nil {
		return nil, err
	}
	st, err := b.readers.state(b.Block)
	if err != nil {
		return nil, errors.Join(err, held.Close())
	}
	return &chunkReader{Reader: st.chunks, held: held, iterables: b.iterables, count: b.count}, nil
}

// Index is the block's index, whose ShardedPostings reads the shard hashes
// and Series the symbol table that Readers keeps for the block.
func (b columnarBlock) Index() (tsdb.IndexReader, error) {
	ir, err := b.Block.Index()
	if err != nil {
		return nil, err
	}
	st, err := b.readers.state(b.Block)
	if err != nil {
		return nil, errors.Join(err, ir.Close())
	}
	return shardedIndex{IndexReader: ir, hashes: &st.shards, symbols: &st.symbols, dir: b.Dir()}, nil
}

type chunkReader struct {
	*chunks.Reader // shared: not closed with this one
	held           tsdb.ChunkReader
	iterables      bool
	count          func(bytes int) error
}

func (r *chunkReader) ChunkOrIterable(m chunks.Meta) (chunkenc.Chunk, chunkenc.Iterable, error) {
	c, it, err := r.Reader.ChunkOrIterable(m)
	if c, ok := c.(interface{ setTimes(mint, maxt int64) }); ok {
		c.setTimes(m.MinTime, m.MaxTime) // columnar chunks' first and last timestamps
	}
	if r.count != nil && c != nil && err == nil {
		if err := r.count(len(c.Bytes())); err != nil {
			return nil, nil, err
		}
	}
	if r.iterables && err == nil {
		switch c.(type) {
		case *Chunk, *HistogramChunk:
			return nil, c, nil
		}
	}
	return c, it, err
}

func (r *chunkReader) Close() error { return r.held.Close() }

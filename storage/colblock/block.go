package colblock

import (
	"errors"
	"path/filepath"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
)

// Pool is a chunkenc.Pool that knows columnar chunks besides Prometheus'
// own encodings.
var Pool chunkenc.Pool = pool{std: chunkenc.NewPool()}

type pool struct{ std chunkenc.Pool }

func (p pool) Get(e chunkenc.Encoding, b []byte) (chunkenc.Chunk, error) {
	if e == EncColumnar {
		return NewChunk(b), nil
	}
	return p.std.Get(e, b)
}

func (p pool) Put(c chunkenc.Chunk) error {
	if _, ok := c.(*Chunk); ok {
		return nil
	}
	return p.std.Put(c)
}

// BlockQuerier is the tsdb.Options.BlockQuerierFunc that reads columnar
// blocks: Prometheus' block querier, with a chunk reader that decodes
// columnar chunks. Blocks written by Prometheus' own compactor (a data
// directory from before columnar blocks) are read through the same reader.
func BlockQuerier(b tsdb.BlockReader, mint, maxt int64) (storage.Querier, error) {
	if blk, ok := b.(*tsdb.Block); ok {
		b = columnarBlock{Block: blk}
	}
	return tsdb.NewBlockQuerier(b, mint, maxt)
}

// BlockChunkQuerier is the tsdb.Options.BlockChunkQuerierFunc. Its chunks
// leave Sightline (remote read), so columnar chunks are handed over as
// iterables, which Prometheus' chunk querier encodes as XOR chunks that any
// client reads.
func BlockChunkQuerier(b tsdb.BlockReader, mint, maxt int64) (storage.ChunkQuerier, error) {
	if blk, ok := b.(*tsdb.Block); ok {
		b = columnarBlock{Block: blk, iterables: true}
	}
	return tsdb.NewBlockChunkQuerier(b, mint, maxt)
}

// columnarBlock is a block read with a chunk reader that decodes columnar
// chunks. The TSDB opens its blocks with Prometheus' chunk pool, which
// does not, and takes no other; so the chunk files are opened again with
// Pool. The block's own chunk reader is taken too, and released with this
// one: it keeps the block from being closed (and its files deleted) while
// they are read.
type columnarBlock struct {
	*tsdb.Block
	iterables bool
}

func (b columnarBlock) Chunks() (tsdb.ChunkReader, error) {
	held, err := b.Block.Chunks()
	if err != nil {
		return nil, err
	}
	r, err := chunks.NewDirReader(filepath.Join(b.Dir(), "chunks"), Pool)
	if err != nil {
		return nil, errors.Join(err, held.Close())
	}
	return &chunkReader{Reader: r, held: held, iterables: b.iterables}, nil
}

type chunkReader struct {
	*chunks.Reader
	held      tsdb.ChunkReader
	iterables bool
}

func (r *chunkReader) ChunkOrIterable(m chunks.Meta) (chunkenc.Chunk, chunkenc.Iterable, error) {
	c, it, err := r.Reader.ChunkOrIterable(m)
	if r.iterables && err == nil {
		if cc, ok := c.(*Chunk); ok {
			return nil, cc, nil
		}
	}
	return c, it, err
}

func (r *chunkReader) Close() error {
	return errors.Join(r.Reader.Close(), r.held.Close())
}

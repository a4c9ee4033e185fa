package colblock

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/index"
)

// shardHashes is the shard of each series of a block, for a query split
// into shards (package query/shard) to select those of its shard.
// Prometheus' index reader reads the labels of every series the query's
// matchers select, and hashes them, once for every shard of every query:
// for a query of 74k series split in two, a tenth of its CPU. The shards
// of all series are found once per block instead, for the first shard
// count asked (a server uses one), and kept while the block is open: 5
// bytes a series.
type shardHashes struct {
	once  sync.Once
	count uint64
	refs  []uint32 // the block's series references, ascending
	shard []uint8  // of refs[i]
	err   error
}

// load finds the shard of every series of the block of ir, of count
// shards. It returns false if it cannot: other counts, more than 255
// shards, or references beyond 32 bits (an index over 64 GiB).
func (h *shardHashes) load(ir tsdb.IndexReader, count uint64) (bool, error) {
	h.once.Do(func() {
		if count > math.MaxUint8 {
			return
		}
		name, value := index.AllPostingsKey()
		p, err := ir.Postings(context.Background(), name, value)
		if err != nil {
			h.err = err
			return
		}
		var b labels.ScratchBuilder
		for p.Next() {
			ref := p.At()
			if ref > math.MaxUint32 {
				h.refs, h.shard = nil, nil
				return
			}
			if err := ir.Series(ref, &b, nil); err != nil {
				h.err = err
				return
			}
			h.refs = append(h.refs, uint32(ref))
			h.shard = append(h.shard, uint8(labels.StableHash(b.Labels())%count))
		}
		if h.err = p.Err(); h.err == nil {
			h.count = count
		}
	})
	return h.count == count, h.err
}

// shardedIndex is a block's index whose ShardedPostings reads the
// block's shardHashes, and Series its symbolTable.
type shardedIndex struct {
	tsdb.IndexReader
	hashes  *shardHashes
	symbols *symbolTable
	dir     string // the block's
}

func (r shardedIndex) Series(ref storage.SeriesRef, b *labels.ScratchBuilder, chks *[]chunks.Meta) error {
	if !r.symbols.load(r.IndexReader, r.dir) {
		return r.IndexReader.Series(ref, b, chks)
	}
	return r.symbols.series(ref, b, chks)
}

// ShardedPostings returns the postings of p in shard shardIndex of
// shardCount: those whose labels' StableHash, modulo shardCount, is
// shardIndex, as Prometheus' head and index reader select them.
func (r shardedIndex) ShardedPostings(p index.Postings, shardIndex, shardCount uint64) index.Postings {
	ok, err := r.hashes.load(r, shardCount)
	if err != nil {
		return index.ErrPostings(err)
	}
	if !ok {
		return r.IndexReader.ShardedPostings(p, shardIndex, shardCount)
	}
	var out []storage.SeriesRef
	refs, from := r.hashes.refs, 0
	for p.Next() {
		ref := p.At()
		i, found := slices.BinarySearch(refs[from:], uint32(min(ref, math.MaxUint32)))
		if !found {
			return index.ErrPostings(fmt.Errorf("series %d not found", ref))
		}
		from += i // postings ascend
		if uint64(r.hashes.shard[from]) == shardIndex {
			out = append(out, ref)
		}
	}
	if err := p.Err(); err != nil {
		return index.ErrPostings(err)
	}
	return index.NewListPostings(out)
}

package tsdbstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
)

// ErrQueryLimit stops a query that reads more series or chunk bytes than
// its tenant's limits allow. The Prometheus API answers it as any other
// evaluation error: 422, errorType "execution", as Mimir answers it.
var ErrQueryLimit = errors.New("the query exceeded a limit")

// queryLimitError is an ErrQueryLimit whose text is Mimir's alone, without
// a prefix that would say it twice.
type queryLimitError string

func (e queryLimitError) Error() string      { return string(e) }
func (queryLimitError) Is(target error) bool { return target == ErrQueryLimit }

// Reasons of refused queries, the names of the limits (as Mimir names
// them), for sightline_limits_refused_total{reason}.
const (
	ReasonMaxFetchedSeries     = "max_fetched_series_per_query"
	ReasonMaxFetchedChunkBytes = "max_fetched_chunk_bytes_per_query"
)

// fetchLimit counts what one query reads of one tenant's TSDB: the series
// (each once, however many selectors read it, as Mimir counts them) and
// the bytes of the compressed chunks. It is shared by the query's Selects,
// which PromQL may run concurrently.
type fetchLimit struct {
	maxSeries int   // 0: no limit
	maxBytes  int64 // 0: no limit
	refused   func(reason string)

	mu      sync.Mutex
	series  map[uint64]struct{} // guarded by mu; hashes of the label sets read
	bytes   int64               // guarded by mu
	counted bool                // guarded by mu; the query's refusal is counted
}

// refuse counts the query's refusal once, however many of its Selects
// (the shards of package shard run them concurrently) go over the limit.
// f.mu must be held.
func (f *fetchLimit) refuse(reason string) {
	if !f.counted {
		f.counted = true
		f.refused(reason)
	}
}

func (f *fetchLimit) addSeries(lset labels.Labels) error {
	if f.maxSeries <= 0 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.series[lset.Hash()] = struct{}{}
	if len(f.series) <= f.maxSeries {
		return nil
	}
	f.refuse(ReasonMaxFetchedSeries)
	return queryLimitError(fmt.Sprintf("the query exceeded the maximum number of series (limit: %d series; -limits.max-fetched-series-per-query); narrow its selectors or its time range", f.maxSeries))
}

func (f *fetchLimit) addChunkBytes(n int) error {
	if f.maxBytes <= 0 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bytes += int64(n)
	if f.bytes <= f.maxBytes {
		return nil
	}
	f.refuse(ReasonMaxFetchedChunkBytes)
	return queryLimitError(fmt.Sprintf("the query exceeded the aggregated chunk size limit (limit: %d bytes; -limits.max-fetched-chunk-bytes-per-query); narrow its selectors or its time range", f.maxBytes))
}

// seriesCountingQuerier is the Querier of a tenant with fetch limits:
// it counts the series a query reads, once each however many blocks they
// are in; the chunks' bytes are counted where they are read (colblock's
// CountingBlockQuerier, chunkLimitedQuerier).
type seriesCountingQuerier struct {
	storage.Querier
	limit *fetchLimit
}

func (q seriesCountingQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	return &seriesCountingSet{SeriesSet: q.Querier.Select(ctx, sortSeries, hints, ms...), limit: q.limit}
}

type seriesCountingSet struct {
	storage.SeriesSet
	limit *fetchLimit
	cur   storage.Series // kept: the merge of a query's parts merges them again at every At
	err   error
}

func (s *seriesCountingSet) Next() bool {
	s.cur = nil
	if s.err != nil || !s.SeriesSet.Next() {
		return false
	}
	s.cur = s.SeriesSet.At()
	s.err = s.limit.addSeries(s.cur.Labels())
	return s.err == nil
}

func (s *seriesCountingSet) At() storage.Series { return s.cur }

func (s *seriesCountingSet) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.SeriesSet.Err()
}

// chunkLimitedQuerier is the Querier, within fetch limits, of the head and
// the blocks that overlap it (those before them are read by colblock's
// CountingBlockQuerier, see Store.queryParts). It reads through the TSDB's
// ChunkQuerier, which shows the compressed chunks that the sample Querier
// hides, counts their bytes, and decodes them into samples as the PromQL
// engine expects (as Mimir's and Thanos' queriers read chunks and decode
// them).
type chunkLimitedQuerier struct {
	storage.ChunkQuerier
	limit *fetchLimit
}

func (q chunkLimitedQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	// Store's querier asks for chunks whole (DisableTrimming), as they
	// are stored.
	set := q.ChunkQuerier.Select(ctx, sortSeries, hints, ms...)
	if hints != nil && hints.Func == "series" {
		// The TSDB's Querier reads no chunks for a series lookup
		// (/api/v1/series), and nor does this.
		return labelsOnlySet{set}
	}
	return storage.NewSeriesSetFromChunkSeriesSet(bytesCountingSet{ChunkSeriesSet: set, limit: q.limit})
}

// labelsOnlySet is the series of a set without their samples.
type labelsOnlySet struct{ storage.ChunkSeriesSet }

func (s labelsOnlySet) At() storage.Series {
	return &storage.SeriesEntry{Lset: s.ChunkSeriesSet.At().Labels(), SampleIteratorFn: func(chunkenc.Iterator) chunkenc.Iterator {
		return chunkenc.NewNopIterator()
	}}
}

// bytesCountingSet counts, through its series' iterators, their chunks'
// bytes; beyond the limit they stop with the error.
type bytesCountingSet struct {
	storage.ChunkSeriesSet
	limit *fetchLimit
}

func (s bytesCountingSet) At() storage.ChunkSeries {
	return fetchCountingSeries{ChunkSeries: s.ChunkSeriesSet.At(), limit: s.limit}
}

type fetchCountingSeries struct {
	storage.ChunkSeries
	limit *fetchLimit
}

func (s fetchCountingSeries) Iterator(it chunks.Iterator) chunks.Iterator {
	c, ok := it.(*fetchCountingChunks)
	if !ok {
		c = &fetchCountingChunks{}
	}
	*c = fetchCountingChunks{Iterator: s.ChunkSeries.Iterator(c.Iterator), limit: s.limit}
	return c
}

type fetchCountingChunks struct {
	chunks.Iterator
	limit *fetchLimit
	err   error
}

func (c *fetchCountingChunks) Next() bool {
	if c.err != nil || !c.Iterator.Next() {
		return false
	}
	if chk := c.Iterator.At().Chunk; chk != nil {
		if c.err = c.limit.addChunkBytes(len(chk.Bytes())); c.err != nil {
			return false
		}
	}
	return true
}

func (c *fetchCountingChunks) Err() error {
	if c.err != nil {
		return c.err
	}
	return c.Iterator.Err()
}

package colblock

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/index"
	"github.com/prometheus/prometheus/util/annotations"
)

// A long-range rate() spent a fifth of its time passing each sample up
// through three iterators, one call each for Next and for At: the query's
// merge of blocks, Prometheus' block series iterator (which also trims
// chunks to the query's range and applies deletions) and the columnar
// chunk's. A columnar chunk is decoded whole anyway, so a block without
// deletions is read through seriesSet instead, whose series' iterators
// hand a chunk's decoded samples over in one piece (Floats), which the
// store's merge of blocks passes on and the direct evaluation of rate()
// reads without a call per sample. Every other reader sees the same
// samples as through Prometheus' block querier.
//
// The head is read through seriesSet too: Prometheus' querier makes a
// series, an iterator and a chunk iterator for every series (its iterator's
// reset drops the chunk iterator it could reuse): a 7-day histogram_quantile
// over 75,000 series allocated 50 MB a query through it, 40 through
// seriesSet, and so made a GC, which slows the queries it overlaps by a
// fifth to a half, every 2.9 queries instead of every 2.2.

// FloatRuns is an iterator that hands over its float samples a run at a
// time: Floats returns the float samples after the one read last, as many
// as it has decoded at hand, and moves to the last of them; none when the
// sample read is not a float or none follows it at hand (Next then says
// what comes). The runs are valid until the iterator is used again.
type FloatRuns interface {
	Floats() ([]int64, []float64)
}

var _ FloatRuns = (*seriesIterator)(nil)

// A query's direct evaluation (package shard) reads a series' labels and
// samples before it moves to the next, and keeps nothing of it: a set
// made for it (ReadOnce) makes no series, no list of chunks and, for a
// block, no labels for each series, but reuses one of each. They were
// half of what a day-long histogram_quantile over 74,000 series allocated,
// and so half of the GCs, which slow the queries they overlap by a fifth
// to a half. The engine keeps the series it selects, and Prometheus'
// merges of sets keep nothing of a set's series once they have moved the
// set on, as the time-ordered merge of package tsdbstore does.

type readOnceKey struct{}

// ReadOnce returns ctx for a Select whose caller reads each series of the
// set it gets, labels and samples, before it calls Next, and keeps neither
// (nor its iterator's runs) after.
func ReadOnce(ctx context.Context) context.Context {
	return context.WithValue(ctx, readOnceKey{}, true)
}

// IsReadOnce says whether ctx is from ReadOnce.
func IsReadOnce(ctx context.Context) bool {
	once, _ := ctx.Value(readOnceKey{}).(bool)
	return once
}

// seriesSet is the series of a block without tombstones that postings
// names, with their chunks in [mint, maxt].
type seriesSet struct {
	ix         tsdb.IndexReader
	cr         tsdb.ChunkReader
	p          index.Postings
	mint, maxt int64 // of the chunks read, and of their samples if trim
	trim       bool
	noChunks   bool // hints.Func "series": labels only, as Prometheus' querier does

	// once reuses one series (ReadOnce); overwrite, its labels' memory
	// too: a block's labels are decoded into the builder, while the
	// head's index hands over the series' own (Assign), which cost
	// nothing.
	once, overwrite bool
	one             series

	b    labels.ScratchBuilder
	chks []chunks.Meta
	cur  *series
	err  error
}

// selectSeries is Prometheus' selectSeriesSet for a block without
// tombstones, read with seriesSet.
func selectSeries(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms []*labels.Matcher,
	ix tsdb.IndexReader, cr tsdb.ChunkReader, mint, maxt int64,
) storage.SeriesSet {
	p, err := tsdb.PostingsForMatchers(ctx, ix, ms...)
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	if hints != nil && hints.ShardCount > 0 {
		p = ix.ShardedPostings(p, hints.ShardIndex, hints.ShardCount)
	}
	if sortSeries {
		p = ix.SortedPostings(p)
	}
	s := &seriesSet{ix: ix, cr: cr, p: p, mint: mint, maxt: maxt, trim: true, once: IsReadOnce(ctx)}
	_, decoded := ix.(shardedIndex)
	s.overwrite = s.once && decoded
	if hints != nil {
		s.mint, s.maxt = hints.Start, hints.End
		s.noChunks = hints.Func == "series"
		s.trim = !hints.DisableTrimming
	}
	return s
}

func (s *seriesSet) Next() bool {
	s.cur = nil
	for s.p.Next() {
		if err := s.ix.Series(s.p.At(), &s.b, &s.chks); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				continue // postings may be stale
			}
			s.err = fmt.Errorf("get series %d: %w", s.p.At(), err)
			return false
		}
		// Chunks are closed intervals, as is the range asked for.
		var chks []chunks.Meta
		if s.once {
			chks = s.one.chks[:0]
		}
		for i, c := range s.chks {
			if c.MaxTime >= s.mint && c.MinTime <= s.maxt {
				if chks == nil {
					chks = make([]chunks.Meta, 0, len(s.chks)-i)
				}
				chks = append(chks, c)
			}
		}
		if len(chks) == 0 {
			continue
		}
		switch {
		case s.overwrite:
			s.b.Overwrite(&s.one.labels)
		case s.once:
			s.one.labels = s.b.Labels()
		}
		if s.once {
			s.one.set, s.one.chks = s, chks
			s.cur = &s.one
		} else {
			s.cur = &series{labels: s.b.Labels(), set: s, chks: chks}
		}
		return true
	}
	s.err = s.p.Err()
	return false
}

func (s *seriesSet) At() storage.Series                { return s.cur }
func (s *seriesSet) Err() error                        { return s.err }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

// series is a series of a seriesSet and its chunks in the set's range.
type series struct {
	labels labels.Labels
	set    *seriesSet
	chks   []chunks.Meta
}

func (s *series) Labels() labels.Labels { return s.labels }

func (s *series) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	if s.set.noChunks {
		return chunkenc.NewNopIterator()
	}
	si, ok := it.(*seriesIterator)
	if !ok {
		si = &seriesIterator{}
	}
	si.reset(s)
	return si
}

// seriesIterator reads a series' chunks one after the other and leaves
// out the samples outside the set's range.
type seriesIterator struct {
	s    *series
	i    int                // the chunk read, in s.chks
	cur  chunkenc.Iterator  // its iterator, nil before the first chunk and after the last
	last chunkenc.Iterator  // the last chunk's iterator, for the next to reuse
	vt   chunkenc.ValueType // of the sample read
	done bool               // after the last sample
	err  error

	mint, maxt int64 // of the samples read
}

func (it *seriesIterator) reset(s *series) {
	it.s, it.i, it.cur, it.vt, it.done, it.err = s, -1, nil, chunkenc.ValNone, false, nil
	it.mint, it.maxt = math.MinInt64, math.MaxInt64
	if s.set.trim {
		it.mint, it.maxt = s.set.mint, s.set.maxt
	}
}

// chunk moves to the next chunk, and says whether there is one.
func (it *seriesIterator) chunk() bool {
	if it.done {
		return false
	}
	if it.i++; it.i >= len(it.s.chks) {
		it.end()
		return false
	}
	c, iterable, err := it.s.set.cr.ChunkOrIterable(it.s.chks[it.i])
	if err != nil {
		it.err = fmt.Errorf("cannot populate chunk %d: %w", it.s.chks[it.i].Ref, err)
		it.end()
		return false
	}
	if c != nil {
		it.last = c.Iterator(it.last)
	} else {
		it.last = iterable.Iterator(it.last)
	}
	it.cur = it.last
	return true
}

// failed ends the iterator at its chunk's error, if there is one.
func (it *seriesIterator) failed() bool {
	if err := it.cur.Err(); err != nil {
		it.err = err
		it.end()
		return true
	}
	return false
}

func (it *seriesIterator) end() {
	it.done, it.cur, it.vt = true, nil, chunkenc.ValNone
}

// check ends the iterator at a sample after the range, or its chunk's error.
func (it *seriesIterator) check(vt chunkenc.ValueType) chunkenc.ValueType {
	if vt != chunkenc.ValNone && it.cur.AtT() > it.maxt {
		it.end()
		return chunkenc.ValNone
	}
	it.vt = vt
	return vt
}

func (it *seriesIterator) Next() chunkenc.ValueType {
	for {
		if it.cur != nil {
			vt := it.cur.Next()
			if vt != chunkenc.ValNone && it.cur.AtT() < it.mint {
				vt = it.cur.Seek(it.mint)
			}
			if vt != chunkenc.ValNone {
				return it.check(vt)
			}
			if it.failed() {
				return chunkenc.ValNone
			}
		}
		if !it.chunk() {
			return chunkenc.ValNone
		}
	}
}

func (it *seriesIterator) Seek(t int64) chunkenc.ValueType {
	if it.vt != chunkenc.ValNone && it.cur.AtT() >= t {
		return it.vt
	}
	t = max(t, it.mint)
	for {
		if it.cur != nil {
			if vt := it.cur.Seek(t); vt != chunkenc.ValNone {
				return it.check(vt)
			}
			if it.failed() {
				return chunkenc.ValNone
			}
		}
		// Chunks that end before t are not read.
		for !it.done && it.i+1 < len(it.s.chks) && it.s.chks[it.i+1].MaxTime < t {
			it.i++
		}
		if !it.chunk() {
			return chunkenc.ValNone
		}
	}
}

// Floats is FloatRuns': the rest of the chunk's float samples, up to the
// end of the range.
func (it *seriesIterator) Floats() ([]int64, []float64) {
	if c, ok := it.cur.(*iterator); ok && it.vt == chunkenc.ValFloat {
		return c.Floats(it.maxt)
	}
	return nil, nil
}

func (it *seriesIterator) At() (int64, float64) { return it.cur.At() }

func (it *seriesIterator) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	return it.cur.AtHistogram(h)
}

func (it *seriesIterator) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return it.cur.AtFloatHistogram(fh)
}

func (it *seriesIterator) AtT() int64 { return it.cur.AtT() }
func (it *seriesIterator) Err() error { return it.err }

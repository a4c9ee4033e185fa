package colblock

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/sightline-dev/sightline/storage/segment"
)

// EncColumnarHistogram is the chunk encoding of a columnar histogram chunk:
// one series' native histograms of integer counts, all of one bucket
// layout, as columns.
const EncColumnarHistogram chunkenc.Encoding = 0xC2

// Layout of a histogram chunk's bytes (docs/format/metrics-blocks.md):
//
//	flags byte (flagZstd, flagTimes, flagRegular) | uvarint samples | payload:
//	  layout: varint schema | 8 bytes zero threshold bits |
//	    spans (positive) | spans (negative) | uvarint n, n × 8 bytes custom values
//	  timestamp column | packed counter-reset hints | ints count |
//	  ints zero count | value column of sums | ints per bucket (positive, negative)
//	spans: uvarint n | n × (varint offset, uvarint length)
//
// "ints" is a column of integers (mode byte, then appendIntsBody): a bucket
// holds its absolute count, not Prometheus' delta from the bucket before, so
// that its column is a counter's. What Prometheus' iterator gives, this gives
// back: counts, sum bits, layout and each sample's counter-reset hint.

// HistogramChunk is a columnar histogram chunk. Like Chunk, it is built
// whole (EncodeHistograms) and read through its iterator.
type HistogramChunk struct {
	b []byte
	metaTimes
}

// NewHistogramChunk returns the histogram chunk whose bytes are b (not
// copied) and whose first and last samples are at mint and maxt: its
// meta's MinTime and MaxTime.
func NewHistogramChunk(b []byte, mint, maxt int64) *HistogramChunk {
	return &HistogramChunk{b: b, metaTimes: metaTimes{mint, maxt, true}}
}

var _ chunkenc.Chunk = (*HistogramChunk)(nil)

func (c *HistogramChunk) Bytes() []byte                        { return c.b }
func (c *HistogramChunk) Encoding() chunkenc.Encoding          { return EncColumnarHistogram }
func (c *HistogramChunk) Appender() (chunkenc.Appender, error) { return nil, errReadOnly }
func (c *HistogramChunk) Compact()                             {}
func (c *HistogramChunk) Reset(b []byte)                       { c.b, c.ok = b, false }
func (c *HistogramChunk) NumSamples() int                      { return (&Chunk{b: c.b}).NumSamples() }

// sameLayout reports whether a and b have the same buckets, so that they
// can share a chunk.
func sameLayout(a, b *histogram.Histogram) bool {
	return a.Schema == b.Schema && math.Float64bits(a.ZeroThreshold) == math.Float64bits(b.ZeroThreshold) &&
		slices.Equal(a.PositiveSpans, b.PositiveSpans) && slices.Equal(a.NegativeSpans, b.NegativeSpans) &&
		slices.EqualFunc(a.CustomValues, b.CustomValues, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

// EncodeHistograms appends to dst the chunk of the histograms hs at ts:
// timestamps strictly increasing, len(ts) == len(hs) > 0, all of one
// layout (sameLayout).
func EncodeHistograms(dst []byte, ts []int64, hs []*histogram.Histogram) []byte {
	if len(ts) != len(hs) || len(ts) == 0 {
		panic(fmt.Sprintf("BUG: colblock.EncodeHistograms of %d timestamps and %d histograms", len(ts), len(hs)))
	}
	e := encoderPool.Get().(*encoder)
	defer encoderPool.Put(e)
	h0 := hs[0]
	p := binary.AppendVarint(e.payload[:0], int64(h0.Schema))
	p = binary.BigEndian.AppendUint64(p, math.Float64bits(h0.ZeroThreshold))
	p = appendSpans(p, h0.PositiveSpans)
	p = appendSpans(p, h0.NegativeSpans)
	p = binary.AppendUvarint(p, uint64(len(h0.CustomValues)))
	for _, v := range h0.CustomValues {
		p = binary.BigEndian.AppendUint64(p, math.Float64bits(v))
	}
	flags, p := e.appendTimes(0, p, ts)
	ints := func(get func(h *histogram.Histogram) int64) {
		col := e.ints[:0]
		for _, h := range hs {
			col = append(col, get(h))
		}
		e.ints = col
		p = e.appendInts(p, col)
	}
	ints(func(h *histogram.Histogram) int64 { return int64(h.CounterResetHint) })
	ints(func(h *histogram.Histogram) int64 { return int64(h.Count) })
	ints(func(h *histogram.Histogram) int64 { return int64(h.ZeroCount) })
	sums := e.floats[:0]
	for _, h := range hs {
		sums = append(sums, h.Sum)
	}
	e.floats = sums
	p = e.appendValues(p, sums)
	// A bucket's absolute count is the sum of its delta and those before
	// it: abs holds each sample's running sum, one bucket on at a time.
	for _, neg := range []bool{false, true} {
		abs := e.ints[:0]
		for range hs {
			abs = append(abs, 0)
		}
		for b := range len(buckets(h0, neg)) {
			for i, h := range hs {
				abs[i] += buckets(h, neg)[b]
			}
			p = e.appendInts(p, abs)
		}
		e.ints = abs
	}
	e.payload = p
	return e.appendChunk(dst, flags, len(ts))
}

func buckets(h *histogram.Histogram, neg bool) []int64 {
	if neg {
		return h.NegativeBuckets
	}
	return h.PositiveBuckets
}

func appendSpans(b []byte, spans []histogram.Span) []byte {
	b = binary.AppendUvarint(b, uint64(len(spans)))
	for _, s := range spans {
		b = binary.AppendVarint(b, int64(s.Offset))
		b = binary.AppendUvarint(b, uint64(s.Length))
	}
	return b
}

func readSpans(r *segment.Dec) ([]histogram.Span, int) {
	n := r.Uvarint()
	if n > uint64(len(r.B)) {
		fail(r)
		return nil, 0
	}
	var spans []histogram.Span
	total := 0
	for range n {
		off, l := r.Varint(), r.Uvarint()
		if off < math.MinInt32 || off > math.MaxInt32 || l > maxChunkSamples {
			fail(r)
			return nil, 0
		}
		spans = append(spans, histogram.Span{Offset: int32(off), Length: uint32(l)})
		total += int(l)
	}
	return spans, total
}

// Iterator returns an iterator over the chunk's histograms. A malformed
// chunk gives an iterator whose Err says so.
func (c *HistogramChunk) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	hi, ok := it.(*histIterator)
	if !ok {
		hi = &histIterator{}
	}
	hi.reset(c)
	return hi
}

// histIterator decodes a histogram chunk whole when reset, into columns
// that, as a float chunk's, come from a pool and go back to it once the
// iterator has run out.
type histIterator struct {
	cursor
	cols *histColumns // nil when released
	err  error
}

// histColumns are a histogram chunk's decoded columns and the scratch
// space they are decoded with.
type histColumns struct {
	columns
	ts     []int64
	layout histogram.Histogram // schema, zero threshold, spans, custom values
	hints  []uint64
	count  []uint64
	zero   []uint64
	sums   []float64
	counts [][]uint64 // per bucket, positive then negative
	npos   int
}

var histColumnsPool = sync.Pool{New: func() any { return new(histColumns) }}

var _ chunkenc.Iterator = (*histIterator)(nil)

func (it *histIterator) reset(c *HistogramChunk) {
	it.i, it.err = -1, nil
	if it.cols == nil {
		it.cols = histColumnsPool.Get().(*histColumns)
	}
	if err := it.cols.decode(c); err != nil {
		it.release()
		it.err = fmt.Errorf("columnar histogram chunk: %w", err)
		return
	}
	it.ts = it.cols.ts
}

// release gives the columns back to the pool; the iterator stays at its
// end.
func (it *histIterator) release() {
	if it.cols != nil {
		histColumnsPool.Put(it.cols)
		it.cols = nil
	}
	it.ts = nil
}

func (c *histColumns) decode(chk *HistogramChunk) error {
	n, p, flags, err := c.payload(chk.b, flagZstd|flagTimes|flagRegular)
	if err != nil {
		return err
	}
	r := &segment.Dec{B: p}
	schema := r.Varint()
	if schema < math.MinInt32 || schema > math.MaxInt32 {
		return errCorrupt
	}
	c.layout = histogram.Histogram{Schema: int32(schema), ZeroThreshold: math.Float64frombits(u64(r))}
	var npos, nneg int
	c.layout.PositiveSpans, npos = readSpans(r)
	c.layout.NegativeSpans, nneg = readSpans(r)
	ncv := r.Uvarint()
	if ncv > uint64(len(r.B))/8 {
		return errCorrupt
	}
	for range ncv {
		c.layout.CustomValues = append(c.layout.CustomValues, math.Float64frombits(u64(r)))
	}
	if r.Err != nil || npos+nneg > maxChunkSamples {
		return errCorrupt
	}
	// A layout Prometheus would not have accepted (a schema out of range,
	// spans that do not add up, custom bounds out of order) makes its
	// histogram functions panic.
	check := c.layout
	check.PositiveBuckets, check.NegativeBuckets = make([]int64, npos), make([]int64, nneg)
	if check.Validate() != nil {
		return errCorrupt
	}
	c.ts = growInt64(c.ts, n)
	// Histogram chunks have always had packed columns with a base.
	if err := c.readTimes(r, c.ts, flags|flagBase, chk.metaTimes); err != nil {
		return err
	}
	ints := func(col *[]uint64) error {
		*col = growUint64(*col, n)
		return readInts(r, byte1(r), *col, false)
	}
	if err := ints(&c.hints); err != nil {
		return err
	}
	if err := ints(&c.count); err != nil {
		return err
	}
	if err := ints(&c.zero); err != nil {
		return err
	}
	c.sums = growFloat64(c.sums, n)
	if err := c.readValues(r, c.sums, false); err != nil {
		return err
	}
	for len(c.counts) < npos+nneg {
		c.counts = append(c.counts, nil)
	}
	// The columns of a chunk read before, with more buckets, stay for
	// reuse beyond the slice's end.
	c.counts, c.npos = c.counts[:npos+nneg], npos
	for b := range npos + nneg {
		if err := ints(&c.counts[b]); err != nil {
			return err
		}
	}
	for _, h := range c.hints {
		if h > uint64(histogram.GaugeType) {
			return errCorrupt
		}
	}
	if r.Err != nil || len(r.B) != 0 {
		return errCorrupt
	}
	return nil
}

func (it *histIterator) Next() chunkenc.ValueType { return it.done(it.next(chunkenc.ValHistogram)) }

func (it *histIterator) Seek(t int64) chunkenc.ValueType {
	return it.done(it.seek(t, chunkenc.ValHistogram))
}

// done releases the columns once vt says the iterator has run out.
func (it *histIterator) done(vt chunkenc.ValueType) chunkenc.ValueType {
	if vt == chunkenc.ValNone {
		it.release()
	}
	return vt
}

func (it *histIterator) At() (int64, float64) {
	panic("BUG: At on a columnar histogram chunk")
}

func (it *histIterator) AtT() int64 { return it.ts[it.i] }
func (it *histIterator) Err() error { return it.err }

// AtHistogram fills h, if not nil, or a new histogram: its spans and
// buckets are its own, as chunkenc.Iterator asks.
func (it *histIterator) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	if h == nil {
		h = &histogram.Histogram{}
	}
	i, c := it.i, it.cols
	h.CounterResetHint = histogram.CounterResetHint(c.hints[i])
	h.Schema, h.ZeroThreshold = c.layout.Schema, c.layout.ZeroThreshold
	h.ZeroCount, h.Count, h.Sum = c.zero[i], c.count[i], c.sums[i]
	h.PositiveSpans = append(h.PositiveSpans[:0], c.layout.PositiveSpans...)
	h.NegativeSpans = append(h.NegativeSpans[:0], c.layout.NegativeSpans...)
	h.CustomValues = append(h.CustomValues[:0], c.layout.CustomValues...)
	h.PositiveBuckets = deltas(h.PositiveBuckets[:0], c.counts[:c.npos], i)
	h.NegativeBuckets = deltas(h.NegativeBuckets[:0], c.counts[c.npos:], i)
	if len(h.PositiveSpans) == 0 {
		h.PositiveSpans, h.PositiveBuckets = nil, nil
	}
	if len(h.NegativeSpans) == 0 {
		h.NegativeSpans, h.NegativeBuckets = nil, nil
	}
	if len(h.CustomValues) == 0 {
		h.CustomValues = nil
	}
	return it.ts[i], h
}

// deltas appends sample i's buckets as Prometheus keeps them: each the
// delta from the one before.
func deltas(dst []int64, counts [][]uint64, i int) []int64 {
	prev := int64(0)
	for _, col := range counts {
		c := int64(col[i])
		dst = append(dst, c-prev)
		prev = c
	}
	return dst
}

func (it *histIterator) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	t, h := it.AtHistogram(nil)
	if fh == nil {
		return t, h.ToFloat(nil)
	}
	return t, h.ToFloat(fh)
}

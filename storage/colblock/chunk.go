package colblock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"sync"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/sightline-dev/sightline/storage/segment"
)

// EncColumnar is the chunk encoding of a columnar chunk. Prometheus uses
// 1–3 (XOR, histogram, float histogram); a high value leaves room for theirs.
const EncColumnar chunkenc.Encoding = 0xC1

// Layout of a chunk's bytes (docs/format/metrics-blocks.md):
//
//	flags byte | uvarint samples | timestamp column, value column (zstd if flagZstd)
const (
	flagZstd = 1 << 0
	// flagBase: packed columns have a base and a shift (appendPacked).
	// Chunks without it are of the first format, still read.
	flagBase = 1 << 1
	// flagTimes: the first and last timestamps are not in the chunk but
	// in its meta in the block's index (MinTime, MaxTime), which holds
	// them anyway; the column starts at the second timestamp. Chunks
	// without it (written before) hold the first.
	flagTimes = 1 << 2
	// flagRegular (with flagTimes): the timestamps are evenly spaced from
	// the first to the last, so the chunk has no timestamp column at all.
	// Prometheus aligns the timestamps of a regular scrape (its
	// -scrape.timestamp-tolerance), so this is the common case.
	flagRegular = 1 << 3

	// minZstdPayload is the shortest payload zstd is tried on.
	minZstdPayload = 256

	// Value column modes.
	valuesXOR      = 0 // packed: its bits XOR the previous value's
	valuesDelta    = 1 // decimal mantissas, packed deltas
	valuesDeltaDoD = 2 // decimal mantissas, packed deltas of deltas
	valuesBits     = 3 // packed deltas of the values' bits as integers
	valuesPlain    = 4 // decimal mantissas, packed as they are
)

var errReadOnly = errors.New("columnar chunks are written whole, not appended to")

// Chunk is a columnar chunk: one series' float samples as a column of
// timestamps and a column of values. It implements chunkenc.Chunk for reading;
// it is built whole by Encode.
type Chunk struct {
	b []byte
	metaTimes
}

var _ chunkenc.Chunk = (*Chunk)(nil)

// NewChunk returns the chunk whose bytes are b (not copied) and whose first
// and last samples are at mint and maxt: its meta's MinTime and MaxTime.
func NewChunk(b []byte, mint, maxt int64) *Chunk {
	return &Chunk{b: b, metaTimes: metaTimes{mint, maxt, true}}
}

// metaTimes are the times of a chunk's first and last samples, from its
// meta in the block's index (MinTime, MaxTime); ok says they are set. A
// chunk with flagTimes cannot be decoded without them.
type metaTimes struct {
	mint, maxt int64
	ok         bool
}

func (t *metaTimes) setTimes(mint, maxt int64) { *t = metaTimes{mint, maxt, true} }

func (c *Chunk) Bytes() []byte                        { return c.b }
func (c *Chunk) Encoding() chunkenc.Encoding          { return EncColumnar }
func (c *Chunk) Appender() (chunkenc.Appender, error) { return nil, errReadOnly }
func (c *Chunk) Compact()                             {}
func (c *Chunk) Reset(b []byte)                       { c.b, c.ok = b, false }

// NumSamples is read from the chunk's header; 0 for a malformed chunk.
func (c *Chunk) NumSamples() int {
	if len(c.b) < 2 {
		return 0
	}
	n, k := binary.Uvarint(c.b[1:])
	if k <= 0 || n > math.MaxInt32 {
		return 0
	}
	return int(n)
}

// Encode appends to dst the chunk of the samples ts, vs: timestamps
// strictly increasing, len(ts) == len(vs) > 0. Values are kept bit for bit:
// as decimal mantissas with a common exponent where they convert back
// exactly (VictoriaMetrics' approach, made lossless), else as XORed bits.
//
// Then zstd compresses the columns, if that makes them smaller: packed
// columns seldom shrink further, but XORed bits with a pattern (values that
// cycle, special values) do. It is tried only on columns of
// minZstdPayload bytes or more, at its fastest level, as it is most of a
// compaction's CPU otherwise.
func Encode(dst []byte, ts []int64, vs []float64) []byte {
	if len(ts) != len(vs) || len(ts) == 0 {
		panic(fmt.Sprintf("BUG: colblock.Encode of %d timestamps and %d values", len(ts), len(vs)))
	}
	e := encoderPool.Get().(*encoder)
	defer encoderPool.Put(e)
	flags, p := e.appendTimes(flagBase, e.payload[:0], ts)
	e.payload = e.appendValues(p, vs)
	return e.appendChunk(dst, flags, len(ts))
}

// appendTimes appends the timestamp column of a chunk whose meta holds
// its first and last timestamps: nothing if they are evenly spaced, else
// appendDeltas; and returns flags with the bits that say so.
func (e *encoder) appendTimes(flags byte, b []byte, ts []int64) (byte, []byte) {
	if regular(ts) {
		return flags | flagTimes | flagRegular, b
	}
	return flags | flagTimes, e.appendDeltas(b, ts)
}

// regular says whether the timestamps ts are evenly spaced.
func regular(ts []int64) bool {
	for i := 2; i < len(ts); i++ {
		if ts[i]-ts[i-1] != ts[1]-ts[0] {
			return false
		}
	}
	return true
}

// appendChunk appends to dst a chunk of n samples whose payload is
// e.payload: flags, n, and the payload, zstd-compressed if that makes it
// smaller.
func (e *encoder) appendChunk(dst []byte, flags byte, n int) []byte {
	p := e.payload
	if len(p) >= minZstdPayload {
		if e.zbuf = zstdFast.EncodeAll(p, e.zbuf[:0]); len(e.zbuf) < len(p) {
			flags, p = flags|flagZstd, e.zbuf
		}
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(n))
	return append(dst, p...)
}

// appendDeltas appends the timestamps after the first: varint (ts[1] −
// ts[0]), then the packed deltas of deltas.
func (e *encoder) appendDeltas(b []byte, ts []int64) []byte {
	if len(ts) == 1 {
		return b
	}
	d := ts[1] - ts[0]
	b = binary.AppendVarint(b, d)
	us := e.us[:0]
	for i := 2; i < len(ts); i++ {
		nd := ts[i] - ts[i-1]
		us = append(us, uint64(nd-d))
		d = nd
	}
	e.us = us
	return appendPacked(b, us)
}

// appendValues appends the value column in the smallest lossless mode.
func (e *encoder) appendValues(b []byte, vs []float64) []byte {
	exp, ok := e.toDecimal(vs)
	if !ok {
		// Floats that are not short decimals: their bits XORed with the
		// previous value's, or their bits' deltas as integers, which
		// suit a float that grows slowly (a counter of seconds) as a
		// carry changes many bits of the XOR but few of the difference.
		xs, ds := e.us[:0], e.us2[:0]
		prev := uint64(0)
		for _, v := range vs {
			bits := math.Float64bits(v)
			xs = append(xs, bits^prev)
			ds = append(ds, bits-prev)
			prev = bits
		}
		e.us, e.us2 = xs, ds
		xp, dp := planPacked(xs), planPacked(ds)
		if dp.bits < xp.bits {
			return appendPlanned(append(b, valuesBits), ds, dp)
		}
		return appendPlanned(append(b, valuesXOR), xs, xp)
	}
	mode, column, plan := e.planInts(e.mantissas)
	b = append(b, mode)
	b = binary.AppendVarint(b, int64(exp))
	b = binary.AppendUvarint(b, uint64(len(e.raw)))
	prev := 0
	for _, i := range e.raw {
		b = binary.AppendUvarint(b, uint64(i-prev))
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(vs[i]))
		prev = i
	}
	return appendIntsBody(b, mode, e.mantissas[0], column, plan)
}

// planInts chooses how to pack the integers ms (len > 0): as deltas,
// which suit gauges that wander, deltas of deltas, counters that grow
// steadily, or as they are, gauges that jump about within a range
// (in-flight requests). All are planned and the smallest chosen: its mode
// (valuesDelta, valuesDeltaDoD, valuesPlain), column and plan.
func (e *encoder) planInts(ms []int64) (byte, []uint64, packPlan) {
	// The three columns and their widths are made in one loop: planning
	// was a third to a half of encoding in compactions' profiles, and a
	// histogram has a column of integers per bucket.
	n := len(ms)
	ps := growUint64(e.us3, n)
	if n > 1 && allSame(ms) {
		// A column of one integer (a histogram's bucket that nothing
		// falls into) is plain, whose plan has no slots: the other
		// plans' deltas are zeros, which take a varint more.
		for i := range ps {
			ps[i] = uint64(ms[0])
		}
		e.us3 = ps
		var w widths
		w.start(ps[0])
		w.cnt[bits.Len64(zigzag(ms[0]))] = n // what adding ps would count
		return valuesPlain, ps, w.plan(ps)
	}
	return e.planEach(ms, ps)
}

// planEach is planInts planning all three columns, with ps of len(ms).
func (e *encoder) planEach(ms []int64, ps []uint64) (byte, []uint64, packPlan) {
	n := len(ms)
	ds, dds := growUint64(e.us, n-1), growUint64(e.us2, n-1)
	var wp, wd, wdd widths
	ps[0] = uint64(ms[0])
	wp.start(ps[0])
	wp.add(ps[0])
	if n > 1 {
		d := ms[1] - ms[0]
		ds[0], dds[0] = uint64(d), uint64(d)
		wd.start(ds[0])
		wdd.start(ds[0])
	}
	for i := 1; i < n; i++ {
		m := ms[i]
		ps[i] = uint64(m)
		wp.add(ps[i])
		d := m - ms[i-1]
		ds[i-1] = uint64(d)
		wd.add(ds[i-1])
		if i > 1 {
			dds[i-1] = uint64(d - (ms[i-1] - ms[i-2]))
		}
		wdd.add(dds[i-1])
	}
	e.us, e.us2, e.us3 = ds, dds, ps
	mode, column, plan := byte(valuesDelta), ds, wd.plan(ds)
	if p := wdd.plan(dds); p.bits < plan.bits {
		mode, column, plan = valuesDeltaDoD, dds, p
	}
	// A plain column has no m0: it is smaller for the same width.
	if p := wp.plan(ps); p.bits <= plan.bits+8*binary.PutVarint(e.vbuf[:], ms[0]) {
		mode, column, plan = valuesPlain, ps, p
	}
	return mode, column, plan
}

// allSame says whether every integer of ms is the first.
func allSame(ms []int64) bool {
	for _, m := range ms[1:] {
		if m != ms[0] {
			return false
		}
	}
	return true
}

// appendIntsBody appends what follows the mode of a column of integers
// planned by planInts, whose first is m0: varint m0 (unless plain), then
// the packed column.
func appendIntsBody(b []byte, mode byte, m0 int64, column []uint64, plan packPlan) []byte {
	if mode != valuesPlain {
		b = binary.AppendVarint(b, m0)
	}
	return appendPlanned(b, column, plan)
}

// appendInts appends a column of the integers ms (len > 0): mode byte,
// then its body.
func (e *encoder) appendInts(b []byte, ms []int64) []byte {
	mode, column, plan := e.planInts(ms)
	return appendIntsBody(append(b, mode), mode, ms[0], column, plan)
}

// Iterator returns an iterator over the chunk's samples. A malformed chunk
// gives an iterator whose Err says so.
func (c *Chunk) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	ci, ok := it.(*iterator)
	if !ok {
		ci = &iterator{}
	}
	ci.reset(c)
	return ci
}

// iterator iterates a columnar chunk. It decodes the chunk whole when it is
// reset: the columns are short (a chunk holds at most a few thousand
// samples) and decoding them in one loop is what makes them fast.
//
// The decoded columns come from a pool and go back to it once the iterator
// has run out: Prometheus' querier starts every series with a new chunk
// iterator, so a query over many series would otherwise allocate the
// columns of every chunk it reads (two thirds of what a day-long
// histogram_quantile allocated).
type iterator struct {
	cursor
	cols *floatColumns // nil when released
	vs   []float64
	err  error
}

var _ chunkenc.Iterator = (*iterator)(nil)

// floatColumns are a float chunk's decoded columns and the scratch space
// they are decoded with.
type floatColumns struct {
	columns
	ts []int64
	vs []float64
}

var floatColumnsPool = sync.Pool{New: func() any { return new(floatColumns) }}

func (it *iterator) reset(c *Chunk) {
	it.i, it.err = -1, nil
	if it.cols == nil {
		it.cols = floatColumnsPool.Get().(*floatColumns)
	}
	if err := it.cols.decode(c); err != nil {
		it.release()
		it.err = fmt.Errorf("columnar chunk: %w", err)
		return
	}
	it.ts, it.vs = it.cols.ts, it.cols.vs
}

// release gives the columns back to the pool; the iterator then stays at
// its end, as Prometheus' iterators do once Next has returned ValNone.
func (it *iterator) release() {
	if it.cols != nil {
		floatColumnsPool.Put(it.cols)
		it.cols = nil
	}
	it.ts, it.vs = nil, nil
}

var (
	errCorrupt = errors.New("corrupt chunk")
	errNoTimes = errors.New("chunk read without its meta's times")
)

func (c *floatColumns) decode(chk *Chunk) error {
	n, p, flags, err := c.payload(chk.b, flagZstd|flagBase|flagTimes|flagRegular)
	if err != nil {
		return err
	}
	plain := flags&flagBase == 0
	c.ts = growInt64(c.ts, n)
	c.vs = growFloat64(c.vs, n)
	r := &segment.Dec{B: p}
	if err := c.readTimes(r, c.ts, flags, chk.metaTimes); err != nil {
		return err
	}
	if err := c.readValues(r, c.vs, plain); err != nil {
		return err
	}
	if r.Err != nil || len(r.B) != 0 {
		return errCorrupt
	}
	return nil
}

// columns decodes columns, with scratch space.
type columns struct {
	us   []uint64
	zbuf []byte
}

// payload reads the header of a chunk b (of either kind) whose flags may
// have the bits allowed, and returns its samples, its flags and its
// payload, decompressed.
func (c *columns) payload(b []byte, allowed byte) (n int, p []byte, flags byte, err error) {
	if len(b) < 2 || b[0]&^allowed != 0 {
		return 0, nil, 0, errCorrupt
	}
	flags = b[0]
	u, k := binary.Uvarint(b[1:])
	if k <= 0 || u == 0 || u > maxChunkSamples {
		return 0, nil, 0, errCorrupt
	}
	p = b[1+k:]
	if flags&flagZstd != 0 {
		if c.zbuf, err = zstdDec.DecodeAll(p, c.zbuf[:0]); err != nil {
			return 0, nil, 0, err
		}
		p = c.zbuf
	}
	return int(u), p, flags, nil
}

// evenly sets the timestamps ts to be evenly spaced from mint to maxt, and
// says whether they can be: strictly increasing, whole milliseconds apart.
func evenly(ts []int64, mint, maxt int64) bool {
	n := len(ts)
	if n == 1 {
		ts[0] = mint
		return mint == maxt
	}
	span := uint64(maxt) - uint64(mint) // as uint64, it cannot overflow
	if maxt <= mint || span%uint64(n-1) != 0 {
		return false
	}
	d := int64(span / uint64(n-1))
	for i := range ts {
		ts[i] = mint + int64(i)*d
	}
	return true
}

// readTimes reads the timestamp column of a chunk with the flags given
// into ts: with flagTimes its first and last are times', else the column
// holds the first.
func (c *columns) readTimes(r *segment.Dec, ts []int64, flags byte, times metaTimes) error {
	switch n := len(ts); {
	case flags&flagTimes == 0:
		if flags&flagRegular != 0 {
			return errCorrupt
		}
		ts[0] = r.Varint()
		c.readDeltas(r, ts, flags&flagBase == 0)
	case !times.ok:
		return errNoTimes
	case flags&flagRegular != 0:
		if !evenly(ts, times.mint, times.maxt) {
			return errCorrupt
		}
	default:
		ts[0] = times.mint
		c.readDeltas(r, ts, false)
		if ts[n-1] != times.maxt {
			return errCorrupt
		}
	}
	return nil
}

// readDeltas reads the timestamps after the first, ts[0], which is set.
func (c *columns) readDeltas(r *segment.Dec, ts []int64, plain bool) {
	n := len(ts)
	t := ts[0]
	if n > 1 {
		d := r.Varint()
		t += d
		ts[1] = t
		us := growUint64(c.us, n-2)
		c.us = us
		readSigned(r, us, plain)
		for i := 2; i < n; i++ {
			d += int64(us[i-2])
			t += d
			ts[i] = t
		}
	}
}

// readValues reads a value column of len(vs) values.
func (c *columns) readValues(r *segment.Dec, vs []float64, plain bool) error {
	n := uint64(len(vs))
	switch mode := byte1(r); mode {
	case valuesXOR, valuesBits:
		if plain && mode == valuesBits {
			return errCorrupt
		}
		us := growUint64(c.us, int(n))
		c.us = us
		readPacked(r, us, plain)
		prev := uint64(0)
		for i := range vs {
			if mode == valuesXOR {
				prev ^= us[i]
			} else {
				prev += us[i]
			}
			vs[i] = math.Float64frombits(prev)
		}
	case valuesDelta, valuesDeltaDoD, valuesPlain:
		exp := r.Varint()
		if exp < math.MinInt16 || exp > math.MaxInt16 {
			return errCorrupt
		}
		raws := r.Uvarint()
		if raws > n {
			return errCorrupt
		}
		rawAt := r.B
		for range raws {
			r.Uvarint()
			u64(r)
		}
		us := growUint64(c.us, int(n))
		c.us = us
		if err := readInts(r, mode, us, plain); err != nil {
			return err
		}
		fromDecimals(vs, us, int(exp))
		rr := &segment.Dec{B: rawAt}
		i := uint64(0)
		for range raws {
			i += rr.Uvarint()
			bits := u64(rr)
			if rr.Err != nil || i >= n {
				return errCorrupt
			}
			vs[i] = math.Float64frombits(bits)
		}
	default:
		return errCorrupt
	}
	return nil
}

// readInts reads the body of a column of integers of the given mode into
// out, the integers as uint64s.
func readInts(r *segment.Dec, mode byte, out []uint64, plain bool) error {
	switch mode {
	case valuesPlain:
		if plain {
			return errCorrupt
		}
		readSigned(r, out, plain)
	case valuesDelta, valuesDeltaDoD:
		m := r.Varint()
		readSigned(r, out[1:], plain)
		var d int64
		for i := range out {
			if i > 0 {
				if mode == valuesDelta || i == 1 {
					d = int64(out[i])
				} else {
					d += int64(out[i])
				}
				m += d
			}
			out[i] = uint64(m)
		}
	default:
		return errCorrupt
	}
	return nil
}

// readSigned reads a packed column of signed integers, which the first
// format stored zigzagged.
func readSigned(r *segment.Dec, out []uint64, plain bool) {
	readPacked(r, out, plain)
	if plain {
		for i, u := range out {
			out[i] = uint64(unzigzag(u))
		}
	}
}

func growInt64(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	return s[:n]
}

func growUint64(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	return s[:n]
}

func growFloat64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

func (it *iterator) Next() chunkenc.ValueType { return it.done(it.next(chunkenc.ValFloat)) }

func (it *iterator) Seek(t int64) chunkenc.ValueType { return it.done(it.seek(t, chunkenc.ValFloat)) }

// done releases the columns once vt says the iterator has run out.
func (it *iterator) done(vt chunkenc.ValueType) chunkenc.ValueType {
	if vt == chunkenc.ValNone {
		it.release()
	}
	return vt
}

// cursor is an iterator's position in its decoded timestamps.
type cursor struct {
	ts []int64
	i  int // -1 before the first
}

func (c *cursor) next(vt chunkenc.ValueType) chunkenc.ValueType {
	if c.i+1 >= len(c.ts) {
		c.i = len(c.ts)
		return chunkenc.ValNone
	}
	c.i++
	return vt
}

func (c *cursor) seek(t int64, vt chunkenc.ValueType) chunkenc.ValueType {
	if c.i >= len(c.ts) {
		return chunkenc.ValNone
	}
	if c.i >= 0 && c.ts[c.i] >= t {
		return vt
	}
	from := max(c.i, 0)
	c.i = from + sort.Search(len(c.ts)-from, func(j int) bool { return c.ts[from+j] >= t })
	if c.i >= len(c.ts) {
		return chunkenc.ValNone
	}
	return vt
}

// Floats returns the samples after the one read last, up to maxt, and
// moves to the last of them. They are valid until the iterator is used
// again: once it has run out, its columns go back to the pool.
func (it *iterator) Floats(maxt int64) ([]int64, []float64) {
	from, to := it.i+1, len(it.ts)
	if from >= to {
		return nil, nil
	}
	if it.ts[to-1] > maxt {
		to = from + sort.Search(to-from, func(j int) bool { return it.ts[from+j] > maxt })
	}
	if to == from {
		return nil, nil
	}
	it.i = to - 1
	return it.ts[from:to], it.vs[from:to]
}

func (it *iterator) At() (int64, float64) { return it.ts[it.i], it.vs[it.i] }
func (it *iterator) AtT() int64           { return it.ts[it.i] }
func (it *iterator) Err() error           { return it.err }

func (it *iterator) AtHistogram(*histogram.Histogram) (int64, *histogram.Histogram) {
	panic("BUG: AtHistogram on a columnar float chunk")
}

func (it *iterator) AtFloatHistogram(*histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	panic("BUG: AtFloatHistogram on a columnar float chunk")
}

// byte1 and u64 read what segment.Dec has no method for; a short column
// fails d as its own reads do.
func byte1(d *segment.Dec) byte {
	if b := d.Fixed(1); b != nil {
		return b[0]
	}
	return 0xff
}

func u64(d *segment.Dec) uint64 {
	if b := d.Fixed(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// fail marks d corrupt, as its own reads do.
func fail(d *segment.Dec) { d.Err, d.B = errCorrupt, nil }

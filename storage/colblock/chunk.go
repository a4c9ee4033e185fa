package colblock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// EncColumnar is the chunk encoding of a columnar chunk. Prometheus uses
// 1–3 (XOR, histogram, float histogram); a high value leaves room for theirs.
const EncColumnar chunkenc.Encoding = 0xC1

// Layout of a chunk's bytes (docs/format/metrics-blocks.md):
//
//	flags byte | uvarint samples | payload, zstd-compressed if flagZstd
//
// payload: the timestamp column, then the value column.
const (
	flagZstd = 1 << 0

	// Value column modes.
	valuesXOR      = 0 // 8 bytes per value: its bits XOR the previous value's
	valuesDelta    = 1 // decimal mantissas, zigzag varint deltas
	valuesDeltaDoD = 2 // decimal mantissas, zigzag varint deltas of deltas
)

var (
	errReadOnly = errors.New("columnar chunks are written whole, not appended to")

	// One encoder and decoder for the process: both are safe for concurrent
	// use. No zstd checksum: the chunk record carries a CRC32 already.
	zstdEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderCRC(false), zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	zstdDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(64<<20))
)

// Chunk is a columnar chunk: one series' float samples as a column of
// timestamps and a column of values. It implements chunkenc.Chunk for reading;
// it is built whole by Encode.
type Chunk struct {
	b []byte
}

var _ chunkenc.Chunk = (*Chunk)(nil)

// NewChunk returns the chunk whose bytes are b (not copied).
func NewChunk(b []byte) *Chunk { return &Chunk{b: b} }

func (c *Chunk) Bytes() []byte                        { return c.b }
func (c *Chunk) Encoding() chunkenc.Encoding          { return EncColumnar }
func (c *Chunk) Appender() (chunkenc.Appender, error) { return nil, errReadOnly }
func (c *Chunk) Compact()                             {}
func (c *Chunk) Reset(b []byte)                       { c.b = b }

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
// as decimal mantissas with a common exponent where every value converts
// back exactly (VictoriaMetrics' approach, made lossless), else as XORed
// bits; zstd then compresses the whole if that is smaller.
func Encode(dst []byte, ts []int64, vs []float64) []byte {
	if len(ts) != len(vs) || len(ts) == 0 {
		panic(fmt.Sprintf("BUG: colblock.Encode of %d timestamps and %d values", len(ts), len(vs)))
	}
	e := encoderPool.Get().(*encoder)
	defer encoderPool.Put(e)
	p := e.payload[:0]
	p = appendTimestamps(p, ts)
	p = e.appendValues(p, vs)
	e.payload = p

	dst = append(dst, 0)
	flags := len(dst) - 1
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	e.zbuf = zstdEnc.EncodeAll(p, e.zbuf[:0])
	if len(e.zbuf) < len(p) {
		dst[flags] |= flagZstd
		return append(dst, e.zbuf...)
	}
	return append(dst, p...)
}

func appendTimestamps(b []byte, ts []int64) []byte {
	b = binary.AppendVarint(b, ts[0])
	if len(ts) == 1 {
		return b
	}
	d := ts[1] - ts[0]
	b = binary.AppendVarint(b, d)
	for i := 2; i < len(ts); i++ {
		nd := ts[i] - ts[i-1]
		b = binary.AppendVarint(b, nd-d)
		d = nd
	}
	return b
}

// appendValues appends the value column in the smallest lossless mode.
func (e *encoder) appendValues(b []byte, vs []float64) []byte {
	exp, ok := e.toDecimal(vs)
	if !ok {
		b = append(b, valuesXOR)
		prev := uint64(0)
		for _, v := range vs {
			bits := math.Float64bits(v)
			b = binary.BigEndian.AppendUint64(b, bits^prev)
			prev = bits
		}
		return b
	}
	ms := e.mantissas
	// Deltas suit gauges, deltas of deltas counters that grow steadily.
	var dSize, ddSize int
	for i := 1; i < len(ms); i++ {
		d := ms[i] - ms[i-1]
		dSize += varintLen(d)
		if i > 1 {
			ddSize += varintLen(d - (ms[i-1] - ms[i-2]))
		} else {
			ddSize += varintLen(d)
		}
	}
	mode := byte(valuesDelta)
	if ddSize < dSize {
		mode = valuesDeltaDoD
	}
	b = append(b, mode)
	b = binary.AppendVarint(b, int64(exp))
	b = binary.AppendVarint(b, ms[0])
	var d int64
	for i := 1; i < len(ms); i++ {
		nd := ms[i] - ms[i-1]
		if mode == valuesDelta || i == 1 {
			b = binary.AppendVarint(b, nd)
		} else {
			b = binary.AppendVarint(b, nd-d)
		}
		d = nd
	}
	return b
}

func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// Iterator returns an iterator over the chunk's samples. A malformed chunk
// gives an iterator whose Err says so.
func (c *Chunk) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	ci, ok := it.(*iterator)
	if !ok {
		ci = &iterator{}
	}
	ci.reset(c.b)
	return ci
}

// iterator iterates a columnar chunk. It decodes the chunk whole when it is
// reset: the columns are short (a chunk holds at most a few thousand
// samples) and decoding them in one loop is what makes them fast.
type iterator struct {
	ts   []int64
	vs   []float64
	i    int
	err  error
	zbuf []byte
}

var _ chunkenc.Iterator = (*iterator)(nil)

func (it *iterator) reset(b []byte) {
	it.ts, it.vs, it.i, it.err = it.ts[:0], it.vs[:0], -1, nil
	if err := it.decode(b); err != nil {
		it.ts, it.vs, it.err = it.ts[:0], it.vs[:0], fmt.Errorf("columnar chunk: %w", err)
	}
}

var errCorrupt = errors.New("corrupt chunk")

func (it *iterator) decode(b []byte) error {
	if len(b) < 2 {
		return errCorrupt
	}
	flags := b[0]
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || n == 0 || n > maxChunkSamples {
		return errCorrupt
	}
	p := b[1+k:]
	if flags&flagZstd != 0 {
		var err error
		if it.zbuf, err = zstdDec.DecodeAll(p, it.zbuf[:0]); err != nil {
			return err
		}
		p = it.zbuf
	}
	if int(n) > len(p) { // every timestamp takes a byte at least
		return errCorrupt
	}
	it.ts = growInt64(it.ts, int(n))
	it.vs = growFloat64(it.vs, int(n))
	r := reader{b: p}
	t := r.varint()
	it.ts[0] = t
	var d int64
	for i := 1; i < int(n); i++ {
		if i == 1 {
			d = r.varint()
		} else {
			d += r.varint()
		}
		t += d
		it.ts[i] = t
	}
	mode := r.byte()
	switch mode {
	case valuesXOR:
		prev := uint64(0)
		for i := range it.vs {
			prev ^= r.uint64()
			it.vs[i] = math.Float64frombits(prev)
		}
	case valuesDelta, valuesDeltaDoD:
		exp := r.varint()
		if exp < math.MinInt16 || exp > math.MaxInt16 {
			return errCorrupt
		}
		m := r.varint()
		var d int64
		for i := range it.vs {
			if i > 0 {
				if mode == valuesDelta || i == 1 {
					d = r.varint()
				} else {
					d += r.varint()
				}
				m += d
			}
			it.vs[i] = fromDecimal(m, int(exp))
		}
	default:
		return errCorrupt
	}
	if r.err || len(r.b) != 0 {
		return errCorrupt
	}
	return nil
}

func growInt64(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	return s[:n]
}

func growFloat64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

func (it *iterator) Next() chunkenc.ValueType {
	if it.i+1 >= len(it.ts) {
		it.i = len(it.ts)
		return chunkenc.ValNone
	}
	it.i++
	return chunkenc.ValFloat
}

func (it *iterator) Seek(t int64) chunkenc.ValueType {
	if it.i >= len(it.ts) {
		return chunkenc.ValNone
	}
	if it.i >= 0 && it.ts[it.i] >= t {
		return chunkenc.ValFloat
	}
	from := max(it.i, 0)
	it.i = from + sort.Search(len(it.ts)-from, func(j int) bool { return it.ts[from+j] >= t })
	if it.i >= len(it.ts) {
		return chunkenc.ValNone
	}
	return chunkenc.ValFloat
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

// reader reads varints from b; a short or malformed input sets err.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) varint() int64 {
	v, k := binary.Varint(r.b)
	if k <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.err = true
		return 0xff
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uint64() uint64 {
	if len(r.b) < 8 {
		r.err, r.b = true, nil
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

package colblock

import (
	"encoding/binary"
	"math"
	"sync"

	"github.com/klauspost/compress/huff0"

	"github.com/sightline-dev/sightline/storage/segment"
)

// flagEntropy, in a packed column's shift byte (a shift is at most 63),
// says that the slots' high bits are Huffman-coded:
//
//	... exceptions | uvarint length | huff0 1X stream of each slot's top
//	min(w, 8) bits (its table first) | the low w−8 bits of each slot, packed
//
// A counter's increments, or a gauge's deltas, are not spread evenly over
// their range but bunch around their mean: fixed-width slots spend bits on
// values that seldom occur, and Huffman codes over the top bits take them
// back (the low bits are close to random, so they stay packed).
const flagEntropy = 0x80

// minEntropySlots is the fewest slots Huffman codes are tried on: a table
// costs tens of bytes.
const minEntropySlots = 128

type huffScratch struct {
	s   huff0.Scratch
	buf []byte
}

var huffPool = sync.Pool{New: func() any { return &huffScratch{} }}

// appendEntropyCoded appends the slots of us (slot(u), w bits each) with
// their top bits Huffman-coded, if that is smaller than packing them; ok
// is false, and b as it was, otherwise.
func appendEntropyCoded(b []byte, us []uint64, w uint, slot func(uint64) uint64) (_ []byte, ok bool) {
	if len(us) < minEntropySlots || w < 2 {
		return b, false
	}
	lo := uint(0)
	if w > 8 {
		lo = w - 8
	}
	h := huffPool.Get().(*huffScratch)
	defer huffPool.Put(h)
	h.buf = h.buf[:0]
	var count [256]int
	for _, u := range us {
		hi := byte(slot(u) >> lo)
		h.buf = append(h.buf, hi)
		count[hi]++
	}
	// Coding is worth its time (a third of a compaction's, when tried on
	// every column) only if the top bits' entropy is well below their
	// width: estimated first.
	entropy := 0.0
	for _, c := range count {
		if c > 0 {
			entropy += float64(c) * math.Log2(float64(len(us))/float64(c))
		}
	}
	if entropy/8+48 > 0.97*float64(len(us)*int(w-lo))/8 {
		return b, false
	}
	h.s.Reuse = huff0.ReusePolicyNone // each column decodes alone
	out, _, err := huff0.Compress1X(h.buf, &h.s)
	if err != nil { // incompressible, or one symbol
		return b, false
	}
	packed := (len(us)*int(w) + 7) / 8
	if len(out)+binary.MaxVarintLen32+(len(us)*int(lo)+7)/8 >= packed {
		return b, false
	}
	b = binary.AppendUvarint(b, uint64(len(out)))
	b = append(b, out...)
	return appendSlots(b, us, lo, func(u uint64) uint64 { return slot(u) & (1<<lo - 1) }), true
}

// readEntropyCoded reads the slots of a column whose top bits are
// Huffman-coded into out.
func readEntropyCoded(r *segment.Dec, out []uint64, w uint) {
	lo := uint(0)
	if w > 8 {
		lo = w - 8
	}
	n := r.Uvarint()
	coded := r.Fixed(int(min(n, uint64(len(r.B)+1))))
	if r.Err != nil || coded == nil {
		fail(r)
		return
	}
	h := huffPool.Get().(*huffScratch)
	defer huffPool.Put(h)
	h.s.MaxDecodedSize = len(out)
	s, rest, err := huff0.ReadTable(coded, &h.s)
	if err != nil {
		fail(r)
		return
	}
	// The output's capacity is what Decompress1X decodes at most.
	if cap(h.buf) < len(out) {
		h.buf = make([]byte, 0, len(out))
	}
	// The result is kept apart so that h.buf keeps its capacity.
	hi, err := s.Decoder().Decompress1X(h.buf[:0:len(out)], rest)
	size := (len(out)*int(lo) + 7) / 8
	if err != nil || len(hi) != len(out) || len(r.B) < size {
		fail(r)
		return
	}
	unpack(r.B[:size], out, lo)
	r.B = r.B[size:]
	for i, top := range hi {
		out[i] |= uint64(top) << lo
	}
}

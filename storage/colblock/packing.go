package colblock

import (
	"encoding/binary"
	"math/bits"

	"github.com/sightline-dev/sightline/storage/segment"
)

// A packed column holds n integers as a base plus a w-bit slot shifted
// left, except the few that do not fit (patched frame of reference): those
// are listed apart and hold 0 in their slot.
//
//	byte w | byte shift | varint base | uvarint exceptions |
//	(uvarint index delta, varint value)… | ⌈n·w/8⌉ bytes, little-endian
//
// The base takes off what all integers share (a counter's increments are
// never near 0; a gauge's deltas are as often negative), the shift the low
// zero bits they share (memory grows by pages), and w is the width that
// makes the whole smallest, so one outlier (a gap in the timestamps, a
// counter reset) does not widen every slot. Bit 7 of the shift byte says
// the slots' top bits are Huffman-coded instead (flagEntropy).
//
// The integers are int64, held in uint64s as their bits (XORed floats are
// bits, deltas are signed). Chunks of the first format (flags bit 1 clear)
// hold packed columns without base and shift, of unsigned integers,
// zigzagged where signed: readPacked's plain.
func appendPacked(b []byte, us []uint64) []byte {
	return appendPlanned(b, us, planPacked(us))
}

// packPlan is the layout of a packed column: an encoder that has several
// ways of writing a column plans each and writes the smallest.
type packPlan struct {
	w, shift   uint
	base       int64
	exceptions int
	bits       int // the column's size, estimated (exceptions' varints)
}

// planPacked plans the packed column of us.
func planPacked(us []uint64) packPlan {
	var w widths
	if len(us) > 0 {
		w.start(us[0])
	}
	for _, u := range us {
		w.add(u)
	}
	return w.plan(us)
}

// widths is what planning a column learns of its integers in one pass:
// how many take k bits zigzagged, and their minimum and the bits in which
// they differ from the first, which are the base's and the shift's when
// every integer fits the best width. An encoder that plans several
// columns of a chunk gathers their widths in one loop over the chunk.
type widths struct {
	cnt    [66]int
	first  uint64
	min    int64
	differ uint64
}

// start readies w for a column whose first integer is first.
func (w *widths) start(first uint64) { *w = widths{first: first, min: int64(first)} }

// add counts the integer u. Every integer of the column is added, the
// first too, after start.
func (w *widths) add(u uint64) {
	w.cnt[bits.Len64(zigzag(int64(u)))]++
	w.min = min(w.min, int64(u))
	w.differ |= u ^ w.first
}

// plan plans the packed column of us, whose widths w holds.
func (w *widths) plan(us []uint64) packPlan {
	// The base and the shift are taken from the integers that fit the
	// best width of a zigzag encoding, so not from the outliers. They all
	// share their low k bits with the base iff they share them with any
	// one of them, the first: the shift is the XORs' trailing zeros.
	w0, _ := bestWidth(&w.cnt, len(us))
	p := packPlan{base: w.min}
	x, fit := w.differ, allFit(&w.cnt, w0)
	if !fit {
		p.base, x = fitting(us, w0) // the outliers left out
	}
	if x != 0 {
		p.shift = uint(bits.TrailingZeros64(x))
	}
	cnt := [66]int{}
	if fit && x == 0 {
		// One integer throughout, the base: every slot is empty. A
		// histogram's buckets that nothing falls into are such columns.
		cnt[0] = len(us)
	} else {
		for _, u := range us {
			cnt[slotLen(u, p.base, p.shift)]++
		}
	}
	p.w, p.bits = bestWidth(&cnt, len(us))
	for _, c := range cnt[p.w+1:] {
		p.exceptions += c
	}
	var buf [binary.MaxVarintLen64]byte
	p.bits += 8 * (2 + binary.PutVarint(buf[:], p.base) + binary.PutUvarint(buf[:], uint64(p.exceptions)))
	return p
}

// fitting returns the least of the integers us whose zigzag fits w bits,
// and the bits in which they differ from the first of them: a second pass,
// for a column with outliers.
func fitting(us []uint64, w uint) (least int64, differ uint64) {
	var first uint64
	found := false
	for _, u := range us {
		if bits.Len64(zigzag(int64(u))) > int(w) {
			continue
		}
		if !found {
			first, least, found = u, int64(u), true
		}
		least = min(least, int64(u))
		differ |= u ^ first
	}
	return least, differ
}

// allFit says whether no integer counted in cnt is wider than w.
func allFit(cnt *[66]int, w uint) bool {
	for _, c := range cnt[w+1:] {
		if c != 0 {
			return false
		}
	}
	return true
}

// appendPlanned appends the packed column of us laid out as p.
func appendPlanned(b []byte, us []uint64, p packPlan) []byte {
	w, shift, base := p.w, p.shift, p.base
	head := len(b) + 1 // the shift byte, which flags entropy coding
	b = append(b, byte(w), byte(shift))
	b = binary.AppendVarint(b, base)
	b = binary.AppendUvarint(b, uint64(p.exceptions))
	if p.exceptions > 0 {
		prev := 0
		for i, u := range us {
			if slotLen(u, base, shift) > w {
				b = binary.AppendUvarint(b, uint64(i-prev))
				b = binary.AppendVarint(b, int64(u))
				prev = i
			}
		}
	}
	if w == 0 {
		return b
	}
	slot := func(u uint64) uint64 {
		if p.exceptions > 0 && slotLen(u, base, shift) > w {
			return 0
		}
		return (u - uint64(base)) >> shift
	}
	if b, ok := appendEntropyCoded(b, us, w, slot); ok {
		b[head] |= flagEntropy
		return b
	}
	return appendSlots(b, us, w, slot)
}

// appendSlots appends slot(u) of every u in w bits each, little-endian.
func appendSlots(b []byte, us []uint64, w uint, slot func(uint64) uint64) []byte {
	if w == 0 {
		return b
	}
	var acc uint64
	var nacc uint
	for _, u := range us {
		u = slot(u)
		acc |= u << nacc
		if nacc+w >= 64 {
			b = binary.LittleEndian.AppendUint64(b, acc)
			acc = u >> (64 - nacc) // 0 when nacc is 0: Go shifts by 64 give 0
			nacc = nacc + w - 64
		} else {
			nacc += w
		}
	}
	for ; nacc > 0; nacc -= min(nacc, 8) {
		b = append(b, byte(acc))
		acc >>= 8
	}
	return b
}

// slotLen is the bits the slot of integer u takes, or 65 if it cannot
// have one: it is below the base or differs from it in the shifted bits.
func slotLen(u uint64, base int64, shift uint) uint {
	if int64(u) < base {
		return 65
	}
	d := u - uint64(base)
	if d&(1<<shift-1) != 0 {
		return 65
	}
	return uint(bits.Len64(d >> shift))
}

// bestWidth returns the slot width that makes a column smallest, and the
// column's bits (without its header), given
// cnt[k], how many integers take k bits (65: none fits a slot). From the
// widest down, exc is what the integers wider than w cost as exceptions:
// an index delta (a byte, mostly) and a varint each.
func bestWidth(cnt *[66]int, n int) (uint, int) {
	exc := cnt[65] * 8 * 10
	best, bestCost := 64, n*64+exc
	for w := 63; w >= 0; w-- {
		exc += cnt[w+1] * 8 * (1 + (w+1+6)/7)
		if cost := n*w + exc; cost <= bestCost {
			best, bestCost = w, cost
		}
	}
	return uint(best), bestCost
}

// readPacked reads a packed column of len(out) integers into out. plain
// reads the first format's: no base and shift, exceptions unsigned, and
// the integers as they were stored (zigzagged where signed).
func readPacked(r *segment.Dec, out []uint64, plain bool) {
	w := uint(byte1(r))
	var shift uint
	var base int64
	entropy := false
	if !plain {
		shift = uint(byte1(r))
		entropy, shift = shift&flagEntropy != 0, shift&^flagEntropy
		base = r.Varint()
	}
	exceptions := r.Uvarint()
	if r.Err != nil || w > 64 || shift > 63 || exceptions > uint64(len(out)) {
		fail(r)
		return
	}
	// The exceptions come first in the column but patch the slots read
	// after them: remember where they are.
	excAt := r.B
	for range exceptions {
		r.Uvarint()
		r.Uvarint()
	}
	if entropy {
		readEntropyCoded(r, out, w)
		if r.Err != nil {
			return
		}
	} else {
		size := (len(out)*int(w) + 7) / 8
		if r.Err != nil || len(r.B) < size {
			fail(r)
			return
		}
		unpack(r.B[:size], out, w)
		r.B = r.B[size:]
	}
	if base != 0 || shift != 0 {
		for i, u := range out {
			out[i] = uint64(base) + u<<shift
		}
	}
	er := segment.Dec{B: excAt}
	i := uint64(0)
	for range exceptions {
		i += er.Uvarint()
		var v uint64
		if plain {
			v = er.Uvarint()
		} else {
			v = uint64(er.Varint())
		}
		if i >= uint64(len(out)) {
			fail(r)
			return
		}
		out[i] = v
	}
}

// unpack reads len(out) integers of w bits from b, which holds exactly
// ⌈len(out)·w/8⌉ bytes.
func unpack(b []byte, out []uint64, w uint) {
	if w == 0 {
		clear(out)
		return
	}
	mask := uint64(1)<<w - 1 // all ones when w is 64
	var acc uint64
	var nacc uint
	pos := 0
	for i := range out {
		if nacc >= w {
			out[i] = acc & mask
			acc >>= w
			nacc -= w
			continue
		}
		var next uint64
		k := min(8, len(b)-pos)
		if k == 8 {
			next = binary.LittleEndian.Uint64(b[pos:])
		} else {
			for j := range k {
				next |= uint64(b[pos+j]) << (8 * j)
			}
		}
		pos += k
		out[i] = (acc | next<<nacc) & mask
		used := w - nacc
		acc = next >> used
		nacc = uint(8*k) - used
	}
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

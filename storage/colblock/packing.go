package colblock

import (
	"encoding/binary"
	"math/bits"

	"github.com/sightline-dev/sightline/storage/segment"
)

// A packed column holds n unsigned integers in w bits each, except the few
// that need more (patched frame of reference): those are listed apart and
// hold 0 in their slot.
//
//	byte w | uvarint exceptions | (uvarint index delta, uvarint value)… | ⌈n·w/8⌉ bytes, little-endian
//
// w is the width that makes the whole smallest, so one outlier (a gap in
// the timestamps, a counter reset) does not widen every slot.
func appendPacked(b []byte, us []uint64) []byte {
	var cnt [65]int
	for _, u := range us {
		cnt[bits.Len64(u)]++
	}
	// From the widest down, exc is what the integers wider than w cost
	// as exceptions: an index delta (a byte, mostly) and a varint each.
	best, bestCost := 64, len(us)*64
	exc := 0
	for w := 63; w >= 0; w-- {
		exc += cnt[w+1] * 8 * (1 + (w+1+6)/7)
		if cost := len(us)*w + exc; cost <= bestCost {
			best, bestCost = w, cost
		}
	}
	w := uint(best)
	b = append(b, byte(w))
	exceptions := 0
	for _, u := range us {
		if w < 64 && u>>w != 0 {
			exceptions++
		}
	}
	b = binary.AppendUvarint(b, uint64(exceptions))
	prev := 0
	for i, u := range us {
		if w < 64 && u>>w != 0 {
			b = binary.AppendUvarint(b, uint64(i-prev))
			b = binary.AppendUvarint(b, u)
			prev = i
		}
	}
	if w == 0 {
		return b
	}
	var acc uint64
	var nacc uint
	for _, u := range us {
		if w < 64 && u>>w != 0 {
			u = 0
		}
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

// readPacked reads a packed column of len(out) integers into out.
func readPacked(r *segment.Dec, out []uint64) {
	w := uint(byte1(r))
	exceptions := r.Uvarint()
	if r.Err != nil || w > 64 || exceptions > uint64(len(out)) {
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
	size := (len(out)*int(w) + 7) / 8
	if r.Err != nil || len(r.B) < size {
		fail(r)
		return
	}
	unpack(r.B[:size], out, w)
	r.B = r.B[size:]
	er := segment.Dec{B: excAt}
	i := uint64(0)
	for range exceptions {
		i += er.Uvarint()
		v := er.Uvarint()
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

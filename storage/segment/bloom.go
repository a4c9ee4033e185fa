package segment

import (
	"encoding/binary"
	"fmt"
)

// bloom is a Bloom filter with 10 bits per key, probed by double hashing
// from two 64-bit hashes of the key.
type bloom []byte

// bloomK probes per key; with 10 bits per key that is about a 1% false
// positive rate.
const bloomK = 7

func newBloom(n int) bloom {
	bits := max(n*10, 64)
	return make(bloom, (bits+7)/8)
}

func (b bloom) positions(h1, h2 uint64, f func(bit uint64) bool) {
	h2 |= 1
	m := uint64(len(b)) * 8
	for i := uint64(0); i < bloomK; i++ {
		if !f((h1 + i*h2) % m) {
			return
		}
	}
}

func (b bloom) add(h1, h2 uint64) {
	b.positions(h1, h2, func(bit uint64) bool { b[bit/8] |= 1 << (bit % 8); return true })
}

func (b bloom) has(h1, h2 uint64) bool {
	if len(b) == 0 {
		return false
	}
	ok := true
	b.positions(h1, h2, func(bit uint64) bool {
		ok = b[bit/8]&(1<<(bit%8)) != 0
		return ok
	})
	return ok
}

// Trace IDs are random (W3C), so their own bits serve as the hashes.
func traceHashes(id [16]byte) (uint64, uint64) {
	return binary.LittleEndian.Uint64(id[:8]), binary.LittleEndian.Uint64(id[8:])
}

// a second, independent-enough hash for double hashing of a well-mixed
// 64-bit hash.
func tokenHashes(h uint64) (uint64, uint64) { return h, h>>32 | h<<32 }

// encodeFilters lays out the block filters file: n uint32, then n+1
// uint32 byte offsets, then the filters.
func encodeFilters(filters []bloom) []byte {
	n := len(filters)
	out := binary.LittleEndian.AppendUint32(nil, uint32(n))
	off := uint32(0)
	for _, f := range filters {
		out = binary.LittleEndian.AppendUint32(out, off)
		off += uint32(len(f))
	}
	out = binary.LittleEndian.AppendUint32(out, off)
	for _, f := range filters {
		out = append(out, f...)
	}
	return out
}

// checkFilters validates the block filters file once, so lookups can
// slice it without checks.
func checkFilters(b []byte, blocks int) error {
	if len(b) == 0 {
		return nil
	}
	if len(b) < 4 || int(binary.LittleEndian.Uint32(b)) != blocks || len(b) < 4+4*(blocks+1) {
		return fmt.Errorf("%w: block filters of %d bytes for %d blocks", ErrCorrupt, len(b), blocks)
	}
	head := 4 + 4*(blocks+1)
	prev := uint32(0)
	for i := 0; i <= blocks; i++ {
		off := binary.LittleEndian.Uint32(b[4+4*i:])
		if off < prev || head+int(off) > len(b) {
			return fmt.Errorf("%w: block filter %d out of bounds", ErrCorrupt, i)
		}
		prev = off
	}
	return nil
}

// BlockFilter tells whether a block may hold tokens. A segment written
// without filters answers yes to everything.
type BlockFilter struct{ b bloom }

// MayContain reports whether the block may hold the token of hash h (a
// 64-bit hash of the store's choosing, as given to Writer.AddBlock). False is certain; true may be a false positive (~1%).
func (f BlockFilter) MayContain(h uint64) bool {
	if f.b == nil {
		return true
	}
	return f.b.has(tokenHashes(h))
}

// BlockFilter returns block b's token filter.
func (r *Reader) BlockFilter(b int) BlockFilter {
	if len(r.filters) == 0 || b < 0 || b >= len(r.Blocks) {
		return BlockFilter{}
	}
	head := 4 + 4*(len(r.Blocks)+1)
	from := binary.LittleEndian.Uint32(r.filters[4+4*b:])
	to := binary.LittleEndian.Uint32(r.filters[4+4*b+4:])
	return BlockFilter{b: bloom(r.filters[head+int(from) : head+int(to)])}
}

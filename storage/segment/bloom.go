package segment

import "encoding/binary"

// bloom is a Bloom filter over trace IDs. Trace IDs are random (W3C), so
// their own bits serve as the k hash values: no hashing is needed.
type bloom []byte

// bloomK probes per key; with 10 bits per key that is about a 1% false
// positive rate.
const bloomK = 7

func newBloom(n int) bloom {
	bits := max(n*10, 64)
	return make(bloom, (bits+7)/8)
}

func (b bloom) positions(id [16]byte, f func(bit uint64)) {
	h1 := binary.LittleEndian.Uint64(id[:8])
	h2 := binary.LittleEndian.Uint64(id[8:]) | 1
	m := uint64(len(b)) * 8
	for i := uint64(0); i < bloomK; i++ {
		f((h1 + i*h2) % m)
	}
}

func (b bloom) add(id [16]byte) {
	b.positions(id, func(bit uint64) { b[bit/8] |= 1 << (bit % 8) })
}

func (b bloom) mayContain(id [16]byte) bool {
	if len(b) == 0 {
		return false
	}
	ok := true
	b.positions(id, func(bit uint64) {
		if b[bit/8]&(1<<(bit%8)) == 0 {
			ok = false
		}
	})
	return ok
}

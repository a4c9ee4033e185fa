package segment

import (
	"encoding/binary"
	"errors"
	"sync"
)

// ErrCorrupt is returned when a column cannot be decoded.
var ErrCorrupt = errors.New("segment: corrupt column")

// Enc appends values to a column.
type Enc struct{ B []byte }

// Uvarint appends an unsigned varint.
func (e *Enc) Uvarint(v uint64) { e.B = binary.AppendUvarint(e.B, v) }

// Varint appends a signed varint (zig-zag).
func (e *Enc) Varint(v int64) { e.B = binary.AppendVarint(e.B, v) }

// Bytes appends a length-prefixed byte string.
func (e *Enc) Bytes(b []byte) {
	e.Uvarint(uint64(len(b)))
	e.B = append(e.B, b...)
}

// String appends a length-prefixed string.
func (e *Enc) String(s string) {
	e.Uvarint(uint64(len(s)))
	e.B = append(e.B, s...)
}

// Fixed appends raw bytes of a known size.
func (e *Enc) Fixed(b []byte) { e.B = append(e.B, b...) }

// Dec reads values from a column; the first error sticks and later reads
// return zero values.
type Dec struct {
	B   []byte
	Err error
}

func (d *Dec) fail() {
	if d.Err == nil {
		d.Err = ErrCorrupt
	}
	d.B = nil
}

// Uvarint reads an unsigned varint.
func (d *Dec) Uvarint() uint64 {
	v, n := binary.Uvarint(d.B)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Varint reads a signed varint.
func (d *Dec) Varint() int64 {
	v, n := binary.Varint(d.B)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Bytes reads a length-prefixed byte string; it aliases the column.
func (d *Dec) Bytes() []byte {
	n := d.Uvarint()
	if d.Err != nil || n > uint64(len(d.B)) {
		d.fail()
		return nil
	}
	b := d.B[:n:n]
	d.B = d.B[n:]
	return b
}

// String reads a length-prefixed string.
func (d *Dec) String() string { return string(d.Bytes()) }

// Fixed reads n raw bytes; it aliases the column.
func (d *Dec) Fixed(n int) []byte {
	if d.Err != nil || n > len(d.B) {
		d.fail()
		return nil
	}
	b := d.B[:n:n]
	d.B = d.B[n:]
	return b
}

// encPool keeps request-sized encoders: a store encodes each request's
// rows for its WAL record, and growing a fresh buffer to a request's size
// every time was a tenth of the append path's CPU.
var encPool = sync.Pool{New: func() any { return new(Enc) }}

// BorrowEnc returns an empty encoder, with a buffer used before. Give it
// back with ReturnEnc once its bytes are no longer needed.
func BorrowEnc() *Enc {
	e := encPool.Get().(*Enc)
	e.B = e.B[:0]
	return e
}

// ReturnEnc gives back an encoder from BorrowEnc; very large buffers are
// let go rather than kept.
func ReturnEnc(e *Enc) {
	if cap(e.B) <= 16<<20 {
		encPool.Put(e)
	}
}

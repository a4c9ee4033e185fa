package colblock

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/encoding"
	"github.com/prometheus/prometheus/tsdb/index"
)

// indexWriter writes a block's index in Prometheus' index format 2, the
// bytes that index.Writer writes with the EncodePostings encoder, so that
// Prometheus' index reader reads it.
//
// Prometheus' writer allocates about 23 MB for every block it writes: three
// 4 MiB file buffers, two 4 MiB encode buffers and a map sized for 65,536
// symbols. On the week-long benchmark that was a third of all the bytes the
// ingest allocated, and about 30 MB of the peak heap while a compaction
// runs. This writer takes smaller buffers from a pool, writes one file, and
// keeps the postings in memory (4 bytes a label of a series, and an entry a
// label pair) rather than reading the series back from the file.
type indexWriter struct {
	*indexBufs
	f    *os.File
	pos  uint64 // bytes written to f through w
	toc  index.TOC
	last labels.Labels // the last series added, to check their order
	// scratch holds what is written from the stack: a local array passed
	// to the bufio.Writer escapes, and was allocated for every series.
	scratch [binary.MaxVarintLen64]byte
}

var zeros [seriesAlign]byte

// indexBufs are what an indexWriter keeps between blocks.
type indexBufs struct {
	w       *bufio.Writer
	syms    []string // the symbols, in order: a symbol's reference is its index
	symbols map[string]uint32
	all     []uint32 // every series' reference
	// postings maps a label's (name, value) symbol references to its
	// series' references, in lists, whose slices are kept for the next
	// block: a slice allocated for every label pair of every block was a
	// third of the compactions' allocations.
	postings map[uint64]int
	lists    [][]uint32
	keys     []uint64
	content  encoding.Encbuf // a series' or a postings list's bytes
	table    []byte          // the postings offset table's entries
}

var indexBufPool = sync.Pool{New: func() any {
	return &indexBufs{w: bufio.NewWriterSize(nil, 256<<10), symbols: map[string]uint32{}, postings: map[uint64]int{}}
}}

const (
	indexFormat = 2  // the version of Prometheus' index format written
	seriesAlign = 16 // format 2 references a series by its offset / 16
)

// newIndexWriter creates the index file fn.
func newIndexWriter(fn string) (*indexWriter, error) {
	f, err := os.OpenFile(fn, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o666)
	if err != nil {
		return nil, err
	}
	w := &indexWriter{indexBufs: indexBufPool.Get().(*indexBufs), f: f}
	w.w.Reset(f)
	hdr := binary.BigEndian.AppendUint32(w.scratch[:0], index.MagicIndex)
	w.write(append(hdr, indexFormat))
	return w, nil
}

func (w *indexWriter) write(bs ...[]byte) {
	for _, b := range bs {
		n, _ := w.w.Write(b) // the error stays in w.w; every later write and Flush return it
		w.pos += uint64(n)
	}
}

// pad writes zeros up to a multiple of align.
func (w *indexWriter) pad(align uint64) {
	if p := w.pos % align; p != 0 {
		w.write(zeros[:align-p])
	}
}

// AddSymbols adds the symbols of the series to come, which it (an
// iterator over sorted strings) yields in order, and writes the symbol
// table.
func (w *indexWriter) AddSymbols(it index.StringIter) error {
	for it.Next() {
		s := it.At()
		if n := len(w.syms); n > 0 && s <= w.syms[n-1] {
			return fmt.Errorf("symbol %q out-of-order", s)
		}
		w.symbols[s] = uint32(len(w.syms))
		w.syms = append(w.syms, s)
	}
	if err := it.Err(); err != nil {
		return err
	}
	// len | count | symbols | CRC of count and symbols.
	w.toc.Symbols = w.pos
	e := &w.content
	e.Reset()
	e.PutBE32int(len(w.syms))
	for _, s := range w.syms {
		e.PutUvarintStr(s)
	}
	if e.Len() > math.MaxUint32 {
		return fmt.Errorf("symbol table size exceeds %d bytes: %d", uint32(math.MaxUint32), e.Len())
	}
	b := &w.scratch
	binary.BigEndian.PutUint32(b[:4], uint32(e.Len()))
	w.write(b[:4], e.Get())
	w.writeCRC(e.Get())
	w.toc.Series = w.pos
	return nil
}

// AddSeries adds a series, after AddSymbols; series come in the order of
// their labels.
func (w *indexWriter) AddSeries(lset labels.Labels, chks ...chunks.Meta) error {
	if len(w.all) > 0 && labels.Compare(lset, w.last) <= 0 {
		return fmt.Errorf("out-of-order series added with label set %q, last label set %q", lset, w.last)
	}
	// Series are aligned, so that a 4-byte reference addresses 64 GiB.
	w.pad(seriesAlign)
	if w.pos/seriesAlign > math.MaxUint32 {
		return fmt.Errorf("index exceeds the %d GiB that series references address", 16*4)
	}
	ref := uint32(w.pos / seriesAlign)
	e := &w.content
	e.Reset()
	e.PutUvarint(lset.Len())
	var err error
	lset.Range(func(l labels.Label) {
		name, ok := w.symbols[l.Name]
		value, vok := w.symbols[l.Value]
		if !ok || !vok {
			err = errors.Join(err, fmt.Errorf("symbol entry for %q=%q does not exist", l.Name, l.Value))
			return
		}
		e.PutUvarint32(name)
		e.PutUvarint32(value)
		w.addPosting(uint64(name)<<32|uint64(value), ref)
	})
	if err != nil {
		return err
	}
	e.PutUvarint(len(chks))
	var t0, ref0 int64
	for i, c := range chks {
		if c.MaxTime < c.MinTime || i > 0 && (c.MinTime <= t0 || int64(c.Ref) < ref0) {
			return fmt.Errorf("chunk %d of %s out of order: [%d, %d] after [..., %d] at reference %d", i, lset, c.MinTime, c.MaxTime, t0, ref0)
		}
		if i == 0 {
			e.PutVarint64(c.MinTime)
			e.PutUvarint64(uint64(c.MaxTime - c.MinTime))
			e.PutUvarint64(uint64(c.Ref))
		} else {
			e.PutUvarint64(uint64(c.MinTime - t0))
			e.PutUvarint64(uint64(c.MaxTime - c.MinTime))
			e.PutVarint64(int64(c.Ref) - ref0)
		}
		t0, ref0 = c.MaxTime, int64(c.Ref)
	}
	b := &w.scratch
	w.write(b[:binary.PutUvarint(b[:], uint64(e.Len()))], e.Get())
	w.writeCRC(e.Get())
	w.all = append(w.all, ref)
	w.last.CopyFrom(lset)
	return nil
}

func (w *indexWriter) addPosting(key uint64, ref uint32) {
	i, ok := w.postings[key]
	if !ok {
		i = len(w.lists)
		w.postings[key] = i
		if i < cap(w.lists) {
			w.lists = w.lists[:i+1]
			w.lists[i] = w.lists[i][:0]
		} else {
			w.lists = append(w.lists, nil)
		}
	}
	w.lists[i] = append(w.lists[i], ref)
}

func (w *indexWriter) writeCRC(b []byte) { w.writeSum(crc32.Checksum(b, castagnoli)) }

func (w *indexWriter) writeSum(crc uint32) {
	w.write(binary.BigEndian.AppendUint32(w.scratch[:0], crc))
}

// Finish writes the postings, their offset table and the table of
// contents, and syncs the file.
func (w *indexWriter) Finish() error {
	if w.toc.Series == 0 { // no symbols were added
		if err := w.AddSymbols(index.NewStringListIter(nil)); err != nil {
			return err
		}
	}
	// Format 2 has no label indices: their offsets are where the postings
	// begin and end, as index.Writer leaves them.
	w.toc.LabelIndices, w.toc.Postings = w.pos, w.pos
	w.pad(4)
	w.table = w.table[:0]
	if err := w.writePostings("", "", w.all); err != nil {
		return err
	}
	w.keys = w.keys[:0]
	for k := range w.postings {
		w.keys = append(w.keys, k)
	}
	// Symbol references are in the symbols' order, so these are the
	// label names and values in order.
	slices.Sort(w.keys)
	for _, k := range w.keys {
		if err := w.writePostings(w.syms[k>>32], w.syms[uint32(k)], w.lists[w.postings[k]]); err != nil {
			return err
		}
	}
	// The postings offset table: len | count | entries | CRC of count and
	// entries.
	w.toc.LabelIndicesTable, w.toc.PostingsTable = w.pos, w.pos
	if 4+len(w.table) > math.MaxUint32 {
		return fmt.Errorf("postings offset table size exceeds 4 bytes: %d", 4+len(w.table))
	}
	b := &w.scratch
	binary.BigEndian.PutUint32(b[:4], uint32(4+len(w.table)))
	binary.BigEndian.PutUint32(b[4:], uint32(len(w.keys)+1))
	w.write(b[:8], w.table)
	w.writeSum(crc32.Update(crc32.Update(0, castagnoli, b[4:8]), castagnoli, w.table))
	// The table of contents, and its CRC.
	e := &w.content
	e.Reset()
	for _, off := range []uint64{w.toc.Symbols, w.toc.Series, w.toc.LabelIndices, w.toc.LabelIndicesTable, w.toc.Postings, w.toc.PostingsTable} {
		e.PutBE64(off)
	}
	w.write(e.Get())
	w.writeCRC(e.Get())
	if err := w.w.Flush(); err != nil {
		return err
	}
	return w.f.Sync()
}

// writePostings writes a postings list, 4-byte aligned, and its entry in
// the offset table.
func (w *indexWriter) writePostings(name, value string, refs []uint32) error {
	w.pad(4)
	w.table = binary.AppendUvarint(w.table, 2)
	w.table = binary.AppendUvarint(w.table, uint64(len(name)))
	w.table = append(w.table, name...)
	w.table = binary.AppendUvarint(w.table, uint64(len(value)))
	w.table = append(w.table, value...)
	w.table = binary.AppendUvarint(w.table, w.pos)
	e := &w.content
	e.Reset()
	if err := EncodePostings(e, refs); err != nil {
		return err
	}
	if e.Len() > math.MaxUint32 {
		return fmt.Errorf("posting size exceeds 4 bytes: %d", e.Len())
	}
	b := &w.scratch
	binary.BigEndian.PutUint32(b[:4], uint32(e.Len()))
	w.write(b[:4], e.Get())
	w.writeCRC(e.Get())
	return nil
}

// Close closes the file and returns the buffers to their pool.
func (w *indexWriter) Close() error {
	if w.indexBufs == nil {
		return nil
	}
	err := w.f.Close()
	b := w.indexBufs
	w.indexBufs = nil
	b.w.Reset(nil)
	clear(b.syms)
	clear(b.symbols)
	clear(b.postings)
	b.syms, b.all, b.lists = b.syms[:0], b.all[:0], b.lists[:0]
	// Buffers that one very large block grew are not kept.
	if cap(b.all) > 1<<20 || cap(b.lists) > 1<<20 || cap(b.table) > 16<<20 || cap(b.content.B) > 16<<20 {
		return err
	}
	indexBufPool.Put(b)
	return err
}

package segment

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/klauspost/compress/zstd"
)

// BlockRows is the most rows a block holds: small enough that verifying a
// candidate block of a search is cheap, large enough for good compression.
const BlockRows = 512

// FormatVersion is written into every segment's meta.json.
const FormatVersion = 1

// Meta describes a segment; it is stored as meta.json.
type Meta struct {
	Format int   `json:"format"`
	MinT   int64 `json:"minT"` // nanoseconds, inclusive
	MaxT   int64 `json:"maxT"` // nanoseconds, inclusive
	Rows   int   `json:"rows"`
	// Bytes is the segment's size on disk.
	Bytes  int64       `json:"bytes"`
	Blocks []BlockMeta `json:"blocks"`
	Lineage
}

// Lineage says where a segment comes from. A flushed head is level 0; a
// merge writes level max(sources)+1 and names the segments it replaces, so
// that a crash between moving the merged segment into place and deleting
// its sources is repaired at the next OpenSet instead of doubling rows.
type Lineage struct {
	Level int `json:"level,omitempty"`
	// Sources are the replaced segments, as Reader.Name gives them.
	Sources []string `json:"sources,omitempty"`
}

// BlockMeta describes one block. Every open segment keeps its blocks'
// metadata in memory, so it is kept small: about 200 bytes for a block
// of eleven columns, where a map of column names took 800.
type BlockMeta struct {
	MinT int64
	MaxT int64
	Rows int
	cols []colRef // sorted by name
}

// ColumnRef locates a compressed column in the data file.
type ColumnRef struct {
	Off int64 `json:"off"`
	Len int64 `json:"len"`
}

type colRef struct {
	off  int64
	len  uint32
	name uint16 // in columnNames
}

// Column locates the named column of the block.
func (b *BlockMeta) Column(name string) (ColumnRef, bool) {
	id, ok := columnID(name, false)
	if !ok {
		return ColumnRef{}, false
	}
	for _, c := range b.cols {
		if c.name == id {
			return ColumnRef{Off: c.off, Len: int64(c.len)}, true
		}
	}
	return ColumnRef{}, false
}

func (b *BlockMeta) addColumn(name string, ref ColumnRef) error {
	id, ok := columnID(name, true)
	if !ok {
		return fmt.Errorf("%w: more than %d column names", ErrCorrupt, maxColumnNames)
	}
	if ref.Off < 0 || ref.Len < 0 || ref.Len > math.MaxUint32 {
		return fmt.Errorf("%w: column %s at %d of %d bytes", ErrCorrupt, name, ref.Off, ref.Len)
	}
	b.cols = append(b.cols, colRef{off: ref.Off, len: uint32(ref.Len), name: id})
	return nil
}

// blockMetaJSON is BlockMeta as meta.json stores it.
type blockMetaJSON struct {
	MinT    int64                `json:"minT"`
	MaxT    int64                `json:"maxT"`
	Rows    int                  `json:"rows"`
	Columns map[string]ColumnRef `json:"columns"`
}

func (b BlockMeta) MarshalJSON() ([]byte, error) {
	j := blockMetaJSON{MinT: b.MinT, MaxT: b.MaxT, Rows: b.Rows, Columns: make(map[string]ColumnRef, len(b.cols))}
	for _, c := range b.cols {
		j.Columns[columnName(c.name)] = ColumnRef{Off: c.off, Len: int64(c.len)}
	}
	return json.Marshal(j)
}

func (b *BlockMeta) UnmarshalJSON(data []byte) error {
	var j blockMetaJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*b = BlockMeta{MinT: j.MinT, MaxT: j.MaxT, Rows: j.Rows, cols: make([]colRef, 0, len(j.Columns))}
	for name, ref := range j.Columns {
		if err := b.addColumn(name, ref); err != nil {
			return err
		}
	}
	return nil
}

// Column names are few (the stores' own, fixed in their code) and repeat in
// every block of every segment: they are kept once, here.
const maxColumnNames = 256

var columns struct {
	sync.RWMutex
	ids   map[string]uint16
	names []string
}

func columnID(name string, add bool) (uint16, bool) {
	columns.RLock()
	id, ok := columns.ids[name]
	columns.RUnlock()
	if ok || !add {
		return id, ok
	}
	columns.Lock()
	defer columns.Unlock()
	if id, ok := columns.ids[name]; ok {
		return id, true
	}
	if len(columns.names) >= maxColumnNames {
		return 0, false
	}
	if columns.ids == nil {
		columns.ids = map[string]uint16{}
	}
	id = uint16(len(columns.names))
	columns.ids[name] = id
	columns.names = append(columns.names, name)
	return id, true
}

func columnName(id uint16) string {
	columns.RLock()
	defer columns.RUnlock()
	return columns.names[id]
}

// Columns are the columns of a block: name → encoded, uncompressed bytes.
type Columns map[string][]byte

// TraceRow says that row Row of the segment carries trace ID ID.
type TraceRow struct {
	ID  [16]byte
	Row uint32
}

// Writer writes a new segment into a temporary directory; Finish makes it
// appear atomically.
type Writer struct {
	set     *Set
	enc     *zstd.Encoder
	tmp     string
	final   string
	data    *os.File
	off     int64
	meta    Meta
	traces  []TraceRow
	filters []bloom // per block, when the store gives tokens
	buf     []byte
}

func (w *Writer) path(name string) string { return filepath.Join(w.tmp, name) }

// AddBlock appends a block of rows (at most BlockRows) with time range
// [minT, maxT]. tokens (a well-mixed 64-bit hash of each distinct token the
// store wants to find blocks by) go into the block's filter; a store that passes nil
// for every block writes no filters.
func (w *Writer) AddBlock(minT, maxT int64, rows int, cols Columns, tokens []uint64) error {
	pb, err := w.Prepare(minT, maxT, rows, cols, tokens)
	if err != nil {
		return err
	}
	return w.AddPrepared(pb)
}

// PreparedBlock is a block compressed, with its token filter, that
// Writer.AddPrepared appends.
type PreparedBlock struct {
	minT, maxT int64
	rows       int
	names      []string // sorted
	data       [][]byte // compressed, by name
	filter     bloom    // nil without tokens
}

// Prepare does the work of AddBlock that does not touch the segment:
// compressing the columns and building the filter. It may run on several
// goroutines at once (a store's flush encodes blocks in parallel), and cols
// may be reused once it returns.
func (w *Writer) Prepare(minT, maxT int64, rows int, cols Columns, tokens []uint64) (PreparedBlock, error) {
	if rows > BlockRows {
		return PreparedBlock{}, fmt.Errorf("BUG: block of %d rows, more than %d", rows, BlockRows)
	}
	pb := PreparedBlock{minT: minT, maxT: maxT, rows: rows, names: make([]string, 0, len(cols)), data: make([][]byte, 0, len(cols))}
	if tokens != nil {
		pb.filter = newBloom(len(tokens))
		for _, h := range tokens {
			pb.filter.add(tokenHashes(h))
		}
	}
	for name := range cols {
		pb.names = append(pb.names, name)
	}
	sort.Strings(pb.names)
	for _, name := range pb.names {
		pb.data = append(pb.data, w.enc.EncodeAll(cols[name], nil))
	}
	return pb, nil
}

// AddPrepared appends a prepared block, in the order of the calls.
func (w *Writer) AddPrepared(pb PreparedBlock) error {
	if pb.filter != nil {
		if len(w.filters) != len(w.meta.Blocks) {
			return fmt.Errorf("BUG: block %d has tokens, earlier blocks had none", len(w.meta.Blocks))
		}
		w.filters = append(w.filters, pb.filter)
	}
	bm := BlockMeta{MinT: pb.minT, MaxT: pb.maxT, Rows: pb.rows, cols: make([]colRef, 0, len(pb.names))}
	for i, name := range pb.names {
		if err := w.writeColumn(&bm, name, pb.data[i]); err != nil {
			return err
		}
	}
	w.addBlockMeta(bm)
	return nil
}

func (w *Writer) writeColumn(bm *BlockMeta, name string, compressed []byte) error {
	if _, err := w.data.Write(compressed); err != nil {
		return fmt.Errorf("write segment: %w", err)
	}
	if err := bm.addColumn(name, ColumnRef{Off: w.off, Len: int64(len(compressed))}); err != nil {
		return err
	}
	w.off += int64(len(compressed))
	return nil
}

// CopyBlock appends block b of src as it is stored: its compressed columns
// and its token filter are copied, not decoded and encoded again, but for
// the columns in replace, which are written anew (a store's references
// into the source's own metadata). A merge of segments whose blocks do not
// overlap in time moves most blocks this way, for the cost of the I/O.
// src must have block filters if w's other blocks have them.
func (w *Writer) CopyBlock(src *Reader, b int, replace Columns) error {
	if b < 0 || b >= len(src.Blocks) {
		return fmt.Errorf("BUG: segment %s has no block %d", src.dir, b)
	}
	sb := &src.Blocks[b]
	if f := src.BlockFilter(b); f.b != nil {
		if len(w.filters) != len(w.meta.Blocks) {
			return fmt.Errorf("BUG: block %d has a filter, earlier blocks had none", len(w.meta.Blocks))
		}
		w.filters = append(w.filters, append(bloom(nil), f.b...))
	} else if len(w.filters) > 0 {
		return fmt.Errorf("BUG: copying block %d of %s, which has no filter, into a segment with filters", b, src.dir)
	}
	bm := BlockMeta{MinT: sb.MinT, MaxT: sb.MaxT, Rows: sb.Rows, cols: make([]colRef, 0, len(sb.cols))}
	f, err := dataFiles.get(src.dataPath())
	if err != nil {
		return fmt.Errorf("read segment %s: %w", src.dir, err)
	}
	defer dataFiles.put(f)
	for _, c := range sb.cols {
		name := columnName(c.name)
		if col, ok := replace[name]; ok {
			w.buf = w.enc.EncodeAll(col, w.buf[:0])
		} else {
			if c.off+int64(c.len) > src.dataSize {
				return fmt.Errorf("%w: segment %s block %d column %s beyond the data file", ErrCorrupt, src.dir, b, name)
			}
			w.buf = slices.Grow(w.buf[:0], int(c.len))[:c.len]
			if _, err := f.f.ReadAt(w.buf, c.off); err != nil {
				return fmt.Errorf("read segment %s block %d: %w", src.dir, b, err)
			}
		}
		if err := w.writeColumn(&bm, name, w.buf); err != nil {
			return err
		}
	}
	w.addBlockMeta(bm)
	return nil
}

func (w *Writer) addBlockMeta(bm BlockMeta) {
	minT, maxT := bm.MinT, bm.MaxT
	if len(w.meta.Blocks) == 0 || minT < w.meta.MinT {
		w.meta.MinT = minT
	}
	if len(w.meta.Blocks) == 0 || maxT > w.meta.MaxT {
		w.meta.MaxT = maxT
	}
	w.meta.Rows += bm.Rows
	w.meta.Blocks = append(w.meta.Blocks, bm)
}

// AddTraceIDs records trace IDs of rows for the trace index.
func (w *Writer) AddTraceIDs(rows ...TraceRow) { w.traces = append(w.traces, rows...) }

// Dir is the temporary directory, where a store may write files of its own
// (such as a full-text index) before Finish.
func (w *Writer) Dir() string { return w.tmp }

// Abort removes the unfinished segment.
func (w *Writer) Abort() {
	_ = w.data.Close()
	_ = os.RemoveAll(w.tmp)
}

// Finish writes the indexes and the meta, syncs, and moves the segment into
// place. The caller adds it to the Set with Set.Add when its store is ready
// to stop reading the same rows from elsewhere.
func (w *Writer) Finish() (*Reader, error) {
	if err := w.finish(); err != nil {
		w.Abort()
		return nil, err
	}
	return openReader(w.final, w.set)
}

func (w *Writer) finish() error {
	if err := w.data.Sync(); err != nil {
		return fmt.Errorf("sync segment: %w", err)
	}
	if err := w.data.Close(); err != nil {
		return fmt.Errorf("close segment: %w", err)
	}
	sortTraceRows(w.traces)
	// Trace index: distinct IDs, where each one's rows start (a byte
	// offset), the rows as varint deltas: a trace's records are close
	// together, so most deltas take a byte.
	var ids, starts, rows []byte
	n := 0
	prev := uint32(0)
	for i, t := range w.traces {
		if i == 0 || t.ID != w.traces[i-1].ID {
			ids = append(ids, t.ID[:]...)
			starts = binary.LittleEndian.AppendUint32(starts, uint32(len(rows)))
			n++
			prev = 0
		}
		rows = binary.AppendUvarint(rows, uint64(t.Row-prev))
		prev = t.Row
	}
	starts = binary.LittleEndian.AppendUint32(starts, uint32(len(rows)))
	idx := binary.LittleEndian.AppendUint32(make([]byte, 0, 4+len(ids)+len(starts)+len(rows)), uint32(n))
	idx = append(append(append(idx, ids...), starts...), rows...)
	bl := newBloom(n)
	for i := 0; i < n; i++ {
		bl.add(traceHashes([16]byte(ids[i*16 : i*16+16])))
	}
	if err := writeSynced(w.path("traces"), idx); err != nil {
		return err
	}
	if len(w.filters) > 0 {
		if len(w.filters) != len(w.meta.Blocks) {
			return fmt.Errorf("BUG: %d block filters for %d blocks", len(w.filters), len(w.meta.Blocks))
		}
		if err := writeSynced(w.path("filters"), encodeFilters(w.filters)); err != nil {
			return err
		}
	}
	if err := writeSynced(w.path("bloom"), bl); err != nil {
		return err
	}
	size, err := dirSize(w.tmp)
	if err != nil {
		return err
	}
	w.meta.Format = FormatVersion
	w.meta.Bytes = size
	mb, err := json.Marshal(w.meta)
	if err != nil {
		return err
	}
	if err := writeSynced(w.path("meta.json"), mb); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(w.final), 0o755); err != nil {
		return err
	}
	if err := os.Rename(w.tmp, w.final); err != nil {
		return fmt.Errorf("move segment into place: %w", err)
	}
	return syncDir(filepath.Dir(w.final))
}

func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// Reader reads a finished segment. It is safe for concurrent use.
type Reader struct {
	Meta
	dir      string
	set      *Set
	dataSize int64  // the data file is opened through dataFiles
	traces   []byte // mmap of the trace index
	filters  []byte // mmap of the block filters, if any
	bloom    bloom

	refs    atomic.Int64 // users, plus one for the Set while it lists the segment
	dropped atomic.Bool

	// extra is the store's own per-segment state (such as a full-text
	// index), set once before the segment is added to the Set.
	extra any
}

// SetExtra attaches a store's per-segment state; if it is an io.Closer it
// is closed with the segment.
func (r *Reader) SetExtra(v any) { r.extra = v }

// Extra returns what SetExtra attached.
func (r *Reader) Extra() any { return r.extra }

func openReader(dir string, set *Set) (*Reader, error) {
	r := &Reader{dir: dir, set: set}
	mb, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, fmt.Errorf("open segment %s: %w", dir, err)
	}
	if err := json.Unmarshal(mb, &r.Meta); err != nil {
		return nil, fmt.Errorf("open segment %s: meta.json: %w", dir, err)
	}
	if r.Format != FormatVersion {
		return nil, fmt.Errorf("open segment %s: format %d, want %d", dir, r.Format, FormatVersion)
	}
	fi, err := os.Stat(r.dataPath())
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	r.dataSize = fi.Size()
	if r.bloom, err = os.ReadFile(filepath.Join(dir, "bloom")); err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	if r.traces, err = mmapFile(filepath.Join(dir, "traces"), false); err != nil {
		return nil, fmt.Errorf("open segment %s: %w", dir, err)
	}
	if r.filters, err = mmapFile(filepath.Join(dir, "filters"), true); err != nil {
		r.close()
		return nil, fmt.Errorf("open segment %s: %w", dir, err)
	}
	if err := checkTraceIndex(r.traces); err != nil {
		r.close()
		return nil, fmt.Errorf("open segment %s: %w", dir, err)
	}
	if err := checkFilters(r.filters, len(r.Blocks)); err != nil {
		r.close()
		return nil, fmt.Errorf("open segment %s: %w", dir, err)
	}
	r.refs.Store(1)
	return r, nil
}

// mmapFile maps a file read-only (nil if it is empty, or absent and
// optional): the page cache holds it, not the heap, and no descriptor
// stays open.
func mmapFile(path string, optional bool) ([]byte, error) {
	f, err := os.Open(path)
	if optional && errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return nil, err
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return b, nil
}

// checkTraceIndex validates the trace index's sizes once, so lookups can
// slice it without checks.
func checkTraceIndex(t []byte) error {
	if len(t) == 0 {
		return nil
	}
	if len(t) < 8 {
		return fmt.Errorf("%w: trace index of %d bytes", ErrCorrupt, len(t))
	}
	n := uint64(binary.LittleEndian.Uint32(t))
	head := 4 + 16*n + 4*(n+1)
	if head > uint64(len(t)) {
		return fmt.Errorf("%w: trace index of %d bytes for %d traces", ErrCorrupt, len(t), n)
	}
	rowBytes := uint64(binary.LittleEndian.Uint32(t[4+16*n+4*n:]))
	if head+rowBytes != uint64(len(t)) {
		return fmt.Errorf("%w: trace index of %d bytes, %d of them rows", ErrCorrupt, len(t), rowBytes)
	}
	return nil
}

func (r *Reader) dataPath() string { return filepath.Join(r.dir, "data") }

// Dir is the segment's directory.
func (r *Reader) Dir() string { return r.dir }

// Name identifies the segment within its Set: "<partition>/<sequence>".
func (r *Reader) Name() string {
	return filepath.Base(filepath.Dir(r.dir)) + "/" + filepath.Base(r.dir)
}

// Partition is the name of the segment's hour partition.
func (r *Reader) Partition() string { return filepath.Base(filepath.Dir(r.dir)) }

// ReadBlock decompresses the named columns of block i.
func (r *Reader) ReadBlock(i int, names ...string) (Columns, error) {
	if i < 0 || i >= len(r.Blocks) {
		return nil, fmt.Errorf("segment %s: no block %d", r.dir, i)
	}
	cols := Columns{}
	for _, name := range names {
		ref, ok := r.Blocks[i].Column(name)
		if !ok {
			continue
		}
		if ref.Off+ref.Len > r.dataSize {
			return nil, fmt.Errorf("%w: segment %s block %d column %s beyond the data file", ErrCorrupt, r.dir, i, name)
		}
		raw := make([]byte, ref.Len)
		f, err := dataFiles.get(r.dataPath())
		if err != nil {
			return nil, fmt.Errorf("read segment %s: %w", r.dir, err)
		}
		_, err = f.f.ReadAt(raw, ref.Off)
		dataFiles.put(f)
		if err != nil {
			return nil, fmt.Errorf("read segment %s block %d: %w", r.dir, i, err)
		}
		out, err := r.set.dec.DecodeAll(raw, nil)
		if err != nil {
			return nil, fmt.Errorf("segment %s block %d column %s: %w", r.dir, i, name, err)
		}
		cols[name] = out
	}
	return cols, nil
}

// HasFilters reports whether the segment's blocks have token filters.
func (r *Reader) HasFilters() bool { return len(r.filters) > 0 }

// LookupTrace returns the rows that carry trace ID id, in row order.
func (r *Reader) LookupTrace(id [16]byte) []uint32 {
	if !r.bloom.has(traceHashes(id)) || len(r.traces) < 8 {
		return nil
	}
	t := r.traces
	n := int(binary.LittleEndian.Uint32(t))
	ids := t[4 : 4+16*n]
	starts := t[4+16*n : 4+16*n+4*(n+1)]
	rows := t[4+16*n+4*(n+1):]
	i := sort.Search(n, func(i int) bool { return bytes.Compare(ids[i*16:i*16+16], id[:]) >= 0 })
	if i == n || !bytes.Equal(ids[i*16:i*16+16], id[:]) {
		return nil
	}
	from, to := binary.LittleEndian.Uint32(starts[4*i:]), binary.LittleEndian.Uint32(starts[4*i+4:])
	if from > to || int(to) > len(rows) {
		return nil // checked at open; a corrupt index finds nothing
	}
	var out []uint32
	row := uint64(0)
	for b := rows[from:to]; len(b) > 0; {
		d, k := binary.Uvarint(b)
		if k <= 0 {
			break
		}
		row += d
		out = append(out, uint32(row))
		b = b[k:]
	}
	return out
}

// Drop gives back a reference and has the segment's files deleted once no
// reference is left: for a segment the Set no longer lists (retention, a
// merge's sources) or never listed (a merge whose sources went meanwhile).
func (r *Reader) Drop() {
	r.dropped.Store(true)
	r.Release()
}

// Release gives back a reference taken by Set.Acquire.
func (r *Reader) Release() {
	if r.refs.Add(-1) == 0 {
		r.close()
	}
}

func (r *Reader) close() {
	if c, ok := r.extra.(io.Closer); ok {
		_ = c.Close()
	}
	for _, m := range []*[]byte{&r.traces, &r.filters} {
		if *m != nil {
			_ = syscall.Munmap(*m)
			*m = nil
		}
	}
	dataFiles.forget(r.dataPath())
	if r.dropped.Load() {
		// Renamed first, atomically, to a name OpenSet deletes: a crash in
		// the middle of RemoveAll must not leave a segment missing some of
		// its files, which the next start could not open.
		dir := r.dir
		if err := os.Rename(dir, dir+".tmp"); err == nil {
			dir += ".tmp"
		}
		_ = os.RemoveAll(dir)
		part := filepath.Dir(r.dir)
		if entries, err := os.ReadDir(part); err == nil && len(entries) == 0 {
			_ = os.Remove(part)
		}
	}
}

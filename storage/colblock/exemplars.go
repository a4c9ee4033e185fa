package colblock

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/wlog"

	"github.com/sightline-dev/sightline/storage/segment"
)

// exemplarsFile is the file of a block's exemplars (docs/format/metrics-blocks.md):
//
//	"SLEX" | version byte 2 | zstd frame of seven columns, each
//	uvarint length | bytes, in the order of the exemplar* constants
//
// Version 1, still read, held every exemplar as time delta, value bits
// and labels in one stream. Columns let the trace and span IDs, which are
// random and most of an exemplar, be stored as bytes rather than hex, and
// keep them apart from what does compress.
const exemplarsFile = "exemplars"

var (
	exemplarsMagic   = []byte("SLEX\x02")
	exemplarsMagicV1 = []byte("SLEX\x01")
)

// The columns of an exemplars file. Series are sorted by labels, a
// series' exemplars by time; the columns after the first hold the
// exemplars in that order.
const (
	// uvarint series | per series: labels, uvarint exemplars
	// (labels: uvarint pairs | (uvarint length, name, uvarint length, value)…)
	exemplarSeries = iota
	// per exemplar: varint delta of the delta from the series' previous
	// two (the first a time, the second a delta)
	exemplarTimes
	// uvarint d | d × 8 bytes of value bits | per exemplar uvarint index;
	// or, when most values differ, d = 0 | uvarint n | the n values' 8
	// bytes big-endian, byte by byte: all first bytes, then all second…
	exemplarValues
	// uvarint shapes | per shape: uvarint names | (uvarint length, name)…
	// | per exemplar uvarint shape: the names of its labels
	exemplarShapes
	// per label value: uvarint length<<1 | 1 for lowercase hex, stored in
	// exemplarIDs as bytes (length is theirs), or 0 for a string in
	// exemplarStrings
	exemplarLengths
	exemplarIDs
	exemplarStrings
	exemplarColumns
)

// seriesExemplars are one series' exemplars, by time.
type seriesExemplars struct {
	labels    labels.Labels
	exemplars []exemplar.Exemplar
}

// exemplarSet gathers exemplars by series.
type exemplarSet map[string]*seriesExemplars

func (s exemplarSet) add(ls labels.Labels, e exemplar.Exemplar) {
	se := s.series(ls)
	se.exemplars = append(se.exemplars, e)
}

// series returns the exemplars of the series ls, added if new.
func (s exemplarSet) series(ls labels.Labels) *seriesExemplars {
	k := ls.String()
	se := s[k]
	if se == nil {
		se = &seriesExemplars{labels: ls}
		s[k] = se
	}
	return se
}

// sorted returns the series by labels, each one's exemplars by time
// without repeats.
func (s exemplarSet) sorted() []*seriesExemplars {
	out := make([]*seriesExemplars, 0, len(s))
	for _, se := range s {
		slices.SortFunc(se.exemplars, func(a, b exemplar.Exemplar) int {
			if c := cmpInt(a.Ts, b.Ts); c != 0 {
				return c
			}
			return labels.Compare(a.Labels, b.Labels)
		})
		se.exemplars = slices.CompactFunc(se.exemplars, func(a, b exemplar.Exemplar) bool { return a.Equals(b) })
		out = append(out, se)
	}
	slices.SortFunc(out, func(a, b *seriesExemplars) int { return labels.Compare(a.labels, b.labels) })
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// walExemplars reads the exemplars in [mint, maxt) from the WAL in
// walDir, its checkpoint first. The WAL has every exemplar the head took
// since its last truncation, which comes after the head's blocks are
// written: so a head block gets all the exemplars of its range, including
// those its exemplar ring has already overwritten. The last segment may
// end in a record being written; reading stops there. found says whether
// the WAL had exemplars of any time.
func walExemplars(logger *slog.Logger, walDir string, mint, maxt int64, into exemplarSet) (found bool, err error) {
	if _, err := os.Stat(walDir); errors.Is(err, fs.ErrNotExist) {
		return false, nil // a TSDB without WAL
	}
	var segs []string
	cp, _, err := wlog.LastCheckpoint(walDir)
	switch {
	case err == nil:
		first, last, err := wlog.Segments(cp)
		if err != nil {
			return false, err
		}
		for i := first; i <= last && i >= 0; i++ {
			segs = append(segs, wlog.SegmentName(cp, i))
		}
	case !errors.Is(err, record.ErrNotFound):
		return false, err
	}
	first, last, err := wlog.Segments(walDir)
	if err != nil {
		return false, err
	}
	for i := first; i <= last && i >= 0; i++ {
		segs = append(segs, wlog.SegmentName(walDir, i))
	}
	// A first pass finds the series with exemplars in range, so that the
	// second copies the labels of only those: most WALs carry exemplars of
	// few series or none, and a copy of every series' labels was the
	// largest allocation of a compaction.
	dec := record.NewDecoder(nil, logger)
	var re []record.RefExemplar
	exemplars := func(rec []byte, fn func(e record.RefExemplar)) error {
		var err error
		if re, err = dec.Exemplars(rec, re[:0]); err != nil {
			return err
		}
		for _, e := range re {
			if e.T >= mint && e.T < maxt {
				fn(e)
			}
		}
		return nil
	}
	series := map[chunks.HeadSeriesRef]labels.Labels{}
	err = eachWALRecord(logger, segs, func(rec []byte) error {
		if dec.Type(rec) != record.Exemplars {
			return nil
		}
		found = true
		return exemplars(rec, func(e record.RefExemplar) { series[e.Ref] = labels.EmptyLabels() })
	})
	if err != nil || len(series) == 0 {
		return found, err
	}
	var rs []record.RefSeries
	return found, eachWALRecord(logger, segs, func(rec []byte) error {
		switch dec.Type(rec) {
		case record.Series:
			var err error
			if rs, err = dec.Series(rec, rs[:0]); err != nil {
				return err
			}
			for _, s := range rs {
				if _, ok := series[s.Ref]; ok {
					series[s.Ref] = s.Labels.Copy() // the decoder's labels point into rec
				}
			}
		case record.Exemplars:
			return exemplars(rec, func(e record.RefExemplar) {
				if ls := series[e.Ref]; !ls.IsEmpty() {
					into.add(ls, exemplar.Exemplar{Labels: e.Labels.Copy(), Value: e.V, Ts: e.T, HasTs: true})
				}
			})
		}
		return nil
	})
}

// WALExemplars tells a TSDB's compactor whether its WAL may hold
// exemplars. A head's block gets its exemplars from the WAL (walExemplars),
// which is read whole for it; a tenant that never sends an exemplar
// (remote_write from Prometheus without exemplars, say) had its WAL read at
// every head compaction for nothing: 4% of the CPU of the week-long
// benchmark's remote_write ingest, whose 84 head compactions each read
// about three hours of WAL. Once a read found none, the next reads are
// skipped until a commit writes exemplars (Committed). The zero value
// knows nothing, so the first compaction after a start reads; a nil
// *WALExemplars always reads.
type WALExemplars struct {
	none  atomic.Bool // the WAL has no exemplar, as far as known
	reads atomic.Int64
}

// Committed is called after a commit that wrote exemplars to the WAL.
func (w *WALExemplars) Committed() {
	if w != nil && w.none.Load() {
		w.none.Store(false)
	}
}

// read reads the exemplars in [mint, maxt) of the WAL in walDir into
// into, unless the WAL has none. The WAL is read after none is set, so an
// exemplar a commit wrote before is read, and one written after clears it
// (Committed comes once the commit's records are in the WAL's file).
func (w *WALExemplars) read(logger *slog.Logger, walDir string, mint, maxt int64, into exemplarSet) error {
	if w == nil {
		_, err := walExemplars(logger, walDir, mint, maxt, into)
		return err
	}
	if w.none.Load() {
		return nil
	}
	w.none.Store(true)
	w.reads.Add(1)
	found, err := walExemplars(logger, walDir, mint, maxt, into)
	if found || err != nil {
		w.none.Store(false)
	}
	return err
}

// eachWALRecord calls fn with every record of the segments segs, in order.
// A segment that is gone was truncated meanwhile, with older records only.
func eachWALRecord(logger *slog.Logger, segs []string, fn func(rec []byte) error) error {
	for _, name := range segs {
		seg, err := wlog.OpenReadSegment(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		r := wlog.NewLiveReader(logger, nil, seg)
		for r.Next() {
			if err := fn(r.Record()); err != nil {
				seg.Close()
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		seg.Close()
		if err := r.Err(); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// writeExemplars writes the exemplars of set into the block dir, if there
// are any.
func writeExemplars(dir string, set exemplarSet) error {
	if len(set) == 0 {
		return nil
	}
	return writeExemplarsFile(filepath.Join(dir, exemplarsFile), set)
}

// writeExemplarsFile writes the exemplars of set into the file path.
func writeExemplarsFile(path string, set exemplarSet) error {
	out := zstdEnc.EncodeAll(encodeExemplars(set.sorted()), slices.Clone(exemplarsMagic))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(out)
	return errors.Join(err, f.Sync(), f.Close())
}

// encodeExemplars returns the columns of an exemplars file, before zstd.
func encodeExemplars(sorted []*seriesExemplars) []byte {
	var cols [exemplarColumns]segment.Enc
	n := 0
	for _, se := range sorted {
		n += len(se.exemplars)
	}
	// Values: a histogram's exemplars often repeat a few values (a
	// bucket's bound, a fixed latency); real latencies mostly differ.
	dict := map[uint64]int{}
	var distinct []uint64
	for _, se := range sorted {
		for _, e := range se.exemplars {
			bits := math.Float64bits(e.Value)
			if _, ok := dict[bits]; !ok && len(distinct) <= n/2 {
				dict[bits] = len(distinct)
				distinct = append(distinct, bits)
			}
		}
	}
	values := &cols[exemplarValues]
	var planes [8][]byte
	if len(distinct) <= n/2 {
		values.Uvarint(uint64(len(distinct)))
		for _, v := range distinct {
			values.B = binary.BigEndian.AppendUint64(values.B, v)
		}
	} else {
		values.Uvarint(0)
		values.Uvarint(uint64(n))
		for i := range planes {
			planes[i] = make([]byte, 0, n)
		}
		dict = nil
	}

	shapes := map[string]int{}
	var shapeNames segment.Enc
	var shapeOf segment.Enc
	var key []byte
	cols[exemplarSeries].Uvarint(uint64(len(sorted)))
	for _, se := range sorted {
		cols[exemplarSeries].B = appendLabels(cols[exemplarSeries].B, se.labels)
		cols[exemplarSeries].Uvarint(uint64(len(se.exemplars)))
		var prev, delta int64
		for i, e := range se.exemplars {
			d := e.Ts - prev
			if i == 0 {
				d = e.Ts
			}
			cols[exemplarTimes].Varint(d - delta)
			prev, delta = e.Ts, d
			if i == 0 {
				delta = 0 // the second is a delta from the first
			}

			bits := math.Float64bits(e.Value)
			if dict != nil {
				values.Uvarint(uint64(dict[bits]))
			} else {
				for j := range planes {
					planes[j] = append(planes[j], byte(bits>>(56-8*j)))
				}
			}

			key = key[:0]
			e.Labels.Range(func(l labels.Label) { key = append(append(key, l.Name...), 0xff) })
			shape, ok := shapes[string(key)]
			if !ok {
				shape = len(shapes)
				shapes[string(key)] = shape
				shapeNames.Uvarint(uint64(e.Labels.Len()))
				e.Labels.Range(func(l labels.Label) { shapeNames.String(l.Name) })
			}
			shapeOf.Uvarint(uint64(shape))

			e.Labels.Range(func(l labels.Label) {
				if isHex(l.Value) {
					cols[exemplarLengths].Uvarint(uint64(len(l.Value)/2)<<1 | 1)
					cols[exemplarIDs].B, _ = hex.AppendDecode(cols[exemplarIDs].B, []byte(l.Value)) // isHex: no error
					return
				}
				cols[exemplarLengths].Uvarint(uint64(len(l.Value)) << 1)
				cols[exemplarStrings].B = append(cols[exemplarStrings].B, l.Value...)
			})
		}
	}
	for _, p := range planes {
		values.B = append(values.B, p...)
	}
	cols[exemplarShapes].Uvarint(uint64(len(shapes)))
	cols[exemplarShapes].B = append(append(cols[exemplarShapes].B, shapeNames.B...), shapeOf.B...)

	var out segment.Enc
	for _, c := range cols {
		out.Bytes(c.B)
	}
	return out.B
}

// isHex says whether s is lowercase hex of whole bytes, as OTLP's trace
// and span IDs are written in labels: stored as bytes, it reads back the
// same.
func isHex(s string) bool {
	if len(s) == 0 || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func appendLabels(b []byte, ls labels.Labels) []byte {
	b = binary.AppendUvarint(b, uint64(ls.Len()))
	ls.Range(func(l labels.Label) {
		b = binary.AppendUvarint(b, uint64(len(l.Name)))
		b = append(b, l.Name...)
		b = binary.AppendUvarint(b, uint64(len(l.Value)))
		b = append(b, l.Value...)
	})
	return b
}

// readExemplars adds to into the exemplars in the block dir within
// [mint, maxt] of the series keep accepts. A block without exemplars, or
// deleted meanwhile, has none.
func readExemplars(dir string, mint, maxt int64, keep func(labels.Labels) bool, into exemplarSet) error {
	return readExemplarsFile(filepath.Join(dir, exemplarsFile), mint, maxt, keep, into)
}

// readExemplarsFile adds to into the exemplars in the file path within
// [mint, maxt] of the series keep accepts. A missing file has none.
func readExemplarsFile(path string, mint, maxt int64, keep func(labels.Labels) bool, into exemplarSet) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	decode := decodeExemplars
	switch {
	case bytes.HasPrefix(raw, exemplarsMagicV1):
		decode = decodeExemplarsV1
	case !bytes.HasPrefix(raw, exemplarsMagic):
		return fmt.Errorf("%s: not an exemplars file", path)
	}
	b, err := zstdExemplarsDec.DecodeAll(raw[len(exemplarsMagic):], nil)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// A file gives a series' exemplars one after the other: its labels
	// are made into the set's key once, not once an exemplar.
	var last *seriesExemplars
	add := func(ls labels.Labels, e exemplar.Exemplar) {
		if e.Ts < mint || e.Ts > maxt {
			return
		}
		if last == nil || !labels.Equal(last.labels, ls) {
			last = into.series(ls)
		}
		last.exemplars = append(last.exemplars, e)
	}
	if !decode(b, keep, add) {
		return fmt.Errorf("%s: corrupt exemplars file", path)
	}
	return nil
}

// decodeExemplars calls add with the exemplars in b, the columns of an
// exemplars file, of the series keep accepts. It says whether b was whole.
func decodeExemplars(b []byte, keep func(labels.Labels) bool, add func(labels.Labels, exemplar.Exemplar)) bool {
	r := &segment.Dec{B: b}
	var cols [exemplarColumns]segment.Dec
	for i := range cols {
		cols[i].B = r.Bytes()
	}
	if r.Err != nil {
		return false
	}

	values := &cols[exemplarValues]
	d := values.Uvarint()
	if d > uint64(len(values.B)/8) {
		return false
	}
	dict := values.Fixed(8 * int(d))
	var planes []byte
	var nValues, next uint64
	if d == 0 {
		nValues = values.Uvarint()
		if nValues > uint64(len(values.B)/8) {
			return false
		}
		planes = values.Fixed(8 * int(nValues))
	}
	value := func() float64 {
		if d > 0 {
			i := values.Uvarint()
			if i >= d {
				fail(values)
				return 0
			}
			return math.Float64frombits(binary.BigEndian.Uint64(dict[8*i:]))
		}
		if next >= nValues {
			fail(values)
			return 0
		}
		var bits uint64
		for j := range uint64(8) {
			bits = bits<<8 | uint64(planes[j*nValues+next])
		}
		next++
		return math.Float64frombits(bits)
	}

	sh := &cols[exemplarShapes]
	nShapes := sh.Uvarint()
	if nShapes > uint64(len(sh.B)) {
		return false
	}
	shapes := make([][]string, nShapes)
	for i := range shapes {
		names := sh.Uvarint()
		if names > uint64(len(sh.B)) {
			return false
		}
		for range names {
			shapes[i] = append(shapes[i], sh.String())
		}
	}

	lengths, ids, strs := &cols[exemplarLengths], &cols[exemplarIDs], &cols[exemplarStrings]
	var lb labels.ScratchBuilder
	exemplarLabels := func() labels.Labels {
		s := sh.Uvarint()
		if s >= nShapes {
			fail(sh)
			return labels.EmptyLabels()
		}
		lb.Reset()
		for _, name := range shapes[s] {
			l := lengths.Uvarint()
			var v string
			if l&1 == 1 {
				v = hex.EncodeToString(ids.Fixed(int(min(l>>1, uint64(len(ids.B)+1)))))
			} else {
				v = string(strs.Fixed(int(min(l>>1, uint64(len(strs.B)+1)))))
			}
			lb.Add(name, v)
		}
		return lb.Labels()
	}
	failed := func() bool {
		for i := range cols {
			if cols[i].Err != nil {
				return true
			}
		}
		return false
	}

	series, times := &cols[exemplarSeries], &cols[exemplarTimes]
	var slb labels.ScratchBuilder
	n := series.Uvarint()
	for range n {
		ls := readLabels(series, &slb)
		use := series.Err == nil && keep(ls)
		m := series.Uvarint()
		var ts, delta int64
		for i := range m {
			delta += times.Varint()
			ts += delta
			if i == 0 {
				delta = 0
			}
			e := exemplar.Exemplar{Value: value(), Labels: exemplarLabels(), Ts: ts, HasTs: true}
			if failed() {
				return false
			}
			if use {
				add(ls, e)
			}
		}
		if failed() {
			return false
		}
	}
	return true
}

// decodeExemplarsV1 is decodeExemplars for version 1's single stream.
func decodeExemplarsV1(b []byte, keep func(labels.Labels) bool, add func(labels.Labels, exemplar.Exemplar)) bool {
	r := &segment.Dec{B: b}
	var lb labels.ScratchBuilder
	n := r.Uvarint()
	for range n {
		ls := readLabels(r, &lb)
		use := r.Err == nil && keep(ls)
		m := r.Uvarint()
		var ts int64
		for range m {
			ts += r.Varint()
			v := math.Float64frombits(u64(r))
			els := readLabels(r, &lb)
			if r.Err != nil {
				break
			}
			if use {
				add(ls, exemplar.Exemplar{Labels: els, Value: v, Ts: ts, HasTs: true})
			}
		}
		if r.Err != nil {
			return false
		}
	}
	return true
}

func readLabels(r *segment.Dec, b *labels.ScratchBuilder) labels.Labels {
	n := r.Uvarint()
	if n > uint64(len(r.B)) {
		fail(r)
		return labels.EmptyLabels()
	}
	b.Reset()
	for range n {
		name, value := r.String(), r.String()
		if r.Err != nil {
			return labels.EmptyLabels()
		}
		b.Add(name, value)
	}
	return b.Labels()
}

// ExemplarQuerier returns a querier of the exemplars of ring (the TSDB's
// ring), of head (those the ring may have overwritten since the last
// block; nil for none) and of blocks: those neither holds are in the
// blocks of their time. It catches head up first.
func ExemplarQuerier(ring storage.ExemplarQuerier, head *HeadExemplars, blocks []*tsdb.Block) storage.ExemplarQuerier {
	if head != nil {
		// What the files already hold is still served: a WAL that cannot
		// be read (a full disk for the files, a segment gone bad) costs
		// the newest of the overwritten exemplars, not the query.
		if err := head.catchUp(time.Now()); err != nil {
			head.logger.Warn("reading the head's exemplars from the WAL", "err", err)
		}
	}
	return exemplarQuerier{ring: ring, head: head, blocks: blocks}
}

type exemplarQuerier struct {
	ring   storage.ExemplarQuerier
	head   *HeadExemplars
	blocks []*tsdb.Block
}

// Select returns the exemplars within [start, end] of the series that
// match any of the matcher sets, by series, each series' by time; one
// in several of the ring, the head's files and the blocks is given once.
func (q exemplarQuerier) Select(start, end int64, matchers ...[]*labels.Matcher) ([]exemplar.QueryResult, error) {
	set := exemplarSet{}
	keep := func(ls labels.Labels) bool {
		for _, ms := range matchers {
			ok := true
			for _, m := range ms {
				if !m.Matches(ls.Get(m.Name)) {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
		return false
	}
	for _, b := range q.blocks {
		if m := b.Meta(); m.MaxTime <= start || m.MinTime > end {
			continue
		}
		if err := readExemplars(b.Dir(), start, end, keep, set); err != nil {
			return nil, err
		}
	}
	if q.head != nil {
		if err := q.head.read(start, end, keep, set); err != nil {
			return nil, err
		}
	}
	res, err := q.ring.Select(start, end, matchers...)
	if err != nil {
		return nil, err
	}
	for _, r := range res {
		for _, e := range r.Exemplars {
			e.HasTs = true // the ring keeps every exemplar's time but not this flag
			set.add(r.SeriesLabels, e)
		}
	}
	sorted := set.sorted()
	out := make([]exemplar.QueryResult, 0, len(sorted))
	for _, se := range sorted {
		out = append(out, exemplar.QueryResult{SeriesLabels: se.labels, Exemplars: se.exemplars})
	}
	return out, nil
}

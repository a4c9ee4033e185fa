package logstore

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/segment"
	"github.com/sightline-dev/sightline/storage/segstore"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// Options configure the log store: the life cycle of its WAL, heads and
// segments (segstore.Options, rows being records) and its own limits.
type Options struct {
	segstore.Options
	// MaxRecordBytes rejects larger records (counted, reported).
	MaxRecordBytes int
	// MaxScanRecords stops a query that would read more records, with an
	// error that says so.
	MaxScanRecords int
	// FullTextMinRecords: merged segments of at least this many records
	// get a full-text (bleve) index, for prefix, wildcard, regexp and
	// fuzzy searches over them; every segment has per-block token filters
	// for words and exact values. Flushes never build one: it would bound
	// ingest. The default is above what a first merge of flushed heads
	// reaches (8 × 250k), so that a record is indexed about once, when
	// its segment is nearly final: bleve costs more CPU than the rest of
	// a merge.
	FullTextMinRecords int
}

// DefaultOptions are the embedded defaults.
func DefaultOptions() Options {
	return Options{
		Options:            segstore.DefaultOptions(),
		MaxRecordBytes:     256 << 10,
		MaxScanRecords:     20_000_000,
		FullTextMinRecords: 4_000_000,
	}
}

// RegisterFlags declares the options as flags (logs.*), with their current
// values as defaults.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	o.Options.RegisterFlags(fs, "logs", "records")
	flagext.Bytes(fs, &o.MaxRecordBytes, "logs.max-record-size", "Largest log record accepted (body and attributes); larger ones are rejected and counted.")
	fs.IntVar(&o.MaxScanRecords, "logs.query.max-scan-records", o.MaxScanRecords, "A log query that would read more records than this is stopped with an error.")
	fs.IntVar(&o.FullTextMinRecords, "logs.full-text.min-records", o.FullTextMinRecords, "Merged segments of at least this many records get a full-text (bleve) index for prefix, wildcard and regexp searches; every segment has per-block word filters.")
}

// Rejection reasons (label reason of sightline_logs_records_rejected_total).
const (
	ReasonTooLarge     = "too_large"
	ReasonInvalidUTF8  = "invalid_utf8_repaired" // repaired and stored, counted
	ReasonBackpressure = "backpressure"          // refused for now, to be retried
)

// ErrBackpressure is returned by Append while too many records wait to be
// flushed; the sender should retry later (HTTP 429, gRPC ResourceExhausted).
var ErrBackpressure = segstore.ErrBackpressure

// ErrTooMuchData is returned by a query that would read more than
// MaxScanRecords records.
var ErrTooMuchData = errors.New("query would read too much data")

// Store is the log store of every tenant. It is safe for concurrent use.
type Store struct {
	opts Options
	im   *mapping.IndexMappingImpl
	st   *segstore.Store[*head]
	m    *storeMetrics
}

// tenantStore is one tenant's WAL, head and segments.
type tenantStore = segstore.Tenant[*head]

type storeMetrics struct {
	appended prometheus.Counter
	rejected *prometheus.CounterVec
	// mergedBlocks counts the blocks merges wrote, by how: copied as
	// stored, or decoded and written anew.
	mergedBlocks *prometheus.CounterVec
}

// logMeta is a log segment's own metadata (logmeta.json).
type logMeta struct {
	// WALSeq: the segment holds every record of the WAL files below it.
	WALSeq  int            `json:"walSeq"`
	Streams []*streamStats `json:"streams"`
	// BlocksPerDoc is how many blocks one full-text document covers; 0
	// when the segment has no full-text index.
	BlocksPerDoc int `json:"blocksPerDoc,omitempty"`
}

// segExtra is what a log segment carries besides its rows.
type segExtra struct {
	index bleve.Index // nil without a full-text index
	meta  logMeta
}

func (e *segExtra) Close() error {
	if e.index == nil {
		return nil
	}
	return e.index.Close()
}

// Open opens the log store under dir (the data dir) and every tenant's logs
// there: segments are opened and the WAL replayed into the head.
func Open(dir string, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	im, err := newIndexMapping()
	if err != nil {
		return nil, err
	}
	s := &Store{opts: opts, im: im}
	s.m = &storeMetrics{
		appended:     prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_logs_records_appended_total", Help: "Log records written to the log store."}),
		rejected:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_logs_records_rejected_total", Help: "Log records refused (or repaired) by the log store, by reason."}, []string{"reason"}),
		mergedBlocks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_logs_merged_blocks_total", Help: "Blocks of source segments that merges copied as stored (how=copied) or decoded (how=decoded)."}, []string{"how"}),
	}
	for _, r := range []string{ReasonTooLarge, ReasonInvalidUTF8, ReasonBackpressure} {
		s.m.rejected.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{s.m.appended, s.m.rejected, s.m.mergedBlocks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register log store metrics: %w", err)
		}
	}
	s.st, err = segstore.Open(dir, "logs", logSignal{im: im, fullTextMinRows: opts.FullTextMinRecords, m: s.m}, opts.Options, logger, reg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// logSignal is the log store's part of segstore: its head, WAL records and
// segment format.
type logSignal struct {
	im *mapping.IndexMappingImpl
	// fullTextMinRows: merges into segments of this many records build a
	// full-text index (see Options.FullTextMinRecords).
	fullTextMinRows int
	m               *storeMetrics
}

func (logSignal) NewHead() *head { return newHead() }

func (logSignal) Replay(h *head, rec []byte) error {
	cache := streamCache{}
	d := segment.Dec{B: rec}
	for len(d.B) > 0 {
		r := &Record{}
		r.decode(&d)
		if d.Err != nil {
			return d.Err
		}
		sk := streamOf(r, cache)
		r.stream = sk
		h.add(r, sk.labels, sk.key)
	}
	return nil
}

func (logSignal) OpenSegment(r *segment.Reader) (int, error) {
	x, err := openExtra(r.Dir())
	if err != nil {
		return 0, err
	}
	r.SetExtra(x)
	return x.meta.WALSeq, nil
}

func openExtra(dir string) (*segExtra, error) {
	b, err := os.ReadFile(filepath.Join(dir, "logmeta.json"))
	if err != nil {
		return nil, fmt.Errorf("open log segment %s: %w", dir, err)
	}
	x := &segExtra{}
	if err := json.Unmarshal(b, &x.meta); err != nil {
		return nil, fmt.Errorf("open log segment %s: logmeta.json: %w", dir, err)
	}
	for _, st := range x.meta.Streams {
		if _, ok := st.LabelsM[DetectedLevelLabel]; !ok {
			// Written before streams had a detected level: the one of
			// their severity label (their lines are not read again).
			l, ok := levelName(st.LabelsM["severity"], true)
			if !ok {
				l = LevelUnknown
			}
			st.LabelsM[DetectedLevelLabel] = l
		}
		st.Labels = labels.FromMap(st.LabelsM)
		st.sk = &streamKey{labels: st.Labels, key: st.Labels.String()}
	}
	if x.meta.BlocksPerDoc < 0 {
		return nil, fmt.Errorf("open log segment %s: logmeta.json: blocksPerDoc %d", dir, x.meta.BlocksPerDoc)
	}
	if x.meta.BlocksPerDoc > 0 {
		if x.index, err = openIndex(dir); err != nil {
			return nil, fmt.Errorf("open full-text index of %s: %w", dir, err)
		}
	}
	return x, nil
}

type streamKey struct {
	labels labels.Labels
	key    string
}

// streamCache remembers stream labels per resource, severity and level.
// Records of one request (or one block) share their resource's attribute
// slice, so its record.KVsID identifies the resource without building a
// key from its attributes for every record.
type streamCache map[streamCacheKey]*streamKey

type streamCacheKey struct {
	resource record.KVsID
	sevText  string
	sevNum   int32
	// level is "" but in the key of a record whose severity names no
	// level: the detected level its attributes or line give.
	level string
}

// levelByLine is what a streamCache holds for a resource and severity
// that name no level: the stream then depends on the record's line.
var levelByLine = &streamKey{}

// streamOf returns a record's stream: the one the store gave it, else its
// stream labels computed once per distinct resource, severity and level in
// cache. A record's line is read only when its severity names no level.
func streamOf(r *Record, cache streamCache) *streamKey {
	if r.stream != nil {
		return r.stream
	}
	ck := streamCacheKey{resource: record.IDOf(r.Resource), sevText: r.SeverityText, sevNum: r.SeverityNumber}
	sk, ok := cache[ck]
	switch {
	case ok && sk != levelByLine:
		return sk
	case !ok:
		if _, ok := severityLevel(r.SeverityNumber, r.SeverityText); ok {
			return newStream(r, cache, ck)
		}
		cache[ck] = levelByLine
	}
	ck.level = recordLevel(r)
	if sk, ok := cache[ck]; ok {
		return sk
	}
	return newStream(r, cache, ck)
}

// newStream computes r's stream labels and caches them under ck.
func newStream(r *Record, cache streamCache, ck streamCacheKey) *streamKey {
	ls := StreamLabels(r)
	sk := &streamKey{labels: ls, key: ls.String()}
	cache[ck] = sk
	return sk
}

// AppendResult tells what Append did with a request.
type AppendResult struct {
	Accepted int
	// Rejected counts refused records by reason.
	Rejected map[string]int
	// Repaired counts records whose invalid UTF-8 was replaced.
	Repaired int
}

// Append stores records for the tenant of ctx. It returns once they are in
// the WAL. Records over the size limit are refused and reported in the
// result; the others are stored.
func (s *Store) Append(ctx context.Context, recs []*Record) (AppendResult, error) {
	res := AppendResult{Rejected: map[string]int{}}
	enc := segment.BorrowEnc()
	defer segment.ReturnEnc(enc) // the WAL copies the record
	kept := recs[:0:0]
	now := time.Now().UnixNano()
	var resources record.SharedKVs // records of a request share their resource
	for _, r := range recs {
		if r.Size() > s.opts.MaxRecordBytes {
			res.Rejected[ReasonTooLarge]++
			s.m.rejected.WithLabelValues(ReasonTooLarge).Inc()
			continue
		}
		if r.Repair(&resources) {
			res.Repaired++
			s.m.rejected.WithLabelValues(ReasonInvalidUTF8).Inc()
		}
		if r.ObservedTimestamp == 0 {
			r.ObservedTimestamp = now
		}
		if r.Timestamp == 0 {
			r.Timestamp = r.ObservedTimestamp
		}
		r.stream = nil // a record read back and appended again
		r.encode(enc)
		kept = append(kept, r)
	}
	if len(kept) == 0 {
		return res, nil
	}
	cache := streamCache{}
	keys := make([]*streamKey, len(kept))
	for i, r := range kept {
		keys[i] = streamOf(r, cache)
		r.stream = keys[i]
	}

	err := s.st.Append(tenant.FromContext(ctx), enc.B, len(kept), func(h *head) {
		for i, r := range kept {
			h.add(r, keys[i].labels, keys[i].key)
		}
	})
	if errors.Is(err, ErrBackpressure) {
		s.m.rejected.WithLabelValues(ReasonBackpressure).Add(float64(len(kept)))
	}
	if err != nil {
		return res, err
	}
	res.Accepted = len(kept)
	s.m.appended.Add(float64(len(kept)))
	return res, nil
}

// Flush cuts every tenant's head and writes it to a segment now.
func (s *Store) Flush() error { return s.st.Flush() }

// Stats returns what the context's tenant holds here (rows are log records).
func (s *Store) Stats(ctx context.Context) segstore.TenantStats {
	return s.st.Stats(tenant.FromContext(ctx))
}

// Compact merges segments until the merge policy asks for no more (the
// store also does it in the background after flushes).
func (s *Store) Compact() error { return s.st.Compact() }

// ApplyRetention drops partitions past the retention period or the size
// limit, for every tenant.
func (s *Store) ApplyRetention() { s.st.ApplyRetention() }

// Close flushes nothing (the WAL has everything) and closes the store.
func (s *Store) Close() error { return s.st.Close() }

// WriteHead writes the head's records sorted by time.
func (sig logSignal) WriteHead(w *segment.Writer, h *head, walSeq int) error {
	recs := append([]*Record(nil), h.recs...)
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Timestamp < recs[j].Timestamp })
	pw, err := newPartWriter(w, nil, walSeq)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := pw.Add(r); err != nil {
			pw.abort()
			return err
		}
	}
	return pw.finish()
}

// Merge merges the sources' records, each source sorted by time, into one
// segment sorted by time. A block that ends before every other source's
// next record is copied as it is stored (segment.Writer.CopyBlock), with
// its stream column renumbered: when sources do not overlap in time, as
// flushes of one stream of data do not, a merge costs little more than
// its I/O. Other blocks are decoded and their records merged one by one;
// so are all blocks of a merge that builds a full-text index (it needs
// every record's words) or whose sources predate the columns copying needs.
func (sig logSignal) Merge(ctx context.Context, w *segment.Writer, srcs []*segment.Reader) error {
	walSeq, rows, copyable := 0, 0, true
	ms := make([]*mergeSource, len(srcs))
	for i, r := range srcs {
		x := r.Extra().(*segExtra)
		walSeq = max(walSeq, x.meta.WALSeq)
		rows += r.Rows
		ms[i] = &mergeSource{r: r, streams: x.meta.Streams, out: make([]*streamStats, len(x.meta.Streams))}
		copyable = copyable && r.HasFilters() && hasCountColumns(r)
	}
	var im mapping.IndexMapping
	if rows >= sig.fullTextMinRows {
		im, copyable = sig.im, false
	}
	pw, err := newPartWriter(w, im, walSeq)
	if err != nil {
		return err
	}
	for n := 0; ; n++ {
		if n%64 == 0 {
			if err := ctx.Err(); err != nil {
				pw.abort()
				return err
			}
		}
		// The source with the oldest next record, and the oldest next
		// record of the others.
		var next *mergeSource
		nextT, othersT := int64(0), int64(math.MaxInt64)
		for _, m := range ms {
			t, ok := m.peek()
			switch {
			case !ok:
			case next == nil || t < nextT:
				if next != nil {
					othersT = min(othersT, nextT)
				}
				next, nextT = m, t
			default:
				othersT = min(othersT, t)
			}
		}
		if next == nil {
			break
		}
		if next.recs == nil {
			how := "decoded"
			if copyable && next.r.Blocks[next.b].MaxT <= othersT {
				how, err = "copied", pw.copyBlock(next)
			} else {
				next.recs, err = readBlock(next.r, next.b)
				next.i = 0
				if len(next.recs) == 0 {
					next.recs = nil // a block of no rows (corrupt): nothing to take
				}
			}
			next.b++
			sig.m.mergedBlocks.WithLabelValues(how).Inc()
			if err != nil {
				pw.abort()
				return err
			}
			continue
		}
		// One record, then look again: another source may come next.
		if err := pw.Add(&next.recs[next.i]); err != nil {
			pw.abort()
			return err
		}
		if next.i++; next.i == len(next.recs) {
			next.recs = nil
		}
	}
	return pw.finish()
}

// mergeSource is a source segment of a merge: the blocks taken so far, and
// the decoded block being taken record by record.
type mergeSource struct {
	r       *segment.Reader
	streams []*streamStats // the source's, which its stream column numbers
	out     []*streamStats // the merged segment's stream of each of them
	b       int            // the next block not yet taken
	recs    []Record       // the decoded block being taken, if any
	i       int            // its next record
}

// peek returns the time of the source's next record.
func (m *mergeSource) peek() (int64, bool) {
	if m.recs != nil {
		return m.recs[m.i].Timestamp, true
	}
	if m.b < len(m.r.Blocks) {
		return m.r.Blocks[m.b].MinT, true // a block's first record is its oldest
	}
	return 0, false
}

// hasCountColumns reports whether every block of r has the stream and size
// columns (segments written before them do not).
func hasCountColumns(r *segment.Reader) bool {
	for i := range r.Blocks {
		if _, ok := r.Blocks[i].Column(colStream); !ok {
			return false
		}
		if _, ok := r.Blocks[i].Column(colSize); !ok {
			return false
		}
	}
	return true
}

// partWriter writes records, in time order, into a log segment block by
// block: the blocks with their token filters, their streams, the trace
// index and, in large segments, the full-text index. It holds one block's
// records (and one full-text document's terms), so a merge of large
// segments does not hold them in memory.
type partWriter struct {
	segment.BlockCutter[*Record]
	blocks  *segment.BlockPipeline[blockState]
	w       *segment.Writer
	walSeq  int
	idx     bleve.Index // nil: no full-text index
	batch   *bleve.Batch
	doc     *blockTerms // the terms of the full-text document being filled
	docs    int
	cache   streamCache
	streams map[string]*streamStats
	order   []string
}

// blockState is what one goroutine of a part's block pipeline encodes with.
type blockState struct {
	enc    blockEncoder
	hasher tokenHasher
}

// docsPerBatch bounds the full-text documents held before they are handed
// to bleve.
const docsPerBatch = 64

// newPartWriter starts a segment in w, with a full-text index if im is
// not nil.
func newPartWriter(w *segment.Writer, im mapping.IndexMapping, walSeq int) (*partWriter, error) {
	p := &partWriter{w: w, walSeq: walSeq, cache: streamCache{}, streams: map[string]*streamStats{}}
	p.Write = p.writeBlock
	if im != nil {
		idx, err := bleve.NewUsing(filepath.Join(w.Dir(), "fts"), im, "scorch", "scorch", nil)
		if err != nil {
			return nil, fmt.Errorf("create full-text index: %w", err)
		}
		p.idx, p.batch = idx, idx.NewBatch()
	}
	p.blocks = segment.NewBlockPipeline[blockState](w)
	return p, nil
}

func (p *partWriter) writeBlock(blk []*Record, b int) error {
	ids := make([]int, 0, len(blk)) // the pipeline keeps it with blk
	for _, r := range blk {
		sk := streamOf(r, p.cache)
		st := p.stream(sk)
		ids = append(ids, st.id)
		st.add(b, r.Timestamp, len(r.Body))
		st.addMetadataKeys(r)
	}
	err := p.blocks.Add(func(s *blockState) segment.BlockData {
		cols := s.enc.encode(blk)
		cols[colStream], cols[colSize] = encodeCountColumns(blk, ids)
		return segment.BlockData{MinT: blk[0].Timestamp, MaxT: blk[len(blk)-1].Timestamp, Rows: len(blk), Cols: cols, Tokens: s.hasher.hashes(blk)}
	})
	if err != nil {
		return err
	}
	for i, r := range blk {
		if r.HasTrace() {
			p.w.AddTraceIDs(segment.TraceRow{ID: r.TraceID, Row: uint32(b*segment.BlockRows + i)})
		}
	}
	// The stream cache is keyed by resource slices, which a merge's
	// sources hand out per decoded block: keep it to one block's worth.
	if len(p.cache) > 1024 {
		p.cache = streamCache{}
	}
	if p.idx == nil {
		return nil
	}
	if terms := newBlockTerms(blk); p.doc == nil {
		p.doc = terms
	} else {
		p.doc.merge(terms)
	}
	if p.Blocks%blocksPerDoc == 0 {
		return p.writeDoc()
	}
	return nil
}

// stream returns the segment's stream sk, new or already seen.
func (p *partWriter) stream(sk *streamKey) *streamStats {
	st := p.streams[sk.key]
	if st == nil {
		st = &streamStats{Labels: sk.labels, LabelsM: sk.labels.Map(), sk: sk, MinT: math.MaxInt64, MaxT: math.MinInt64,
			id: len(p.order), metaKeys: map[string]struct{}{}}
		p.streams[sk.key] = st
		p.order = append(p.order, sk.key)
	}
	return st
}

// copyBlock copies the next block of m into the segment as it is stored
// (after the records added so far, to keep time order), renumbering its
// stream column; the stream stats and trace index take what they need
// from the block's small columns.
func (p *partWriter) copyBlock(m *mergeSource) error {
	if err := p.Flush(); err != nil {
		return err
	}
	if err := p.blocks.Wait(); err != nil {
		return err
	}
	r, b, out := m.r, m.b, p.Blocks
	cols, err := r.ReadBlock(b, colTime, colStream, colSize, colTraceDict, colTrace)
	if err != nil {
		return err
	}
	tm, stream, size, trace := segment.Dec{B: cols[colTime]}, segment.Dec{B: cols[colStream]}, segment.Dec{B: cols[colSize]}, segment.Dec{B: cols[colTrace]}
	traceDict := cols[colTraceDict]
	var ids segment.Enc
	ts := int64(0)
	for i := range r.Blocks[b].Rows {
		ts += tm.Varint()
		idx, n := stream.Uvarint(), size.Uvarint()
		if idx >= uint64(len(m.streams)) {
			return fmt.Errorf("%w: segment %s block %d: stream %d of %d", segment.ErrCorrupt, r.Dir(), b, idx, len(m.streams))
		}
		st := m.out[idx]
		if st == nil {
			src := m.streams[idx]
			st = p.stream(src.sk)
			st.addMetadataNames(src)
			m.out[idx] = st
		}
		ids.Uvarint(uint64(st.id))
		st.add(out, ts, int(n))
		if t := trace.Uvarint(); t > 0 {
			if t > uint64(len(traceDict)/16) {
				return fmt.Errorf("%w: segment %s block %d: trace %d of %d", segment.ErrCorrupt, r.Dir(), b, t, len(traceDict)/16)
			}
			p.w.AddTraceIDs(segment.TraceRow{ID: [16]byte(traceDict[(t-1)*16 : t*16]), Row: uint32(out*segment.BlockRows + i)})
		}
		trace.Fixed(8)  // span ID
		trace.Uvarint() // flags
	}
	for _, d := range []*segment.Dec{&tm, &stream, &size, &trace} {
		if d.Err != nil {
			return fmt.Errorf("segment %s block %d: %w", r.Dir(), b, d.Err)
		}
	}
	if err := p.w.CopyBlock(r, b, segment.Columns{colStream: ids.B}); err != nil {
		return err
	}
	p.Blocks++
	p.Rows += r.Blocks[b].Rows
	return nil
}

// writeDoc indexes the blocks of one full-text document (see fts.go).
func (p *partWriter) writeDoc() error {
	if p.doc == nil {
		return nil
	}
	if err := p.batch.Index(strconv.Itoa(p.docs), p.doc.doc()); err != nil {
		return fmt.Errorf("index blocks of document %d: %w", p.docs, err)
	}
	p.docs++
	p.doc = nil
	if p.batch.Size() >= docsPerBatch {
		if err := p.idx.Batch(p.batch); err != nil {
			return fmt.Errorf("index: %w", err)
		}
		p.batch.Reset()
	}
	return nil
}

// finish writes what is left, closes the full-text index and writes the
// segment's logmeta.json.
func (p *partWriter) finish() error {
	err := p.Flush()
	if err == nil {
		err = p.blocks.Wait()
	}
	p.blocks.Close()
	meta := logMeta{WALSeq: p.walSeq}
	if p.idx != nil {
		meta.BlocksPerDoc = blocksPerDoc
		if err == nil {
			err = p.writeDoc()
		}
		if err == nil && p.batch.Size() > 0 {
			err = p.idx.Batch(p.batch)
		}
		if cerr := p.idx.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	for _, k := range p.order {
		st := p.streams[k]
		st.finishMetadata()
		meta.Streams = append(meta.Streams, st)
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.w.Dir(), "logmeta.json"), mb, 0o644)
}

func (p *partWriter) abort() {
	p.blocks.Close()
	if p.idx != nil {
		_ = p.idx.Close()
	}
}

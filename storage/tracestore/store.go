package tracestore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/segment"
	"github.com/sightline-dev/sightline/storage/segstore"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// Options configure the trace store: the life cycle of its WAL, heads and
// segments (segstore.Options, rows being spans) and its own limits.
type Options struct {
	segstore.Options
	// MaxSpanBytes rejects larger spans (counted, reported).
	MaxSpanBytes int
	// MaxScanSpans stops a search that would read more spans, with
	// ErrTooMuchData.
	MaxScanSpans int
}

// DefaultOptions are the embedded defaults.
func DefaultOptions() Options {
	return Options{
		Options:      segstore.DefaultOptions(),
		MaxSpanBytes: 1 << 20,
		MaxScanSpans: 10_000_000,
	}
}

// RegisterFlags declares the options as flags (traces.*), with their
// current values as defaults.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	o.Options.RegisterFlags(fs, "traces", "spans")
	flagext.Bytes(fs, &o.MaxSpanBytes, "traces.max-span-size", "Largest span accepted (names, attributes, events, links); larger ones are rejected and counted.")
	fs.IntVar(&o.MaxScanSpans, "traces.query.max-scan-spans", o.MaxScanSpans, "A trace search that would read more spans than this is stopped with an error.")
}

// Rejection reasons (label reason of sightline_traces_spans_rejected_total).
const (
	ReasonInvalidTraceID = "invalid_trace_id" // all zero
	ReasonInvalidSpanID  = "invalid_span_id"  // all zero
	ReasonTooLarge       = "too_large"
	ReasonBackpressure   = "backpressure"          // refused for now, to be retried
	ReasonInvalidUTF8    = "invalid_utf8_repaired" // repaired and stored, counted
)

// Store is the trace store of every tenant. It is safe for concurrent use.
type Store struct {
	opts     Options
	st       *segstore.Store[*head]
	appended prometheus.Counter
	rejected *prometheus.CounterVec
}

// traceMeta is a trace segment's own metadata (tracemeta.json).
type traceMeta struct {
	// WALSeq: the segment holds every span of the WAL files below it.
	WALSeq int       `json:"walSeq"`
	Tags   *tagIndex `json:"tags"`
}

// Open opens the trace store under dir (the data dir) and every tenant's
// traces there.
func Open(dir string, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	s := &Store{
		opts:     opts,
		appended: prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_traces_spans_appended_total", Help: "Spans written to the trace store."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_traces_spans_rejected_total", Help: "Spans refused by the trace store, by reason."}, []string{"reason"}),
	}
	for _, r := range []string{ReasonInvalidTraceID, ReasonInvalidSpanID, ReasonTooLarge, ReasonBackpressure, ReasonInvalidUTF8} {
		s.rejected.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{s.appended, s.rejected} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register trace store metrics: %w", err)
		}
	}
	var err error
	s.st, err = segstore.Open(dir, "traces", traceSignal{}, opts.Options, logger, reg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// AppendResult tells what Append did with a request.
type AppendResult struct {
	Accepted int
	// Rejected counts refused spans by reason.
	Rejected map[string]int
	// Repaired counts spans whose invalid UTF-8 was replaced.
	Repaired int
}

// Append stores spans for the tenant of ctx and returns once they are in
// the WAL. Spans with an all-zero trace or span ID, or over the size limit,
// are refused and reported in the result; the others are stored.
func (s *Store) Append(ctx context.Context, spans []*Span) (AppendResult, error) {
	res := AppendResult{Rejected: map[string]int{}}
	enc := segment.BorrowEnc()
	defer segment.ReturnEnc(enc) // the WAL copies the record
	kept := make([]*Span, 0, len(spans))
	var resources record.SharedKVs // spans of a request share their resource
	for _, sp := range spans {
		reason := ""
		switch {
		case sp.TraceID == [16]byte{}:
			reason = ReasonInvalidTraceID
		case sp.SpanID == [8]byte{}:
			reason = ReasonInvalidSpanID
		case sp.Size() > s.opts.MaxSpanBytes:
			reason = ReasonTooLarge
		}
		if reason != "" {
			res.Rejected[reason]++
			s.rejected.WithLabelValues(reason).Inc()
			continue
		}
		if sp.Repair(&resources) {
			res.Repaired++
			s.rejected.WithLabelValues(ReasonInvalidUTF8).Inc()
		}
		encodeSpan(enc, sp)
		kept = append(kept, sp)
	}
	if len(kept) == 0 {
		return res, nil
	}
	err := s.st.Append(tenant.FromContext(ctx), enc.B, len(kept), func(h *head) { h.add(kept) })
	if errors.Is(err, ErrBackpressure) {
		s.rejected.WithLabelValues(ReasonBackpressure).Add(float64(len(kept)))
	}
	if err != nil {
		return res, err
	}
	res.Accepted = len(kept)
	s.appended.Add(float64(len(kept)))
	return res, nil
}

// Flush cuts every tenant's head and writes it to a segment now.
func (s *Store) Flush() error { return s.st.Flush() }

// Stats returns what the context's tenant holds here (rows are spans).
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

// traceSignal is the trace store's part of segstore.
type traceSignal struct{}

func (traceSignal) NewHead() *head { return newHead() }

func (traceSignal) Replay(h *head, rec []byte) error {
	var spans []*Span
	d := segment.Dec{B: rec}
	for len(d.B) > 0 {
		sp := &Span{}
		decodeSpan(&d, sp)
		if d.Err != nil {
			return d.Err
		}
		spans = append(spans, sp)
	}
	h.add(spans)
	return nil
}

func (traceSignal) OpenSegment(r *segment.Reader) (int, error) {
	b, err := os.ReadFile(filepath.Join(r.Dir(), "tracemeta.json"))
	if err != nil {
		return 0, fmt.Errorf("open trace segment %s: %w", r.Dir(), err)
	}
	var m traceMeta
	if err := json.Unmarshal(b, &m); err != nil || m.Tags == nil {
		return 0, fmt.Errorf("open trace segment %s: tracemeta.json: %v", r.Dir(), err)
	}
	r.SetExtra(&m)
	return m.WALSeq, nil
}

// WriteHead writes the head's spans grouped by trace: traces in the order
// their first span started, each trace's spans by start time.
func (traceSignal) WriteHead(w *segment.Writer, h *head, walSeq int) error {
	type group struct {
		first int64
		rows  []int32
	}
	groups := make([]group, 0, len(h.traces))
	for _, rows := range h.traces {
		g := group{first: h.spans[rows[0]].Start, rows: rows}
		for _, i := range rows {
			g.first = min(g.first, h.spans[i].Start)
		}
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b group) int { return cmp.Compare(a.first, b.first) })
	pw := newPartWriter(w, walSeq, h.tags)
	for _, g := range groups {
		spans := make([]*Span, len(g.rows))
		for k, i := range g.rows {
			spans[k] = h.spans[i]
		}
		slices.SortStableFunc(spans, func(a, b *Span) int { return cmp.Compare(a.Start, b.Start) })
		for _, sp := range spans {
			if err := pw.Add(sp); err != nil {
				pw.abort()
				return err
			}
		}
	}
	return pw.finish()
}

// Merge writes the sources' blocks one after the other, oldest source
// first, as they are stored (segment.Writer.CopyBlock): a source's traces
// stay grouped, so a trace remains a run of rows, and a trace stored in two
// sources keeps a run in each, as it had before (trace by ID reads every
// row the trace index lists). Only the trace columns are decoded, for the
// merged trace index; the tag index is the union of the sources'. A merge
// thus costs about its I/O, where decoding and encoding every span cost
// as much CPU as ingesting it again.
func (traceSignal) Merge(ctx context.Context, w *segment.Writer, srcs []*segment.Reader) error {
	srcs = slices.Clone(srcs)
	slices.SortFunc(srcs, func(a, b *segment.Reader) int {
		return cmp.Or(cmp.Compare(a.MinT, b.MinT), cmp.Compare(a.Name(), b.Name()))
	})
	walSeq, tags := 0, newTagIndex()
	for _, r := range srcs {
		m := r.Extra().(*traceMeta)
		walSeq = max(walSeq, m.WALSeq)
		tags.merge(m.Tags)
	}
	out := 0
	for _, r := range srcs {
		for b := range r.Blocks {
			if err := ctx.Err(); err != nil {
				return err
			}
			cols, err := r.ReadBlock(b, colTraceDict, colTrace)
			if err != nil {
				return err
			}
			dict, d := cols[colTraceDict], segment.Dec{B: cols[colTrace]}
			for i := range r.Blocks[b].Rows {
				t := d.Uvarint()
				if d.Err != nil || t >= uint64(len(dict)/16) {
					return fmt.Errorf("%w: segment %s block %d: trace %d of %d", segment.ErrCorrupt, r.Dir(), b, t, len(dict)/16)
				}
				w.AddTraceIDs(segment.TraceRow{ID: [16]byte(dict[t*16 : t*16+16]), Row: uint32(out*segment.BlockRows + i)})
			}
			if err := w.CopyBlock(r, b, nil); err != nil {
				return err
			}
			out++
		}
	}
	return writeTraceMeta(w, walSeq, tags)
}

// partWriter writes spans, in segment order, into a trace segment block by
// block, with the trace index and the tag index.
type partWriter struct {
	segment.BlockCutter[*Span]
	blocks *segment.BlockPipeline[blockEncoder]
	w      *segment.Writer
	walSeq int
	tags   *tagIndex
}

// newPartWriter starts a segment in w whose tag index is tags: the head's,
// kept up on the append path, or the union of a merge's sources'.
func newPartWriter(w *segment.Writer, walSeq int, tags *tagIndex) *partWriter {
	p := &partWriter{w: w, walSeq: walSeq, tags: tags, blocks: segment.NewBlockPipeline[blockEncoder](w)}
	p.Write = p.writeBlock
	return p
}

func (p *partWriter) writeBlock(blk []*Span, b int) error {
	minT, maxT := blk[0].Start, blk[0].Start
	for i, sp := range blk {
		minT, maxT = min(minT, sp.Start), max(maxT, sp.Start)
		p.w.AddTraceIDs(segment.TraceRow{ID: sp.TraceID, Row: uint32(b*segment.BlockRows + i)})
	}
	return p.blocks.Add(func(enc *blockEncoder) segment.BlockData {
		return segment.BlockData{MinT: minT, MaxT: maxT, Rows: len(blk), Cols: enc.encode(blk)}
	})
}

// finish writes what is left and the meta; the part writer is done with
// either finish or abort.
func (p *partWriter) finish() error {
	defer p.blocks.Close()
	if err := p.Flush(); err != nil {
		return err
	}
	if err := p.blocks.Wait(); err != nil {
		return err
	}
	return writeTraceMeta(p.w, p.walSeq, p.tags)
}

func (p *partWriter) abort() { p.blocks.Close() }

// writeTraceMeta writes a segment's tracemeta.json.
func writeTraceMeta(w *segment.Writer, walSeq int, tags *tagIndex) error {
	mb, err := json.Marshal(traceMeta{WALSeq: walSeq, Tags: tags})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(w.Dir(), "tracemeta.json"), mb, 0o644)
}

package tracestore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/storage/logstore"
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

// Size is the span's size for limits: the bytes of its strings and
// attributes.
func (s *Span) Size() int {
	kvs := func(kvs []KV) int {
		n := 0
		for _, kv := range kvs {
			n += len(kv.Key) + len(kv.Value) + 2
		}
		return n
	}
	n := 96 + len(s.Name) + len(s.TraceState) + len(s.StatusMessage) + kvs(s.Attributes) + kvs(s.Resource) +
		len(s.ScopeName) + len(s.ScopeVersion) + kvs(s.ScopeAttributes)
	for _, e := range s.Events {
		n += 16 + len(e.Name) + kvs(e.Attributes)
	}
	for _, l := range s.Links {
		n += 40 + len(l.TraceState) + kvs(l.Attributes)
	}
	return n
}

// Repair replaces invalid UTF-8 in every text field with U+FFFD, so nothing
// corrupt is stored; it reports whether anything was replaced.
func (s *Span) Repair() bool {
	var fix logstore.Repairer
	for _, p := range []*string{&s.Name, &s.TraceState, &s.StatusMessage, &s.ScopeName, &s.ScopeVersion} {
		fix.String(p)
	}
	fix.KVs(s.Attributes)
	fix.KVs(s.Resource)
	fix.KVs(s.ScopeAttributes)
	for i := range s.Events {
		fix.String(&s.Events[i].Name)
		fix.KVs(s.Events[i].Attributes)
	}
	for i := range s.Links {
		fix.String(&s.Links[i].TraceState)
		fix.KVs(s.Links[i].Attributes)
	}
	return fix.Fixed
}

// Append stores spans for the tenant of ctx and returns once they are in
// the WAL. Spans with an all-zero trace or span ID, or over the size limit,
// are refused and reported in the result; the others are stored.
func (s *Store) Append(ctx context.Context, spans []*Span) (AppendResult, error) {
	res := AppendResult{Rejected: map[string]int{}}
	var enc segment.Enc
	kept := make([]*Span, 0, len(spans))
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
		if sp.Repair() {
			res.Repaired++
			s.rejected.WithLabelValues(ReasonInvalidUTF8).Inc()
		}
		sp.encode(&enc)
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
		sp.decode(&d)
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

// WriteSegment writes the head's spans grouped by trace: traces in the
// order their first span started, each trace's spans by start time.
func (sig traceSignal) WriteSegment(set *segment.Set, h *head, walSeq int) (*segment.Reader, error) {
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
	spans := make([]*Span, 0, len(h.spans))
	for _, g := range groups {
		n := len(spans)
		for _, i := range g.rows {
			spans = append(spans, h.spans[i])
		}
		slices.SortStableFunc(spans[n:], func(a, b *Span) int { return cmp.Compare(a.Start, b.Start) })
	}

	w, err := set.NewWriter(h.minT)
	if err != nil {
		return nil, err
	}
	for b := 0; b*segment.BlockRows < len(spans); b++ {
		blk := spans[b*segment.BlockRows : min((b+1)*segment.BlockRows, len(spans))]
		minT, maxT := blk[0].Start, blk[0].Start
		for i, sp := range blk {
			minT, maxT = min(minT, sp.Start), max(maxT, sp.Start)
			w.AddTraceIDs(segment.TraceRow{ID: sp.TraceID, Row: uint32(b*segment.BlockRows + i)})
		}
		if err := w.AddBlock(minT, maxT, len(blk), encodeBlock(blk)); err != nil {
			w.Abort()
			return nil, err
		}
	}
	mb, err := json.Marshal(traceMeta{WALSeq: walSeq, Tags: h.tags})
	if err != nil {
		w.Abort()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(w.Dir(), "tracemeta.json"), mb, 0o644); err != nil {
		w.Abort()
		return nil, err
	}
	r, err := w.Finish()
	if err != nil {
		return nil, err
	}
	if _, err := sig.OpenSegment(r); err != nil {
		r.Release()
		return nil, err
	}
	return r, nil
}

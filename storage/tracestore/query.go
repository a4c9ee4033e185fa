package tracestore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/segment"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// readBlock reads block b's columns (allColumns or searchColumns) into buf
// (reused when large enough).
func readBlock(r *segment.Reader, b int, columns []string, buf []Span) ([]Span, error) {
	cols, err := r.ReadBlock(b, columns...)
	if err != nil {
		return nil, err
	}
	spans, err := decodeBlock(cols, r.Blocks[b].Rows, buf)
	if err != nil {
		return nil, fmt.Errorf("segment %s block %d: %w", r.Dir(), b, err)
	}
	return spans, nil
}

func release(segs []*segment.Reader) {
	for _, r := range segs {
		r.Release()
	}
}

// Trace returns every span of trace id of the tenant of ctx, sorted by
// start, from the trace-ID indexes of the heads and of every segment: no
// time range is needed. A span stored twice (a sender's retry) is returned
// once.
func (s *Store) Trace(ctx context.Context, id [16]byte) ([]*Span, error) {
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return nil, nil
	}
	var out []*Span
	segs := t.Snapshot(math.MinInt64, math.MaxInt64, func(h *head) {
		for _, i := range h.traces[id] {
			out = append(out, h.spans[i])
		}
	})
	defer release(segs)
	for _, r := range segs {
		var spans []Span
		cur := -1
		for _, row := range r.LookupTrace(id) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if b := int(row) / segment.BlockRows; b != cur {
				var err error
				if spans, err = readBlock(r, b, allColumns, nil); err != nil {
					return nil, err
				}
				cur = b
			}
			if i := int(row) % segment.BlockRows; i < len(spans) {
				out = append(out, &spans[i])
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *Span) int { return compareSpans(a, b) })
	return slices.CompactFunc(out, func(a, b *Span) bool { return a.SpanID == b.SpanID && a.Start == b.Start }), nil
}

func compareSpans(a, b *Span) int {
	if c := cmp.Compare(a.Start, b.Start); c != 0 {
		return c
	}
	return bytes.Compare(a.SpanID[:], b.SpanID[:])
}

// fetch is one Fetch over the units of a tenant (heads, then segments),
// trace by trace.
type fetch struct {
	s   *Store
	req record.FetchSpansRequest
	fn  func(*record.Spanset) error
	pre prefilter
	st  record.FetchStats
	// buf is the block buffer, reused from block to block.
	buf []Span
}

// Fetch calls fn with the spansets of the tenant of ctx that may match req:
// per trace and head or segment, the trace's spans there when one of them
// starts in [req.Start, req.End] and, for each condition of req the store
// can check (see prefilter), some span meets it. It serves the TraceQL
// engine (query/traceql.SpansetFetcher), which evaluates the query on them.
//
// Spansets come newest first: heads, then segments, newest first, each
// read from its newest trace. Blocks are read as the spansets are asked
// for, so when fn returns an error (the engine has found enough), Fetch
// stops there, having read no more, and returns the error. It returns
// ErrTooMuchData (wrapped) once it would read more than
// Options.MaxScanSpans spans.
func (s *Store) Fetch(ctx context.Context, req record.FetchSpansRequest, fn func(*record.Spanset) error) (record.FetchStats, error) {
	f := &fetch{s: s, req: req, fn: fn, pre: newPrefilter(req.Conditions)}
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return f.st, nil
	}
	var heads [][]*Span
	segs := t.Snapshot(req.Start, req.End, func(h *head) {
		if n := len(h.spans); n > 0 && h.maxT >= req.Start && h.minT <= req.End {
			heads = append(heads, h.spans[:n:n])
		}
	})
	defer release(segs)
	for i := len(heads) - 1; i >= 0; i-- {
		if err := f.scanHead(ctx, heads[i]); err != nil {
			return f.st, err
		}
	}
	for i := len(segs) - 1; i >= 0; i-- {
		if err := f.scanSegment(ctx, segs[i]); err != nil {
			return f.st, err
		}
	}
	return f.st, nil
}

func (f *fetch) count(n int) error {
	f.st.SpansScanned += n
	max := f.s.opts.MaxScanSpans
	if f.req.MaxSpans > 0 {
		max = f.req.MaxSpans
	}
	if max > 0 && f.st.SpansScanned > max {
		return fmt.Errorf("%w: more than %d spans to read; narrow the time range or the query", ErrTooMuchData, max)
	}
	return nil
}

func (f *fetch) scanHead(ctx context.Context, spans []*Span) error {
	if err := f.count(len(spans)); err != nil {
		return err
	}
	byTrace := map[[16]byte][]*Span{}
	var order [][16]byte
	for _, sp := range spans {
		if _, ok := byTrace[sp.TraceID]; !ok {
			order = append(order, sp.TraceID)
		}
		byTrace[sp.TraceID] = append(byTrace[sp.TraceID], sp)
	}
	// Newest (last seen first) first.
	for i := len(order) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f.emit(byTrace[order[i]]); err != nil {
			return err
		}
	}
	return nil
}

// scanSegment reads the blocks of r that overlap the time range, last
// first, and emits each trace: a segment's rows are grouped by trace
// (traces in the order their first span started), so a trace is a run of
// rows, which may cross into the block before. A block is read only once
// the traces of the blocks after it have been handled, so a fetch that
// stops leaves the blocks before unread.
func (f *fetch) scanSegment(ctx context.Context, r *segment.Reader) error {
	f.st.Segments++
	var run []*Span
	for b := len(r.Blocks) - 1; b >= 0; b-- {
		bm := r.Blocks[b]
		if bm.MaxT < f.req.Start || bm.MinT > f.req.End {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f.count(bm.Rows); err != nil {
			return err
		}
		// The trace whose rows go on into this block leaves the buffer.
		for i := range run {
			cp := *run[i]
			run[i] = &cp
		}
		cols := searchColumns
		if f.req.SkipSpanAttributes {
			cols = searchColumnsNoAttrs
		}
		spans, err := readBlock(r, b, cols, f.buf)
		if err != nil {
			return err
		}
		f.buf = spans
		f.st.BlocksRead++
		for i := len(spans) - 1; i >= 0; i-- {
			sp := &spans[i]
			if len(run) > 0 && run[0].TraceID != sp.TraceID {
				slices.Reverse(run) // read backwards
				if err := f.emit(run); err != nil {
					return err
				}
				run = run[:0:0]
			}
			run = append(run, sp)
		}
	}
	if len(run) > 0 {
		slices.Reverse(run)
		return f.emit(run)
	}
	return nil
}

// emit hands one trace's spans to fn unless the time range or the
// prefilter rules the trace out.
func (f *fetch) emit(spans []*Span) error {
	first, last := spans[0].Start, spans[0].Start
	for _, sp := range spans {
		first, last = min(first, sp.Start), max(last, sp.Start)
	}
	if last < f.req.Start || first > f.req.End || !f.pre.admits(spans) {
		return nil
	}
	return f.fn(&record.Spanset{TraceID: spans[0].TraceID, Spans: spans})
}

// Tags returns the attribute names of spans of the tenant of ctx that
// started in [from, to] (unix nanoseconds), by scope, sorted.
func (s *Store) Tags(ctx context.Context, from, to int64) (TagNames, error) {
	sets := tagSets{resource: map[string]bool{}, span: map[string]bool{}}
	s.eachTagIndex(ctx, from, to, func(ti *tagIndex) { ti.names(&sets) })
	return TagNames{Resource: sortedKeys(sets.resource), Span: sortedKeys(sets.span)}, nil
}

// TagValues returns the distinct values of tag, named in TraceQL form
// ("resource.service.name", "span.http.method", ".x", or "name" for the
// span names), of spans of the tenant of ctx that started in [from, to],
// sorted by type and then text. At most maxTagValues values per attribute
// are kept per head or segment.
func (s *Store) TagValues(ctx context.Context, tag string, from, to int64) ([]TagValue, error) {
	var out []TagValue
	scope, key, intrinsic := parseTag(tag)
	seen := map[TagValue]bool{}
	s.eachTagIndex(ctx, from, to, func(ti *tagIndex) { ti.values(scope, intrinsic, key, seen) })
	for v := range seen {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b TagValue) int {
		if c := cmp.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out, nil
}

// parseTag splits a tag named in TraceQL form ("resource.service.name",
// "span.http.method", ".x", or a bare "x" as Tempo's v1 API has them) into
// scope and key; intrinsic is set for the span name ("name").
func parseTag(tag string) (scope record.Scope, key string, intrinsic bool) {
	switch {
	case tag == "name":
		return record.ScopeNone, "", true
	case strings.HasPrefix(tag, "resource."):
		return record.ScopeResource, strings.TrimPrefix(tag, "resource."), false
	case strings.HasPrefix(tag, "span."):
		return record.ScopeSpan, strings.TrimPrefix(tag, "span."), false
	}
	return record.ScopeNone, strings.TrimPrefix(tag, "."), false
}

func (s *Store) eachTagIndex(ctx context.Context, from, to int64, fn func(*tagIndex)) {
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return
	}
	var heads []*tagIndex
	segs := t.Snapshot(from, to, func(h *head) {
		if len(h.spans) > 0 && h.maxT >= from && h.minT <= to {
			heads = append(heads, h.tags)
		}
	})
	defer release(segs)
	for _, ti := range heads {
		fn(ti)
	}
	for _, r := range segs {
		fn(r.Extra().(*traceMeta).Tags)
	}
}

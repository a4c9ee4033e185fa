package tracestore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/sightline-dev/sightline/query/traceql"
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

// searcher runs one search over units (heads, then segments), trace by
// trace.
type searcher struct {
	s     *Store
	req   SearchRequest
	st    SearchStats
	found map[[16]byte]*TraceSummary
	pre   prefilter
	// buf is the block buffer, reused from block to block.
	buf []Span
	// resources caches what TraceQL sees of a resource: the spans of a
	// block share their resource's attribute slice.
	resources map[*KV]map[string]traceql.Value
}

// Search returns the traces of the tenant of ctx with spans starting in
// [req.From, req.To] that match req.Query, newest first, at most req.Limit.
// It reads heads and then segments, newest first, and stops at the end of
// the block where it has found enough. A trace whose spans sit in
// different segments (they arrived minutes apart) is matched in each
// separately, as Tempo matches per block.
func (s *Store) Search(ctx context.Context, req SearchRequest) ([]TraceSummary, SearchStats, error) {
	if req.Limit <= 0 {
		req.Limit = 20
	}
	if req.SpansPerSpanSet <= 0 {
		req.SpansPerSpanSet = 3
	}
	sr := &searcher{s: s, req: req, found: map[[16]byte]*TraceSummary{}, resources: map[*KV]map[string]traceql.Value{},
		pre: newPrefilter(req.Query)}
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return nil, sr.st, nil
	}
	var heads [][]*Span
	segs := t.Snapshot(req.From, req.To, func(h *head) {
		if n := len(h.spans); n > 0 && h.maxT >= req.From && h.minT <= req.To {
			heads = append(heads, h.spans[:n:n])
		}
	})
	defer release(segs)
	for i := len(heads) - 1; i >= 0 && len(sr.found) < req.Limit; i-- {
		if err := sr.scanHead(ctx, heads[i]); err != nil {
			return nil, sr.st, err
		}
	}
	for i := len(segs) - 1; i >= 0 && len(sr.found) < req.Limit; i-- {
		if err := sr.scanSegment(ctx, segs[i]); err != nil {
			return nil, sr.st, err
		}
	}
	out := make([]TraceSummary, 0, len(sr.found))
	for _, ts := range sr.found {
		out = append(out, *ts)
	}
	slices.SortFunc(out, func(a, b TraceSummary) int {
		if c := cmp.Compare(b.Start, a.Start); c != 0 {
			return c
		}
		return bytes.Compare(a.TraceID[:], b.TraceID[:])
	})
	if len(out) > req.Limit {
		out = out[:req.Limit]
	}
	return out, sr.st, nil
}

func (sr *searcher) count(n int) error {
	sr.st.SpansScanned += n
	if max := sr.s.opts.MaxScanSpans; max > 0 && sr.st.SpansScanned > max {
		return fmt.Errorf("%w: more than %d spans to read; narrow the time range or the query", ErrTooMuchData, max)
	}
	return nil
}

func (sr *searcher) scanHead(ctx context.Context, spans []*Span) error {
	if err := sr.count(len(spans)); err != nil {
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
	// Newest (last seen first) first, until enough are found.
	for i := len(order) - 1; i >= 0 && len(sr.found) < sr.req.Limit; i-- {
		if err := ctx.Err(); err != nil {
			return err
		}
		sr.match(byTrace[order[i]])
	}
	return nil
}

// scanSegment reads the blocks of r that overlap the time range, last
// first, and matches each trace: a segment's rows are grouped by trace
// (traces in the order their first span started), so a trace is a run of
// rows, which may cross into the block before. It stops after the block
// where the search has found enough traces, newest first, leaving out the
// older trace whose run goes on into the blocks not read.
func (sr *searcher) scanSegment(ctx context.Context, r *segment.Reader) error {
	sr.st.Segments++
	var run []*Span
	for b := len(r.Blocks) - 1; b >= 0; b-- {
		bm := r.Blocks[b]
		if bm.MaxT < sr.req.From || bm.MinT > sr.req.To {
			continue
		}
		if len(sr.found) >= sr.req.Limit {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := sr.count(bm.Rows); err != nil {
			return err
		}
		// The trace whose rows go on into this block leaves the buffer.
		for i := range run {
			cp := *run[i]
			run[i] = &cp
		}
		spans, err := readBlock(r, b, searchColumns, sr.buf)
		if err != nil {
			return err
		}
		sr.buf = spans
		sr.st.BlocksRead++
		clear(sr.resources) // keyed by the previous block's resources
		for i := len(spans) - 1; i >= 0; i-- {
			sp := &spans[i]
			if len(run) > 0 && run[0].TraceID != sp.TraceID {
				slices.Reverse(run) // read backwards
				sr.match(run)
				run = run[:0:0]
			}
			run = append(run, sp)
		}
	}
	if len(run) > 0 {
		slices.Reverse(run)
		sr.match(run)
	}
	return nil
}

// match runs the query on one trace's spans and records a match.
func (sr *searcher) match(spans []*Span) {
	first, last := spans[0].Start, spans[0].Start
	for _, sp := range spans {
		first, last = min(first, sp.Start), max(last, sp.Start)
	}
	if last < sr.req.From || first > sr.req.To || !sr.pre.admits(spans) {
		return
	}
	qs := make([]traceql.Span, len(spans))
	for i, sp := range spans {
		qs[i] = querySpan(sp, sr.resource(sp.Resource))
	}
	idx := sr.req.Query.Match(qs)
	if len(idx) == 0 {
		return
	}
	id := spans[0].TraceID
	ts := sr.found[id]
	if ts == nil {
		ts = &TraceSummary{TraceID: id, Start: first}
		sr.found[id] = ts
	}
	end := ts.Start + int64(ts.Duration)
	for _, sp := range spans {
		if sp.IsRoot() {
			ts.RootServiceName, ts.RootSpanName = sp.Service(), sp.Name
		}
		ts.Start = min(ts.Start, sp.Start)
		end = max(end, sp.End)
	}
	ts.Duration = time.Duration(end - ts.Start)
	ts.MatchedCount += len(idx)
	for _, i := range idx {
		if len(ts.Matched) >= sr.req.SpansPerSpanSet {
			break
		}
		cp := *spans[i] // spans may sit in a block buffer that is reused
		ts.Matched = append(ts.Matched, &cp)
	}
}

func (sr *searcher) resource(kvs []KV) map[string]traceql.Value {
	if len(kvs) == 0 {
		return nil
	}
	if m, ok := sr.resources[&kvs[0]]; ok {
		return m
	}
	m := queryAttrs(kvs)
	sr.resources[&kvs[0]] = m
	return m
}

// Tags returns the attribute names of spans of the tenant of ctx that
// started in [from, to] (unix nanoseconds), by scope, sorted.
func (s *Store) Tags(ctx context.Context, from, to int64) (TagNames, error) {
	sets := tagSets{resource: map[string]bool{}, span: map[string]bool{}}
	s.eachTagIndex(ctx, from, to, func(ti *tagIndex) { ti.names(&sets) })
	return TagNames{Resource: sortedKeys(sets.resource), Span: sortedKeys(sets.span)}, nil
}

// TagValues returns the distinct values of tag, named in TraceQL form
// ("resource.service.name", "span.http.method", ".x", or the intrinsics
// "name", "status" and "kind"), of spans of the tenant of ctx that started
// in [from, to]. At most maxTagValues values per attribute are kept per
// head or segment.
func (s *Store) TagValues(ctx context.Context, tag string, from, to int64) ([]traceql.Value, error) {
	var out []traceql.Value
	switch tag {
	case "status":
		for _, n := range statusNames {
			out = append(out, traceql.StringValue(n))
		}
		return out, nil
	case "kind":
		for _, n := range kindNames {
			out = append(out, traceql.StringValue(n))
		}
		return out, nil
	}
	scope, key, intrinsic := parseTag(tag)
	seen := map[traceql.Value]bool{}
	s.eachTagIndex(ctx, from, to, func(ti *tagIndex) { ti.values(scope, intrinsic, key, seen) })
	for v := range seen {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b traceql.Value) int {
		if a.Type != b.Type {
			return int(a.Type) - int(b.Type)
		}
		return cmp.Compare(a.String(), b.String())
	})
	return out, nil
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

package traceql

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/sightline-dev/sightline/storage/record"
)

// SpansetFetcher is where the engine reads spans from, as Tempo's engine
// reads them through its traceql.SpansetFetcher: storage/tracestore's Store
// implements it. The request and spanset types are storage/record's, so the
// store implements it without importing this package.
type SpansetFetcher interface {
	// Fetch calls fn with the spansets that may match req (req.Conditions
	// narrow them down as far as the store can check them), newest first,
	// and returns what it read. When fn returns an error, Fetch stops
	// reading and returns it.
	Fetch(ctx context.Context, req record.FetchSpansRequest, fn func(*record.Spanset) error) (record.FetchStats, error)
}

// SearchRequest is a trace search: a TraceQL query over a time range.
type SearchRequest struct {
	Query    *Query
	From, To int64 // unix nanoseconds, inclusive; spans starting in it are searched
	// Limit is the most traces returned (newest first); 20 when not set.
	Limit int
	// SpansPerSpanSet bounds the matched spans returned per trace; 3 when
	// not set.
	SpansPerSpanSet int
}

// TraceSummary is one trace found by Search.
type TraceSummary struct {
	TraceID         [16]byte
	RootServiceName string // "" when the root span was not seen (yet)
	RootSpanName    string
	Start           int64 // earliest span start, unix nanoseconds
	Duration        time.Duration
	// Matched are the spans the query matched, at most SpansPerSpanSet;
	// MatchedCount counts them all.
	Matched      []*record.Span
	MatchedCount int
}

// errEnough ends a fetch once the search has found enough traces.
var errEnough = errors.New("enough traces")

// maxCachedResources bounds the resources a search keeps converted.
const maxCachedResources = 1024

// Search returns the traces that f holds in [req.From, req.To] that match
// req.Query, newest first, at most req.Limit, with what the fetch read.
//
// The fetch is sent the query's conditions (Query.Conditions), which the
// store uses to leave out traces that cannot match; the engine matches the
// query in full on each spanset it gets. A trace that comes as several
// spansets (its spans sit in several segments) is matched in each
// separately, as Tempo matches per block, and its summary gathers what
// matched in each. The fetch stops as soon as Limit traces have matched.
func Search(ctx context.Context, f SpansetFetcher, req SearchRequest) ([]TraceSummary, record.FetchStats, error) {
	if req.Limit <= 0 {
		req.Limit = 20
	}
	if req.SpansPerSpanSet <= 0 {
		req.SpansPerSpanSet = 3
	}
	s := &search{req: req, found: map[[16]byte]*TraceSummary{}}
	// A search whose query neither tests nor selects a span attribute
	// returns none: the store need not read them (their column is most of
	// a block's bytes).
	fetch := record.FetchSpansRequest{Start: req.From, End: req.To, Conditions: fetchConditions(req.Query),
		SkipSpanAttributes: !req.Query.readsSpanAttributes() && !req.Query.selectsSpanAttributes()}
	st, err := matchSpans(ctx, f, req.Query, fetch, func(ss *record.Spanset, matched []int) error {
		s.record(ss, matched)
		if len(s.found) >= req.Limit {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, st, err
	}
	out := make([]TraceSummary, 0, len(s.found))
	for _, ts := range s.found {
		out = append(out, *ts)
	}
	slices.SortFunc(out, func(a, b TraceSummary) int {
		if c := cmp.Compare(b.Start, a.Start); c != 0 {
			return c
		}
		return bytes.Compare(a.TraceID[:], b.TraceID[:])
	})
	if len(out) > req.Limit { // a fetcher that did not stop when asked
		out = out[:req.Limit]
	}
	return out, st, nil
}

// fetchConditions are the query's conditions as the store is sent them.
func fetchConditions(q *Query) []record.Condition {
	conds := q.Conditions()
	if len(conds) == 0 {
		return nil
	}
	out := make([]record.Condition, len(conds))
	for i, c := range conds {
		out[i] = record.Condition{Field: record.Field(c.Field), Op: c.Op, Value: record.Literal(c.Value)}
	}
	return out
}

// search is one Search's state.
type search struct {
	req   SearchRequest
	found map[[16]byte]*TraceSummary
}

// record adds a spanset in which the query matched spans to the summary
// of its trace.
func (s *search) record(ss *record.Spanset, idx []int) {
	spans := ss.Spans
	first := spans[0].Start
	for _, sp := range spans {
		first = min(first, sp.Start)
	}
	ts := s.found[ss.TraceID]
	if ts == nil {
		ts = &TraceSummary{TraceID: ss.TraceID, Start: first}
		s.found[ss.TraceID] = ts
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
		if len(ts.Matched) >= s.req.SpansPerSpanSet {
			break
		}
		cp := *spans[i] // spans may sit in a buffer the store reuses
		ts.Matched = append(ts.Matched, &cp)
	}
}

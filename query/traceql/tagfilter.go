package traceql

import (
	"context"
	"slices"
	"strings"

	"github.com/sightline-dev/sightline/storage/record"
)

// ParseTagFilter reads the q of Tempo's tag autocomplete requests
// (/api/v2/search/tags and /api/v2/search/tag/<tag>/values), which narrows
// the tags and values listed to those of spans matching one spanset
// filter. It returns nil when q does not narrow anything: empty, a filter
// every span matches ({}, { true }), more than one spanset ({A} && {B}),
// or nothing usable.
//
// Like Tempo's, it is lenient, since Grafana sends what the user is still
// typing: a condition of the first filter that does not parse
// (`{ resource.service.name = "api" && name = }`, a missing closing brace,
// anything after the filter) is left out, as if it were true, and so is a
// lone attribute (`{ .http` being typed), which only asks for a column.
func ParseTagFilter(q string) *Query {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil
	}
	parsed, err := Parse(q)
	if err != nil {
		parsed = parseLenient(q)
	}
	if parsed == nil {
		return nil
	}
	f, ok := parsed.root.(*spansetFilter)
	if !ok || f.cond == nil {
		return nil
	}
	cond := withoutLoneAttributes(f.cond)
	if alwaysTrue(cond) {
		return nil
	}
	return &Query{root: &spansetFilter{cond: cond}}
}

// parseLenient parses the conditions of q's first filter that parse,
// joined as they are in q, the others replaced by true.
func parseLenient(q string) *Query {
	open := strings.IndexByte(q, '{')
	if open < 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("{ ")
	for _, part := range splitConditions(q[open+1:]) {
		sb.WriteString(part.op)
		text := strings.TrimSpace(part.text)
		if c, err := Parse("{ " + text + " }"); err == nil && isCondition(c) {
			sb.WriteString(text)
		} else {
			sb.WriteString("true")
		}
	}
	sb.WriteString(" }")
	parsed, err := Parse(sb.String())
	if err != nil {
		return nil
	}
	return parsed
}

// isCondition reports whether q is one filter with a condition.
func isCondition(q *Query) bool {
	f, ok := q.root.(*spansetFilter)
	return ok && f.cond != nil
}

// condPart is one condition of a filter's text and the operator before it
// (" && ", " || ", or "" for the first).
type condPart struct{ op, text string }

// splitConditions cuts the text of a filter (after its '{') at its
// top-level && and ||, up to its closing '}' or the end; quoted strings
// and parentheses are kept whole.
func splitConditions(s string) []condPart {
	var parts []condPart
	op, start, depth := "", 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '`':
			for i++; i < len(s) && s[i] != c; i++ {
				if s[i] == '\\' && c == '"' {
					i++
				}
			}
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '}' && depth <= 0:
			return append(parts, condPart{op, s[start:i]})
		case depth <= 0 && i+1 < len(s) && (s[i:i+2] == "&&" || s[i:i+2] == "||"):
			parts = append(parts, condPart{op, s[start:i]})
			op, start = " "+s[i:i+2]+" ", i+2
			i++
		}
	}
	return append(parts, condPart{op, s[min(start, len(s)):]})
}

// withoutLoneAttributes replaces lone attributes by true.
func withoutLoneAttributes(c condExpr) condExpr {
	switch c := c.(type) {
	case *attrCond:
		return &boolCond{v: true}
	case *logicalCond:
		return &logicalCond{and: c.and, lhs: withoutLoneAttributes(c.lhs), rhs: withoutLoneAttributes(c.rhs)}
	}
	return c
}

// alwaysTrue reports whether every span meets c whatever it holds.
func alwaysTrue(c condExpr) bool {
	switch c := c.(type) {
	case *boolCond:
		return c.v
	case *logicalCond:
		if c.and {
			return alwaysTrue(c.lhs) && alwaysTrue(c.rhs)
		}
		return alwaysTrue(c.lhs) || alwaysTrue(c.rhs)
	}
	return false
}

// MatchSpans calls fn with every spanset that f holds in [from, to] in
// which q matches spans, and the indices of those spans in ss.Spans: the
// engine's side of a search, which the store's fetch narrows down with the
// query's conditions (see Search). When fn returns an error, MatchSpans
// stops and returns it. fn must not keep ss's spans (see record.Spanset).
func MatchSpans(ctx context.Context, f SpansetFetcher, q *Query, from, to int64, fn func(ss *record.Spanset, matched []int) error) (record.FetchStats, error) {
	return matchSpans(ctx, f, q, record.FetchSpansRequest{Start: from, End: to, Conditions: fetchConditions(q)}, fn)
}

// matchSpans is MatchSpans with the fetch request given.
func matchSpans(ctx context.Context, f SpansetFetcher, q *Query, fetch record.FetchSpansRequest, fn func(ss *record.Spanset, matched []int) error) (record.FetchStats, error) {
	m := newSpansetMatcher(q)
	return f.Fetch(ctx, fetch, func(ss *record.Spanset) error {
		if _, idx := m.match(ss.Spans); len(idx) > 0 {
			return fn(ss, idx)
		}
		return nil
	})
}

// spansetMatcher matches a query on stored spans, converting them to what
// the query sees. resources caches what the query sees of a resource: the
// spans of a resource share its attribute slice. The cache holds on to
// the slices it is keyed by, so no other resource can take their address;
// it is emptied when full. Span attributes are converted only for a query
// that reads them (spanAttrs).
type spansetMatcher struct {
	q         *Query
	resources map[*record.KV]map[string]Value
	spanAttrs bool
	buf       []Span // what match returns, reused from one call to the next
}

func newSpansetMatcher(q *Query) *spansetMatcher {
	return &spansetMatcher{q: q, resources: map[*record.KV]map[string]Value{}, spanAttrs: q.readsSpanAttributes()}
}

// match returns what the query saw of the spans, valid until the next call,
// and the indices of those it matches.
func (m *spansetMatcher) match(spans []*record.Span) (*traceCtx, []int) {
	if len(spans) == 0 {
		return nil, nil
	}
	m.buf = slices.Grow(m.buf[:0], len(spans))[:len(spans)]
	qs := m.buf
	for i, sp := range spans {
		var attrs map[string]Value
		if m.spanAttrs {
			attrs = storedAttrs(sp.Attributes)
		}
		qs[i] = storedSpan(sp, m.resource(sp.Resource), attrs)
	}
	tc := &traceCtx{spans: qs}
	return tc, m.q.matchTrace(tc)
}

func (m *spansetMatcher) resource(kvs []record.KV) map[string]Value {
	if len(kvs) == 0 {
		return nil
	}
	if r, ok := m.resources[&kvs[0]]; ok {
		return r
	}
	if len(m.resources) >= maxCachedResources {
		clear(m.resources)
	}
	r := storedAttrs(kvs)
	m.resources[&kvs[0]] = r
	return r
}

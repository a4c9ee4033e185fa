package tracestore

import (
	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/logstore"
)

// prefilter is the part of a query's planning conditions
// (traceql.Query.Conditions) that can be checked on stored spans directly:
// a trace in which no span meets one of them cannot match, so it is skipped
// without building what the TraceQL matcher needs. The checks give exactly
// the matcher's answer for the conditions they accept; the others are left
// to the matcher.
type prefilter []func(*Span) bool

func newPrefilter(q *traceql.Query) prefilter {
	var p prefilter
	for _, c := range q.Conditions() {
		if f := spanCheck(c); f != nil {
			p = append(p, f)
		}
	}
	return p
}

// spanCheck returns a check of c on one span, or nil if c is not one the
// prefilter handles.
func spanCheck(c traceql.Condition) func(*Span) bool {
	f, lit := c.Field, c.Value
	switch {
	case f.Intrinsic == traceql.IntrinsicName && c.Op == traceql.OpEqual && lit.Type == traceql.LiteralString:
		return func(s *Span) bool { return s.Name == lit.Str }
	case f.Intrinsic == traceql.IntrinsicStatus && c.Op == traceql.OpEqual && lit.Type == traceql.LiteralStatus:
		return func(s *Span) bool { return StatusName(s.StatusCode) == lit.Str }
	case f.Intrinsic == traceql.IntrinsicKind && c.Op == traceql.OpEqual && lit.Type == traceql.LiteralKind:
		return func(s *Span) bool { return KindName(s.Kind) == lit.Str }
	case f.Intrinsic == traceql.IntrinsicDuration && lit.Type == traceql.LiteralDuration:
		d := lit.Duration
		switch c.Op {
		case traceql.OpGreater:
			return func(s *Span) bool { return s.Duration() > d }
		case traceql.OpGreaterEqual:
			return func(s *Span) bool { return s.Duration() >= d }
		case traceql.OpLess:
			return func(s *Span) bool { return s.Duration() < d }
		case traceql.OpLessEqual:
			return func(s *Span) bool { return s.Duration() <= d }
		}
	case f.Intrinsic == traceql.IntrinsicNone && c.Op == traceql.OpEqual && lit.Type == traceql.LiteralString:
		return func(s *Span) bool {
			kv, ok := lookupAttr(s, f.Scope, f.Name)
			return ok && kv.Type == logstore.TypeString && kv.Value == lit.Str
		}
	}
	return nil
}

// lookupAttr finds an attribute as TraceQL does: an unscoped name is the
// span attribute if the span has one of a comparable type, else the
// resource attribute.
func lookupAttr(s *Span, scope traceql.Scope, name string) (KV, bool) {
	find := func(kvs []KV) (KV, bool) {
		for _, kv := range kvs {
			if kv.Key == name && queryType(kv.Type) != 0 {
				return kv, true
			}
		}
		return KV{}, false
	}
	switch scope {
	case traceql.ScopeSpan:
		return find(s.Attributes)
	case traceql.ScopeResource:
		return find(s.Resource)
	}
	if kv, ok := find(s.Attributes); ok {
		return kv, true
	}
	return find(s.Resource)
}

// admits reports whether every condition is met by some span of the trace.
func (p prefilter) admits(spans []*Span) bool {
	for _, check := range p {
		met := false
		for _, s := range spans {
			if check(s) {
				met = true
				break
			}
		}
		if !met {
			return false
		}
	}
	return true
}

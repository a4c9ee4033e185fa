package tracestore

import "github.com/sightline-dev/sightline/storage/record"

// prefilter is the part of a fetch's conditions that can be checked on
// stored spans directly: a trace in which no span meets one of them cannot
// match, so it is skipped without handing it to the query engine, which
// would build what its matcher needs first. The checks give exactly the
// matcher's answer for the conditions they accept; the others are left to
// the engine.
type prefilter []func(*Span) bool

func newPrefilter(conds []record.Condition) prefilter {
	var p prefilter
	for _, c := range conds {
		if f := spanCheck(c); f != nil {
			p = append(p, f)
		}
	}
	return p
}

// spanCheck returns a check of c on one span, or nil if c is not one the
// prefilter handles.
func spanCheck(c record.Condition) func(*Span) bool {
	f, lit := c.Field, c.Value
	switch {
	case f.Intrinsic == record.IntrinsicName && c.Op == record.OpEqual && lit.Type == record.LiteralString:
		return func(s *Span) bool { return s.Name == lit.Str }
	case f.Intrinsic == record.IntrinsicStatus && c.Op == record.OpEqual && lit.Type == record.LiteralStatus:
		return func(s *Span) bool { return record.StatusName(s.StatusCode) == lit.Str }
	case f.Intrinsic == record.IntrinsicKind && c.Op == record.OpEqual && lit.Type == record.LiteralKind:
		return func(s *Span) bool { return record.KindName(s.Kind) == lit.Str }
	case f.Intrinsic == record.IntrinsicDuration && lit.Type == record.LiteralDuration:
		d := lit.Duration
		switch c.Op {
		case record.OpGreater:
			return func(s *Span) bool { return s.Duration() > d }
		case record.OpGreaterEqual:
			return func(s *Span) bool { return s.Duration() >= d }
		case record.OpLess:
			return func(s *Span) bool { return s.Duration() < d }
		case record.OpLessEqual:
			return func(s *Span) bool { return s.Duration() <= d }
		}
	case f.Intrinsic == record.IntrinsicNone && c.Op == record.OpEqual && lit.Type == record.LiteralString:
		return func(s *Span) bool {
			kv, ok := lookupAttr(s, f.Scope, f.Name)
			return ok && kv.Type == record.TypeString && kv.Value == lit.Str
		}
	}
	return nil
}

// lookupAttr finds an attribute as TraceQL does: an unscoped name is the
// span attribute if the span has one of a comparable type, else the
// resource attribute.
func lookupAttr(s *Span, scope record.Scope, name string) (record.KV, bool) {
	find := func(kvs []record.KV) (record.KV, bool) {
		for _, kv := range kvs {
			if kv.Key == name && kv.Type.Scalar() {
				return kv, true
			}
		}
		return record.KV{}, false
	}
	switch scope {
	case record.ScopeSpan:
		return find(s.Attributes)
	case record.ScopeResource:
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

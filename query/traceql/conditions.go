package traceql

// Conditions returns conditions for planning: every trace that Match
// accepts has, for each returned condition, at least one span that meets it.
// A store may therefore skip, before calling Match, any trace in which no
// span meets one of them (by an index on attribute values, span names,
// durations...). The list is best effort: it is nil when nothing can be
// said (for {} or a query made only of alternatives with nothing in
// common), it never lists a condition a matching trace could fail, and
// Match must still run on the traces that pass.
//
// Conditions joined by && inside a filter, and the filters on both sides of
// a spanset && or >, are all required; of the two sides of an ||, only the
// conditions common to both are. { .flag } is reported as `.flag = true`.
// Trace-level intrinsics (Intrinsic.TraceLevel) hold for every span of a
// trace alike. The order is the order of first appearance in the query.
func (q *Query) Conditions() []Condition {
	conds := spansetConditions(q.root)
	for _, st := range q.pipeline {
		if st.filter != nil { // the spans it keeps meet its conditions
			conds = append(conds, spansetConditions(st.filter)...)
		}
	}
	return dedupe(conds)
}

func spansetConditions(e spansetExpr) []Condition {
	switch e := e.(type) {
	case *spansetFilter:
		if e.cond == nil {
			return nil
		}
		return condConditions(e.cond)
	case *spansetOp:
		lhs, rhs := spansetConditions(e.lhs), spansetConditions(e.rhs)
		if e.op == opSpansetOr {
			return intersect(lhs, rhs)
		}
		return append(lhs, rhs...)
	}
	return nil
}

func condConditions(c condExpr) []Condition {
	switch c := c.(type) {
	case *compareCond:
		return []Condition{c.c}
	case *attrCond:
		return []Condition{{Field: c.f, Op: OpEqual, Value: Literal{Type: LiteralBool, Bool: true}}}
	case *logicalCond:
		lhs, rhs := condConditions(c.lhs), condConditions(c.rhs)
		if !c.and {
			return intersect(lhs, rhs)
		}
		return append(lhs, rhs...)
	}
	return nil
}

// intersect keeps the conditions of a that b has too.
func intersect(a, b []Condition) []Condition {
	var out []Condition
	for _, c := range a {
		for _, d := range b {
			if c == d {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func dedupe(cs []Condition) []Condition {
	var out []Condition
	seen := make(map[Condition]bool, len(cs))
	for _, c := range cs {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// readsSpanAttributes reports whether evaluating q may read a span
// attribute: a span-scoped or unscoped field in a condition, a by() field
// or an aggregated field, or compare(), which counts every attribute.
func (q *Query) readsSpanAttributes() bool {
	if m := q.metrics; m != nil {
		if m.fn == MetricsCompare || (m.fn.takesField() && m.field.readsSpanAttribute()) {
			return true
		}
		for _, f := range m.by {
			if f.readsSpanAttribute() {
				return true
			}
		}
	}
	for _, st := range q.pipeline {
		if st.agg != nil && st.agg.fn != aggCount && st.agg.field.readsSpanAttribute() {
			return true
		}
		if st.filter != nil && spansetReadsSpanAttributes(st.filter) {
			return true
		}
	}
	return spansetReadsSpanAttributes(q.root)
}

// selectsSpanAttributes says whether the query's | select(...) names a
// span attribute, which a search returns with the spans it matched.
func (q *Query) selectsSpanAttributes() bool {
	for _, it := range q.selects {
		if it.field.readsSpanAttribute() {
			return true
		}
	}
	return false
}

func (f Field) readsSpanAttribute() bool {
	return f.Intrinsic == IntrinsicNone && f.Scope != ScopeResource
}

func spansetReadsSpanAttributes(e spansetExpr) bool {
	switch e := e.(type) {
	case *spansetFilter:
		return e.cond != nil && condReadsSpanAttributes(e.cond)
	case *spansetOp:
		return spansetReadsSpanAttributes(e.lhs) || spansetReadsSpanAttributes(e.rhs)
	}
	return true
}

func condReadsSpanAttributes(c condExpr) bool {
	switch c := c.(type) {
	case *compareCond:
		return c.c.Field.readsSpanAttribute()
	case *attrCond:
		return c.f.readsSpanAttribute()
	case *existsCond:
		return c.f.readsSpanAttribute()
	case *logicalCond:
		return condReadsSpanAttributes(c.lhs) || condReadsSpanAttributes(c.rhs)
	case *boolCond, *rootCond, *constRootCond:
		return false
	}
	return true
}

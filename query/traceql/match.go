package traceql

import (
	"cmp"
	"math"
	"strings"
	"time"
)

// valKind is the type of a value during evaluation: an attribute's, an
// intrinsic's or a literal's. vNil is a missing value.
type valKind uint8

const (
	vNil valKind = iota
	vString
	vInt
	vFloat
	vBool
	vDuration
	vStatus
	vKind
)

// val is a value during evaluation. Durations are nanoseconds in i; status
// and kind keywords are in s.
type val struct {
	kind valKind
	s    string
	i    int64
	f    float64
	b    bool
}

func (k valKind) numeric() bool { return k == vInt || k == vFloat || k == vDuration }

func (v val) float() float64 {
	switch v.kind {
	case vFloat:
		return v.f
	case vInt, vDuration:
		return float64(v.i)
	}
	return math.NaN()
}

// compatible reports whether two types can be compared at all, as Tempo's
// isMatchingOperand: the same type, or two numeric types (int, float and
// duration compare as numbers).
func compatible(a, b valKind) bool {
	return a == b || (a.numeric() && b.numeric())
}

// opValid reports whether op applies to type k, as Tempo's binaryTypesValid:
// booleans, statuses and kinds only compare for (in)equality, numbers do not
// match regular expressions, strings compare lexically.
func opValid(op Op, k valKind) bool {
	switch k {
	case vString:
		return true
	case vInt, vFloat, vDuration:
		return op != OpRegex && op != OpNotRegex
	case vBool, vStatus, vKind:
		return op == OpEqual || op == OpNotEqual
	}
	return false
}

// compare evaluates `a op b` with Tempo's semantics: a missing value or a
// type mismatch is false whatever the operator (so != is false too), ints
// compare exactly with ints and durations, and any other numeric pair
// compares as floats.
func compare(op Op, a, b val, c *compareCond) bool {
	if a.kind == vNil || b.kind == vNil || !compatible(a.kind, b.kind) || !opValid(op, a.kind) || !opValid(op, b.kind) {
		return false
	}
	switch {
	case a.kind == vString && b.kind == vString:
		switch op {
		case OpRegex:
			return c.re.MatchString(a.s)
		case OpNotRegex:
			return !c.re.MatchString(a.s)
		}
		return ordered(op, strings.Compare(a.s, b.s))
	case a.kind.numeric():
		if a.kind != vFloat && b.kind != vFloat {
			return ordered(op, cmp.Compare(a.i, b.i))
		}
		x, y := a.float(), b.float()
		switch op {
		case OpEqual:
			return x == y
		case OpNotEqual:
			return x != y
		case OpGreater:
			return x > y
		case OpGreaterEqual:
			return x >= y
		case OpLess:
			return x < y
		case OpLessEqual:
			return x <= y
		}
		return false
	case a.kind == vBool:
		return (op == OpEqual) == (a.b == b.b)
	default: // status, kind
		return (op == OpEqual) == (a.s == b.s)
	}
}

// ordered turns a three-way comparison into the operator's result.
func ordered(op Op, c int) bool {
	switch op {
	case OpEqual:
		return c == 0
	case OpNotEqual:
		return c != 0
	case OpGreater:
		return c > 0
	case OpGreaterEqual:
		return c >= 0
	case OpLess:
		return c < 0
	case OpLessEqual:
		return c <= 0
	}
	return false
}

func attrVal(v Value, ok bool) val {
	if !ok {
		return val{}
	}
	switch v.Type {
	case TypeString:
		return val{kind: vString, s: v.Str}
	case TypeInt:
		return val{kind: vInt, i: v.Int}
	case TypeFloat:
		return val{kind: vFloat, f: v.Float}
	case TypeBool:
		return val{kind: vBool, b: v.Bool}
	}
	return val{}
}

// normStatus maps a span's status code to the TraceQL keyword: "ok",
// "error" or "unset" ("" and OTLP's STATUS_CODE_ERROR spelling accepted).
func normStatus(s string) string {
	s = strings.TrimPrefix(strings.ToLower(s), "status_code_")
	if s == "" {
		return "unset"
	}
	return s
}

// normKind maps a span's kind to the TraceQL keyword ("" and OTLP's
// SPAN_KIND_SERVER spelling accepted).
func normKind(s string) string {
	s = strings.TrimPrefix(strings.ToLower(s), "span_kind_")
	if s == "" {
		return "unspecified"
	}
	return s
}

// traceCtx is one evaluation of a query over one trace. The trace-level
// intrinsics are computed on first use.
type traceCtx struct {
	spans    []Span
	rootDone bool
	root     int // index of the root span, -1 if the trace has none
	durDone  bool
	dur      time.Duration
	parents  []int // parentIndex, computed on first use
	// whole is the trace when spans are only some of its spans (a
	// pipeline's spanset expression runs over the previous stage's spans):
	// trace-level intrinsics are read from it.
	whole *traceCtx
}

func (tc *traceCtx) rootSpan() *Span {
	if tc.whole != nil {
		return tc.whole.rootSpan()
	}
	if !tc.rootDone {
		tc.rootDone = true
		tc.root = -1
		for i := range tc.spans {
			if tc.spans[i].ParentSpanID == ([8]byte{}) {
				tc.root = i
				break
			}
		}
	}
	if tc.root < 0 {
		return nil
	}
	return &tc.spans[tc.root]
}

func (tc *traceCtx) traceDuration() time.Duration {
	if tc.whole != nil {
		return tc.whole.traceDuration()
	}
	if !tc.durDone {
		tc.durDone = true
		var first, last time.Time
		for i, s := range tc.spans {
			end := s.Start.Add(s.Duration)
			if i == 0 || s.Start.Before(first) {
				first = s.Start
			}
			if i == 0 || end.After(last) {
				last = end
			}
		}
		tc.dur = last.Sub(first)
	}
	return tc.dur
}

// value returns the field's value for span s. A trace without a root span
// has "" as rootName and rootServiceName, as Tempo stores them.
func (tc *traceCtx) value(f Field, s *Span) val {
	switch f.Intrinsic {
	case IntrinsicNone:
		switch f.Scope {
		case ScopeSpan:
			v, ok := s.Attributes[f.Name]
			return attrVal(v, ok)
		case ScopeResource:
			v, ok := s.Resource[f.Name]
			return attrVal(v, ok)
		}
		if v, ok := s.Attributes[f.Name]; ok && v.Type != 0 {
			return attrVal(v, ok)
		}
		v, ok := s.Resource[f.Name]
		return attrVal(v, ok)
	case IntrinsicName:
		return val{kind: vString, s: s.Name}
	case IntrinsicStatus:
		return val{kind: vStatus, s: normStatus(s.StatusCode)}
	case IntrinsicStatusMessage:
		return val{kind: vString, s: s.StatusMessage}
	case IntrinsicDuration:
		return val{kind: vDuration, i: int64(s.Duration)}
	case IntrinsicKind:
		return val{kind: vKind, s: normKind(s.Kind)}
	case IntrinsicTraceDuration:
		return val{kind: vDuration, i: int64(tc.traceDuration())}
	case IntrinsicRootName:
		if r := tc.rootSpan(); r != nil {
			return val{kind: vString, s: r.Name}
		}
		return val{kind: vString}
	case IntrinsicRootServiceName:
		if r := tc.rootSpan(); r != nil {
			if v, ok := r.Resource["service.name"]; ok && v.Type == TypeString {
				return val{kind: vString, s: v.Str}
			}
		}
		return val{kind: vString}
	}
	return val{}
}

// Match evaluates the query over one whole trace and returns the indices of
// the matching spans (in ascending order), or nil when the trace does not
// match. The trace is every span the store has for one trace ID, in any
// order; parents are found by ParentSpanID.
func (q *Query) Match(trace []Span) []int {
	if len(trace) == 0 || q.root == nil {
		return nil
	}
	return q.matchTrace(&traceCtx{spans: trace})
}

// matchTrace is Match over the spans of tc.
func (q *Query) matchTrace(tc *traceCtx) []int {
	set := q.root.eval(tc)
	for _, st := range q.pipeline {
		if set = st.run(tc, set); !anyTrue(set) {
			return nil
		}
	}
	n := 0
	for _, ok := range set {
		if ok {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]int, 0, n)
	for i, ok := range set {
		if ok {
			out = append(out, i)
		}
	}
	return out
}

func (f *spansetFilter) eval(tc *traceCtx) []bool {
	set := make([]bool, len(tc.spans))
	for i := range tc.spans {
		set[i] = f.cond == nil || f.cond.match(tc, &tc.spans[i])
	}
	return set
}

// eval combines both operands, each evaluated over the whole trace, as
// Tempo's spanset operations do: && keeps both sides' spans when both have
// some, || keeps either side's. The structural operators keep the right
// side's spans that stand in their relation to some left-side span ({A} >
// {B}: B whose direct parent is an A; < parent of an A; >> descendant of an
// A; << ancestor of an A; ~ sibling of an A, another span with the same
// parent), and their union forms (&>, &<, &>>, &<<, &~) keep as well the
// left side's spans that some kept right-side span is related to, as
// Tempo's docs put it: spans that match on both sides.
//
// The relations are read from the spans of tc only, linked by ParentSpanID:
// when a trace comes as several spansets (its spans sit in several
// segments, see Search), a parent, ancestor, child or descendant that sits
// in another spanset is not seen, so {A} >> {B} misses a B whose A
// ancestor, or any span in between, is in another segment. Siblings are
// spans with the same non-zero ParentSpanID, whether or not the parent is
// in tc.
func (o *spansetOp) eval(tc *traceCtx) []bool {
	lhs, rhs := o.lhs.eval(tc), o.rhs.eval(tc)
	switch o.op {
	case opSpansetAnd:
		if !anyTrue(lhs) || !anyTrue(rhs) {
			return make([]bool, len(tc.spans))
		}
		fallthrough
	case opSpansetOr:
		for i := range lhs {
			lhs[i] = lhs[i] || rhs[i]
		}
		return lhs
	}
	if !anyTrue(lhs) || !anyTrue(rhs) {
		return make([]bool, len(tc.spans))
	}
	var related, inverse func(tc *traceCtx, set []bool) []bool
	union, not := false, false
	switch o.op {
	case opSpansetChild, opSpansetUnionChild, opSpansetNotChild:
		related, inverse = hasParentIn, hasChildIn
	case opSpansetParent, opSpansetUnionParent, opSpansetNotParent:
		related, inverse = hasChildIn, hasParentIn
	case opSpansetDesc, opSpansetUnionDesc, opSpansetNotDesc:
		related, inverse = hasAncestorIn, hasDescendantIn
	case opSpansetAnce, opSpansetUnionAnce, opSpansetNotAnce:
		related, inverse = hasDescendantIn, hasAncestorIn
	case opSpansetSibl, opSpansetUnionSibl, opSpansetNotSibl:
		related, inverse = hasSiblingIn, hasSiblingIn
	default:
		panic("BUG: unknown spanset operator")
	}
	switch o.op {
	case opSpansetUnionChild, opSpansetUnionParent, opSpansetUnionDesc, opSpansetUnionAnce, opSpansetUnionSibl:
		union = true
	case opSpansetNotChild, opSpansetNotParent, opSpansetNotDesc, opSpansetNotAnce, opSpansetNotSibl:
		not = true
	}
	rel := related(tc, lhs)
	if not {
		// The negated operators keep the right side's spans that stand in
		// the relation to no left-side span.
		for i := range rel {
			rel[i] = !rel[i]
		}
	}
	out := and(rhs, rel)
	if union {
		// The left side's spans related to a right-side span that is kept:
		// a right-side span is kept exactly when related to a left one, so
		// the left spans related to any right-side span are the same.
		left := and(lhs, inverse(tc, out))
		for i := range out {
			out[i] = out[i] || left[i]
		}
	}
	return out
}

// and sets a[i] to a[i] && b[i] and returns a.
func and(a, b []bool) []bool {
	for i := range a {
		a[i] = a[i] && b[i]
	}
	return a
}

// parentIndex returns, for each span of tc, the index of its parent span
// in tc, or -1 (a root, or a parent tc does not hold). When several spans
// share an ID, the first is the parent.
func (tc *traceCtx) parentIndex() []int {
	if tc.parents != nil {
		return tc.parents
	}
	byID := make(map[[8]byte]int, len(tc.spans))
	for i := range tc.spans {
		if _, dup := byID[tc.spans[i].SpanID]; !dup {
			byID[tc.spans[i].SpanID] = i
		}
	}
	tc.parents = make([]int, len(tc.spans))
	for i := range tc.spans {
		tc.parents[i] = -1
		if pid := tc.spans[i].ParentSpanID; pid != ([8]byte{}) {
			if j, ok := byID[pid]; ok {
				tc.parents[i] = j
			}
		}
	}
	return tc.parents
}

// hasParentIn reports for each span whether its direct parent is in set.
// Like the other relations below, it follows ParentSpanID, so a span whose
// ID several spans share counts as each of them.
func hasParentIn(tc *traceCtx, set []bool) []bool {
	ids := make(map[[8]byte]struct{})
	for i, ok := range set {
		if ok {
			ids[tc.spans[i].SpanID] = struct{}{}
		}
	}
	out := make([]bool, len(tc.spans))
	for i := range tc.spans {
		p := tc.spans[i].ParentSpanID
		_, found := ids[p]
		out[i] = found && p != [8]byte{}
	}
	return out
}

// hasChildIn reports for each span whether one of its direct children is
// in set.
func hasChildIn(tc *traceCtx, set []bool) []bool {
	parents := make(map[[8]byte]struct{})
	for i, ok := range set {
		if ok && tc.spans[i].ParentSpanID != ([8]byte{}) {
			parents[tc.spans[i].ParentSpanID] = struct{}{}
		}
	}
	out := make([]bool, len(tc.spans))
	for i := range tc.spans {
		_, out[i] = parents[tc.spans[i].SpanID]
	}
	return out
}

// hasAncestorIn reports for each span whether a proper ancestor of it is in
// set. A cycle of ParentSpanIDs (bad data) ends the walk up.
func hasAncestorIn(tc *traceCtx, set []bool) []bool {
	const (
		unknown = iota
		yes
		no
		walking
	)
	parent := tc.parentIndex()
	state := make([]uint8, len(tc.spans))
	var path []int
	for i := range tc.spans {
		path = path[:0]
		res := uint8(no)
		for j := i; ; {
			if state[j] == yes || state[j] == no {
				res = state[j]
				break
			}
			if state[j] == walking { // a cycle
				break
			}
			state[j] = walking
			path = append(path, j)
			p := parent[j]
			if p < 0 {
				break
			}
			if set[p] {
				res = yes
				break
			}
			j = p
		}
		// Every span on the path has the answer of the last: none of their
		// parents but the last one's was in set.
		for _, j := range path {
			state[j] = res
		}
	}
	out := make([]bool, len(tc.spans))
	for i := range out {
		out[i] = state[i] == yes
	}
	return out
}

// hasDescendantIn reports for each span whether a proper descendant of it
// is in set: the ancestors of the spans in set.
func hasDescendantIn(tc *traceCtx, set []bool) []bool {
	parent := tc.parentIndex()
	out := make([]bool, len(tc.spans))
	for i, ok := range set {
		if !ok {
			continue
		}
		// A span already marked has all its ancestors marked; that also
		// ends a walk round a cycle.
		for j := parent[i]; j >= 0 && !out[j]; j = parent[j] {
			out[j] = true
		}
	}
	return out
}

// hasSiblingIn reports for each span whether another span with the same
// non-zero ParentSpanID is in set.
func hasSiblingIn(tc *traceCtx, set []bool) []bool {
	n := make(map[[8]byte]int)
	for i, ok := range set {
		if ok && tc.spans[i].ParentSpanID != ([8]byte{}) {
			n[tc.spans[i].ParentSpanID]++
		}
	}
	out := make([]bool, len(tc.spans))
	for i := range tc.spans {
		p := tc.spans[i].ParentSpanID
		if p == ([8]byte{}) {
			continue
		}
		c := n[p]
		if set[i] {
			c-- // not its own sibling
		}
		out[i] = c > 0
	}
	return out
}

func anyTrue(set []bool) bool {
	for _, ok := range set {
		if ok {
			return true
		}
	}
	return false
}

func (c *logicalCond) match(tc *traceCtx, s *Span) bool {
	if c.and {
		return c.lhs.match(tc, s) && c.rhs.match(tc, s)
	}
	return c.lhs.match(tc, s) || c.rhs.match(tc, s)
}

func (c *compareCond) match(tc *traceCtx, s *Span) bool {
	return compare(c.c.Op, tc.value(c.c.Field, s), c.lit, c)
}

func (c *boolCond) match(*traceCtx, *Span) bool { return c.v }

func (c *attrCond) match(tc *traceCtx, s *Span) bool {
	v := tc.value(c.f, s)
	return v.kind == vBool && v.b
}

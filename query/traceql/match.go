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
}

func (tc *traceCtx) rootSpan() *Span {
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
// some, || keeps either side's, and > keeps the right side's spans whose
// direct parent is among the left side's.
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
	case opSpansetChild:
		parents := make(map[[8]byte]struct{})
		for i, ok := range lhs {
			if ok {
				parents[tc.spans[i].SpanID] = struct{}{}
			}
		}
		for i, ok := range rhs {
			if !ok {
				continue
			}
			p := tc.spans[i].ParentSpanID
			_, found := parents[p]
			rhs[i] = found && p != [8]byte{}
		}
		return rhs
	}
	panic("BUG: unknown spanset operator")
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

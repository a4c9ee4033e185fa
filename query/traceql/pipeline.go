package traceql

import (
	"strings"
)

// aggFunc is an aggregate of a search pipeline: count(), avg(f), min(f),
// max(f), sum(f).
type aggFunc uint8

const (
	aggCount aggFunc = iota + 1
	aggAvg
	aggMin
	aggMax
	aggSum
)

var aggFuncs = map[string]aggFunc{"count": aggCount, "avg": aggAvg, "min": aggMin, "max": aggMax, "sum": aggSum}

var aggFuncText = map[aggFunc]string{aggCount: "count", aggAvg: "avg", aggMin: "min", aggMax: "max", aggSum: "sum"}

// aggFilter is `| fn(field) op literal` after a spanset expression: as in
// Tempo, the aggregate is computed over the spans of the spanset, and a
// spanset for which the comparison is false is dropped.
type aggFilter struct {
	fn    aggFunc
	field Field // not for count()
	op    Op
	lit   Literal
}

// pipeStage is one stage of a search pipeline: an aggregate filter, a
// spanset expression over the spans of the previous stage, coalesce(), or
// (all of those unset) a select.
type pipeStage struct {
	agg      *aggFilter
	filter   spansetExpr
	coalesce bool
	sel      []selectItem
}

// write prints the stage as TraceQL, after " | ".
func (st pipeStage) write(sb *strings.Builder) {
	switch {
	case st.agg != nil:
		st.agg.write(sb)
	case st.filter != nil:
		sb.WriteString(" | ")
		st.filter.write(sb)
	case st.coalesce:
		sb.WriteString(" | coalesce()")
	default:
		sb.WriteString(" | select(")
		for i, it := range st.sel {
			if i > 0 {
				sb.WriteString(", ")
			}
			if it.name != "" {
				sb.WriteString(it.name)
			} else {
				sb.WriteString(it.field.String())
			}
		}
		sb.WriteByte(')')
	}
}

// run applies the stage to set, the spans of tc the previous stage kept,
// and returns what it keeps; none when the spanset is dropped. A spanset
// expression is evaluated over those spans alone, as Tempo evaluates it
// over its input spanset: its structural operators relate them only, and
// && needs both sides among them; trace-level intrinsics still read the
// whole trace. coalesce() merges a trace's spansets into one, and a trace
// has one spanset here (see Search), so it keeps them all.
func (st pipeStage) run(tc *traceCtx, set []bool) []bool {
	switch {
	case st.agg != nil:
		if !st.agg.keep(tc, set) {
			return nil
		}
	case st.filter != nil:
		var idx []int
		for i, ok := range set {
			if ok {
				idx = append(idx, i)
			}
		}
		sub := &traceCtx{spans: make([]Span, len(idx)), whole: tc}
		if tc.whole != nil {
			sub.whole = tc.whole
		}
		for k, i := range idx {
			sub.spans[k] = tc.spans[i]
		}
		out := make([]bool, len(set))
		for k, ok := range st.filter.eval(sub) {
			out[idx[k]] = ok
		}
		return out
	}
	return set
}

// isCoalesceStart reports whether the tokens at the parser's position are
// "| coalesce ( )".
func (p *parser) isCoalesceStart() bool {
	if p.peek().kind != tPipe || p.i+3 >= len(p.toks) {
		return false
	}
	n := p.toks[p.i+1]
	return n.kind == tIdent && n.text == "coalesce" && p.toks[p.i+2].kind == tLParen && p.toks[p.i+3].kind == tRParen
}

// isFilterStageStart reports whether the tokens at the parser's position
// are "| {" or "| (": a spanset expression as a pipeline stage.
func (p *parser) isFilterStageStart() bool {
	if p.peek().kind != tPipe || p.i+1 >= len(p.toks) {
		return false
	}
	k := p.toks[p.i+1].kind
	return k == tLBrace || k == tLParen
}

func (a *aggFilter) write(sb *strings.Builder) {
	sb.WriteString(" | " + aggFuncText[a.fn] + "(")
	if a.fn != aggCount {
		sb.WriteString(a.field.String())
	}
	sb.WriteString(") " + a.op.String() + " " + a.lit.String())
}

// keep evaluates the aggregate over the spans set selects and compares it.
// Spans whose field is missing or not a number are left out of avg, min,
// max and sum, as Tempo skips them; with none left the aggregate has no
// value and the comparison is false.
func (a *aggFilter) keep(tc *traceCtx, set []bool) bool {
	var (
		n     int
		sum   float64
		lo    float64
		hi    float64
		isDur = a.fn != aggCount && a.field.fieldType() == vDuration
		isInt = true
	)
	for i, ok := range set {
		if !ok {
			continue
		}
		if a.fn == aggCount {
			n++
			continue
		}
		v := tc.value(a.field, &tc.spans[i])
		if !v.kind.numeric() {
			continue
		}
		if v.kind == vDuration {
			isDur = true
		}
		if v.kind == vFloat {
			isInt = false
		}
		f := v.float()
		if n == 0 {
			lo, hi = f, f
		}
		n++
		sum += f
		lo, hi = min(lo, f), max(hi, f)
	}
	var r float64
	switch a.fn {
	case aggCount:
		return compare(a.op, val{kind: vInt, i: int64(n)}, a.lit.value(), nil)
	case aggAvg:
		isInt = false
		r = sum / float64(max(n, 1))
	case aggMin:
		r = lo
	case aggMax:
		r = hi
	case aggSum:
		r = sum
	}
	if n == 0 {
		return false
	}
	var v val
	switch {
	case isDur:
		v = val{kind: vDuration, i: int64(r)}
	case isInt:
		v = val{kind: vInt, i: int64(r)}
	default:
		v = val{kind: vFloat, f: r}
	}
	return compare(a.op, v, a.lit.value(), nil)
}

// isAggStart reports whether the tokens at the parser's position are
// "| count (" or another aggregate.
func (p *parser) isAggStart() bool {
	if p.peek().kind != tPipe || p.i+2 >= len(p.toks) {
		return false
	}
	n := p.toks[p.i+1]
	return n.kind == tIdent && aggFuncs[n.text] != 0 && p.toks[p.i+2].kind == tLParen
}

// aggOps are the comparisons an aggregate filter takes, as in Tempo's
// grammar (no regular expressions).
var aggOps = map[tokKind]Op{
	tEq: OpEqual, tNeq: OpNotEqual, tGt: OpGreater, tGte: OpGreaterEqual, tLt: OpLess, tLte: OpLessEqual,
}

// parseAgg parses "| fn([field]) op number".
func (p *parser) parseAgg() (*aggFilter, error) {
	p.next() // |
	name := p.next()
	p.next() // (
	a := &aggFilter{fn: aggFuncs[name.text]}
	if a.fn != aggCount {
		ft := p.peek()
		o, err := p.parseOperand()
		if err != nil {
			return nil, err
		}
		if !o.isField {
			return nil, p.unexpected(ft, "an attribute or intrinsic")
		}
		if t := o.field.fieldType(); t != vNil && !t.numeric() {
			return nil, p.errorAt(ft, "%s() of %s: a number or duration is needed", name.text, o.field)
		}
		a.field = o.field
	}
	if t := p.next(); t.kind != tRParen {
		return nil, p.unexpected(t, ")")
	}
	t := p.next()
	op, ok := aggOps[t.kind]
	if !ok {
		return nil, p.unexpected(t, "a comparison (=, !=, >, >=, <, <=)")
	}
	lt := p.peek()
	o, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	if o.isField || !o.lit.value().kind.numeric() {
		return nil, p.errorAt(lt, "%s() can only be compared with a number or a duration: %s", name.text, o)
	}
	if n := p.peek(); isComparison(n.kind) {
		return nil, p.unsupported(n, "chained comparison "+n.text)
	}
	a.op, a.lit = op, o.lit
	return a, nil
}

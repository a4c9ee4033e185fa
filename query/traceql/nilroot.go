package traceql

import (
	"cmp"
	"strconv"
	"strings"
)

// Two conditions that Grafana's Traces Drilldown app writes into every
// query it sends: `nestedSetParent < 0` (its "root spans" signal) and
// `<field> != nil` (the guard it adds for the attribute a panel groups by).

// existsCond is `field != nil` (the span has the field) or `field = nil`
// (it has not), as in Tempo, where nil is the value of a missing attribute.
type existsCond struct {
	f      Field
	exists bool
}

func (c *existsCond) match(tc *traceCtx, s *Span) bool {
	return (tc.value(c.f, s).kind != vNil) == c.exists
}

func (c *existsCond) write(sb *strings.Builder) {
	sb.WriteString(c.f.String())
	if c.exists {
		sb.WriteString(" != nil")
	} else {
		sb.WriteString(" = nil")
	}
}

// nilTest parses the nil after `field =` or `field !=`; other operators
// with nil, and nil compared with a literal, are errors as in Tempo.
func (p *parser) nilTest(lhs operand, op token) (condExpr, error) {
	n := p.next()
	switch {
	case !lhs.isField:
		return nil, p.errorAt(lhs.tok, "binary operations must operate on the same type: %s %s nil", lhs, op.text)
	case op.kind != tEq && op.kind != tNeq:
		return nil, p.errorAt(n, "illegal operation for the given types: %s %s nil", lhs, op.text)
	}
	if t := p.peek(); isComparison(t.kind) || isArithmetic(t.kind) {
		return nil, p.unexpected(t, "&&, || or }")
	}
	return &existsCond{f: lhs.field, exists: op.kind == tNeq}, nil
}

// rootCond is a comparison of nestedSetParent with an integer whose result
// depends only on whether the span is a root. Tempo numbers spans by a
// depth-first walk of the trace from 1; a root's nestedSetParent is -1 and
// every other span's is its parent's number, at least 1. Sightline keeps no
// such numbering, so only the comparisons that are the same for every
// number from 1 up are accepted: nestedSetParent < 0 (roots, as Drilldown
// writes it), = -1, != -1, >= 0, > 0 ...
type rootCond struct {
	op   Op
	v    int64
	root bool // the result for a root; the opposite for any other span
}

func (c *rootCond) match(_ *traceCtx, s *Span) bool {
	return (s.ParentSpanID == [8]byte{}) == c.root
}

func (c *rootCond) write(sb *strings.Builder) {
	sb.WriteString("nestedSetParent " + c.op.String() + " " + strconv.FormatInt(c.v, 10))
}

// parseNestedSetParent parses `nestedSetParent <op> <integer>`.
func (p *parser) parseNestedSetParent() (condExpr, error) {
	field := p.next()
	opTok := p.next()
	op, ok := comparisonOps[opTok.kind]
	if !ok || op == OpRegex || op == OpNotRegex {
		return nil, p.unsupported(field, "nestedSetParent other than compared with an integer")
	}
	neg := false
	if p.peek().kind == tSub {
		neg = true
		p.next()
	}
	n := p.next()
	if n.kind != tInt {
		return nil, p.unsupported(field, "nestedSetParent other than compared with an integer")
	}
	v := n.i
	if neg {
		v = -v
	}
	// result(x) for the root (x = -1) and for any x >= 1, which must agree.
	result := func(x int64) bool { return ordered(op, cmp.Compare(x, v)) }
	rest, determined := false, false
	switch op {
	case OpLess:
		rest, determined = false, v <= 1
	case OpLessEqual, OpEqual:
		rest, determined = false, v < 1
	case OpGreater, OpNotEqual:
		rest, determined = true, v < 1
	case OpGreaterEqual:
		rest, determined = true, v <= 1
	}
	if !determined {
		return nil, p.unsupported(field, "nestedSetParent "+op.String()+" "+strconv.FormatInt(v, 10)+" (nested set numbers other than a root's)")
	}
	root := result(-1)
	if root == rest {
		// Always true or always false: keep it, it still prints back.
		return &constRootCond{rootCond{op: op, v: v, root: root}}, nil
	}
	return &rootCond{op: op, v: v, root: root}, nil
}

// constRootCond is a nestedSetParent comparison true or false for every span.
type constRootCond struct{ rootCond }

func (c *constRootCond) match(*traceCtx, *Span) bool { return c.root }

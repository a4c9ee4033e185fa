package traceql

import (
	"regexp"
	"strings"

	"github.com/sightline-dev/sightline/query/internal/qlparse"
)

// maxDepth bounds the nesting of parentheses and braces, so that a hostile
// query cannot make the recursive-descent parser recurse without limit.
const maxDepth = 200

// Query is a parsed TraceQL query. It is immutable after Parse and safe for
// concurrent use. The zero Query matches nothing and prints as "".
type Query struct {
	root    spansetExpr
	metrics *metricsPipeline // nil for a search query
	// selects are the fields of | select(...) after a search's spanset
	// expression, in order, those of several selects run together.
	selects []selectItem
	// pipeline is the stages after the spanset expression of a search, in
	// order: aggregate filters and selects.
	pipeline []pipeStage
}

// selectItem is one argument of select(): a field, or (name set) an
// intrinsic Sightline does not keep, which is accepted and left out of the
// results, as Tempo leaves out a selected field a span does not have.
type selectItem struct {
	field Field
	name  string
}

// Selected returns the fields of the query's | select(...), which a search
// returns among the attributes of each matched span, as Tempo's search
// does (its docs' "Selection": select fields from the matched spans).
// Intrinsics Sightline does not keep (nestedSetLeft, nestedSetRight,
// nestedSetParent, span:id, ...) are accepted by Parse and not in the list.
func (q *Query) Selected() []Field {
	var out []Field
	for _, it := range q.selects {
		if it.name == "" {
			out = append(out, it.field)
		}
	}
	return out
}

// String returns the query in canonical form: it parses back to an
// equivalent query with the same String.
func (q *Query) String() string {
	if q.root == nil {
		return ""
	}
	var sb strings.Builder
	q.root.write(&sb)
	for _, st := range q.pipeline {
		st.write(&sb)
	}
	if q.metrics != nil {
		q.metrics.write(&sb)
	}
	return sb.String()
}

// Parse parses a TraceQL query. Errors are *ParseError for invalid queries
// and *UnsupportedError for valid TraceQL that this package does not
// implement.
func Parse(q string) (*Query, error) {
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{in: q, toks: toks}
	root, err := p.parseSpansetExpr()
	if err != nil {
		return nil, err
	}
	var (
		sel  []selectItem
		pipe []pipeStage
	)
	for {
		if p.isSelectStart() {
			items, err := p.parseSelect()
			if err != nil {
				return nil, err
			}
			sel = append(sel, items...)
			if k := len(pipe) - 1; k >= 0 && pipe[k].sel != nil { // selects in a row print as one
				pipe[k].sel = append(pipe[k].sel, items...)
			} else {
				pipe = append(pipe, pipeStage{sel: items})
			}
			continue
		}
		if p.isAggStart() {
			if p.isMetricsStart() {
				break
			}
			a, err := p.parseAgg()
			if err != nil {
				return nil, err
			}
			pipe = append(pipe, pipeStage{agg: a})
			continue
		}
		if p.isCoalesceStart() {
			p.i += 4
			pipe = append(pipe, pipeStage{coalesce: true})
			continue
		}
		if p.isFilterStageStart() {
			p.next() // |
			e, err := p.parseSpansetExpr()
			if err != nil {
				return nil, err
			}
			pipe = append(pipe, pipeStage{filter: e})
			continue
		}
		break
	}
	var m *metricsPipeline
	if len(pipe) > 0 && p.isMetricsStart() {
		if len(sel) > 0 {
			return nil, p.unsupported(p.peek(), "| select() before a metrics function")
		}
		return nil, p.unsupported(p.peek(), "search pipeline (aggregate, | { }, coalesce()) before a metrics function")
	}
	if p.isMetricsStart() {
		if m, err = p.parseMetrics(); err != nil {
			return nil, err
		}
		if t := p.peek(); t.kind != tEOF {
			return nil, p.unexpected(t, "$end")
		}
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.afterSpanset(t, "")
	}
	return &Query{root: root, metrics: m, selects: sel, pipeline: pipe}, nil
}

// isSelectStart reports whether the tokens at the parser's position are
// "| select (".
func (p *parser) isSelectStart() bool {
	if p.peek().kind != tPipe || p.i+2 >= len(p.toks) {
		return false
	}
	n := p.toks[p.i+1]
	return n.kind == tIdent && n.text == "select" && p.toks[p.i+2].kind == tLParen
}

// unkeptIntrinsics are intrinsics Sightline does not keep that select()
// accepts and leaves out of its results; Traces Drilldown selects the
// nested set numbers for its structure tab.
var unkeptIntrinsics = map[string]bool{
	"nestedSetLeft": true, "nestedSetRight": true, "nestedSetParent": true,
}

// parseSelect parses "| select(field, ...)", at least one field, as
// Tempo's grammar has it.
func (p *parser) parseSelect() ([]selectItem, error) {
	p.next() // |
	p.next() // select
	var out []selectItem
	err := p.parseList(func() error {
		t := p.peek()
		if (t.kind == tIdent || t.kind == tScoped) && (unkeptIntrinsics[t.text] || unsupportedIntrinsics[t.text]) {
			p.next()
			out = append(out, selectItem{name: t.text})
			return nil
		}
		f, err := p.parseField()
		out = append(out, selectItem{field: f})
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, p.unexpected(p.toks[p.i-1], "an attribute or intrinsic")
	}
	return out, nil
}

type parser struct {
	in    string
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errorAt(t token, format string, args ...any) error {
	return (*ParseError)(qlparse.Errorf(p.in, t.pos, format, args...))
}

func (p *parser) unexpected(t token, expecting string) error {
	return (*ParseError)(qlparse.Unexpected(p.in, t.pos, t.describe(), expecting))
}

func (p *parser) unsupported(t token, feature string) error {
	return (*UnsupportedError)(qlparse.Unsupported(p.in, t.pos, feature))
}

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorAt(t, "syntax error: expression nested too deeply (more than %d levels)", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// structuralOps are the structural operators this package evaluates.
var structuralOps = map[tokKind]spansetOpKind{
	tGt: opSpansetChild, tLt: opSpansetParent, tDesc: opSpansetDesc, tAnce: opSpansetAnce,
	tSibl: opSpansetSibl, tUnionChild: opSpansetUnionChild, tUnionParent: opSpansetUnionParent,
	tUnionDesc: opSpansetUnionDesc, tUnionAnce: opSpansetUnionAnce, tUnionSibl: opSpansetUnionSibl,
	tNotChild: opSpansetNotChild, tNotParent: opSpansetNotParent, tNotDesc: opSpansetNotDesc,
	tNotAnce: opSpansetNotAnce, tNre: opSpansetNotSibl,
}

// pipelineFuncs are the functions that may follow a "|" or start a query in
// Tempo: aggregates, grouping, selection and metrics.
var pipelineFuncs = map[string]bool{
	"count": true, "avg": true, "min": true, "max": true, "sum": true, "by": true,
	"select": true, "coalesce": true, "rate": true, "count_over_time": true,
	"min_over_time": true, "max_over_time": true, "avg_over_time": true, "sum_over_time": true,
	"quantile_over_time": true, "histogram_over_time": true, "compare": true, "topk": true,
	"bottomk": true,
}

// afterSpanset reports the token t that follows a complete spanset
// expression where it does not belong, naming Tempo's pipelines and hints
// as unsupported rather than as syntax errors.
func (p *parser) afterSpanset(t token, expecting string) error {
	switch {
	case t.kind == tPipe:
		n := p.toks[min(p.i+1, len(p.toks)-1)]
		switch {
		case n.kind == tIdent && n.text == "coalesce" && p.i+3 < len(p.toks) && p.toks[p.i+2].kind == tLParen && p.toks[p.i+3].kind != tRParen:
			return p.unexpected(p.toks[p.i+3], ")") // coalesce() takes no argument
		case n.kind == tIdent && pipelineFuncs[n.text]:
			return p.unsupported(t, "| "+n.text+"()")
		case n.kind == tLBrace:
			return p.unsupported(t, "| { } (pipeline of spanset filters)")
		}
		return p.unexpected(n, "a spanset filter or an aggregate after |")
	case t.kind == tIdent && t.text == "with":
		return p.unsupported(t, "with() (query hints)")
	}
	return p.unexpected(t, expecting)
}

// parseSpansetExpr parses spanset operations. && and || have the same
// precedence and associate to the left, and the structural operators bind
// more tightly, as in Tempo's grammar: {a} || {b} && {c} is
// ({a} || {b}) && {c}, and {a} && {b} > {c} is {a} && ({b} > {c}).
func (p *parser) parseSpansetExpr() (spansetExpr, error) {
	lhs, err := p.parseStructural()
	if err != nil {
		return nil, err
	}
	for {
		var op spansetOpKind
		switch p.peek().kind {
		case tAnd:
			op = opSpansetAnd
		case tOr:
			op = opSpansetOr
		default:
			return lhs, nil
		}
		p.next()
		rhs, err := p.parseStructural()
		if err != nil {
			return nil, err
		}
		lhs = &spansetOp{op: op, lhs: lhs, rhs: rhs}
	}
}

func (p *parser) parseStructural() (spansetExpr, error) {
	lhs, err := p.parseSpansetPrimary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		op, ok := structuralOps[t.kind]
		if !ok {
			return lhs, nil
		}
		p.next()
		rhs, err := p.parseSpansetPrimary()
		if err != nil {
			return nil, err
		}
		lhs = &spansetOp{op: op, lhs: lhs, rhs: rhs}
	}
}

func (p *parser) parseSpansetPrimary() (spansetExpr, error) {
	t := p.peek()
	switch {
	case t.kind == tLBrace:
		return p.parseFilter()
	case t.kind == tLParen:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.next()
		e, err := p.parseSpansetExpr()
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tRParen {
			return nil, p.afterSpanset(c, ")")
		}
		p.next()
		p.leave()
		return e, nil
	case t.kind == tIdent && pipelineFuncs[t.text]:
		return nil, p.unsupported(t, t.text+"()")
	}
	return nil, p.unexpected(t, "{ or (")
}

func (p *parser) parseFilter() (spansetExpr, error) {
	open := p.next()
	if err := p.enter(open); err != nil {
		return nil, err
	}
	defer p.leave()
	if p.peek().kind == tRBrace {
		p.next()
		return &spansetFilter{}, nil
	}
	c, err := p.parseCond()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tRBrace {
		return nil, p.unexpected(t, "&&, || or }")
	}
	p.next()
	return &spansetFilter{cond: c}, nil
}

// parseCond parses conditions joined by && and ||, which have the same
// precedence and associate to the left in Tempo's grammar:
// .a = 1 || .b = 2 && .c = 3 is (.a = 1 || .b = 2) && .c = 3.
func (p *parser) parseCond() (condExpr, error) {
	lhs, err := p.parseCondAtom()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tAnd && t.kind != tOr {
			return lhs, nil
		}
		p.next()
		rhs, err := p.parseCondAtom()
		if err != nil {
			return nil, err
		}
		lhs = &logicalCond{and: t.kind == tAnd, lhs: lhs, rhs: rhs}
	}
}

func isComparison(k tokKind) bool {
	switch k {
	case tEq, tNeq, tGt, tGte, tLt, tLte, tRe, tNre:
		return true
	}
	return false
}

var comparisonOps = map[tokKind]Op{
	tEq: OpEqual, tNeq: OpNotEqual, tGt: OpGreater, tGte: OpGreaterEqual,
	tLt: OpLess, tLte: OpLessEqual, tRe: OpRegex, tNre: OpNotRegex,
}

func isArithmetic(k tokKind) bool {
	switch k {
	case tAdd, tSub, tMul, tDiv, tMod, tPow:
		return true
	}
	return false
}

func (p *parser) parseCondAtom() (condExpr, error) {
	t := p.peek()
	if t.kind == tLParen {
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.next()
		c, err := p.parseCond()
		if err != nil {
			return nil, err
		}
		if t := p.peek(); t.kind != tRParen {
			return nil, p.unexpected(t, "&&, || or )")
		}
		p.next()
		p.leave()
		if t := p.peek(); isComparison(t.kind) || isArithmetic(t.kind) {
			return nil, p.unsupported(t, t.text+" applied to a parenthesized expression")
		}
		return c, nil
	}
	return p.parseComparison()
}

// operand is one side of a comparison: a field or a literal.
type operand struct {
	tok     token
	isField bool
	field   Field
	lit     Literal
}

func (o operand) String() string {
	if o.isField {
		return o.field.String()
	}
	return o.lit.String()
}

func (p *parser) parseComparison() (condExpr, error) {
	if t := p.peek(); t.kind == tIdent && t.text == "nestedSetParent" {
		return p.parseNestedSetParent()
	}
	lhs, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if !isComparison(t.kind) {
		return p.standalone(lhs)
	}
	p.next()
	if n := p.peek(); n.kind == tIdent && n.text == "nil" {
		return p.nilTest(lhs, t)
	}
	rhs, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	if n := p.peek(); isComparison(n.kind) {
		return nil, p.unsupported(n, "chained comparison "+n.text)
	}
	op := comparisonOps[t.kind]
	switch {
	case lhs.isField && rhs.isField:
		return nil, p.unsupported(lhs.tok, "comparison of two fields: "+lhs.String()+" "+op.String()+" "+rhs.String())
	case !lhs.isField && !rhs.isField:
		return nil, p.unsupported(lhs.tok, "comparison of two literals: "+lhs.String()+" "+op.String()+" "+rhs.String())
	case !lhs.isField:
		if op == OpRegex || op == OpNotRegex {
			return nil, p.unsupported(lhs.tok, "regular expression taken from a field: "+lhs.String()+" "+op.String()+" "+rhs.String())
		}
		lhs, rhs, op = rhs, lhs, flip(op)
	}
	return p.newCompare(lhs, op, rhs.lit)
}

// newCompare checks the comparison's types as Tempo does at parse time: an
// intrinsic has a known type, so `name = 5` or `status > ok` is an error;
// an attribute's type is known only when the query runs, but the operator
// must still suit the literal (no `.a =~ 5`).
func (p *parser) newCompare(f operand, op Op, lit Literal) (condExpr, error) {
	c := &compareCond{c: Condition{Field: f.field, Op: op, Value: lit}, lit: lit.value()}
	lt := c.lit.kind
	if ft := f.field.fieldType(); ft != vNil {
		if !compatible(ft, lt) {
			return nil, p.errorAt(f.tok, "binary operations must operate on the same type: %s", c.c)
		}
		if !opValid(op, ft) {
			return nil, p.errorAt(f.tok, "illegal operation for the given types: %s", c.c)
		}
	}
	if !opValid(op, lt) {
		return nil, p.errorAt(f.tok, "illegal operation for the given types: %s", c.c)
	}
	if op == OpRegex || op == OpNotRegex {
		if _, err := regexp.Compile(lit.Str); err != nil {
			return nil, p.errorAt(f.tok, "invalid regex %s: %v", lit, err)
		}
		// Tempo matches the whole value, like Prometheus' label matchers.
		re, err := regexp.Compile("^(?s:" + lit.Str + ")$")
		if err != nil {
			return nil, p.errorAt(f.tok, "invalid regex %s: %v", lit, err)
		}
		c.re = re
	}
	return c, nil
}

// standalone handles an operand that is not compared with anything: Tempo
// accepts { true } and { .attr } (true when the attribute is boolean true),
// and nothing else that does not resolve to a boolean.
func (p *parser) standalone(o operand) (condExpr, error) {
	switch {
	case o.isField && o.field.Intrinsic == IntrinsicNone:
		return &attrCond{f: o.field}, nil
	case !o.isField && o.lit.Type == LiteralBool:
		return &boolCond{v: o.lit.Bool}, nil
	}
	return nil, p.errorAt(o.tok, "span filter field expressions must resolve to a boolean: { %s }", o)
}

var intrinsicWords = map[string]Intrinsic{
	"name": IntrinsicName, "status": IntrinsicStatus, "statusMessage": IntrinsicStatusMessage,
	"duration": IntrinsicDuration, "kind": IntrinsicKind, "traceDuration": IntrinsicTraceDuration,
	"rootName": IntrinsicRootName, "rootServiceName": IntrinsicRootServiceName,
}

var scopedIntrinsics = map[string]Intrinsic{
	"span:name": IntrinsicName, "span:status": IntrinsicStatus, "span:statusMessage": IntrinsicStatusMessage,
	"span:duration": IntrinsicDuration, "span:kind": IntrinsicKind, "trace:duration": IntrinsicTraceDuration,
	"trace:rootName": IntrinsicRootName, "trace:rootService": IntrinsicRootServiceName,
}

// unsupportedIntrinsics are Tempo's other intrinsics.
var unsupportedIntrinsics = map[string]bool{
	"childCount": true, "parent": true, "nestedSetLeft": true, "nestedSetRight": true,
	"span:id": true, "span:parentID": true, "span:childCount": true,
	"trace:id": true, "event:name": true, "event:timeSinceStart": true, "link:traceID": true,
	"link:spanID": true, "instrumentation:name": true, "instrumentation:version": true,
}

var statusWords = map[string]bool{"ok": true, "error": true, "unset": true}

var kindWords = map[string]bool{
	"server": true, "client": true, "producer": true, "consumer": true, "internal": true, "unspecified": true,
}

func (p *parser) parseOperand() (operand, error) {
	t := p.next()
	o := operand{tok: t}
	switch t.kind {
	case tAttr:
		switch t.scope {
		case "":
			o.field = Field{Scope: ScopeNone, Name: t.text}
		case "span":
			o.field = Field{Scope: ScopeSpan, Name: t.text}
		case "resource":
			o.field = Field{Scope: ScopeResource, Name: t.text}
		default:
			return o, p.unsupported(t, t.scope+". attributes")
		}
		o.isField = true
	case tScoped:
		if unsupportedIntrinsics[t.text] {
			return o, p.unsupported(t, t.text)
		}
		in, ok := scopedIntrinsics[t.text]
		if !ok {
			return o, p.errorAt(t, "syntax error: unknown intrinsic %s", t.text)
		}
		o.isField, o.field = true, Field{Intrinsic: in}
	case tString:
		o.lit = Literal{Type: LiteralString, Str: t.text}
	case tInt:
		o.lit = Literal{Type: LiteralInt, Int: t.i}
	case tFloat:
		o.lit = Literal{Type: LiteralFloat, Float: t.f}
	case tDuration:
		o.lit = Literal{Type: LiteralDuration, Duration: t.d}
	case tSub:
		n := p.peek()
		switch n.kind {
		case tInt:
			p.next()
			o.lit = Literal{Type: LiteralInt, Int: -n.i}
		case tFloat:
			p.next()
			o.lit = Literal{Type: LiteralFloat, Float: -n.f}
		case tDuration:
			p.next()
			o.lit = Literal{Type: LiteralDuration, Duration: -n.d}
		default:
			return o, p.unsupported(t, "- (negation)")
		}
	case tNot:
		return o, p.unsupported(t, "! (not)")
	case tIdent:
		switch w := t.text; {
		case intrinsicWords[w] != IntrinsicNone:
			o.isField, o.field = true, Field{Intrinsic: intrinsicWords[w]}
		case w == "true" || w == "false":
			o.lit = Literal{Type: LiteralBool, Bool: w == "true"}
		case statusWords[w]:
			o.lit = Literal{Type: LiteralStatus, Str: w}
		case kindWords[w]:
			o.lit = Literal{Type: LiteralKind, Str: w}
		case w == "nil":
			return o, p.unsupported(t, "nil")
		case unsupportedIntrinsics[w] || w == "minInt" || w == "maxInt" || w == "nestedSetParent":
			return o, p.unsupported(t, w)
		case keywords[w]:
			return o, p.unexpected(t, "")
		default:
			return o, p.errorAt(t, "unknown identifier: %s", w)
		}
	default:
		return o, p.unexpected(t, "")
	}
	if n := p.peek(); isArithmetic(n.kind) {
		return o, p.unsupported(n, n.text+" (arithmetic)")
	}
	return o, nil
}

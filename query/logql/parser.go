package logql

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/sightline-dev/sightline/query/internal/qlparse"
)

const errAtLeastOneMatcher = "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will"

// The functions of Loki's LogQL, by kind.
var (
	// The range operators: true for those that aggregate unwrapped values
	// (and need an unwrap), false for those that count entries.
	rangeOps = map[string]bool{
		OpCountOverTime: false, OpBytesOverTime: false, OpBytesRate: false, OpAbsentOverTime: false,
		OpRate:        false, // with or without unwrap
		OpRateCounter: true, OpSumOverTime: true, OpAvgOverTime: true, OpMinOverTime: true,
		OpMaxOverTime: true, OpStdvarOverTime: true, OpStddevOverTime: true,
		OpQuantileOverTime: true, OpFirstOverTime: true, OpLastOverTime: true,
	}
	// The unwrapped range operators that take a grouping, as in Loki.
	rangeOpsGrouping = map[string]bool{
		OpAvgOverTime: true, OpMinOverTime: true, OpMaxOverTime: true, OpStdvarOverTime: true,
		OpStddevOverTime: true, OpQuantileOverTime: true, OpFirstOverTime: true, OpLastOverTime: true,
	}
	supportedVectorOps = map[string]bool{
		OpSum: true, OpAvg: true, OpMin: true, OpMax: true, OpCount: true, OpTopK: true, OpBottomK: true,
		OpStddev: true, OpStdvar: true, OpSort: true, OpSortDesc: true, OpApproxTopK: true,
	}
)

// ParseExpr parses a LogQL query into a *LogQuery or a *MetricQuery. Errors
// are *ParseError for invalid queries and *UnsupportedError for valid LogQL
// that this package does not implement.
func ParseExpr(q string) (Expr, error) {
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{in: q, toks: toks}
	n, err := p.parseExpr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "")
	}
	switch n := n.(type) {
	case *LogQuery:
		if err := validateMatchers(n.Matchers); err != nil {
			return nil, err
		}
		return n, nil
	case SampleExpr:
		m := &MetricQuery{Expr: n}
		for _, ms := range m.Selectors() {
			if err := validateMatchers(ms); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	panic(fmt.Sprintf("BUG: parser returned %T", n))
}

// ParseLogQuery parses a query that must be a log query.
func ParseLogQuery(q string) (*LogQuery, error) {
	e, err := ParseExpr(q)
	if err != nil {
		return nil, err
	}
	lq, ok := e.(*LogQuery)
	if !ok {
		return nil, &ParseError{Msg: "expected a log query, got a metric query"}
	}
	return lq, nil
}

// ParseMetricQuery parses a query that must be a metric query.
func ParseMetricQuery(q string) (*MetricQuery, error) {
	e, err := ParseExpr(q)
	if err != nil {
		return nil, err
	}
	mq, ok := e.(*MetricQuery)
	if !ok {
		return nil, &ParseError{Msg: "expected a metric query, got a log query"}
	}
	return mq, nil
}

// validateMatchers enforces Loki's rule that a selector must not select
// every stream: at least one matcher must not match the empty value.
func validateMatchers(ms []*labels.Matcher) error {
	for _, m := range ms {
		if !m.Matches("") {
			return nil
		}
	}
	return &ParseError{Msg: errAtLeastOneMatcher}
}

type parser struct {
	in   string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekN(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1] // EOF
}

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

func (p *parser) expect(k tokKind, expecting string) (token, error) {
	t := p.peek()
	if t.kind != k {
		return t, p.unexpected(t, expecting)
	}
	return p.next(), nil
}

func isIdent(t token, word string) bool {
	return t.kind == tIdent && strings.EqualFold(t.text, word)
}

// Binary operators and their precedence, as in Loki's grammar.
func binaryOp(t token) (op string, prec int, ok bool) {
	switch t.kind {
	case tIdent:
		switch strings.ToLower(t.text) {
		case "or":
			return "or", 1, true
		case "and":
			return "and", 2, true
		case "unless":
			return "unless", 2, true
		}
	case tCmpEq, tNeq, tGt, tGte, tLt, tLte:
		return t.text, 3, true
	case tAdd, tSub:
		return t.text, 4, true
	case tMul, tDiv, tMod:
		return t.text, 5, true
	case tPow:
		return t.text, 6, true
	}
	return "", 0, false
}

func isComparison(op string) bool {
	switch op {
	case "==", "!=", ">", ">=", "<", "<=":
		return true
	}
	return false
}

func isSetOp(op string) bool { return op == "and" || op == "or" || op == "unless" }

// parseExpr parses a log or metric expression by precedence climbing; it
// returns a *LogQuery or a SampleExpr.
func (p *parser) parseExpr(minPrec int) (any, error) {
	lhs, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		opTok := p.peek()
		op, prec, ok := binaryOp(opTok)
		if !ok || prec < minPrec {
			return lhs, nil
		}
		p.next()
		bin := &BinaryOp{Op: op, Matching: &VectorMatching{Card: CardOneToOne}}
		if isSetOp(op) {
			bin.Matching.Card = CardManyToMany
		}
		if err := p.parseBinaryModifiers(opTok, bin); err != nil {
			return nil, err
		}
		next := prec + 1
		if op == "^" {
			next = prec // right associative
		}
		rhs, err := p.parseExpr(next)
		if err != nil {
			return nil, err
		}
		l, lok := lhs.(SampleExpr)
		r, rok := rhs.(SampleExpr)
		if !lok || !rok {
			return nil, p.errorAt(opTok, "syntax error: binary operation %q needs metric queries or numbers on both sides, not a log query", op)
		}
		if isSetOp(op) {
			if v, ok := scalarValue(l); ok {
				return nil, p.errorAt(opTok, "unexpected literal for left leg of logical/set binary operation (%s): %f", op, v)
			}
			if v, ok := scalarValue(r); ok {
				return nil, p.errorAt(opTok, "unexpected literal for right leg of logical/set binary operation (%s): %f", op, v)
			}
		}
		bin.LHS, bin.RHS = l, r
		lhs = bin
	}
}

// scalarValue computes an expression made of numbers only (which Loki
// folds into one literal at parse time); ok is false for anything else.
func scalarValue(e SampleExpr) (float64, bool) {
	switch e := e.(type) {
	case *NumberLiteral:
		return e.Value, true
	case *BinaryOp:
		l, lok := scalarValue(e.LHS)
		r, rok := scalarValue(e.RHS)
		if !lok || !rok || isSetOp(e.Op) {
			return 0, false
		}
		v, _ := applyOp(e.Op, l, r, false)
		return v, true
	}
	return 0, false
}

// parseBinaryModifiers parses [bool] [on|ignoring (labels) [group_left|group_right [(labels)]]].
func (p *parser) parseBinaryModifiers(opTok token, bin *BinaryOp) error {
	if t := p.peek(); isIdent(t, "bool") {
		if !isComparison(bin.Op) {
			return p.errorAt(t, "bool modifier can only be used on comparison operators")
		}
		p.next()
		bin.ReturnBool = true
	}
	t := p.peek()
	if !isIdent(t, "on") && !isIdent(t, "ignoring") {
		return nil
	}
	p.next()
	bin.Matching.On = strings.EqualFold(t.text, "on")
	ls, err := p.parseLabelList()
	if err != nil {
		return err
	}
	bin.Matching.Labels = ls
	t = p.peek()
	if !isIdent(t, "group_left") && !isIdent(t, "group_right") {
		return nil
	}
	if isSetOp(bin.Op) {
		return p.errorAt(t, "no grouping allowed for %q operation", bin.Op)
	}
	p.next()
	bin.Matching.Card = CardManyToOne
	if strings.EqualFold(t.text, "group_right") {
		bin.Matching.Card = CardOneToMany
	}
	if p.peek().kind == tLParen {
		inc, err := p.parseLabelList()
		if err != nil {
			return err
		}
		bin.Matching.Include = inc
	}
	return nil
}

// parseLabelList parses (a, b, c), possibly empty.
func (p *parser) parseLabelList() ([]string, error) {
	if _, err := p.expect(tLParen, "("); err != nil {
		return nil, err
	}
	ls := []string{}
	if p.peek().kind == tRParen {
		p.next()
		return ls, nil
	}
	for {
		t, err := p.expect(tIdent, "IDENTIFIER")
		if err != nil {
			return nil, err
		}
		ls = append(ls, t.text)
		t = p.next()
		switch t.kind {
		case tComma:
			continue
		case tRParen:
			return ls, nil
		}
		return nil, p.unexpected(t, ", or )")
	}
}

func (p *parser) parseUnary() (any, error) {
	t := p.peek()
	switch t.kind {
	case tNumber:
		p.next()
		return &NumberLiteral{Value: t.num}, nil
	case tAdd, tSub:
		if n := p.peekN(1); n.kind == tNumber {
			p.next()
			p.next()
			if t.kind == tSub {
				return &NumberLiteral{Value: -n.num}, nil
			}
			return &NumberLiteral{Value: n.num}, nil
		}
		return nil, p.unexpected(t, "")
	case tLParen:
		p.next()
		inner, err := p.parseExpr(0)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		return inner, nil
	case tLBrace:
		return p.parseLogQuery()
	case tIdent:
		return p.parseFunction()
	}
	return nil, p.unexpected(t, "")
}

// isCall reports whether the identifier at the cursor is a function call:
// followed by ( or, for aggregations, by by/without (...).
func (p *parser) isCall() bool {
	n := p.peekN(1)
	return n.kind == tLParen || ((isIdent(n, "by") || isIdent(n, "without")) && p.peekN(2).kind == tLParen)
}

func (p *parser) parseFunction() (any, error) {
	t := p.peek()
	name := strings.ToLower(t.text)
	if !p.isCall() {
		return nil, p.unexpected(t, "")
	}
	_, isRange := rangeOps[name]
	switch {
	case isRange:
		return p.parseRangeAggregation(name)
	case supportedVectorOps[name]:
		return p.parseVectorAggregation(name)
	case name == "label_replace":
		return p.parseLabelReplace()
	case name == "vector":
		return p.parseVector()
	}
	return nil, p.unexpected(t, "")
}

func (p *parser) parseRangeAggregation(op string) (any, error) {
	nameTok := p.next()
	if _, err := p.expect(tLParen, "("); err != nil {
		return nil, err
	}
	r := &RangeAggregation{Op: op}
	if t := p.peek(); (t.kind == tNumber || t.kind == tSub) && (p.peekN(1).kind == tComma || p.peekN(2).kind == tComma) {
		if op != OpQuantileOverTime {
			return nil, p.errorAt(t, "parameter %s not supported for operation %s", t.text, op)
		}
		v, err := p.parseSignedNumber()
		if err != nil {
			return nil, err
		}
		r.Param = v
		p.next() // ,
	} else if op == OpQuantileOverTime {
		return nil, p.errorAt(nameTok, "parameter required for operation %s", op)
	}
	lr, err := p.parseLogRangeAny()
	if err != nil {
		return nil, err
	}
	if !lr.hasRange {
		return nil, p.unexpected(p.peek(), "a range such as [5m]")
	}
	r.Query, r.Range, r.Offset, r.Unwrap = lr.q, lr.rng, lr.off, lr.unwrap
	if _, err := p.expect(tRParen, ")"); err != nil {
		return nil, err
	}
	switch {
	case rangeOps[op] && r.Unwrap == nil:
		return nil, p.errorAt(nameTok, "invalid aggregation %s without unwrap", op)
	case !rangeOps[op] && op != OpRate && op != OpAbsentOverTime && r.Unwrap != nil:
		return nil, p.errorAt(nameTok, "invalid aggregation %s with unwrap", op)
	}
	g, err := p.parseOptionalGrouping(op, rangeOpsGrouping[op])
	r.Grouping = g
	return r, err
}

// parseOptionalGrouping parses by (...) or without (...) when the cursor
// is there, an error when op takes none.
func (p *parser) parseOptionalGrouping(op string, allowed bool) (*Grouping, error) {
	t := p.peek()
	if !isIdent(t, "by") && !isIdent(t, "without") {
		return nil, nil
	}
	if !allowed {
		return nil, p.errorAt(t, "grouping not allowed for %s aggregation", op)
	}
	return p.parseGrouping()
}

// parseSignedNumber parses [-+]NUMBER.
func (p *parser) parseSignedNumber() (float64, error) {
	sign := 1.0
	if t := p.peek(); t.kind == tSub || t.kind == tAdd {
		p.next()
		if t.kind == tSub {
			sign = -1
		}
	}
	n, err := p.expect(tNumber, "NUMBER")
	if err != nil {
		return 0, err
	}
	return sign * n.num, nil
}

// logRange is the argument of a range aggregation.
type logRange struct {
	q        *LogQuery
	rng, off time.Duration
	hasRange bool
	unwrap   *Unwrap
}

// parseLogRangeAny parses the argument of a range aggregation, possibly in
// parentheses: {sel} | stages [| unwrap x] [5m] offset 1h, or with the
// range right after the selector, {sel}[5m] | stages [| unwrap x].
func (p *parser) parseLogRangeAny() (logRange, error) {
	var lr logRange
	t := p.peek()
	switch t.kind {
	case tLParen:
		p.next()
		inner, err := p.parseLogRangeAny()
		if err != nil {
			return lr, err
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return lr, err
		}
		if inner.hasRange {
			return inner, nil
		}
		lr = inner
	case tLBrace:
		q, err := p.parseLogQuery()
		if err != nil {
			return lr, err
		}
		lr.q = q
		if lr.unwrap, err = p.parseUnwrap(); err != nil {
			return lr, err
		}
	default:
		return lr, p.unexpected(t, "a log query such as {app=\"foo\"}[5m]")
	}
	if p.peek().kind != tRange {
		return lr, nil
	}
	lr.rng, lr.hasRange = p.next().dur, true
	if isIdent(p.peek(), "offset") {
		p.next()
		neg := false
		if p.peek().kind == tSub {
			p.next()
			neg = true
		}
		d, err := p.expect(tDuration, "DURATION")
		if err != nil {
			return lr, err
		}
		lr.off = d.dur
		if neg {
			lr.off = -lr.off
		}
	}
	if lr.unwrap != nil {
		return lr, nil
	}
	// Loki also accepts the pipeline after the range: {app="a"}[5m] | json.
	more, err := p.parseStages()
	if err != nil {
		return lr, err
	}
	lr.q.Stages = append(lr.q.Stages, more...)
	lr.unwrap, err = p.parseUnwrap()
	return lr, err
}

// unwrapConversions are the conversion functions of unwrap.
var unwrapConversions = map[string]bool{"duration": true, "duration_seconds": true, "bytes": true}

// parseUnwrap parses `| unwrap [conv(]label[)]` and the label filters
// after it, when the cursor is there; nil otherwise.
func (p *parser) parseUnwrap() (*Unwrap, error) {
	if p.peek().kind != tPipe || !isIdent(p.peekN(1), "unwrap") {
		return nil, nil
	}
	p.next()
	p.next()
	u := &Unwrap{}
	name, err := p.expect(tIdent, "IDENTIFIER")
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tLParen {
		conv := strings.ToLower(name.text)
		if !unwrapConversions[conv] {
			return nil, p.errorAt(name, "syntax error: unexpected %s, expecting duration, duration_seconds or bytes", name.text)
		}
		p.next()
		if name, err = p.expect(tIdent, "IDENTIFIER"); err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		u.Conv = conv
	}
	u.Label = name.text
	for p.peek().kind == tPipe {
		n := p.peekN(1)
		if n.kind != tLParen && !(n.kind == tIdent && isCompareTok(p.peekN(2).kind)) {
			return nil, p.unexpected(n, "a label filter after unwrap")
		}
		p.next()
		f, err := p.parseLabelFilter()
		if err != nil {
			return nil, err
		}
		u.PostFilters = append(u.PostFilters, f)
	}
	return u, nil
}

func (p *parser) parseVectorAggregation(op string) (any, error) {
	nameTok := p.next()
	v := &VectorAggregation{Op: op}
	groupable := op != OpSort && op != OpSortDesc && op != OpApproxTopK
	g, err := p.parseOptionalGrouping(op, groupable)
	if err != nil {
		return nil, err
	}
	v.Grouping = g
	if _, err := p.expect(tLParen, "("); err != nil {
		return nil, err
	}
	// The parameter of topk and bottomk; others must not have one.
	t := p.peek()
	sign := ""
	if (t.kind == tSub || t.kind == tAdd) && p.peekN(1).kind == tNumber && p.peekN(2).kind == tComma {
		sign = t.text
		p.next()
		t = p.peek()
	}
	hasParam := t.kind == tNumber && p.peekN(1).kind == tComma
	switch {
	case op == OpTopK || op == OpBottomK || op == OpApproxTopK:
		if !hasParam {
			return nil, p.errorAt(nameTok, "parameter required for operation %s", op)
		}
		k, err := strconv.Atoi(sign + t.text)
		if err != nil {
			return nil, p.errorAt(t, "invalid parameter %s(%s,", op, sign+t.text)
		}
		if k <= 0 {
			return nil, p.errorAt(t, "invalid parameter (must be greater than 0) %s(%s", op, sign+t.text)
		}
		v.Param = k
		p.next()
		p.next()
	case hasParam:
		return nil, p.errorAt(t, "unsupported parameter for operation %s(%s,", op, sign+t.text)
	}
	se, err := p.parseSampleArg(op)
	if err != nil {
		return nil, err
	}
	v.Expr = se
	if _, err := p.expect(tRParen, ")"); err != nil {
		return nil, err
	}
	if t := p.peek(); v.Grouping != nil && (isIdent(t, "by") || isIdent(t, "without")) {
		return nil, p.unexpected(t, "")
	}
	if v.Grouping == nil {
		v.Grouping, err = p.parseOptionalGrouping(op, groupable)
	}
	return v, err
}

func (p *parser) parseGrouping() (*Grouping, error) {
	t := p.next()
	ls, err := p.parseLabelList()
	if err != nil {
		return nil, err
	}
	return &Grouping{Without: strings.EqualFold(t.text, "without"), Labels: ls}, nil
}

func (p *parser) parseLogQuery() (*LogQuery, error) {
	ms, err := p.parseSelector()
	if err != nil {
		return nil, err
	}
	stages, err := p.parseStages()
	if err != nil {
		return nil, err
	}
	return &LogQuery{Matchers: ms, Stages: stages}, nil
}

func (p *parser) parseSelector() ([]*labels.Matcher, error) {
	if _, err := p.expect(tLBrace, "{"); err != nil {
		return nil, err
	}
	var ms []*labels.Matcher
	if p.peek().kind == tRBrace {
		p.next()
		return ms, nil
	}
	for {
		m, err := p.parseMatcher()
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		t := p.next()
		switch t.kind {
		case tComma:
			continue
		case tRBrace:
			return ms, nil
		}
		return nil, p.unexpected(t, ", or }")
	}
}

func matchType(k tokKind) (labels.MatchType, bool) {
	switch k {
	case tEq:
		return labels.MatchEqual, true
	case tNeq:
		return labels.MatchNotEqual, true
	case tRe:
		return labels.MatchRegexp, true
	case tNre:
		return labels.MatchNotRegexp, true
	}
	return 0, false
}

// parseMatcher parses name op "value" (any identifier may be a label name).
func (p *parser) parseMatcher() (*labels.Matcher, error) {
	name, err := p.expect(tIdent, "IDENTIFIER")
	if err != nil {
		return nil, err
	}
	opTok := p.next()
	mt, ok := matchType(opTok.kind)
	if !ok {
		return nil, p.unexpected(opTok, "=, !=, =~ or !~")
	}
	val, err := p.expect(tString, "STRING")
	if err != nil {
		return nil, err
	}
	return p.newMatcher(mt, name.text, val)
}

func (p *parser) newMatcher(mt labels.MatchType, name string, val token) (*labels.Matcher, error) {
	m, err := labels.NewMatcher(mt, name, val.text)
	if err != nil {
		return nil, p.errorAt(val, "%s", err.Error())
	}
	return m, nil
}

func (p *parser) parseStages() ([]Stage, error) {
	var stages []Stage
	for {
		t := p.peek()
		switch t.kind {
		case tPipeEq, tNeq, tPipeRe, tNre:
			f, err := p.parseLineFilter()
			if err != nil {
				return nil, err
			}
			stages = append(stages, f)
		case tPipePat, tNotPat:
			f, err := p.parsePatternFilter()
			if err != nil {
				return nil, err
			}
			stages = append(stages, f)
		case tPipe:
			if isIdent(p.peekN(1), "unwrap") {
				return stages, nil // the range aggregation's (parseUnwrap)
			}
			s, err := p.parsePipeStage()
			if err != nil {
				return nil, err
			}
			stages = append(stages, s)
		default:
			return stages, nil
		}
	}
}

func (p *parser) parseLineFilter() (Stage, error) {
	opTok := p.next()
	f := &LineFilter{}
	switch opTok.kind {
	case tPipeEq:
		f.Op = LineContains
	case tNeq:
		f.Op = LineNotContains
	case tPipeRe:
		f.Op = LineMatches
	case tNre:
		f.Op = LineNotMatches
	}
	if t := p.peek(); isIdent(t, "ip") && p.peekN(1).kind == tLParen {
		return p.parseIPLineFilter(f.Op)
	}
	for {
		v, err := p.expect(tString, "STRING")
		if err != nil {
			return nil, err
		}
		if f.Op == LineMatches || f.Op == LineNotMatches {
			re, err := regexp.Compile(v.text)
			if err != nil {
				return nil, p.errorAt(v, "invalid line filter regexp %q: %v", v.text, err)
			}
			f.res = append(f.res, re)
		}
		f.Values = append(f.Values, v.text)
		// Loki 3: |= "a" or "b".
		if n := p.peekN(1); isIdent(p.peek(), "or") && n.kind == tString {
			p.next()
			continue
		}
		return f, nil
	}
}

func (p *parser) parsePipeStage() (Stage, error) {
	p.next() // |
	t := p.peek()
	if t.kind == tLParen || (t.kind == tIdent && isCompareTok(p.peekN(1).kind)) {
		f, err := p.parseLabelFilter()
		if err != nil {
			return nil, err
		}
		return &LabelFilterStage{Filter: f}, nil
	}
	if t.kind != tIdent {
		return nil, p.unexpected(t, "a parser, line_format or a label filter after |")
	}
	word := strings.ToLower(t.text)
	switch {
	case word == "json":
		p.next()
		if n := p.peek(); n.kind == tIdent && !isKeyword(n.text) {
			return p.parseJSONExprs()
		}
		return &JSONParser{}, nil
	case word == "logfmt":
		p.next()
		lp := &LogfmtParser{}
		for p.peek().kind == tFlag {
			f := p.next()
			switch f.text {
			case "--strict":
				lp.Strict = true
			case "--keep-empty":
				lp.KeepEmpty = true
			default:
				return nil, p.errorAt(f, "syntax error: unexpected flag %s, expecting --strict or --keep-empty", f.text)
			}
		}
		if n := p.peek(); n.kind == tIdent && !isKeyword(n.text) {
			return p.parseLogfmtExprs(lp)
		}
		return lp, nil
	case word == "line_format":
		p.next()
		v, err := p.expect(tString, "STRING")
		if err != nil {
			return nil, err
		}
		tmpl, err := p.template(v)
		if err != nil {
			return nil, err
		}
		return &LineFormat{Template: v.text, tmpl: tmpl}, nil
	case word == "drop":
		p.next()
		ls, err := p.parseStageLabels()
		return &Drop{Labels: ls}, err
	case word == "keep":
		p.next()
		ls, err := p.parseStageLabels()
		return &Keep{Labels: ls}, err
	case word == "label_format":
		p.next()
		return p.parseLabelFormat()
	case word == "decolorize":
		p.next()
		return &Decolorize{}, nil
	case word == "unpack":
		p.next()
		return &Unpack{}, nil
	case word == "regexp":
		p.next()
		return p.parseRegexpStage()
	case word == "pattern":
		p.next()
		v, err := p.expect(tString, "STRING")
		if err != nil {
			return nil, err
		}
		parts, msg := parsePattern(v.text, false)
		if msg != "" {
			return nil, p.errorAt(v, "invalid pattern %q: %s", v.text, msg)
		}
		return &PatternParser{Pattern: v.text, parts: parts}, nil
	}
	return nil, p.unexpected(p.peekN(1), "a label filter operator")
}

// parseStageLabels parses the labels of | drop and | keep: names, or
// matchers, separated by commas.
func (p *parser) parseStageLabels() ([]DropLabel, error) {
	var ls []DropLabel
	for {
		name, err := p.expect(tIdent, "a label name")
		if err != nil {
			return nil, err
		}
		l := DropLabel{Name: name.text}
		if mt, ok := matchType(p.peek().kind); ok {
			p.next()
			val, err := p.expect(tString, "STRING")
			if err != nil {
				return nil, err
			}
			if l.Matcher, err = p.newMatcher(mt, name.text, val); err != nil {
				return nil, err
			}
		}
		ls = append(ls, l)
		if p.peek().kind != tComma {
			return ls, nil
		}
		p.next()
	}
}

func isCompareTok(k tokKind) bool {
	switch k {
	case tEq, tNeq, tRe, tNre, tCmpEq, tGt, tGte, tLt, tLte:
		return true
	}
	return false
}

// Label filter expressions. Loki's grammar makes and bind tighter than or,
// and (through yacc's default shift) lets "," and juxtaposition take
// everything to their right as their right operand:
// a , b or c  is  a and (b or c).
func (p *parser) parseLabelFilter() (LabelFilter, error) {
	l, err := p.parseLabelFilterAnd()
	if err != nil {
		return nil, err
	}
	for p.isLabelFilterOp("or") {
		p.next()
		r, err := p.parseLabelFilterAnd()
		if err != nil {
			return nil, err
		}
		l = &BinaryLabelFilter{Left: l, Right: r}
	}
	return l, nil
}

// isLabelFilterOp reports whether the cursor is the and/or operator rather
// than a label that happens to be called "and" or "or".
func (p *parser) isLabelFilterOp(word string) bool {
	return isIdent(p.peek(), word) && !isCompareTok(p.peekN(1).kind)
}

func (p *parser) parseLabelFilterAnd() (LabelFilter, error) {
	l, err := p.parseLabelFilterUnit()
	if err != nil {
		return nil, err
	}
	for p.isLabelFilterOp("and") {
		p.next()
		r, err := p.parseLabelFilterUnit()
		if err != nil {
			return nil, err
		}
		l = &BinaryLabelFilter{Left: l, Right: r, And: true}
	}
	return l, nil
}

func (p *parser) parseLabelFilterUnit() (LabelFilter, error) {
	f, err := p.parseLabelFilterPrimary()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	juxtaposed := t.kind == tLParen || (t.kind == tIdent && isCompareTok(p.peekN(1).kind))
	if t.kind == tComma || juxtaposed {
		if t.kind == tComma {
			p.next()
		}
		rest, err := p.parseLabelFilter()
		if err != nil {
			return nil, err
		}
		return &BinaryLabelFilter{Left: f, Right: rest, And: true}, nil
	}
	return f, nil
}

func (p *parser) parseLabelFilterPrimary() (LabelFilter, error) {
	t := p.peek()
	if t.kind == tLParen {
		p.next()
		f, err := p.parseLabelFilter()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		return f, nil
	}
	name, err := p.expect(tIdent, "a label filter")
	if err != nil {
		return nil, err
	}
	opTok := p.next()
	if !isCompareTok(opTok.kind) {
		return nil, p.unexpected(opTok, "a label filter operator")
	}
	val := p.peek()
	if isIdent(val, "ip") && p.peekN(1).kind == tLParen {
		if opTok.kind != tEq && opTok.kind != tNeq {
			return nil, p.unexpected(opTok, "= or != before ip()")
		}
		m, err := p.parseIPCall()
		if err != nil {
			return nil, err
		}
		return &IPLabelFilter{Name: name.text, Negate: opTok.kind == tNeq, IP: m}, nil
	}
	// String matchers: = != =~ !~ "value".
	if mt, ok := matchType(opTok.kind); ok && val.kind == tString {
		p.next()
		m, err := p.newMatcher(mt, name.text, val)
		if err != nil {
			return nil, err
		}
		return &StringLabelFilter{Matcher: m}, nil
	}
	var op CompareOp
	switch opTok.kind {
	case tEq, tCmpEq:
		op = "=="
	case tNeq:
		op = "!="
	case tGt, tGte, tLt, tLte:
		op = CompareOp(opTok.text)
	default: // =~ and !~ need a string
		return nil, p.unexpected(val, "STRING")
	}
	neg := false
	if val.kind == tSub || val.kind == tAdd {
		n := p.peekN(1).kind
		if n == tNumber || n == tDuration {
			neg = val.kind == tSub
			p.next()
			val = p.peek()
		}
	}
	switch val.kind {
	case tNumber:
		p.next()
		v := val.num
		if neg {
			v = -v
		}
		return &NumericLabelFilter{Name: name.text, Op: op, Value: v}, nil
	case tDuration:
		p.next()
		d := val.dur
		if neg {
			d = -d
		}
		return &DurationLabelFilter{Name: name.text, Op: op, Value: d}, nil
	case tBytes:
		p.next()
		return &BytesLabelFilter{Name: name.text, Op: op, Value: val.bytes}, nil
	}
	if opTok.kind == tEq || opTok.kind == tNeq {
		return nil, p.unexpected(val, "STRING, NUMBER, DURATION or BYTES")
	}
	return nil, p.unexpected(val, "NUMBER, DURATION or BYTES")
}

// parseLabelReplace parses label_replace(expr, "dst", "replacement",
// "src", "regex").
func (p *parser) parseLabelReplace() (any, error) {
	p.next() // label_replace
	if _, err := p.expect(tLParen, "("); err != nil {
		return nil, err
	}
	se, err := p.parseSampleArg("label_replace")
	if err != nil {
		return nil, err
	}
	var args [4]token
	for i := range args {
		if _, err := p.expect(tComma, ","); err != nil {
			return nil, err
		}
		if args[i], err = p.expect(tString, "STRING"); err != nil {
			return nil, err
		}
	}
	if _, err := p.expect(tRParen, ")"); err != nil {
		return nil, err
	}
	l := &LabelReplace{Expr: se, Dst: args[0].text, Replacement: args[1].text, Src: args[2].text, Regex: args[3].text}
	if !isLabelName(l.Dst) {
		return nil, p.errorAt(args[0], "invalid destination label name in label_replace(): %s", l.Dst)
	}
	if l.re, err = regexp.Compile("^(?s:" + l.Regex + ")$"); err != nil {
		return nil, p.errorAt(args[3], "invalid regular expression in label_replace(): %s", l.Regex)
	}
	return l, nil
}

// parseVector parses vector(number).
func (p *parser) parseVector() (any, error) {
	p.next() // vector
	if _, err := p.expect(tLParen, "("); err != nil {
		return nil, err
	}
	v, err := p.parseSignedNumber()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tRParen, ")"); err != nil {
		return nil, err
	}
	return &Vector{Value: v}, nil
}

// parseSampleArg parses the metric query argument of fn.
func (p *parser) parseSampleArg(fn string) (SampleExpr, error) {
	at := p.peek()
	inner, err := p.parseExpr(0)
	if err != nil {
		return nil, err
	}
	se, ok := inner.(SampleExpr)
	if !ok {
		return nil, p.errorAt(at, "syntax error: %s needs a metric query such as count_over_time(%s[5m]), not a log query", fn, inner.(*LogQuery))
	}
	return se, nil
}

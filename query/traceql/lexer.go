package traceql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sightline-dev/sightline/query/internal/qlparse"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tInt
	tFloat
	tDuration
	tAttr   // .name, span.name, resource.name (and the unsupported parent., event., ...)
	tScoped // span:name, trace:rootName, ...: scope:identifier in token.text
	tLBrace
	tRBrace
	tLParen
	tRParen
	tComma
	tPipe
	tAnd // &&
	tOr  // ||
	tEq
	tNeq
	tRe  // =~
	tNre // !~ (also "not sibling" between spansets)
	tGt
	tGte
	tLt
	tLte
	tNot
	tAdd
	tSub
	tMul
	tDiv
	tMod
	tPow
	tDesc        // >>
	tAnce        // <<
	tSibl        // ~
	tNotChild    // !>
	tNotParent   // !<
	tNotDesc     // !>>
	tNotAnce     // !<<
	tUnionChild  // &>
	tUnionParent // &<
	tUnionDesc   // &>>
	tUnionAnce   // &<<
	tUnionSibl   // &~
)

// operators lists the punctuation tokens, longest first so that the lexer
// takes the longest match as Tempo's does ("!>>" before "!>" before "!").
var operators = []struct {
	text string
	kind tokKind
}{
	{"!>>", tNotDesc}, {"!<<", tNotAnce}, {"&>>", tUnionDesc}, {"&<<", tUnionAnce},
	{"&&", tAnd}, {"||", tOr}, {"!=", tNeq}, {"=~", tRe}, {"!~", tNre}, {">=", tGte},
	{"<=", tLte}, {">>", tDesc}, {"<<", tAnce}, {"!>", tNotChild}, {"!<", tNotParent},
	{"&>", tUnionChild}, {"&<", tUnionParent}, {"&~", tUnionSibl},
	{"{", tLBrace}, {"}", tRBrace}, {"(", tLParen}, {")", tRParen}, {",", tComma},
	{"|", tPipe}, {"=", tEq}, {">", tGt}, {"<", tLt}, {"~", tSibl}, {"!", tNot},
	{"+", tAdd}, {"-", tSub}, {"*", tMul}, {"/", tDiv}, {"%", tMod}, {"^", tPow},
}

type token struct {
	kind  tokKind
	text  string // raw text; the unquoted value for tString; the name for tAttr
	scope string // tAttr only: "", "span", "resource", "parent", "event", ...
	pos   int    // byte offset of the token's first byte
	i     int64
	f     float64
	d     time.Duration
}

// describe names a token the way Tempo's yacc parser does in its messages:
// keywords and punctuation by their text, other tokens by their class.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "$end"
	case tIdent:
		if keywords[t.text] {
			return t.text
		}
		return "IDENTIFIER"
	case tString:
		return "STRING"
	case tInt:
		return "INTEGER"
	case tFloat:
		return "FLOAT"
	case tDuration:
		return "DURATION"
	case tAttr:
		return t.scope + "."
	case tScoped:
		return t.text
	}
	for _, op := range operators {
		if op.kind == t.kind {
			return op.text
		}
	}
	return fmt.Sprintf("token(%d)", t.kind)
}

// keywords are the identifiers that Tempo's lexer turns into tokens of their
// own; error messages name them by their text rather than as IDENTIFIER.
var keywords = map[string]bool{
	"true": true, "false": true, "nil": true, "ok": true, "error": true, "unset": true,
	"unspecified": true, "internal": true, "server": true, "client": true, "producer": true,
	"consumer": true, "duration": true, "childCount": true, "name": true, "status": true,
	"statusMessage": true, "kind": true, "rootName": true, "rootServiceName": true,
	"rootService": true, "traceDuration": true, "nestedSetLeft": true, "nestedSetRight": true,
	"nestedSetParent": true, "id": true, "traceID": true, "spanID": true, "parentID": true,
	"timeSinceStart": true, "version": true, "parent": true, "count": true, "avg": true,
	"max": true, "min": true, "sum": true, "by": true, "coalesce": true, "select": true,
	"rate": true, "count_over_time": true, "min_over_time": true, "max_over_time": true,
	"avg_over_time": true, "sum_over_time": true, "quantile_over_time": true,
	"histogram_over_time": true, "compare": true, "topk": true, "bottomk": true, "with": true,
}

// attributeScopes are the identifiers that, directly followed by ".", start
// an attribute; intrinsicScopes those that, followed by ":", start a scoped
// intrinsic such as span:name.
var (
	attributeScopes = map[string]bool{
		"span": true, "resource": true, "parent": true, "event": true, "link": true, "instrumentation": true,
	}
	intrinsicScopes = map[string]bool{
		"span": true, "trace": true, "event": true, "link": true, "instrumentation": true,
	}
)

// maxQueryLength bounds the input as for LogQL, though here an input of that
// length is still accepted.
const maxQueryLength = qlparse.MaxQueryLength

func lex(in string) ([]token, error) {
	if len(in) > maxQueryLength {
		return nil, &ParseError{Msg: fmt.Sprintf("input size too long (%d > %d)", len(in), maxQueryLength)}
	}
	if !utf8.ValidString(in) {
		i := 0
		for i < len(in) {
			r, size := utf8.DecodeRuneInString(in[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		return nil, (*ParseError)(qlparse.Errorf(in, i, "invalid UTF-8 encoding"))
	}
	l := &lexer{in: in}
	var toks []token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tEOF {
			return toks, nil
		}
	}
}

// lexer turns a query into tokens. It reports the first error only: the
// parser stops there anyway.
type lexer struct {
	in  string
	pos int
}

func (l *lexer) errorAt(pos int, format string, args ...any) error {
	return (*ParseError)(qlparse.Errorf(l.in, pos, format, args...))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func isIdentRune(r rune) bool { return isIdentStart(r) || unicode.IsDigit(r) }

// isAttributeRune reports whether r may appear in an unquoted attribute
// name. Tempo's lexer ends a name at a blank or at one of these characters
// only, so "span.http.status_code" and ".foo-bar/baz" are single names.
func isAttributeRune(r rune) bool {
	if unicode.IsSpace(r) {
		return false
	}
	switch r {
	case '{', '}', '(', ')', '=', '~', '!', '<', '>', '&', '|', '^', ',':
		return false
	}
	return true
}

// skipBlanks skips white space and Go-style comments, which Tempo's
// text/scanner-based lexer skips too.
func (l *lexer) skipBlanks() error {
	for l.pos < len(l.in) {
		switch c := l.in[l.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.pos++
		case strings.HasPrefix(l.in[l.pos:], "//"):
			end := strings.IndexByte(l.in[l.pos:], '\n')
			if end < 0 {
				l.pos = len(l.in)
			} else {
				l.pos += end + 1
			}
		case strings.HasPrefix(l.in[l.pos:], "/*"):
			end := strings.Index(l.in[l.pos+2:], "*/")
			if end < 0 {
				return l.errorAt(l.pos, "comment not terminated")
			}
			l.pos += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) next() (token, error) {
	if err := l.skipBlanks(); err != nil {
		return token{}, err
	}
	start := l.pos
	if l.pos >= len(l.in) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.in[l.pos]
	r, size := utf8.DecodeRuneInString(l.in[l.pos:])
	switch {
	case isDigit(c) || (c == '.' && l.pos+1 < len(l.in) && isDigit(l.in[l.pos+1])):
		return l.number()
	case c == '.':
		l.pos++
		return l.attribute(start, "")
	case c == '"' || c == '`':
		// The input is valid UTF-8 (lex checked), so ScanString's check
		// cannot fail here.
		s, end, err := qlparse.ScanString(l.in, start)
		if err != nil {
			return token{}, (*ParseError)(err)
		}
		l.pos = end
		return token{kind: tString, text: s, pos: start}, nil
	case isIdentStart(r):
		l.pos += size
		for l.pos < len(l.in) {
			r, size := utf8.DecodeRuneInString(l.in[l.pos:])
			if !isIdentRune(r) {
				break
			}
			l.pos += size
		}
		word := l.in[start:l.pos]
		if l.pos < len(l.in) && l.in[l.pos] == '.' && attributeScopes[word] {
			l.pos++
			return l.attribute(start, word)
		}
		if l.pos < len(l.in) && l.in[l.pos] == ':' && intrinsicScopes[word] {
			return l.scopedIntrinsic(start)
		}
		return token{kind: tIdent, text: word, pos: start}, nil
	}
	for _, op := range operators {
		if strings.HasPrefix(l.in[l.pos:], op.text) {
			l.pos += len(op.text)
			return token{kind: op.kind, text: op.text, pos: start}, nil
		}
	}
	return token{}, l.errorAt(start, "syntax error: unexpected character %q", r)
}

// attribute scans an attribute name after its scope ("span.", "."): every
// attribute rune up to a blank or an operator, with "quoted" parts that may
// hold anything ("\"" and "\\" escape a quote and a backslash), as in Tempo.
func (l *lexer) attribute(start int, scope string) (token, error) {
	var sb strings.Builder
	quoted := false
	for l.pos < len(l.in) {
		r, size := utf8.DecodeRuneInString(l.in[l.pos:])
		if r == '"' {
			quoted = true
			if err := l.quotedName(&sb); err != nil {
				return token{}, err
			}
			continue
		}
		if !isAttributeRune(r) {
			break
		}
		sb.WriteRune(r)
		l.pos += size
	}
	if sb.Len() == 0 && !quoted {
		return token{}, l.errorAt(l.pos, "syntax error: unexpected END_ATTRIBUTE, expecting an attribute name after %q", scope+".")
	}
	return token{kind: tAttr, text: sb.String(), scope: scope, pos: start}, nil
}

func (l *lexer) quotedName(sb *strings.Builder) error {
	open := l.pos
	l.pos++ // the opening quote
	for l.pos < len(l.in) {
		c := l.in[l.pos]
		switch c {
		case '"':
			l.pos++
			return nil
		case '\\':
			if l.pos+1 < len(l.in) && (l.in[l.pos+1] == '"' || l.in[l.pos+1] == '\\') {
				sb.WriteByte(l.in[l.pos+1])
				l.pos += 2
				continue
			}
			return l.errorAt(l.pos, "invalid escape sequence in attribute name")
		}
		sb.WriteByte(c)
		l.pos++
	}
	return l.errorAt(open, `unexpected EOF, expecting "`)
}

// scopedIntrinsic scans scope:name (span:duration, trace:rootName); the
// parser decides which ones it knows.
func (l *lexer) scopedIntrinsic(start int) (token, error) {
	l.pos++ // the colon
	nameStart := l.pos
	for l.pos < len(l.in) {
		r, size := utf8.DecodeRuneInString(l.in[l.pos:])
		if !isIdentRune(r) {
			break
		}
		l.pos += size
	}
	if l.pos == nameStart {
		return token{}, l.errorAt(nameStart, "syntax error: expecting an intrinsic name after %q", l.in[start:nameStart])
	}
	return token{kind: tScoped, text: l.in[start:l.pos], pos: start}, nil
}

// number scans an integer, a float (1.5, .5, 1e3) or a duration (100ms,
// 1.5s, 1h30m, 2d): like Tempo, a duration's unit follows its digits with no
// blank between.
func (l *lexer) number() (token, error) {
	start := l.pos
	numEnd, isFloat := qlparse.ScanNumber(l.in, start)
	l.pos = numEnd
	// A unit, or more of a duration such as the "30m" of "1h30m".
	for l.pos < len(l.in) {
		r, size := utf8.DecodeRuneInString(l.in[l.pos:])
		if r != '.' && r != 'µ' && r != 'μ' && !(r < utf8.RuneSelf && isIdentRune(r)) {
			break
		}
		l.pos += size
	}
	text := l.in[start:l.pos]
	if l.pos > numEnd {
		d, err := parseDuration(text)
		if err != nil {
			return token{}, l.errorAt(start, "syntax error: invalid number or duration %q", text)
		}
		return token{kind: tDuration, text: text, d: d, pos: start}, nil
	}
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return token{}, l.errorAt(start, "invalid float literal %s: value out of range", text)
		}
		return token{kind: tFloat, text: text, f: f, pos: start}, nil
	}
	i, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return token{}, l.errorAt(start, "invalid integer literal %s: value out of range", text)
	}
	return token{kind: tInt, text: text, i: i, pos: start}, nil
}

// parseDuration accepts Go durations (1.5s, 250us, 1h30m) and Prometheus
// durations (2d, 1w, 1y, 1d12h), the union of what Tempo's lexer accepts.
func parseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	return parsePromDuration(s)
}

// promUnits are Prometheus' duration units, in the order they must appear.
var promUnits = []struct {
	unit string
	d    time.Duration
}{
	{"y", 365 * 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour},
	{"h", time.Hour}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second},
}

// promOrder ranks the units so that each may appear once, largest first
// ("ms" after "s" in Prometheus' order, though it is checked before "m").
var promOrder = map[string]int{"y": 0, "w": 1, "d": 2, "h": 3, "m": 4, "s": 5, "ms": 6}

func parsePromDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	last := -1
	for s != "" {
		i := 0
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid duration")
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, err
		}
		s = s[i:]
		var unit string
		var mult time.Duration
		for _, u := range promUnits {
			if strings.HasPrefix(s, u.unit) {
				unit, mult = u.unit, u.d
				break
			}
		}
		if unit == "" || promOrder[unit] <= last {
			return 0, fmt.Errorf("invalid duration")
		}
		last = promOrder[unit]
		s = s[len(unit):]
		if n > int64(math.MaxInt64/mult) {
			return 0, fmt.Errorf("duration out of range")
		}
		if total > math.MaxInt64-time.Duration(n)*mult {
			return 0, fmt.Errorf("duration out of range")
		}
		total += time.Duration(n) * mult
	}
	return total, nil
}

// formatDuration prints d so that parseDuration reads it back exactly: Go's
// form without its trailing zero units ("2m", not "2m0s") and with "us" for
// microseconds so the text stays ASCII.
func formatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + formatDuration(-d)
	}
	s := strings.Replace(d.String(), "µs", "us", 1)
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// formatFloat prints f so that it reads back as a float, not an int.
func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eIN") {
		s += ".0"
	}
	return s
}

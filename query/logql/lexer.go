package logql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	"github.com/sightline-dev/sightline/query/internal/qlparse"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDuration
	tBytes
	tRange // [5m]: the duration is in token.dur
	tFlag  // --strict, --keep-empty
	tLBrace
	tRBrace
	tLParen
	tRParen
	tComma
	tEq       // =
	tNeq      // !=
	tRe       // =~
	tNre      // !~
	tPipe     // |
	tPipeEq   // |=
	tPipeRe   // |~
	tPipePat  // |>
	tNotPat   // !>
	tCmpEq    // ==
	tGt       // >
	tGte      // >=
	tLt       // <
	tLte      // <=
	tAdd      // +
	tSub      // -
	tMul      // *
	tDiv      // /
	tMod      // %
	tPow      // ^
	tDot      // .
	tLBracket // [ that does not open a range: only seen in errors
	tRBracket
)

var punctText = map[tokKind]string{
	tLBrace: "{", tRBrace: "}", tLParen: "(", tRParen: ")", tComma: ",",
	tEq: "=", tNeq: "!=", tRe: "=~", tNre: "!~", tPipe: "|", tPipeEq: "|=",
	tPipeRe: "|~", tPipePat: "|>", tNotPat: "!>", tCmpEq: "==", tGt: ">",
	tGte: ">=", tLt: "<", tLte: "<=", tAdd: "+", tSub: "-", tMul: "*",
	tDiv: "/", tMod: "%", tPow: "^", tDot: ".", tLBracket: "[", tRBracket: "]",
}

type token struct {
	kind  tokKind
	text  string // raw text; for tString the unquoted value
	pos   int    // byte offset of the token's first byte
	num   float64
	dur   time.Duration
	bytes uint64
}

// describe names a token the way Loki's yacc parser does in its messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "$end"
	case tIdent:
		if isKeyword(t.text) {
			return strings.ToLower(t.text)
		}
		return "IDENTIFIER"
	case tString:
		return "STRING"
	case tNumber:
		return "NUMBER"
	case tDuration:
		return "DURATION"
	case tBytes:
		return "BYTES"
	case tRange:
		return "RANGE"
	case tFlag:
		return t.text
	}
	return punctText[t.kind]
}

// keywords are the identifiers Loki's lexer turns into tokens of their own.
// Everywhere a label name is expected and followed by a matcher operator we
// accept them as names too (Loki does not), which changes no valid query.
var keywords = map[string]bool{
	"by": true, "without": true, "bool": true, "offset": true, "on": true,
	"ignoring": true, "group_left": true, "group_right": true, "or": true,
	"and": true, "unless": true, "unwrap": true, "json": true, "logfmt": true,
	"regexp": true, "unpack": true, "pattern": true, "line_format": true,
	"label_format": true, "decolorize": true, "drop": true, "keep": true, "ip": true,
}

func isKeyword(s string) bool { return keywords[strings.ToLower(s)] }

// lexer turns a query into tokens. It reports the first error only: the
// parser stops there anyway.
type lexer struct {
	in   string
	pos  int
	toks []token
}

// maxQueryLength bounds the input like Loki does: an input of that length is
// already too long.
const maxQueryLength = qlparse.MaxQueryLength

func lex(in string) ([]token, error) {
	if len(in) >= maxQueryLength {
		return nil, &ParseError{Msg: fmt.Sprintf("input size too long (%d > %d)", len(in), maxQueryLength)}
	}
	l := &lexer{in: in}
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		l.toks = append(l.toks, t)
		if t.kind == tEOF {
			return l.toks, nil
		}
	}
}

func (l *lexer) errorAt(pos int, format string, args ...any) error {
	return (*ParseError)(qlparse.Errorf(l.in, pos, format, args...))
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) next() (token, error) {
	// Skip blanks and # comments.
	for l.pos < len(l.in) {
		c := l.in[l.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			l.pos++
			continue
		}
		if c == '#' {
			for l.pos < len(l.in) && l.in[l.pos] != '\n' {
				l.pos++
			}
			continue
		}
		break
	}
	start := l.pos
	if l.pos >= len(l.in) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.in[l.pos]
	switch {
	case isIdentStart(c):
		for l.pos < len(l.in) && isIdentChar(l.in[l.pos]) {
			l.pos++
		}
		return token{kind: tIdent, text: l.in[start:l.pos], pos: start}, nil
	case isDigit(c) || (c == '.' && l.pos+1 < len(l.in) && isDigit(l.in[l.pos+1])):
		return l.number()
	case c == '"' || c == '`':
		s, end, err := qlparse.ScanString(l.in, start)
		if err != nil {
			return token{}, (*ParseError)(err)
		}
		l.pos = end
		return token{kind: tString, text: s, pos: start}, nil
	case c == '[':
		return l.rangeTok()
	}
	two := ""
	if l.pos+1 < len(l.in) {
		two = l.in[l.pos : l.pos+2]
	}
	switch two {
	case "!=", "=~", "!~", "|=", "|~", "|>", "!>", "==", ">=", "<=":
		l.pos += 2
		kinds := map[string]tokKind{"!=": tNeq, "=~": tRe, "!~": tNre, "|=": tPipeEq, "|~": tPipeRe,
			"|>": tPipePat, "!>": tNotPat, "==": tCmpEq, ">=": tGte, "<=": tLte}
		return token{kind: kinds[two], text: two, pos: start}, nil
	case "--":
		// Parser flags (| logfmt --strict); anything else is a syntax error.
		end := l.pos + 2
		for end < len(l.in) && (isIdentChar(l.in[end]) || l.in[end] == '-') {
			end++
		}
		l.pos = end
		return token{kind: tFlag, text: l.in[start:end], pos: start}, nil
	}
	single := map[byte]tokKind{'{': tLBrace, '}': tRBrace, '(': tLParen, ')': tRParen, ',': tComma,
		'=': tEq, '|': tPipe, '>': tGt, '<': tLt, '+': tAdd, '-': tSub, '*': tMul, '/': tDiv,
		'%': tMod, '^': tPow, '.': tDot, ']': tRBracket}
	if k, ok := single[c]; ok {
		l.pos++
		return token{kind: k, text: string(c), pos: start}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.in[l.pos:])
	if r == utf8.RuneError {
		return token{}, l.errorAt(start, "invalid UTF-8 rune")
	}
	return token{}, l.errorAt(start, "syntax error: unexpected character %q", r)
}

// number scans a number, a duration (5m, 1h30m, 1.5s) or a byte size (10KB,
// 1MiB). Like Loki's lexer, it reads the number, then tries to extend it
// with duration characters and then with byte size characters, and keeps
// the plain number when neither parses: 500and is 500 followed by and.
func (l *lexer) number() (token, error) {
	start := l.pos
	numEnd, _ := qlparse.ScanNumber(l.in, start)
	l.pos = numEnd
	// The longer of a duration and a byte size wins (20mb is a size, 20ms
	// a duration); a duration when they are as long (5m).
	bytesEnd := l.extend(numEnd, isBytesChar)
	if _, err := parseBytes(l.in[start:bytesEnd]); err != nil {
		bytesEnd = numEnd
	}
	if end := l.extend(numEnd, isDurationChar); end > numEnd && end >= bytesEnd {
		if d, err := parseDuration(l.in[start:end]); err == nil {
			l.pos = end
			return token{kind: tDuration, text: l.in[start:end], dur: d, pos: start}, nil
		}
	}
	if end := bytesEnd; end > numEnd {
		if b, err := parseBytes(l.in[start:end]); err == nil {
			l.pos = end
			return token{kind: tBytes, text: l.in[start:end], bytes: b, pos: start}, nil
		}
	}
	text := l.in[start:numEnd]
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return token{}, l.errorAt(start, "unable to parse literal as a float: %s", text)
	}
	return token{kind: tNumber, text: text, num: f, pos: start}, nil
}

// extend returns the end of the run of digits, dots and unit characters
// that starts at from.
func (l *lexer) extend(from int, unit func(rune) bool) int {
	for from < len(l.in) {
		r, size := utf8.DecodeRuneInString(l.in[from:])
		if !isDigit(l.in[from]) && r != '.' && !unit(r) {
			break
		}
		from += size
	}
	return from
}

func isDurationChar(r rune) bool {
	switch r {
	case 'n', 'u', 'µ', 'm', 's', 'h', 'd', 'w', 'y':
		return true
	}
	return false
}

// isBytesChar accepts Loki's byte units (B, kB, KB, KiB, MB, MiB, ...);
// exabytes would not fit a uint64.
func isBytesChar(r rune) bool {
	switch r {
	case 'B', 'b', 'i', 'I', 'k', 'K', 'M', 'm', 'G', 'g', 'T', 't', 'P', 'p':
		return true
	}
	return false
}

// rangeTok scans [5m] as one token like Loki's lexer does, so that a range
// cannot be confused with anything else.
func (l *lexer) rangeTok() (token, error) {
	start := l.pos
	end := strings.IndexByte(l.in[start:], ']')
	if end < 0 {
		return token{}, l.errorAt(start, "missing closing ']' in duration")
	}
	body := l.in[start+1 : start+end]
	l.pos = start + end + 1
	if strings.Contains(body, ":") {
		return token{}, (*UnsupportedError)(qlparse.Unsupported(l.in, start, "subquery ["+body+"]"))
	}
	d, err := model.ParseDuration(strings.TrimSpace(body))
	if err != nil {
		return token{}, l.errorAt(start, "%s", err.Error())
	}
	if d <= 0 {
		return token{}, l.errorAt(start, "invalid range [%s]: must be greater than 0", body)
	}
	return token{kind: tRange, text: l.in[start:l.pos], dur: time.Duration(d), pos: start}, nil
}

// parseDuration accepts Prometheus durations (1d, 1w, 5m) and, failing that,
// Go durations (1.5s, 250us), as Loki does.
func parseDuration(s string) (time.Duration, error) {
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return time.ParseDuration(s)
}

// formatDuration prints d so that parseDuration reads it back exactly:
// Prometheus style when it is a whole number of milliseconds, Go style
// otherwise.
func formatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + formatDuration(-d)
	}
	if d%time.Millisecond == 0 && d != 0 {
		return model.Duration(d).String()
	}
	return d.String()
}

var byteUnits = map[string]uint64{
	"": 1, "b": 1,
	"k": 1000, "kb": 1000, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1000 * 1000, "mb": 1000 * 1000, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1000 * 1000 * 1000, "gb": 1000 * 1000 * 1000, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "ti": 1 << 40, "tib": 1 << 40,
	"p": 1e15, "pb": 1e15, "pi": 1 << 50, "pib": 1 << 50,
}

// parseBytes parses a human byte size ("10KB", "1.5 MiB", "42") the way
// go-humanize's ParseBytes (which Loki uses) does, without exabytes.
func parseBytes(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (isDigit(s[i]) || s[i] == '.' || s[i] == ',') {
		i++
	}
	num := strings.ReplaceAll(s[:i], ",", "")
	unit := strings.ToLower(strings.TrimSpace(s[i:]))
	mult, ok := byteUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("invalid byte size %q", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid byte size %q", s)
	}
	v := f * float64(mult)
	if v >= 1<<64 {
		return 0, fmt.Errorf("byte size %q too large", s)
	}
	return uint64(v), nil
}

// formatBytes prints n exactly, in the largest binary or decimal unit that
// divides it.
func formatBytes(n uint64) string {
	if n == 0 {
		return "0B"
	}
	for _, u := range []struct {
		name string
		mult uint64
	}{{"PiB", 1 << 50}, {"PB", 1e15}, {"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9},
		{"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"KB", 1e3}} {
		if n%u.mult == 0 {
			return strconv.FormatUint(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatUint(n, 10) + "B"
}

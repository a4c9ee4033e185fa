package qlparse

import (
	"strconv"
	"unicode/utf8"
)

// ScanString scans the string literal that starts at byte offset start of
// in, whose byte there is its opening quote: a "double-quoted" literal
// (Go escapes, no newline) or a `backtick` one (raw, may span lines). It
// returns the unquoted value and the offset just past the closing quote.
//
// The literal must be valid UTF-8: LogQL reports "invalid UTF-8 rune" for it
// here, while TraceQL rejects such input before lexing.
func ScanString(in string, start int) (s string, end int, err *ParseError) {
	quote := in[start]
	pos := start + 1
	for pos < len(in) {
		c := in[pos]
		if c == '\\' && quote == '"' {
			pos += 2
			continue
		}
		if c == '\n' && quote == '"' {
			break
		}
		pos++
		if c == quote {
			raw := in[start:pos]
			if !utf8.ValidString(raw) {
				return "", pos, Errorf(in, start, "invalid UTF-8 rune")
			}
			s, uerr := strconv.Unquote(raw)
			if uerr != nil {
				return "", pos, Errorf(in, start, "invalid string literal %s: %v", raw, uerr)
			}
			return s, pos, nil
		}
	}
	return "", pos, Errorf(in, start, "literal not terminated")
}

// ScanNumber scans the number literal that starts at byte offset start of
// in: digits, then an optional fraction ("1.5", "1.", or ".5" when start is at the dot) and an
// optional exponent ("e3", "E-3"; an "e" not followed by digits is left
// alone, so 1e is 1 followed by e). It returns the offset just past the
// number and whether a fraction or an exponent made it a float. Units
// (durations, byte sizes) that may follow are each language's business.
func ScanNumber(in string, start int) (end int, isFloat bool) {
	pos := skipDigits(in, start)
	if pos < len(in) && in[pos] == '.' {
		isFloat = true
		pos = skipDigits(in, pos+1)
	}
	if pos < len(in) && (in[pos] == 'e' || in[pos] == 'E') {
		e := pos + 1
		if e < len(in) && (in[e] == '+' || in[e] == '-') {
			e++
		}
		if e < len(in) && isDigit(in[e]) {
			isFloat = true
			pos = skipDigits(in, e)
		}
	}
	return pos, isFloat
}

func skipDigits(in string, pos int) int {
	for pos < len(in) && isDigit(in[pos]) {
		pos++
	}
	return pos
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

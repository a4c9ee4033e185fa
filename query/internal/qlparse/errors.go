package qlparse

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ParseError is a syntax or validation error in a query. Line and Col are
// 1-based and point at the offending token (Col counts runes); both are 0
// when the error is about the query as a whole. The text has the shape of
// the messages of Loki's and Tempo's yacc parsers, which Grafana shows to
// users as they are.
type ParseError struct {
	Msg  string
	Line int
	Col  int
}

func (e *ParseError) Error() string {
	if e.Line == 0 && e.Col == 0 {
		return "parse error : " + e.Msg
	}
	return fmt.Sprintf("parse error at line %d, col %d: %s", e.Line, e.Col, e.Msg)
}

// UnsupportedError is the shape of the error for valid queries that a
// language's parser does not implement: Feature names the construct as the
// user wrote it and Line and Col locate it like ParseError's. It has no
// Error method: its text names the language, so each language declares its
// own type over it with the Error method that says which.
type UnsupportedError struct {
	Feature string
	Line    int
	Col     int
}

// MaxQueryLength bounds the input (128 KiB, Loki's bound, which TraceQL
// adopts too), so that a huge query string cannot make a parser allocate
// without limit.
const MaxQueryLength = 128 << 10

// Position converts a byte offset in the query in into a 1-based line and
// column (in runes). An offset past the end counts as the end.
func Position(in string, pos int) (line, col int) {
	pos = min(pos, len(in))
	line = 1 + strings.Count(in[:pos], "\n")
	start := strings.LastIndexByte(in[:pos], '\n') + 1
	return line, 1 + utf8.RuneCountInString(in[start:pos])
}

// Errorf returns a ParseError located at byte offset pos of in.
func Errorf(in string, pos int, format string, args ...any) *ParseError {
	line, col := Position(in, pos)
	return &ParseError{Msg: fmt.Sprintf(format, args...), Line: line, Col: col}
}

// Unsupported returns an UnsupportedError for feature located at byte offset
// pos of in.
func Unsupported(in string, pos int, feature string) *UnsupportedError {
	line, col := Position(in, pos)
	return &UnsupportedError{Feature: feature, Line: line, Col: col}
}

// Unexpected returns the error for an unexpected token at byte offset pos,
// described as what (its text or its class, such as IDENTIFIER or $end);
// expecting, when not empty, says what would have been valid there.
func Unexpected(in string, pos int, what, expecting string) *ParseError {
	msg := "syntax error: unexpected " + what
	if expecting != "" {
		msg += ", expecting " + expecting
	}
	return Errorf(in, pos, "%s", msg)
}

package traceql

import (
	"fmt"
	"strconv"
)

// ParseError is a syntax or validation error in a query. Line and Col are
// 1-based and point at the offending token (Col counts runes); both are 0
// when the error is about the query as a whole. The text has the shape of
// Tempo's ("parse error at line 1, col 14: syntax error: unexpected ..."),
// so Grafana shows ours the way it shows Tempo's.
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

// UnsupportedError is returned by Parse for valid TraceQL that this package
// does not implement (pipelines, aggregates, metrics functions, structural
// operators other than >, nil, arithmetic, ...). Feature names the construct
// as the user wrote it, e.g. "| count()" or ">> (descendant)"; Line and Col
// locate it like ParseError's.
type UnsupportedError struct {
	Feature string
	Line    int
	Col     int
}

func (e *UnsupportedError) Error() string {
	return "unsupported TraceQL: " + strconv.Quote(e.Feature)
}

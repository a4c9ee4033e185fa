package traceql

import (
	"strconv"

	"github.com/sightline-dev/sightline/query/internal/qlparse"
)

// ParseError is a syntax or validation error in a query: Msg, and Line and
// Col, which are 1-based and point at the offending token (Col counts runes);
// both are 0 when the error is about the query as a whole. The text has the
// shape of Tempo's ("parse error at line 1, col 14: syntax error: unexpected
// ..."), so Grafana shows ours the way it shows Tempo's. LogQL's ParseError
// has the same fields and text, hence the shared definition.
type ParseError qlparse.ParseError

func (e *ParseError) Error() string { return (*qlparse.ParseError)(e).Error() }

// UnsupportedError is returned by Parse for valid TraceQL that this package
// does not implement (pipelines, aggregates, metrics functions, structural
// operators other than >, nil, arithmetic, ...). Feature names the construct
// as the user wrote it, e.g. "| count()" or ">> (descendant)"; Line and Col
// locate it like ParseError's.
type UnsupportedError qlparse.UnsupportedError

func (e *UnsupportedError) Error() string {
	return "unsupported TraceQL: " + strconv.Quote(e.Feature)
}

package logql

import (
	"fmt"
	"strconv"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/sightline-dev/sightline/query/internal/qlparse"
)

// ParseError is a syntax or validation error in a query: Msg, and Line and
// Col, which are 1-based and point at the offending token; both are 0 when
// the error is about the query as a whole. The text matches Loki's, so
// clients that show Loki's errors to users show ours the same way. TraceQL's
// ParseError has the same fields and text, hence the shared definition.
type ParseError qlparse.ParseError

func (e *ParseError) Error() string { return (*qlparse.ParseError)(e).Error() }

// UnsupportedError is returned by ParseExpr for valid LogQL that this package
// does not implement: only subqueries, which Loki refuses too. Feature
// names the construct as the user wrote it, e.g. "subquery [5m:1m]"; Line
// and Col locate it like ParseError's.
type UnsupportedError qlparse.UnsupportedError

func (e *UnsupportedError) Error() string {
	return "unsupported LogQL feature: " + strconv.Quote(e.Feature)
}

// LimitError is returned by evaluation when a query exceeds one of the bounds
// in EvalOptions; Limit is the name of the EvalOptions field.
type LimitError struct {
	Limit string
	Max   int
	msg   string
}

func (e *LimitError) Error() string { return e.msg }

func newSeriesLimitError(max int) *LimitError {
	return &LimitError{
		Limit: "MaxSeries",
		Max:   max,
		msg: fmt.Sprintf("maximum number of series (%d) reached for a single query (limit MaxSeries); "+
			"consider reducing query cardinality by adding more specific stream selectors, "+
			"reducing the time range, or aggregating results with functions like sum(), count() or topk()", max),
	}
}

func newStepsLimitError(steps, max int) *LimitError {
	return &LimitError{
		Limit: "MaxSteps",
		Max:   max,
		msg: fmt.Sprintf("query would evaluate %d steps per series, more than the limit of %d (limit MaxSteps); "+
			"try increasing the step or reducing the time range", steps, max),
	}
}

// PipelineError is returned by metric evaluation when an entry that counts
// towards a result still carries an __error__ label (a line that json or
// logfmt --strict could not parse, a label that a numeric filter could not
// convert...). Loki fails such queries rather than silently mixing errored
// series into the result; users filter them with | __error__="".
type PipelineError struct {
	ErrorType string
	Series    labels.Labels
}

func (e *PipelineError) Error() string {
	return fmt.Sprintf(
		"pipeline error: '%s' for series: '%s'.\n"+
			"Use a label filter to intentionally skip this error. (e.g | __error__!=\"%s\").\n"+
			"To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n",
		e.ErrorType, e.Series, e.ErrorType)
}

package logql

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// Expr is a parsed query: *LogQuery or *MetricQuery.
type Expr interface{ String() string }

// LogQuery is a stream selector followed by a pipeline:
// {app="api"} |= "error" | json | status >= 500.
type LogQuery struct {
	Matchers []*labels.Matcher
	Stages   []Stage
}

// Stage is one step of a log pipeline: *LineFilter, *JSONParser,
// *LogfmtParser, *LabelFilterStage, *LineFormat or *Drop. Stages hold compiled
// regexps and templates, so they come from ParseExpr, not from literals.
type Stage interface {
	String() string
	// process runs the stage; it returns the possibly rewritten line and
	// whether the entry is kept.
	process(line string, b *labelsBuilder) (string, bool)
}

// LineContains returns the strings that every line the query keeps
// contains, from its `|= "s"` filters (one value each) ahead of any
// stage that rewrites the line (line_format, unpack, decolorize): a store
// may skip data that cannot hold them. The filters still apply.
func (q *LogQuery) LineContains() []string {
	var out []string
	for _, s := range q.Stages {
		switch s := s.(type) {
		case *LineFormat, *Unpack, *Decolorize:
			return out // the line is another one after it
		case *LineFilter:
			if s.Op == LineContains && len(s.Values) == 1 {
				out = append(out, s.Values[0])
			}
		}
	}
	return out
}

func (q *LogQuery) String() string {
	var sb strings.Builder
	sb.WriteString(matchersString(q.Matchers))
	for _, s := range q.Stages {
		sb.WriteByte(' ')
		sb.WriteString(s.String())
	}
	return sb.String()
}

func matchersString(ms []*labels.Matcher) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(matcherString(m))
	}
	sb.WriteByte('}')
	return sb.String()
}

func matcherString(m *labels.Matcher) string {
	return m.Name + m.Type.String() + strconv.Quote(m.Value)
}

// LineFilterOp is the operator of a line filter.
type LineFilterOp int

const (
	LineContains    LineFilterOp = iota // |= "s"
	LineNotContains                     // != "s"
	LineMatches                         // |~ "re"
	LineNotMatches                      // !~ "re"
)

func (o LineFilterOp) String() string {
	switch o {
	case LineContains:
		return "|="
	case LineNotContains:
		return "!="
	case LineMatches:
		return "|~"
	case LineNotMatches:
		return "!~"
	}
	return "?"
}

// LineFilter keeps lines that contain (or match) any of Values, or for the
// negated operators, lines that contain (match) none of them. Values has
// more than one element for Loki 3's `|= "a" or "b"`.
type LineFilter struct {
	Op     LineFilterOp
	Values []string
	res    []*regexp.Regexp // compiled Values for LineMatches and LineNotMatches
}

func (f *LineFilter) String() string {
	var sb strings.Builder
	sb.WriteString(f.Op.String())
	for i, v := range f.Values {
		if i > 0 {
			sb.WriteString(" or")
		}
		sb.WriteByte(' ')
		sb.WriteString(strconv.Quote(v))
	}
	return sb.String()
}

// JSONParser is `| json`: every scalar field of a JSON object line becomes a
// label, nested objects flattened with "_".
type JSONParser struct{}

func (*JSONParser) String() string { return "| json" }

// LogfmtParser is `| logfmt [--strict] [--keep-empty]`.
type LogfmtParser struct {
	// Strict stops at the first malformed pair and marks the line with
	// __error__="LogfmtParserErr"; without it bad pairs are skipped.
	Strict bool
	// KeepEmpty keeps keys that have no value (as empty labels).
	KeepEmpty bool
}

func (p *LogfmtParser) String() string {
	s := "| logfmt"
	if p.Strict {
		s += " --strict"
	}
	if p.KeepEmpty {
		s += " --keep-empty"
	}
	return s
}

// LabelFilterStage is `| <label filter expression>`.
type LabelFilterStage struct {
	Filter LabelFilter
}

func (s *LabelFilterStage) String() string { return "| " + s.Filter.String() }

// LineFormat is `| line_format "{{.level}} {{.msg}}"`.
type LineFormat struct {
	Template string
	tmpl     *lineTemplate
}

func (s *LineFormat) String() string { return "| line_format " + strconv.Quote(s.Template) }

// Drop is `| drop a, b="v", c=~"re"`: it removes labels, those given
// with a matcher only when their value matches. Dropping __error__ clears a
// pipeline error, so that the entry no longer fails a metric query
// (Grafana's volume queries end in | drop __error__).
type Drop struct {
	Labels []DropLabel
}

// DropLabel is one label of a Drop.
type DropLabel struct {
	Name    string
	Matcher *labels.Matcher // nil: drop the label whatever its value
}

func (d *Drop) String() string { return "| drop " + labelListString(d.Labels) }

// labelListString prints the labels of a drop or keep stage.
func labelListString(ls []DropLabel) string {
	var sb strings.Builder
	for i, l := range ls {
		if i > 0 {
			sb.WriteString(", ")
		}
		if l.Matcher != nil {
			sb.WriteString(matcherString(l.Matcher))
		} else {
			sb.WriteString(l.Name)
		}
	}
	return sb.String()
}

// LabelFilter is a predicate over the labels of an entry:
// *StringLabelFilter, *NumericLabelFilter, *DurationLabelFilter,
// *BytesLabelFilter or *BinaryLabelFilter.
type LabelFilter interface {
	String() string
	matches(b *labelsBuilder) bool
}

// StringLabelFilter compares a label with a matcher (level="error",
// path=~"/api/.*"); a missing label compares as "".
type StringLabelFilter struct {
	Matcher *labels.Matcher
}

func (f *StringLabelFilter) String() string { return matcherString(f.Matcher) }

// CompareOp is the operator of a numeric, duration or bytes label filter:
// one of "==", "!=", ">", ">=", "<", "<=".
type CompareOp string

// NumericLabelFilter is `status >= 500`. Entries without the label are
// dropped; a value that is not a number sets __error__="LabelFilterErr" and
// keeps the entry, as in Loki.
type NumericLabelFilter struct {
	Name  string
	Op    CompareOp
	Value float64
}

func (f *NumericLabelFilter) String() string {
	return f.Name + string(f.Op) + strconv.FormatFloat(f.Value, 'f', -1, 64)
}

// DurationLabelFilter is `duration > 1s`; label values are parsed as Go
// durations ("250ms", "1.5s").
type DurationLabelFilter struct {
	Name  string
	Op    CompareOp
	Value time.Duration
}

func (f *DurationLabelFilter) String() string {
	return f.Name + string(f.Op) + formatDuration(f.Value)
}

// BytesLabelFilter is `size > 10KB`; label values are parsed as human byte
// sizes ("10 KB", "1.5MiB", "42").
type BytesLabelFilter struct {
	Name  string
	Op    CompareOp
	Value uint64
}

func (f *BytesLabelFilter) String() string {
	return f.Name + string(f.Op) + formatBytes(f.Value)
}

// BinaryLabelFilter combines two filters with and (also written "," or by
// juxtaposition) or with or.
type BinaryLabelFilter struct {
	Left, Right LabelFilter
	And         bool
}

func (f *BinaryLabelFilter) String() string {
	op := " , "
	if !f.And {
		op = " or "
	}
	return "( " + f.Left.String() + op + f.Right.String() + " )"
}

// MetricQuery is a query that returns samples: a range aggregation over a
// log query, vector aggregations, binary operations and number literals.
// Eval and Selectors are safe for concurrent use.
type MetricQuery struct {
	Expr SampleExpr
}

func (m *MetricQuery) String() string { return m.Expr.String() }

// SampleExpr is a node of a metric query: *RangeAggregation,
// *VectorAggregation, *BinaryOp or *NumberLiteral.
type SampleExpr interface {
	String() string
	sampleExpr()
}

// Range aggregation operators.
const (
	OpCountOverTime = "count_over_time"
	OpRate          = "rate"
	OpBytesOverTime = "bytes_over_time"
	OpBytesRate     = "bytes_rate"

	OpRateCounter      = "rate_counter"
	OpSumOverTime      = "sum_over_time"
	OpAvgOverTime      = "avg_over_time"
	OpMinOverTime      = "min_over_time"
	OpMaxOverTime      = "max_over_time"
	OpStdvarOverTime   = "stdvar_over_time"
	OpStddevOverTime   = "stddev_over_time"
	OpQuantileOverTime = "quantile_over_time"
	OpFirstOverTime    = "first_over_time"
	OpLastOverTime     = "last_over_time"
	OpAbsentOverTime   = "absent_over_time"
)

// RangeAggregation is a range function over a log query:
// op([Param,] <log query> [| unwrap ...] [Range] offset Offset) [by (...)].
// count_over_time, bytes_over_time, bytes_rate and absent_over_time count
// entries; rate counts them, or with Unwrap sums their values; the other
// operators need Unwrap and aggregate the values it extracts.
type RangeAggregation struct {
	Op     string
	Query  *LogQuery
	Range  time.Duration
	Offset time.Duration
	// Param is the φ of quantile_over_time.
	Param float64
	// Unwrap, when set, makes samples of a label's values.
	Unwrap *Unwrap
	// Grouping (for the unwrapped aggregations other than sum, rate and
	// rate_counter) merges series before aggregating over the range.
	Grouping *Grouping
}

// Unwrap is `| unwrap [duration|duration_seconds|bytes](label)` followed by
// optional label filters that see the sample's conversion error.
type Unwrap struct {
	Label       string
	Conv        string // "", "duration", "duration_seconds" or "bytes"
	PostFilters []LabelFilter
}

func (u *Unwrap) String() string {
	var sb strings.Builder
	sb.WriteString("| unwrap ")
	if u.Conv != "" {
		sb.WriteString(u.Conv + "(" + u.Label + ")")
	} else {
		sb.WriteString(u.Label)
	}
	for _, f := range u.PostFilters {
		sb.WriteString(" | " + f.String())
	}
	return sb.String()
}

func (*RangeAggregation) sampleExpr() {}

func (r *RangeAggregation) String() string {
	var sb strings.Builder
	sb.WriteString(r.Op)
	sb.WriteByte('(')
	if r.Op == OpQuantileOverTime {
		sb.WriteString(strconv.FormatFloat(r.Param, 'g', -1, 64) + ",")
	}
	sb.WriteString(r.Query.String())
	if r.Unwrap != nil {
		sb.WriteString(" " + r.Unwrap.String())
	}
	sb.WriteString("[" + formatDuration(r.Range) + "]")
	if r.Offset != 0 {
		sb.WriteString(" offset " + formatDuration(r.Offset))
	}
	sb.WriteByte(')')
	if r.Grouping != nil {
		sb.WriteString(r.Grouping.String())
	}
	return sb.String()
}

// Vector aggregation operators.
const (
	OpSum      = "sum"
	OpAvg      = "avg"
	OpMin      = "min"
	OpMax      = "max"
	OpCount    = "count"
	OpTopK     = "topk"
	OpBottomK  = "bottomk"
	OpStddev   = "stddev"
	OpStdvar   = "stdvar"
	OpSort     = "sort"
	OpSortDesc = "sort_desc"
	// OpApproxTopK is Loki's approx_topk, which this package answers
	// exactly (as topk), for instant queries only as in Loki.
	OpApproxTopK = "approx_topk"
)

// VectorAggregation is sum, avg, min, max, count, topk or bottomk, with an
// optional by/without grouping. Param is k for topk and bottomk.
type VectorAggregation struct {
	Op       string
	Param    int
	Grouping *Grouping // nil: aggregate everything into one series
	Expr     SampleExpr
}

func (*VectorAggregation) sampleExpr() {}

func (v *VectorAggregation) String() string {
	var sb strings.Builder
	sb.WriteString(v.Op)
	if v.Grouping != nil && (v.Grouping.Without || len(v.Grouping.Labels) > 0) {
		sb.WriteString(v.Grouping.String())
	}
	sb.WriteByte('(')
	if v.Op == OpTopK || v.Op == OpBottomK || v.Op == OpApproxTopK {
		sb.WriteString(strconv.Itoa(v.Param))
		sb.WriteByte(',')
	}
	sb.WriteString(v.Expr.String())
	sb.WriteByte(')')
	return sb.String()
}

// Grouping is `by (a, b)` or `without (a, b)`.
type Grouping struct {
	Without bool
	Labels  []string
}

func (g *Grouping) String() string {
	kw := " by "
	if g.Without {
		kw = " without "
	}
	return kw + "(" + strings.Join(g.Labels, ",") + ")"
}

// VectorMatchCard is the cardinality of a binary operation's matching.
type VectorMatchCard int

const (
	CardOneToOne   VectorMatchCard = iota
	CardManyToOne                  // group_left
	CardOneToMany                  // group_right
	CardManyToMany                 // and, or, unless
)

// VectorMatching is the on/ignoring and group_left/group_right modifier of
// a binary operation between two vectors.
type VectorMatching struct {
	Card VectorMatchCard
	// On matches on Labels only; otherwise on all labels but Labels.
	On      bool
	Labels  []string
	Include []string // the group_left/group_right labels
}

// BinaryOp is LHS Op RHS, Op one of + - * / % ^ == != > >= < <= and or
// unless. ReturnBool is the bool modifier of comparisons.
type BinaryOp struct {
	Op         string
	LHS, RHS   SampleExpr
	ReturnBool bool
	Matching   *VectorMatching // never nil after parsing
}

func (*BinaryOp) sampleExpr() {}

func (b *BinaryOp) String() string {
	var sb strings.Builder
	sb.WriteByte('(')
	sb.WriteString(b.LHS.String())
	sb.WriteByte(' ')
	sb.WriteString(b.Op)
	if b.ReturnBool {
		sb.WriteString(" bool")
	}
	if m := b.Matching; m != nil {
		if m.On {
			sb.WriteString(" on (" + strings.Join(m.Labels, ",") + ")")
		} else if len(m.Labels) > 0 || m.Card == CardManyToOne || m.Card == CardOneToMany {
			sb.WriteString(" ignoring (" + strings.Join(m.Labels, ",") + ")")
		}
		switch m.Card {
		case CardManyToOne:
			sb.WriteString(" group_left (" + strings.Join(m.Include, ",") + ")")
		case CardOneToMany:
			sb.WriteString(" group_right (" + strings.Join(m.Include, ",") + ")")
		}
	}
	sb.WriteByte(' ')
	sb.WriteString(b.RHS.String())
	sb.WriteByte(')')
	return sb.String()
}

// LabelReplace is label_replace(Expr, "dst", "replacement", "src", "regex"),
// PromQL's: where the regex matches all of src's value, dst is set to the
// replacement with $1, ${name} expanded (and removed when that is empty).
type LabelReplace struct {
	Expr                         SampleExpr
	Dst, Replacement, Src, Regex string
	re                           *regexp.Regexp
}

func (*LabelReplace) sampleExpr() {}

func (l *LabelReplace) String() string {
	return "label_replace(" + l.Expr.String() + "," + strconv.Quote(l.Dst) + "," + strconv.Quote(l.Replacement) + "," +
		strconv.Quote(l.Src) + "," + strconv.Quote(l.Regex) + ")"
}

// Vector is vector(Value): one series without labels.
type Vector struct {
	Value float64
}

func (*Vector) sampleExpr() {}

func (v *Vector) String() string { return "vector(" + strconv.FormatFloat(v.Value, 'g', -1, 64) + ")" }

// NumberLiteral is a constant such as 100 or -0.5.
type NumberLiteral struct {
	Value float64
}

func (*NumberLiteral) sampleExpr() {}

func (n *NumberLiteral) String() string { return strconv.FormatFloat(n.Value, 'g', -1, 64) }

// Selectors returns the stream matchers of every log query inside m, in the
// order they appear in the query (for planning).
func (m *MetricQuery) Selectors() [][]*labels.Matcher {
	var out [][]*labels.Matcher
	var walk func(e SampleExpr)
	walk = func(e SampleExpr) {
		switch e := e.(type) {
		case *RangeAggregation:
			out = append(out, e.Query.Matchers)
		case *VectorAggregation:
			walk(e.Expr)
		case *LabelReplace:
			walk(e.Expr)
		case *BinaryOp:
			walk(e.LHS)
			walk(e.RHS)
		}
	}
	walk(m.Expr)
	return out
}

package traceql

import (
	"strconv"
	"strings"
)

// MetricsFunc is the function of a TraceQL metrics query, the first stage
// of its pipeline: {...} | rate().
type MetricsFunc uint8

// The metrics functions, as Tempo documents them.
const (
	MetricsNone              MetricsFunc = iota
	MetricsRate                          // rate(): matching spans per second, per step
	MetricsCountOverTime                 // count_over_time(): matching spans per step
	MetricsSumOverTime                   // sum_over_time(field)
	MetricsAvgOverTime                   // avg_over_time(field)
	MetricsMinOverTime                   // min_over_time(field)
	MetricsMaxOverTime                   // max_over_time(field)
	MetricsQuantileOverTime              // quantile_over_time(field, q...)
	MetricsHistogramOverTime             // histogram_over_time(field)
	MetricsCompare                       // compare({selection}, topN, start, end)
)

var metricsFuncNames = map[MetricsFunc]string{
	MetricsRate: "rate", MetricsCountOverTime: "count_over_time", MetricsSumOverTime: "sum_over_time",
	MetricsAvgOverTime: "avg_over_time", MetricsMinOverTime: "min_over_time",
	MetricsMaxOverTime: "max_over_time", MetricsQuantileOverTime: "quantile_over_time",
	MetricsHistogramOverTime: "histogram_over_time", MetricsCompare: "compare",
}

var metricsFuncsByName = func() map[string]MetricsFunc {
	m := make(map[string]MetricsFunc, len(metricsFuncNames))
	for f, n := range metricsFuncNames {
		m[n] = f
	}
	return m
}()

func (f MetricsFunc) String() string { return metricsFuncNames[f] }

// takesField reports whether the function aggregates a field's values.
func (f MetricsFunc) takesField() bool {
	switch f {
	case MetricsSumOverTime, MetricsAvgOverTime, MetricsMinOverTime, MetricsMaxOverTime,
		MetricsQuantileOverTime, MetricsHistogramOverTime:
		return true
	}
	return false
}

// maxCompareTopN bounds compare's topN, as Tempo does.
const maxCompareTopN = 1000

// metricsPipeline is what follows the spanset expression of a metrics
// query: the function, its by() grouping, second stages (topk, bottomk)
// and query hints.
type metricsPipeline struct {
	fn        MetricsFunc
	field     Field     // the aggregated field of the *_over_time functions
	quantiles []float64 // quantile_over_time
	by        []Field
	hasBy     bool // by() written, possibly empty

	// compare({cond}, topN, start, end): start and end (unix ns) bound the
	// selection in time when both are set.
	selection  *spansetFilter
	topN       int
	start, end int64
	compareN   int // how many of topN, start, end were written

	second []secondStage
	hints  []hint
}

// secondStage is | topk(k) or | bottomk(k).
type secondStage struct {
	bottom bool
	k      int
}

// hint is one with(name = value) query hint. Hints are accepted and
// ignored: they tune how Tempo samples and shards, and Sightline reads every
// span.
type hint struct {
	name string
	lit  Literal
}

func (m *metricsPipeline) write(sb *strings.Builder) {
	sb.WriteString(" | " + m.fn.String() + "(")
	switch {
	case m.fn == MetricsCompare:
		m.selection.write(sb)
		if m.compareN >= 1 {
			sb.WriteString(", " + strconv.Itoa(m.topN))
		}
		if m.compareN >= 3 {
			sb.WriteString(", " + strconv.FormatInt(m.start, 10) + ", " + strconv.FormatInt(m.end, 10))
		}
	case m.fn.takesField():
		sb.WriteString(m.field.String())
		for _, q := range m.quantiles {
			sb.WriteString(", " + formatFloat(q))
		}
	}
	sb.WriteByte(')')
	if m.hasBy {
		sb.WriteString(" by (")
		for i, f := range m.by {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(f.String())
		}
		sb.WriteByte(')')
	}
	for _, s := range m.second {
		if s.bottom {
			sb.WriteString(" | bottomk(" + strconv.Itoa(s.k) + ")")
		} else {
			sb.WriteString(" | topk(" + strconv.Itoa(s.k) + ")")
		}
	}
	if len(m.hints) > 0 {
		sb.WriteString(" with (")
		for i, h := range m.hints {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(h.name + " = " + h.lit.String())
		}
		sb.WriteByte(')')
	}
}

// IsMetrics reports whether q is a metrics query ({...} | rate() ...),
// which Metrics evaluates; Search and Match see only its spanset part.
func (q *Query) IsMetrics() bool { return q.metrics != nil }

// MetricsFunction returns the metrics function of a metrics query.
func (q *Query) MetricsFunction() MetricsFunc {
	if q.metrics == nil {
		return MetricsNone
	}
	return q.metrics.fn
}

// isMetricsStart reports whether the tokens at the parser's position are
// "| <metrics function> (".
func (p *parser) isMetricsStart() bool {
	if p.peek().kind != tPipe || p.i+2 >= len(p.toks) {
		return false
	}
	n := p.toks[p.i+1]
	_, ok := metricsFuncsByName[n.text]
	return n.kind == tIdent && ok && p.toks[p.i+2].kind == tLParen
}

// parseMetrics parses a metrics pipeline after the spanset expression:
// | fn(args) [by (fields)] { | topk(k) | bottomk(k) } [with (hints)].
func (p *parser) parseMetrics() (*metricsPipeline, error) {
	p.next() // |
	name := p.next()
	m := &metricsPipeline{fn: metricsFuncsByName[name.text]}
	p.next() // (
	if err := p.parseMetricsArgs(m, name); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tIdent && t.text == "by" {
		if m.fn == MetricsCompare {
			return nil, p.unexpected(t, "$end")
		}
		p.next()
		fields, err := p.parseFieldList()
		if err != nil {
			return nil, err
		}
		m.by, m.hasBy = fields, true
	}
	for p.peek().kind == tPipe {
		pipe := p.next()
		n := p.next()
		if n.kind != tIdent || (n.text != "topk" && n.text != "bottomk") {
			if n.kind == tIdent && pipelineFuncs[n.text] {
				return nil, p.unsupported(pipe, "| "+n.text+"() after a metrics function")
			}
			return nil, p.unexpected(n, "topk or bottomk")
		}
		if t := p.next(); t.kind != tLParen {
			return nil, p.unexpected(t, "(")
		}
		k := p.next()
		if k.kind != tInt || k.i <= 0 || k.i > 1<<20 {
			return nil, p.errorAt(k, "%s: the limit must be a positive integer", n.text)
		}
		if t := p.next(); t.kind != tRParen {
			return nil, p.unexpected(t, ")")
		}
		m.second = append(m.second, secondStage{bottom: n.text == "bottomk", k: int(k.i)})
	}
	if t := p.peek(); t.kind == tIdent && t.text == "with" {
		hints, err := p.parseHints()
		if err != nil {
			return nil, err
		}
		m.hints = hints
	}
	return m, nil
}

func (p *parser) parseMetricsArgs(m *metricsPipeline, name token) error {
	closeArgs := func() error {
		if t := p.next(); t.kind != tRParen {
			return p.unexpected(t, ")")
		}
		return nil
	}
	switch {
	case m.fn == MetricsCompare:
		if t := p.peek(); t.kind != tLBrace {
			return p.unexpected(t, "{")
		}
		f, err := p.parseFilter()
		if err != nil {
			return err
		}
		m.selection = f.(*spansetFilter)
		m.topN = 10
		var ints []int64
		for p.peek().kind == tComma {
			p.next()
			t := p.next()
			if t.kind != tInt {
				return p.unexpected(t, "INTEGER")
			}
			ints = append(ints, t.i)
		}
		switch len(ints) {
		case 0:
		case 1, 3:
			m.topN = int(min(ints[0], maxCompareTopN+1))
			if len(ints) == 3 {
				m.start, m.end = ints[1], ints[2]
			}
		default:
			return p.errorAt(name, "compare: takes a spanset filter, then topN, or topN, start and end")
		}
		if m.topN <= 0 || m.topN > maxCompareTopN {
			return p.errorAt(name, "compare() topN must be between 1 and %d", maxCompareTopN)
		}
		m.compareN = len(ints)
		return closeArgs()
	case m.fn.takesField():
		if p.peek().kind == tRParen {
			return p.unexpected(p.peek(), "an attribute or intrinsic")
		}
		f, err := p.parseField()
		if err != nil {
			return err
		}
		m.field = f
		if m.fn == MetricsQuantileOverTime {
			for p.peek().kind == tComma {
				p.next()
				t := p.next()
				var q float64
				switch t.kind {
				case tInt:
					q = float64(t.i)
				case tFloat:
					q = t.f
				default:
					return p.unexpected(t, "FLOAT")
				}
				if q < 0 || q > 1 {
					return p.errorAt(t, "quantile must be between 0 and 1: %s", formatFloat(q))
				}
				m.quantiles = append(m.quantiles, q)
			}
			if len(m.quantiles) == 0 {
				return p.errorAt(name, "quantile_over_time() requires at least one quantile")
			}
		}
		return closeArgs()
	}
	return closeArgs()
}

// parseField parses an attribute or an intrinsic, the argument of an
// aggregation or a by() label.
func (p *parser) parseField() (Field, error) {
	t := p.peek()
	switch t.kind {
	case tAttr, tScoped, tIdent:
	default:
		return Field{}, p.unexpected(t, "an attribute or intrinsic")
	}
	o, err := p.parseOperand()
	if err != nil {
		return Field{}, err
	}
	if !o.isField {
		return Field{}, p.unexpected(t, "an attribute or intrinsic")
	}
	return o.field, nil
}

// parseList parses "(" item {"," item} ")" or "()", calling item at each.
func (p *parser) parseList(item func() error) error {
	if t := p.next(); t.kind != tLParen {
		return p.unexpected(t, "(")
	}
	for n := 0; p.peek().kind != tRParen; n++ {
		if n > 0 {
			if t := p.next(); t.kind != tComma {
				return p.unexpected(t, ", or )")
			}
		}
		if err := item(); err != nil {
			return err
		}
	}
	p.next()
	return nil
}

// parseFieldList parses (field, field, ...), possibly empty.
func (p *parser) parseFieldList() ([]Field, error) {
	var out []Field
	err := p.parseList(func() error {
		f, err := p.parseField()
		out = append(out, f)
		return err
	})
	return out, err
}

// parseHints parses with(name = literal, ...).
func (p *parser) parseHints() ([]hint, error) {
	p.next() // with
	var out []hint
	err := p.parseList(func() error {
		n := p.next()
		if n.kind != tIdent {
			return p.unexpected(n, "IDENTIFIER")
		}
		if t := p.next(); t.kind != tEq {
			return p.unexpected(t, "=")
		}
		o, err := p.parseOperand()
		if err != nil {
			return err
		}
		if o.isField {
			return p.unexpected(o.tok, "a literal")
		}
		out = append(out, hint{name: n.text, lit: o.lit})
		return nil
	})
	return out, err
}

package shard

import (
	"strconv"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Labels that only Sightline sets. PromQL reserves names that begin with
// "__" for internal use, so no stored series has them.
const (
	// partialLabel selects, in the final evaluation, the shards' results
	// of one part.
	partialLabel = "__sightline_partial__"
	// shardLabel keeps the shards' results of one group apart, so that the
	// outer aggregation sees each as a series of its own.
	shardLabel = "__sightline_shard__"
)

// part is an aggregation of a query that is evaluated shard by shard.
type part struct {
	// expr is the aggregation as it was in the query.
	expr string
	// direct is the part as direct evaluates it, or nil.
	direct *directPart
	// whole says that the part is the query, whose result is its
	// shards' results together.
	whole bool
}

// split finds the aggregations of expr that can be evaluated shard by
// shard, outermost first and outside subqueries, and rewrites expr in place so that each reads
// its shards' results: sum by (job) (rate(x[5m])) becomes
// sum by (job) ({__sightline_partial__="0"}). It returns the parts in the
// order of their numbers.
//
// An expr with no such aggregation whose series are each computed from
// one series, such as max_over_time(x[1h]), is one part itself, and its
// result is its shards' results together. A bare selector is not: it
// costs little but the reading.
func split(expr parser.Expr) []part {
	parts := aggregations(expr)
	if len(parts) > 0 || !perSeries(expr) {
		return parts
	}
	if _, ok := unparen(expr).(*parser.VectorSelector); ok {
		return nil
	}
	return []part{{expr: expr.String(), whole: true, direct: directOf(expr)}}
}

func unparen(e parser.Expr) parser.Expr {
	for p, ok := e.(*parser.ParenExpr); ok; p, ok = e.(*parser.ParenExpr) {
		e = p.Expr
	}
	return e
}

// aggregations is split's search of expr for aggregations.
func aggregations(expr parser.Expr) []part {
	var parts []part
	var walk func(parser.Node)
	walk = func(n parser.Node) {
		switch n := n.(type) {
		case *parser.AggregateExpr:
			if shardable(n) {
				parts = append(parts, part{expr: n.String(), direct: directOf(n)})
				rewrite(n, len(parts)-1)
				return
			}
		case *parser.SubqueryExpr:
			// A subquery evaluates its expression at steps of its
			// own, where the parts have no results.
			return
		}
		for _, c := range parser.Children(n) {
			walk(c)
		}
	}
	walk(expr)
	return parts
}

// rewrite makes agg aggregate the shards' results of part i.
func rewrite(agg *parser.AggregateExpr, i int) {
	agg.Expr = &parser.VectorSelector{
		LabelMatchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, partialLabel, strconv.Itoa(i))},
		PosRange:      agg.Expr.PositionRange(),
	}
	if agg.Op == parser.COUNT {
		agg.Op = parser.SUM // the count of all is the sum of the shards' counts
	}
	if agg.Without {
		agg.Grouping = append(agg.Grouping, shardLabel)
	}
}

// shardable says whether agg, evaluated on each shard's series, then
// aggregated again over the shards' results, gives agg's result: an
// aggregation that a second one of its kind (a sum for a count) combines,
// over an expression in which every series is computed from one selected
// series alone.
func shardable(agg *parser.AggregateExpr) bool {
	switch agg.Op {
	case parser.SUM, parser.MIN, parser.MAX, parser.COUNT, parser.GROUP:
		return agg.Param == nil && perSeries(agg.Expr)
	}
	return false
}

// perSeries says whether each series of e is computed from one series of
// its selectors alone, and every series of e from a different one: then
// the series of a shard's evaluation are those of its shard. Selectors of
// two vectors joined by an operator match series across shards, and
// aggregations, subqueries and functions not listed may mix them or make
// series from none (absent, vector), so those are not.
func perSeries(e parser.Expr) bool {
	switch e := e.(type) {
	case *parser.VectorSelector:
		return oneMetric(e)
	case *parser.ParenExpr:
		return perSeries(e.Expr)
	case *parser.UnaryExpr:
		return perSeries(e.Expr)
	case *parser.BinaryExpr:
		switch {
		case constant(e.LHS):
			return perSeries(e.RHS)
		case constant(e.RHS):
			return perSeries(e.LHS)
		}
		return false
	case *parser.Call:
		if !perSeriesFunctions[e.Func.Name] {
			return false
		}
		vectors := 0
		for _, arg := range e.Args {
			switch arg := arg.(type) {
			case *parser.MatrixSelector:
				if vs, ok := arg.VectorSelector.(*parser.VectorSelector); !ok || !oneMetric(vs) {
					return false
				}
				vectors++
			default:
				if constant(arg) {
					continue
				}
				if !perSeries(arg) {
					return false
				}
				vectors++
			}
		}
		return vectors == 1
	}
	return false
}

// oneMetric says whether s selects series of one metric name. The
// functions and operators that drop the name could otherwise make two series
// of one labelset, which the engine refuses, within a shard but not across
// shards.
func oneMetric(s *parser.VectorSelector) bool {
	for _, m := range s.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return true
		}
	}
	return false
}

// constant says whether e is a number that needs no series.
func constant(e parser.Expr) bool {
	switch e := e.(type) {
	case *parser.NumberLiteral:
		return true
	case *parser.ParenExpr:
		return constant(e.Expr)
	case *parser.UnaryExpr:
		return constant(e.Expr)
	case *parser.BinaryExpr:
		return constant(e.LHS) && constant(e.RHS)
	}
	return false
}

// perSeriesFunctions compute each output series from one input series and
// keep its labels or drop only the metric name. histogram_quantile is not one: it joins the bucket series of a classic
// histogram.
var perSeriesFunctions = map[string]bool{
	"rate": true, "irate": true, "increase": true, "delta": true, "idelta": true,
	"deriv": true, "predict_linear": true, "resets": true, "changes": true,
	"avg_over_time": true, "min_over_time": true, "max_over_time": true, "sum_over_time": true,
	"count_over_time": true, "last_over_time": true, "present_over_time": true,
	"stddev_over_time": true, "stdvar_over_time": true, "quantile_over_time": true,
	"abs": true, "ceil": true, "floor": true, "round": true, "sqrt": true, "exp": true,
	"ln": true, "log2": true, "log10": true, "sgn": true,
	"clamp": true, "clamp_min": true, "clamp_max": true,
	"histogram_count": true, "histogram_sum": true, "histogram_avg": true,
}

package mql

import (
	"context"
	"fmt"
	"time"

	"github.com/VictoriaMetrics/metricsql"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// DefaultWindow is the lookbehind window filled into rollups that leave it
// out, when the query's step is shorter (and for instant queries). VictoriaMetrics
// uses max(step, scrape interval); Sightline does not know the scrape
// interval, and 5m is PromQL's lookback delta.
const DefaultWindow = 5 * time.Minute

// UnsupportedError names a MetricsQL feature that Sightline cannot evaluate.
type UnsupportedError struct{ What string }

func (e *UnsupportedError) Error() string {
	return "unsupported MetricsQL " + e.What
}

// Translate returns the PromQL for q, a PromQL or MetricsQL query evaluated
// with the given step (0 for instant queries). PromQL is returned as it is.
func Translate(q string, step time.Duration) (string, error) {
	_, promErr := parser.ParseExpr(q)
	if promErr == nil {
		return q, nil
	}
	e, err := metricsql.Parse(q)
	if err != nil {
		// Neither language accepts it: PromQL's message is the one users of
		// a Prometheus API know.
		return "", promErr
	}
	window := max(step, DefaultWindow)
	e, err = rewrite(e, window)
	if err != nil {
		return "", err
	}
	out := string(e.AppendString(nil))
	if _, err := parser.ParseExpr(out); err != nil {
		return "", fmt.Errorf("MetricsQL query translated to %q, which PromQL cannot evaluate: %w", out, err)
	}
	return out, nil
}

// rewrites maps MetricsQL-only rollup and transform functions to PromQL with
// the same result. args are the (already rewritten) arguments.
var rewrites = map[string]func(args []metricsql.Expr) (metricsql.Expr, error){
	"median_over_time": func(args []metricsql.Expr) (metricsql.Expr, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("median_over_time: expected 1 argument, got %d", len(args))
		}
		return call("quantile_over_time", number(0.5), args[0]), nil
	},
	"range_over_time": func(args []metricsql.Expr) (metricsql.Expr, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("range_over_time: expected 1 argument, got %d", len(args))
		}
		return parens(&metricsql.BinaryOpExpr{Op: "-", Left: call("max_over_time", args[0]), Right: call("min_over_time", args[0])}), nil
	},
	"zscore_over_time": func(args []metricsql.Expr) (metricsql.Expr, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("zscore_over_time: expected 1 argument, got %d", len(args))
		}
		diff := parens(&metricsql.BinaryOpExpr{Op: "-", Left: call("last_over_time", args[0]), Right: call("avg_over_time", args[0])})
		return parens(&metricsql.BinaryOpExpr{Op: "/", Left: diff, Right: call("stddev_over_time", args[0])}), nil
	},
	"rate_over_sum": func(args []metricsql.Expr) (metricsql.Expr, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("rate_over_sum: expected 1 argument, got %d", len(args))
		}
		re, ok := args[0].(*metricsql.RollupExpr)
		if !ok || re.Window == nil {
			return nil, fmt.Errorf("rate_over_sum: expected a range vector argument")
		}
		secs := float64(re.Window.Duration(0)) / 1000
		return parens(&metricsql.BinaryOpExpr{Op: "/", Left: call("sum_over_time", args[0]), Right: number(secs)}), nil
	},
	"now": func(args []metricsql.Expr) (metricsql.Expr, error) {
		if len(args) != 0 {
			return nil, fmt.Errorf("now: expected no arguments, got %d", len(args))
		}
		return call("time"), nil
	},
}

// aggrRewrites maps MetricsQL-only aggregations to PromQL ones.
var aggrRewrites = map[string]func(ae *metricsql.AggrFuncExpr) (metricsql.Expr, error){
	"median": func(ae *metricsql.AggrFuncExpr) (metricsql.Expr, error) {
		if len(ae.Args) != 1 {
			return nil, fmt.Errorf("median: expected 1 argument, got %d", len(ae.Args))
		}
		return &metricsql.AggrFuncExpr{Name: "quantile", Args: []metricsql.Expr{number(0.5), ae.Args[0]}, Modifier: ae.Modifier}, nil
	},
}

func call(name string, args ...metricsql.Expr) *metricsql.FuncExpr {
	return &metricsql.FuncExpr{Name: name, Args: args}
}

// parens is how metricsql represents a parenthesised expression: a call
// without a name.
func parens(e metricsql.Expr) *metricsql.FuncExpr {
	return &metricsql.FuncExpr{Args: []metricsql.Expr{e}}
}

func number(f float64) *metricsql.NumberExpr {
	return &metricsql.NumberExpr{N: f}
}

func rewrite(e metricsql.Expr, window time.Duration) (metricsql.Expr, error) {
	switch e := e.(type) {
	case *metricsql.NumberExpr:
		// Drop the source text: MetricsQL's 1Ki or 1_000 are not PromQL.
		return number(e.N), nil
	case *metricsql.StringExpr:
		return &metricsql.StringExpr{S: e.S}, nil
	case *metricsql.DurationExpr:
		return normaliseDuration(e)
	case *metricsql.MetricExpr:
		if len(e.LabelFilterss) > 1 {
			return nil, &UnsupportedError{What: "'or' between label filters in " + string(e.AppendString(nil))}
		}
		return e, nil
	case *metricsql.RollupExpr:
		return rewriteRollup(e, window)
	case *metricsql.BinaryOpExpr:
		if !isPromQLBinaryOp(e.Op) {
			return nil, &UnsupportedError{What: fmt.Sprintf("binary operator %q", e.Op)}
		}
		if e.KeepMetricNames {
			return nil, &UnsupportedError{What: "modifier keep_metric_names"}
		}
		if e.FillLeft != nil || e.FillRight != nil {
			return nil, &UnsupportedError{What: "modifier fill"}
		}
		if e.JoinModifierPrefix != nil {
			return nil, &UnsupportedError{What: "group_left/group_right prefix"}
		}
		var err error
		if e.Left, err = rewrite(e.Left, window); err != nil {
			return nil, err
		}
		if e.Right, err = rewrite(e.Right, window); err != nil {
			return nil, err
		}
		return e, nil
	case *metricsql.AggrFuncExpr:
		if e.Limit > 0 {
			return nil, &UnsupportedError{What: "aggregation modifier limit"}
		}
		if err := rewriteArgs(e.Args, window); err != nil {
			return nil, err
		}
		if f, ok := aggrRewrites[e.Name]; ok {
			return f(e)
		}
		if !promqlAggregators[e.Name] {
			return nil, &UnsupportedError{What: fmt.Sprintf("aggregate function %q", e.Name)}
		}
		return e, nil
	case *metricsql.FuncExpr:
		if e.KeepMetricNames {
			return nil, &UnsupportedError{What: "modifier keep_metric_names"}
		}
		if e.Name != "" && metricsql.IsRollupFunc(e.Name) {
			// MetricsQL lets a rollup take a bare series selector.
			for i, a := range e.Args {
				if _, ok := a.(*metricsql.MetricExpr); ok {
					e.Args[i] = &metricsql.RollupExpr{Expr: a}
				}
			}
		}
		if err := rewriteArgs(e.Args, window); err != nil {
			return nil, err
		}
		if e.Name == "" {
			if len(e.Args) != 1 {
				return nil, &UnsupportedError{What: "union of several expressions"}
			}
			return e, nil
		}
		if f, ok := rewrites[e.Name]; ok {
			return f(e.Args)
		}
		if _, ok := parser.Functions[e.Name]; !ok {
			return nil, &UnsupportedError{What: fmt.Sprintf("function %q", e.Name)}
		}
		return e, nil
	default:
		return nil, &UnsupportedError{What: fmt.Sprintf("expression %T", e)}
	}
}

func rewriteArgs(args []metricsql.Expr, window time.Duration) error {
	for i, a := range args {
		r, err := rewrite(a, window)
		if err != nil {
			return err
		}
		args[i] = r
	}
	return nil
}

func rewriteRollup(e *metricsql.RollupExpr, window time.Duration) (metricsql.Expr, error) {
	if e.InheritStep {
		return nil, &UnsupportedError{What: "subquery with an inherited step ([d:])"}
	}
	var err error
	if e.Expr, err = rewrite(e.Expr, window); err != nil {
		return nil, err
	}
	if e.Window == nil && !e.ForSubquery() {
		if _, isSelector := e.Expr.(*metricsql.MetricExpr); isSelector {
			if e.Window, err = durationExpr(window.Milliseconds()); err != nil {
				return nil, err
			}
		}
	} else if e.Window != nil {
		if e.Window, err = normaliseDuration(e.Window); err != nil {
			return nil, err
		}
	}
	for _, d := range []**metricsql.DurationExpr{&e.Offset, &e.Step} {
		if *d != nil {
			if *d, err = normaliseDuration(*d); err != nil {
				return nil, err
			}
		}
	}
	if e.At != nil {
		if e.At, err = rewrite(e.At, window); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// normaliseDuration rewrites MetricsQL-only durations (1.5m, 2i) as PromQL ones.
func normaliseDuration(d *metricsql.DurationExpr) (*metricsql.DurationExpr, error) {
	s := string(d.AppendString(nil))
	if _, err := model.ParseDuration(s); err == nil {
		return d, nil
	}
	ms, err := metricsql.DurationValue(s, 0)
	if err != nil {
		return nil, &UnsupportedError{What: fmt.Sprintf("duration %q", s)}
	}
	return durationExpr(ms)
}

// durationExpr builds a DurationExpr, whose fields metricsql does not export,
// by parsing one.
func durationExpr(ms int64) (*metricsql.DurationExpr, error) {
	s := model.Duration(time.Duration(abs(ms)) * time.Millisecond).String()
	if ms < 0 {
		s = "-" + s
	}
	e, err := metricsql.Parse("x offset " + s)
	if err != nil {
		return nil, fmt.Errorf("BUG: duration %q: %w", s, err)
	}
	return e.(*metricsql.RollupExpr).Offset, nil
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// promqlAggregators are PromQL's stable aggregation operators.
var promqlAggregators = map[string]bool{
	"sum": true, "avg": true, "count": true, "min": true, "max": true, "group": true,
	"stddev": true, "stdvar": true, "topk": true, "bottomk": true, "count_values": true, "quantile": true,
}

func isPromQLBinaryOp(op string) bool {
	switch op {
	case "+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless":
		return true
	}
	return false
}

// Engine is a promql.QueryEngine that accepts MetricsQL as well as PromQL.
type Engine struct {
	promql.QueryEngine
}

// NewInstantQuery translates qs and hands it to the PromQL engine.
func (e Engine) NewInstantQuery(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, ts time.Time) (promql.Query, error) {
	pq, err := Translate(qs, 0)
	if err != nil {
		return nil, err
	}
	return e.QueryEngine.NewInstantQuery(ctx, q, opts, pq, ts)
}

// NewRangeQuery translates qs with the query's step and hands it to the
// PromQL engine.
func (e Engine) NewRangeQuery(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, start, end time.Time, interval time.Duration) (promql.Query, error) {
	pq, err := Translate(qs, interval)
	if err != nil {
		return nil, err
	}
	return e.QueryEngine.NewRangeQuery(ctx, q, opts, pq, start, end, interval)
}

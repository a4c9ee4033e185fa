package logql

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/stretchr/testify/require"
)

// unwrapStore holds the lines of the metric conformance cases, one stream
// {app="api"}:
//
//	10s path=/a latency=100ms size=1KB n=1 c=10
//	20s path=/b latency=300ms size=2KB n=4 c=15
//	40s path=/a latency=200ms size=3KB n=2 c=3     (c: a counter reset)
//	50s path=/a latency=bad   size=4KB n=x c=8     (n, latency: no number)
//
// Queries run at 30s and 60s with [30s] windows: (0s,30s] and (30s,60s].
func unwrapStore() *memStore {
	s := &memStore{}
	for _, e := range []struct {
		at   int
		line string
	}{
		{10, "path=/a latency=100ms size=1KB n=1 c=10"},
		{20, "path=/b latency=300ms size=2KB n=4 c=15"},
		{40, "path=/a latency=200ms size=3KB n=2 c=3"},
		{50, "path=/a latency=bad size=4KB n=x c=8"},
	} {
		s.add(ls("app", "api"), time.Duration(e.at)*time.Second, e.line)
	}
	return s
}

// TestLokiConformanceMetrics runs Loki's documented metric queries
// (docs/sources/query/metric_queries.md: "Unwrapped range aggregations",
// "Built-in aggregation operators", "Functions"; and PromQL's definitions
// that those sections refer to) with results worked out by hand.
func TestLokiConformanceMetrics(t *testing.T) {
	api := ls("app", "api")
	cases := []struct {
		doc, query string
		want       []promql.Series
	}{
		{"metric_queries#unwrapped-range-aggregations: sum_over_time, | __error__=\"\" after unwrap drops n=x",
			`sum_over_time({app="api"} | logfmt path, n | unwrap n | __error__="" [30s])`,
			[]promql.Series{wantSeries(ls("app", "api", "path", "/a"), pt{30, 1}, pt{60, 2}), wantSeries(ls("app", "api", "path", "/b"), pt{30, 4})}},
		{"metric_queries#unwrapped-range-aggregations: avg_over_time with duration() and by",
			`avg_over_time({app="api"} | logfmt | unwrap duration(latency) | __error__="" [30s]) by (app)`,
			[]promql.Series{wantSeries(api, pt{30, 0.2}, pt{60, 0.2})}},
		{"metric_queries#unwrapped-range-aggregations: duration_seconds() is duration()",
			`avg_over_time({app="api"} | logfmt | unwrap duration_seconds(latency) | __error__="" [30s]) by (app)`,
			[]promql.Series{wantSeries(api, pt{30, 0.2}, pt{60, 0.2})}},
		{"metric_queries#unwrapped-range-aggregations: max_over_time with bytes()",
			`max_over_time({app="api"} | logfmt | unwrap bytes(size) [30s]) by (app)`,
			[]promql.Series{wantSeries(api, pt{30, 2000}, pt{60, 4000})}},
		{"metric_queries#unwrapped-range-aggregations: min_over_time",
			`min_over_time({app="api"} | logfmt | unwrap bytes(size) [30s]) by (app)`,
			[]promql.Series{wantSeries(api, pt{30, 1000}, pt{60, 3000})}},
		{"metric_queries#unwrapped-range-aggregations: first_over_time",
			`first_over_time({app="api"} | logfmt | unwrap c [30s]) by (app)`,
			[]promql.Series{wantSeries(api, pt{30, 10}, pt{60, 3})}},
		{"metric_queries#unwrapped-range-aggregations: last_over_time",
			`last_over_time({app="api"} | logfmt | unwrap c [30s]) by (app)`,
			[]promql.Series{wantSeries(api, pt{30, 15}, pt{60, 8})}},
		{"metric_queries#unwrapped-range-aggregations: quantile_over_time (PromQL's interpolation)",
			`quantile_over_time(0.5, {app="api"} | logfmt | unwrap bytes(size) [30s]) by (app)`,
			[]promql.Series{wantSeries(api, pt{30, 1500}, pt{60, 3500})}},
		{"metric_queries#unwrapped-range-aggregations: stddev_over_time (population)",
			`stddev_over_time({app="api"} | logfmt | unwrap c [30s]) by (app)`,
			[]promql.Series{wantSeries(api, pt{30, 2.5}, pt{60, 2.5})}},
		{"metric_queries#unwrapped-range-aggregations: stdvar_over_time",
			`stdvar_over_time({app="api"} | logfmt | unwrap c [30s]) without (path, latency, size, n)`,
			[]promql.Series{wantSeries(api, pt{30, 6.25}, pt{60, 6.25})}},
		{"metric_queries#unwrapped-range-aggregations: rate over unwrapped values is their sum per second",
			`sum(rate({app="api"} | logfmt size | unwrap bytes(size) [30s]))`,
			[]promql.Series{wantSeries(ls(), pt{30, 100}, pt{60, 7000.0 / 30})}},
		{"metric_queries#unwrapped-range-aggregations: rate_counter (PromQL rate: resets, extrapolation)",
			`rate_counter({app="api"} | logfmt c | unwrap c [1m])`,
			[]promql.Series{wantSeries(api, pt{30, 12.5 / 60}, pt{60, 19.5 / 60})}},
		{"metric_queries#offset-modifier",
			`sum_over_time({app="api"} | logfmt path, n | unwrap n | __error__="" [30s] offset 30s)`,
			[]promql.Series{wantSeries(ls("app", "api", "path", "/a"), pt{60, 1}), wantSeries(ls("app", "api", "path", "/b"), pt{60, 4})}},
		{"metric_queries#log-range-aggregations: absent_over_time of a stream that has no entries",
			`absent_over_time({app="nope", env="x", env="y", job=~"j"}[30s])`,
			[]promql.Series{wantSeries(ls("app", "nope"), pt{30, 1}, pt{60, 1})}},
		{"metric_queries#log-range-aggregations: absent_over_time of a stream with entries is empty",
			`absent_over_time({app="api"}[30s])`, nil},
		{"metric_queries#unwrapped-range-aggregations: absent_over_time(unwrapped-range): no sample after the filters at 60s",
			`absent_over_time({app="api"} | logfmt | unwrap n | __error__="" | path="/b" [30s])`,
			[]promql.Series{wantSeries(api, pt{60, 1})}},
		{"metric_queries#built-in-aggregation-operators: stddev and stdvar",
			`stddev(sum by (path) (sum_over_time({app="api"} | logfmt path, n | unwrap n | __error__="" [30s]))) + stdvar(vector(1))`,
			[]promql.Series{wantSeries(ls(), pt{30, 1.5}, pt{60, 0})}},
		{"functions#label_replace (docs example: $1 of (.*):.*)",
			`label_replace(sum by (path) (count_over_time({app="api"} | logfmt [30s])), "first", "x$1", "path", "/(.*)")`,
			[]promql.Series{wantSeries(ls("first", "xa", "path", "/a"), pt{30, 1}, pt{60, 2}), wantSeries(ls("first", "xb", "path", "/b"), pt{30, 1})}},
		{"functions#label_replace: a regex that does not match leaves the series as it is",
			`label_replace(sum by (path) (count_over_time({app="api"} | logfmt [30s])), "first", "$1", "path", "b")`,
			[]promql.Series{wantSeries(ls("path", "/a"), pt{30, 1}, pt{60, 2}), wantSeries(ls("path", "/b"), pt{30, 1})}},
		{"functions#vector: sum(...) or vector(0)",
			`sum(count_over_time({app="nope"}[30s])) or vector(0)`,
			[]promql.Series{wantSeries(ls(), pt{30, 0}, pt{60, 0})}},
		{"metric_queries#binary-operators with ignoring and group_left",
			`sum by (path) (count_over_time({app="api"} | logfmt path [30s])) / ignoring (path) group_left sum(count_over_time({app="api"}[30s]))`,
			[]promql.Series{wantSeries(ls("path", "/a"), pt{30, 0.5}, pt{60, 1}), wantSeries(ls("path", "/b"), pt{30, 0.5})}},
		{"metric_queries#binary-operators: on () group_right keeps the many side's labels",
			`sum(count_over_time({app="api"}[30s])) - on () group_right sum by (path) (count_over_time({app="api"} | logfmt path [30s]))`,
			[]promql.Series{wantSeries(ls("path", "/a"), pt{30, 1}, pt{60, 0}), wantSeries(ls("path", "/b"), pt{30, 1})}},
	}
	for _, c := range cases {
		t.Run(c.doc, func(t *testing.T) {
			m, err := ParseMetricQuery(c.query)
			require.NoError(t, err, c.query)
			got, err := m.Eval(context.Background(), t0.Add(30*time.Second), t0.Add(60*time.Second), 30*time.Second, unwrapStore().fetch)
			require.NoError(t, err, c.query)
			requireMatrix(t, promql.Matrix(c.want), got, c.query)
		})
	}
}

// TestUnwrapSumPushdown: a sum over sum_over_time or rate of unwrapped
// values groups while extracting, so that the per-line labels of logfmt
// never become series (four here, over a limit of two).
func TestUnwrapSumPushdown(t *testing.T) {
	opts := DefaultEvalOptions()
	opts.MaxSeries = 2
	for q, want := range map[string]promql.Series{
		`sum(sum_over_time({app="api"} | logfmt | unwrap c [30s]))`:                   wantSeries(ls(), pt{30, 25}, pt{60, 11}),
		`sum by (app) (rate({app="api"} | logfmt | unwrap bytes(size) [30s]))`:        wantSeries(ls("app", "api"), pt{30, 100}, pt{60, 7000.0 / 30}),
		`sum without (path) (sum_over_time({app="api"} | logfmt c | unwrap c [30s]))`: wantSeries(ls("app", "api"), pt{30, 25}, pt{60, 11}),
	} {
		m, err := ParseMetricQuery(q)
		require.NoError(t, err)
		got, err := m.EvalWithOptions(context.Background(), t0.Add(30*time.Second), t0.Add(60*time.Second), 30*time.Second, unwrapStore().fetch, opts)
		require.NoError(t, err, q)
		requireMatrix(t, promql.Matrix{want}, got, q)
	}
	// avg does not commute: the per-line series count, as in Loki.
	m, err := ParseMetricQuery(`avg(avg_over_time({app="api"} | logfmt | unwrap c [30s]))`)
	require.NoError(t, err)
	_, err = m.EvalWithOptions(context.Background(), t0.Add(30*time.Second), t0.Add(60*time.Second), 30*time.Second, unwrapStore().fetch, opts)
	var le *LimitError
	require.ErrorAs(t, err, &le)
}

// TestLokiConformanceSort: sort and sort_desc order an instant query's
// vector by value (metric_queries#built-in-aggregation-operators).
func TestLokiConformanceSort(t *testing.T) {
	inner := `sum by (path) (sum_over_time({app="api"} | logfmt path, n | unwrap n | __error__="" [30s]))`
	for op, want := range map[string][]string{"sort": {"/a", "/b"}, "sort_desc": {"/b", "/a"}} {
		m, err := ParseMetricQuery(op + "(" + inner + ")")
		require.NoError(t, err)
		at := t0.Add(30 * time.Second)
		got, err := m.Eval(context.Background(), at, at, 0, unwrapStore().fetch)
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, want, []string{got[0].Metric.Get("path"), got[1].Metric.Get("path")}, op)
	}
}

// TestLokiConformanceApproxTopK: approx_topk is a drop-in replacement of
// topk for instant queries, without grouping
// (metric_queries#probabilistic-aggregation); answered exactly here.
func TestLokiConformanceApproxTopK(t *testing.T) {
	m, err := ParseMetricQuery(`approx_topk(1, sum by (path) (count_over_time({app="api"} | logfmt path [1m])))`)
	require.NoError(t, err)
	at := t0.Add(60 * time.Second)
	got, err := m.Eval(context.Background(), at, at, 0, unwrapStore().fetch)
	require.NoError(t, err)
	requireMatrix(t, promql.Matrix{wantSeries(ls("path", "/a"), pt{60, 3})}, got, m.String())
	_, err = m.Eval(context.Background(), at, at.Add(time.Minute), time.Minute, unwrapStore().fetch)
	require.EqualError(t, err, "approx_topk is only supported for instant queries")
}

// TestUnwrapErrors: a value that does not convert fails the query unless a
// filter after unwrap drops it (metric_queries#unwrapped-range-aggregations),
// and Loki's parser rules for unwrap and the other new constructs.
func TestUnwrapErrors(t *testing.T) {
	m, err := ParseMetricQuery(`sum_over_time({app="api"} | logfmt | unwrap n [30s])`)
	require.NoError(t, err)
	_, err = m.Eval(context.Background(), t0.Add(30*time.Second), t0.Add(60*time.Second), 30*time.Second, unwrapStore().fetch)
	var pe *PipelineError
	require.True(t, errors.As(err, &pe), "%v", err)
	require.Equal(t, ErrSampleExtraction, pe.ErrorType)

	for q, msg := range map[string]string{
		`sum_over_time({app="api"}[5m])`:                                   "invalid aggregation sum_over_time without unwrap",
		`count_over_time({app="api"} | unwrap n [5m])`:                     "invalid aggregation count_over_time with unwrap",
		`quantile_over_time({app="api"} | unwrap n [5m])`:                  "parameter required for operation quantile_over_time",
		`sum_over_time({app="api"} | unwrap n [5m]) by (x)`:                "grouping not allowed for sum_over_time aggregation",
		`avg_over_time(0.5, {app="api"} | unwrap n [5m])`:                  "parameter 0.5 not supported for operation avg_over_time",
		`sort by (a) (count_over_time({app="api"}[5m]))`:                   "grouping not allowed for sort aggregation",
		`sum_over_time({app="api"} | unwrap size(n) [5m])`:                 "expecting duration, duration_seconds or bytes",
		`{app="api"} | unwrap n`:                                           "unexpected |",
		`label_replace(vector(1), "1x", "", "a", "b")`:                     "invalid destination label name",
		`label_replace(vector(1), "x", "", "a", "(")`:                      "invalid regular expression",
		`sum_over_time({app="api"} | unwrap n | json [5m])`:                "a label filter after unwrap",
		`sum_over_time({app="api"}[5m] | unwrap n | x > 1 | json)`:         "syntax error",
		`rate_counter({app="api"} | logfmt | unwrap c [5m]) by (path)`:     "grouping not allowed for rate_counter aggregation",
		`{app="api"} | label_format a=b, a="x"`:                            "multiple label name 'a' not allowed in a single format operation",
		`{app="api"} | label_format __error__="x"`:                         "__error__ cannot be formatted",
		`{app="api"} | regexp "(.*)"`:                                      "at least one named capture must be supplied",
		`{app="api"} | pattern "<_> x"`:                                    "at least one capture is required",
		`{app="api"} | pattern "<a><b>"`:                                   "found consecutive capture",
		`{app="api"} |> "<a> x"`:                                           "only unnamed captures",
		`{app="api"} | json a="b[x"`:                                       "invalid JSON expression",
		`{app="api"} |= ip("300.0.0.1")`:                                   "invalid ip() address",
		`{app="api"} | addr > ip("10.0.0.1")`:                              "= or != before ip()",
		`absent_over_time({app="api"} | logfmt | unwrap c [5m]) by (a)`:    "grouping not allowed for absent_over_time aggregation",
		`approx_topk by (a) (1, count_over_time({app="api"}[5m]))`:         "grouping not allowed for approx_topk aggregation",
		`approx_topk(count_over_time({app="api"}[5m]))`:                    "parameter required for operation approx_topk",
		`stddev_over_time({app="api"} | logfmt | unwrap c [5m] offset 1x)`: "",
	} {
		_, err := ParseExpr(q)
		require.Error(t, err, q)
		require.Contains(t, err.Error(), msg, q)
	}
}

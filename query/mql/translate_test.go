package mql

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

func TestTranslate(t *testing.T) {
	f := func(in string, step time.Duration, want string) {
		t.Helper()
		got, err := Translate(in, step)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	// PromQL passes untouched.
	f(`sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))`, 0, `sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))`)
	// WITH templates are expanded.
	f(`WITH (q = http_requests_total{job="api"}) rate(q[1m]) / ignoring(code) q`, 0,
		`rate(http_requests_total{job="api"}[1m]) / ignoring(code) http_requests_total{job="api"}`)
	f(`WITH (f(x) = sum(rate(x[5m]))) f(up)`, 0, `sum(rate(up[5m]))`)
	// Windows may be left out: the step, at least DefaultWindow.
	f(`rate(http_requests_total)`, 0, `rate(http_requests_total[5m])`)
	f(`rate(http_requests_total)`, time.Hour, `rate(http_requests_total[1h])`)
	// MetricsQL-only functions with a PromQL equivalent.
	f(`median_over_time(x[10m])`, 0, `quantile_over_time(0.5, x[10m])`)
	f(`median(x) by (a)`, 0, `quantile(0.5, x) by(a)`)
	f(`range_over_time(x[10m])`, 0, `(max_over_time(x[10m]) - min_over_time(x[10m]))`)
	f(`rate_over_sum(x[2m])`, 0, `(sum_over_time(x[2m]) / 120)`)
	f(`now() - 10`, 0, `time() - 10`)
	f(`x > 1Ki`, 0, `x > 1024`)
}

func TestTranslateRejects(t *testing.T) {
	f := func(in, wantMsg string) {
		t.Helper()
		_, err := Translate(in, 0)
		require.Error(t, err)
		require.Contains(t, err.Error(), wantMsg)
	}
	f(`rollup_candlestick(x[5m])`, `unsupported MetricsQL function "rollup_candlestick"`)
	f(`topk_max(3, x)`, `unsupported MetricsQL aggregate function "topk_max"`)
	f(`sum(x) limit 3`, `unsupported MetricsQL aggregation modifier limit`)
	f(`x default 0`, `unsupported MetricsQL binary operator "default"`)
	f(`x{a="1" or b="2"}`, `unsupported MetricsQL 'or' between label filters`)
	f(`rate(x[5m]) keep_metric_names`, `keep_metric_names`)
	// Invalid in both languages: PromQL's parser message.
	f(`sum(`, `unclosed left parenthesis`)
}

func FuzzTranslate(f *testing.F) {
	for _, s := range []string{
		`rate(x[5m])`, `WITH (a = b) a + 1`, `median(x)`, `x{a="1" or b="2"}`, `sum(`,
		`range_over_time(m offset 1.5m)`, `1Ki + 2`, `histogram_quantile(0.9, sum(rate(b)) by (le))`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out, err := Translate(q, time.Minute)
		if err != nil {
			return
		}
		// Whatever Translate accepts, PromQL must accept.
		_, err = parser.ParseExpr(out)
		require.NoError(t, err, "translated %q to %q", q, out)
	})
}

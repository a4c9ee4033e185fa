package logql

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

var fuzzQueries = []string{
	`{app="foo"}`,
	`{app="foo", env!="dev", re=~"a|b", nre!~"c.*"} |= "err" != "debug" |~ "(?i)x" !~ "y"`,
	`{app="foo"} |= "a" or "b" | json | level="error" and status >= 500 or duration > 1.5s`,
	`{app="foo"} | logfmt --strict --keep-empty | a="1", b="2" or (c="3" d=~"4")`,
	`{app="foo"} | logfmt | size > 10KB | x < -1e3 | d != 5m | __error__=""`,
	`{app="foo"} | json | line_format "{{.level | ToUpper}} {{ __line__ }}"`,
	`sum by (level) (count_over_time({app="foo"} | json [1m] offset 5m))`,
	`topk(5, sum(rate({app="foo"}[5m])) by (path))`,
	`sum(rate({app="foo"} |= "e" [5m])) / ignoring (x) group_left (y) sum(rate({app="foo"}[5m])) > bool 0.5`,
	`count_over_time(({app="foo"})[5m]) or bytes_rate({app="bar"}[1h] | json) unless 1`,
	`1 + 2 ^ -3 % 4`,
	`{app="foo"} | pattern "<_>"`,
	`rate({app="foo"}[5m:1m])`,
	"{app=`x`} # comment\n|~ `\\d`",
	`{a="b"} | x>-5 | y<=0.25 | z==1GiB`,
	`(1 + 1) * count_over_time({app="web"} | logfmt [1m]) unless on (level) sum by (level) (rate({app="web"}[30s]))`,
	`topk(2, 3) > bool 1 or bottomk by (env) (1, bytes_over_time({env=~"prod|dev"}[2m] offset -10s) / 0)`,
	`sum by (level, detected_level) (count_over_time({app=~".+"} | drop __error__, __error_details__ [1m]))`,
	`sum by (app) (rate({app=~".+"} | drop env="dev", x=~"a.*", y | env!="prod" [30s]))`,
	"{app=\"foo\"} | label_format t=`{{ contains \"abc\" __line__ }}`, r=level | t=\"true\" or trace_id=\"abc\"",
	`{app="foo"} | logfmt | json | drop __error__ | trace_id="abc"`,
	`sum by (level) (count_over_time({app="foo"} | keep level, app="foo" | decolorize [1m]))`,
	`count_over_time({app="foo"} | regexp "(?P<w>\\w+) (?P<n>\\d+)" | pattern "<a> <b>" | unpack [1m])`,
	`sum by (a) (rate({app="foo"} | json a="x.y[0]", b | logfmt --strict c="d" [1m]))`,
	`sum(count_over_time({app="foo"} |> "<_> x <_>" or "y <_>" !> "<_>z" |= ip("10.0.0.0/8") != ip("::1") | addr = ip("1.2.3.4-1.2.3.9") [1m]))`,
	`sum by (app) (count_over_time({app=~".+"} | label_format level="{{ .app | upper }}" | level="FOO" [30s]))`,
	`quantile_over_time(0.9, {app="web"} | logfmt | unwrap duration(level) | __error__="" [1m] offset 10s) by (env)`,
	`sum by (env) (sum_over_time({app="web"} | regexp "(?P<n>\\d+)" | unwrap n [30s])) / on (env) group_left count(rate({app="web"} | logfmt | unwrap bytes(x) | __error__!="x" [1m]))`,
	`sort_desc(stddev by (app) (rate_counter({app=~".+"} | pattern "<_>=<v>" | unwrap v [1m]))) or vector(-1.5)`,
	`label_replace(absent_over_time({app="none", env="x"}[1m]), "d", "$1-${2}", "env", "(.)(.*)") unless sort(stdvar without (a) (avg_over_time({app="web"} | json | unwrap x [20s]) without (y)))`,
	`approx_topk(2, absent_over_time({app="db"} | logfmt | unwrap n | __error__="" [1m]) or sum by (app) (count_over_time({app=~".+"}[30s])))`,
	`first_over_time({app="db"}[1m] | logfmt | unwrap level) - last_over_time(({app="db"} | logfmt | unwrap level)[1m]) + max_over_time({app="db"} | unwrap n [5s]) by (app)`,
}

func FuzzParseExpr(f *testing.F) {
	for _, q := range fuzzQueries {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		e, err := ParseExpr(q)
		if err != nil {
			return
		}
		s := e.String()
		again, err := ParseExpr(s)
		require.NoError(t, err, "%q printed as %q", q, s)
		require.Equal(t, s, again.String(), "%q", q)
	})
}

var fuzzLines = []string{
	`{"level":"error","msg":"x","nested":{"a":[1,{"b":2}],"c":null},"n":1.5e3,"ok":true}`,
	`level=info msg="hello \"world\"" status=200 duration=1.5s size=10KB empty= bare`,
	`{"a":`, `a="unterminated`, `=x "q"=1 k=v=w`, "\xff\xfe{\"\xff\":\"\xfe\"}", ``,
	`{"u":"\ud83d\ude00 \ud800 \u00zz"}`,
}

func FuzzProcess(f *testing.F) {
	queries := []string{
		`{app="foo"} | json | level="error" or status >= 500 | line_format "{{.msg}} {{ __line__ | len }}"`,
		`{app="foo"} | logfmt | duration > 1s , size < 1MB | __error__="" | line_format "{{ .level | ToUpper }}"`,
		`{app="foo"} |~ "a|b" | logfmt --strict --keep-empty | json | n != 1.5`,
		`{app="foo"} != "x" | json | logfmt | line_format "{{ repeat 3 .a }}{{ trunc -2 .b }}{{ substr 1 3 .c }}" |= "y"`,
		`{app="foo"} | unpack | regexp "(?P<w>\\w+)=(?P<v>\\S*)" | pattern "<x>=<_> <y>" | keep w, x="a" | label_format z="{{ .w | int | add 1 }}", q=y`,
		`{app="foo"} | decolorize |> "<_>=<_>" | json a="a.b[1]", c | logfmt --keep-empty k | a = ip("10.0.0.0/8") or k != ""`,
	}
	for i, l := range fuzzLines {
		f.Add(l, uint8(i))
	}
	var parsed []*LogQuery
	for _, q := range queries {
		parsed = append(parsed, mustLogQuery(f, q))
	}
	base := labels.FromStrings("app", "foo", "level", "x", "a_b", "y")
	f.Fuzz(func(t *testing.T, line string, which uint8) {
		q := parsed[int(which)%len(parsed)]
		out, lbls, keep := q.Process(Entry{Timestamp: time.Unix(0, int64(which)), Line: line, Labels: base})
		if !keep {
			require.Empty(t, out)
			require.True(t, lbls.IsEmpty())
			return
		}
		_, dup := lbls.HasDuplicateLabelNames()
		require.False(t, dup, "%s", lbls)
	})
}

// FuzzEval checks that evaluating anything that parses never panics, and
// that counting through a CountFunc, where the query allows it, gives what
// fetching gives.
func FuzzEval(f *testing.F) {
	for _, q := range fuzzQueries {
		f.Add(q)
	}
	store := testStore()
	f.Fuzz(func(t *testing.T, q string) {
		m, err := ParseMetricQuery(q)
		if err != nil {
			return
		}
		store.calls = nil
		opts := EvalOptions{MaxSeries: 100, MaxSteps: 100}
		want, wantErr := m.EvalWithOptions(context.Background(), t0, t0.Add(2*time.Minute), 7*time.Second, store.fetch, opts)
		calls := 0
		opts.Count = countFromFetch(store.fetch, &calls)
		got, err := m.EvalWithOptions(context.Background(), t0, t0.Add(2*time.Minute), 7*time.Second, store.fetch, opts)
		if wantErr == nil && err == nil {
			require.Equal(t, fmt.Sprint(want), fmt.Sprint(got), q) // as text: NaN equals NaN
		}
	})
}

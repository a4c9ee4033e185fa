package logql

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

func TestParseRoundTrip(t *testing.T) {
	// want is the canonical String(); it must parse back to itself.
	f := func(in, want string) {
		t.Helper()
		e, err := ParseExpr(in)
		require.NoError(t, err, in)
		require.Equal(t, want, e.String(), in)
		again, err := ParseExpr(want)
		require.NoError(t, err, want)
		require.Equal(t, want, again.String(), want)
	}

	// Stream selectors.
	f(`{app="foo"}`, `{app="foo"}`)
	f(`{app="foo",env!="dev", re=~"a|b" , nre!~"c.*"}`, `{app="foo", env!="dev", re=~"a|b", nre!~"c.*"}`)
	f("{app=`foo\\bar`}", `{app="foo\\bar"}`)
	f(`{app="a\"b\u00e9"}`, `{app="a\"bé"}`)
	f(`{app=~".+"}`, `{app=~".+"}`)
	f(`{job="a", app=""}`, `{job="a", app=""}`)
	f(`{on="x", json="y"}`, `{on="x", json="y"}`) // keywords are label names here
	f(`({app="foo"})`, `{app="foo"}`)
	f("{app=\"foo\"} # a comment\n |= \"x\"", `{app="foo"} |= "x"`)

	// Line filters.
	f(`{app="foo"} |= "err" != "debug" |~ "(?i)time.?out" !~ "x+"`,
		`{app="foo"} |= "err" != "debug" |~ "(?i)time.?out" !~ "x+"`)
	f("{app=\"foo\"} |~ `\\d+ms`", `{app="foo"} |~ "\\d+ms"`)
	f(`{app="foo"} |= "a" or "b" != "c" or "d"`, `{app="foo"} |= "a" or "b" != "c" or "d"`)
	f(`{app="foo"} |= ""`, `{app="foo"} |= ""`)

	// Parsers.
	f(`{app="foo"} | json`, `{app="foo"} | json`)
	f(`{app="foo"} | logfmt`, `{app="foo"} | logfmt`)
	f(`{app="foo"} | LOGFMT --keep-empty --strict`, `{app="foo"} | logfmt --strict --keep-empty`)
	f(`{app="foo"} | json | logfmt`, `{app="foo"} | json | logfmt`)

	// Label filters.
	f(`{app="foo"} | level="error"`, `{app="foo"} | level="error"`)
	f(`{app="foo"} | level!="debug" | path=~"/api/.*" | path!~"/health"`,
		`{app="foo"} | level!="debug" | path=~"/api/.*" | path!~"/health"`)
	f(`{app="foo"} | status >= 500`, `{app="foo"} | status>=500`)
	f(`{app="foo"} | status == 500 | status = 404 | status != 200`, `{app="foo"} | status==500 | status==404 | status!=200`)
	f(`{app="foo"} | x > -1.5 | x < 1e3 | x <= 0.25`, `{app="foo"} | x>-1.5 | x<1000 | x<=0.25`)
	f(`{app="foo"} | duration > 1s | duration <= 1.5s | latency >= 250us | d < -1m`,
		`{app="foo"} | duration>1s | duration<=1s500ms | latency>=250µs | d<-1m`)
	f(`{app="foo"} | size > 10KB | size < 1MiB | size == 42B | size != 1500`,
		`{app="foo"} | size>10KB | size<1MiB | size==42B | size!=1500`)
	f(`{app="foo"} | size >= 1.5KB`, `{app="foo"} | size>=1500B`)
	f(`{app="foo"} | status>500and size<5kB`, `{app="foo"} | ( status>500 , size<5KB )`)
	f(`{app="foo"} | d>1h30m | d<.5s | x>1. | y>2E-3`, `{app="foo"} | d>1h30m | d<500ms | x>1 | y>0.002`)
	f(`{app="foo"} | a="1" and b="2"`, `{app="foo"} | ( a="1" , b="2" )`)
	f(`{app="foo"} | a="1", b="2"`, `{app="foo"} | ( a="1" , b="2" )`)
	f(`{app="foo"} | a="1" b="2"`, `{app="foo"} | ( a="1" , b="2" )`)
	f(`{app="foo"} | a="1" or b="2" and c="3"`, `{app="foo"} | ( a="1" or ( b="2" , c="3" ) )`)
	f(`{app="foo"} | a="1" and b="2" or c="3"`, `{app="foo"} | ( ( a="1" , b="2" ) or c="3" )`)
	// Loki's yacc grammar: "," takes everything to its right.
	f(`{app="foo"} | a="1" , b="2" or c="3"`, `{app="foo"} | ( a="1" , ( b="2" or c="3" ) )`)
	f(`{app="foo"} | (a="1" or b="2") and c="3"`, `{app="foo"} | ( ( a="1" or b="2" ) , c="3" )`)
	f(`{app="foo"} | __error__=""`, `{app="foo"} | __error__=""`)
	f(`{app="foo"} | json | __error__ != "JSONParserErr"`, `{app="foo"} | json | __error__!="JSONParserErr"`)
	f(`{app="foo"} | json="x" | or > 1`, `{app="foo"} | json="x" | or>1`) // keywords as label names

	// line_format.
	f(`{app="foo"} | logfmt | line_format "{{.level}} {{.msg | ToUpper}}"`,
		`{app="foo"} | logfmt | line_format "{{.level}} {{.msg | ToUpper}}"`)
	f("{app=\"foo\"} | line_format `{{ __line__ }}\\n`", `{app="foo"} | line_format "{{ __line__ }}\\n"`)

	// Range aggregations.
	f(`count_over_time({app="foo"}[5m])`, `count_over_time({app="foo"}[5m])`)
	f(`rate({app="foo"} |= "x" [1h30m])`, `rate({app="foo"} |= "x"[1h30m])`)
	f(`bytes_over_time({app="foo"}[1d])`, `bytes_over_time({app="foo"}[1d])`)
	f(`bytes_rate({app="foo"}[30s] offset 1h)`, `bytes_rate({app="foo"}[30s] offset 1h)`)
	f(`rate({app="foo"}[5m] offset -5m)`, `rate({app="foo"}[5m] offset -5m)`)
	f(`COUNT_OVER_TIME({app="foo"}[5m] OFFSET 90s)`, `count_over_time({app="foo"}[5m] offset 1m30s)`)
	f(`count_over_time(({app="foo"} | json)[5m])`, `count_over_time({app="foo"} | json[5m])`)
	f(`count_over_time(({app="foo"} | json [5m]))`, `count_over_time({app="foo"} | json[5m])`)
	f(`count_over_time({app="foo"}[5m] | json | level="error")`, `count_over_time({app="foo"} | json | level="error"[5m])`)
	f(`(count_over_time({app="foo"}[5m]))`, `count_over_time({app="foo"}[5m])`)

	// Vector aggregations.
	f(`sum(rate({app="foo"}[5m]))`, `sum(rate({app="foo"}[5m]))`)
	f(`sum by (level) (count_over_time({app="foo"} | json [1m]))`, `sum by (level)(count_over_time({app="foo"} | json[1m]))`)
	f(`sum(count_over_time({app="foo"} | json [1m])) by (level, path)`, `sum by (level,path)(count_over_time({app="foo"} | json[1m]))`)
	f(`avg without (pod) (rate({app="foo"}[5m]))`, `avg without (pod)(rate({app="foo"}[5m]))`)
	f(`max without () (rate({app="foo"}[5m]))`, `max without ()(rate({app="foo"}[5m]))`)
	f(`min by () (rate({app="foo"}[5m]))`, `min(rate({app="foo"}[5m]))`)
	f(`count(rate({app="foo"}[5m]))`, `count(rate({app="foo"}[5m]))`)
	f(`topk(5, sum by (path) (rate({app="foo"}[5m])))`, `topk(5,sum by (path)(rate({app="foo"}[5m])))`)
	f(`bottomk by (app) (2, rate({app="foo"}[5m]))`, `bottomk by (app)(2,rate({app="foo"}[5m]))`)
	f(`topk(3, rate({app="foo"}[5m])) by (app)`, `topk by (app)(3,rate({app="foo"}[5m]))`)
	f(`sum(sum by (a, b) (rate({app="foo"}[5m])))`, `sum(sum by (a,b)(rate({app="foo"}[5m])))`)

	// Binary operations and numbers.
	f(`1`, `1`)
	f(`-2.5`, `-2.5`)
	f(`1e6`, `1e+06`)
	f(`1 + 2 * 3 ^ 2 ^ 2`, `(1 + (2 * (3 ^ (2 ^ 2))))`)
	f(`(1 + 2) * 3`, `((1 + 2) * 3)`)
	f(`1 - -1`, `(1 - -1)`)
	f(`sum(rate({app="foo"} |= "error" [5m])) / sum(rate({app="foo"}[5m])) * 100`,
		`((sum(rate({app="foo"} |= "error"[5m])) / sum(rate({app="foo"}[5m]))) * 100)`)
	f(`sum(rate({app="foo"}[5m])) > bool 5`, `(sum(rate({app="foo"}[5m])) > bool 5)`)
	f(`rate({app="foo"}[5m]) > 1 and rate({app="foo"}[5m]) < 10 or rate({app="bar"}[5m])`,
		`(((rate({app="foo"}[5m]) > 1) and (rate({app="foo"}[5m]) < 10)) or rate({app="bar"}[5m]))`)
	f(`rate({app="foo"}[5m]) unless on (a) rate({app="bar"}[5m])`, `(rate({app="foo"}[5m]) unless on (a) rate({app="bar"}[5m]))`)
	f(`rate({app="foo"}[5m]) / ignoring (b) rate({app="bar"}[5m])`, `(rate({app="foo"}[5m]) / ignoring (b) rate({app="bar"}[5m]))`)
	f(`rate({app="foo"}[5m]) / on (a) group_left (b) rate({app="bar"}[5m])`,
		`(rate({app="foo"}[5m]) / on (a) group_left (b) rate({app="bar"}[5m]))`)
	f(`rate({app="foo"}[5m]) - ignoring (a) group_right rate({app="bar"}[5m])`,
		`(rate({app="foo"}[5m]) - ignoring (a) group_right () rate({app="bar"}[5m]))`)
	f(`rate({app="foo"}[5m]) % 2 == 0`, `((rate({app="foo"}[5m]) % 2) == 0)`)
}

func TestParseStructure(t *testing.T) {
	e, err := ParseExpr(`sum by (level) (rate({app="foo", env=~"prod|dev"} |= "x" | json | status >= 500 [5m] offset 1m))`)
	require.NoError(t, err)
	m := e.(*MetricQuery)
	agg := m.Expr.(*VectorAggregation)
	require.Equal(t, OpSum, agg.Op)
	require.Equal(t, &Grouping{Labels: []string{"level"}}, agg.Grouping)
	r := agg.Expr.(*RangeAggregation)
	require.Equal(t, OpRate, r.Op)
	require.Equal(t, 5*time.Minute, r.Range)
	require.Equal(t, time.Minute, r.Offset)
	require.Len(t, r.Query.Stages, 3)
	require.Equal(t, &NumericLabelFilter{Name: "status", Op: ">=", Value: 500}, r.Query.Stages[2].(*LabelFilterStage).Filter)
	sels := m.Selectors()
	require.Len(t, sels, 1)
	require.Equal(t, `{app="foo", env=~"prod|dev"}`, matchersString(sels[0]))
	require.Equal(t, labels.MatchRegexp, sels[0][1].Type)

	e, err = ParseExpr(`rate({a="1"}[1m]) / rate({b="2"}[1m])`)
	require.NoError(t, err)
	require.Len(t, e.(*MetricQuery).Selectors(), 2)

	lq, err := ParseLogQuery(`{app="foo"} | json`)
	require.NoError(t, err)
	require.IsType(t, &JSONParser{}, lq.Stages[0])
	_, err = ParseLogQuery(`rate({app="foo"}[1m])`)
	require.EqualError(t, err, "parse error : expected a log query, got a metric query")
	_, err = ParseMetricQuery(`{app="foo"}`)
	require.EqualError(t, err, "parse error : expected a metric query, got a log query")
}

func TestParseErrors(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		_, err := ParseExpr(in)
		require.Error(t, err, in)
		var pe *ParseError
		require.True(t, errors.As(err, &pe), "%q: want *ParseError, got %T: %v", in, err, err)
		require.Equal(t, want, err.Error(), in)
	}
	const noMatcher = `parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will`
	f(`{}`, noMatcher)
	f(`{app=""}`, noMatcher)
	f(`{app=~".*"}`, noMatcher)
	f(`{app!="foo"}`, noMatcher)
	f(`{app=~".*", env!~"dev"} |= "x"`, noMatcher)
	f(`count_over_time({app=~".*"}[5m])`, noMatcher)
	f(``, `parse error at line 1, col 1: syntax error: unexpected $end`)
	f(`{app="foo"`, `parse error at line 1, col 11: syntax error: unexpected $end, expecting , or }`)
	f(`{app="foo" |= "x"`, `parse error at line 1, col 12: syntax error: unexpected |=, expecting , or }`)
	f(`{app=foo}`, `parse error at line 1, col 6: syntax error: unexpected IDENTIFIER, expecting STRING`)
	f(`{app="foo",}`, `parse error at line 1, col 12: syntax error: unexpected }, expecting IDENTIFIER`)
	f(`{app>"foo"}`, `parse error at line 1, col 5: syntax error: unexpected >, expecting =, !=, =~ or !~`)
	f(`{app="foo"} |= bar`, `parse error at line 1, col 16: syntax error: unexpected IDENTIFIER, expecting STRING`)
	f(`{app="foo"} | `, `parse error at line 1, col 15: syntax error: unexpected $end, expecting a parser, line_format or a label filter after |`)
	f(`{app="foo"} | foo`, `parse error at line 1, col 18: syntax error: unexpected $end, expecting a label filter operator`)
	f(`{app="foo"} | level=~500`, `parse error at line 1, col 22: syntax error: unexpected NUMBER, expecting STRING`)
	f(`{app="foo"} | status >= "x"`, `parse error at line 1, col 25: syntax error: unexpected STRING, expecting NUMBER, DURATION or BYTES`)
	f(`{app="foo"} | (a="1"`, `parse error at line 1, col 21: syntax error: unexpected $end, expecting )`)
	f(`{app="foo"} | x=~"("`, "parse error at line 1, col 18: error parsing regexp: missing closing ): `(`")
	f(`{app="foo"} |~ "("`, "parse error at line 1, col 16: invalid line filter regexp \"(\": error parsing regexp: missing closing ): `(`")
	f(`{app="foo"} | logfmt --fast`, `parse error at line 1, col 22: syntax error: unexpected flag --fast, expecting --strict or --keep-empty`)
	f(`{app="foo"} | line_format "{{.a"`, `parse error at line 1, col 27: invalid template: template: line:1: unclosed action`)
	f(`{app="foo"} | line_format "{{ nope .x }}"`, `parse error at line 1, col 27: invalid template: template: line:1: function "nope" not defined`)
	f(`{app="foo"} |= "x`, `parse error at line 1, col 16: literal not terminated`)
	f("{app=\"\xff\"}", `parse error at line 1, col 6: invalid UTF-8 rune`)
	f(`{app="foo"} @ 5`, `parse error at line 1, col 13: syntax error: unexpected character '@'`)
	f(`{app="foo"}[5m]`, `parse error at line 1, col 12: syntax error: unexpected RANGE`)
	f(`{app="foo"} | x > 5m5`, `parse error at line 1, col 20: syntax error: unexpected IDENTIFIER`)
	f(`count_over_time({app="foo"})`, `parse error at line 1, col 28: syntax error: unexpected ), expecting a range such as [5m]`)
	f(`count_over_time({app="foo"}[5x])`, `parse error at line 1, col 28: unknown unit "x" in duration "5x"`)
	f(`count_over_time({app="foo"}[0s])`, `parse error at line 1, col 28: invalid range [0s]: must be greater than 0`)
	f(`count_over_time({app="foo"}[5m]`, `parse error at line 1, col 32: syntax error: unexpected $end, expecting )`)
	f(`count_over_time({app="foo"}[5m] offset x)`, `parse error at line 1, col 40: syntax error: unexpected IDENTIFIER, expecting DURATION`)
	f(`count_over_time(5, {app="foo"}[5m])`, `parse error at line 1, col 17: parameter 5 not supported for operation count_over_time`)
	f(`rate({app="foo"}[5m]) by (x)`, `parse error at line 1, col 23: grouping not allowed for rate aggregation`)
	f(`sum({app="foo"})`, `parse error at line 1, col 5: syntax error: sum needs a metric query such as count_over_time({app="foo"}[5m]), not a log query`)
	f(`sum by (a) (rate({app="foo"}[5m])) by (b)`, `parse error at line 1, col 36: syntax error: unexpected by`)
	f(`sum by a (rate({app="foo"}[5m]))`, `parse error at line 1, col 1: syntax error: unexpected IDENTIFIER`)
	f(`sum by (a,) (rate({app="foo"}[5m]))`, `parse error at line 1, col 11: syntax error: unexpected ), expecting IDENTIFIER`)
	f(`topk(rate({app="foo"}[5m]))`, `parse error at line 1, col 1: parameter required for operation topk`)
	f(`topk(0, rate({app="foo"}[5m]))`, `parse error at line 1, col 6: invalid parameter (must be greater than 0) topk(0`)
	f(`topk(-1, rate({app="foo"}[5m]))`, `parse error at line 1, col 7: invalid parameter (must be greater than 0) topk(-1`)
	f(`topk(1.5, rate({app="foo"}[5m]))`, `parse error at line 1, col 6: invalid parameter topk(1.5,`)
	f(`sum(5, rate({app="foo"}[5m]))`, `parse error at line 1, col 5: unsupported parameter for operation sum(5,`)
	f(`foo(rate({app="foo"}[5m]))`, `parse error at line 1, col 1: syntax error: unexpected IDENTIFIER`)
	f(`rate`, `parse error at line 1, col 1: syntax error: unexpected IDENTIFIER`)
	f(`{app="foo"} + 1`, `parse error at line 1, col 13: syntax error: binary operation "+" needs metric queries or numbers on both sides, not a log query`)
	f(`1 + {app="foo"}`, `parse error at line 1, col 3: syntax error: binary operation "+" needs metric queries or numbers on both sides, not a log query`)
	f(`rate({app="foo"}[5m]) +`, `parse error at line 1, col 24: syntax error: unexpected $end`)
	f(`rate({app="foo"}[5m]) + bool 1`, `parse error at line 1, col 25: bool modifier can only be used on comparison operators`)
	f(`rate({app="foo"}[5m]) and 1`, `parse error at line 1, col 23: unexpected literal for right leg of logical/set binary operation (and): 1.000000`)
	f(`(1 + 1) or rate({app="foo"}[5m])`, `parse error at line 1, col 9: unexpected literal for left leg of logical/set binary operation (or): 2.000000`)
	f(`rate({app="foo"}[5m]) and on (a) group_left rate({app="foo"}[5m])`, `parse error at line 1, col 34: no grouping allowed for "and" operation`)
	f(`1e400`, `parse error at line 1, col 1: unable to parse literal as a float: 1e400`)
	f(`(1`, `parse error at line 1, col 3: syntax error: unexpected $end, expecting )`)
	f(`1 2`, `parse error at line 1, col 3: syntax error: unexpected NUMBER`)
	f(`-rate({app="foo"}[5m])`, `parse error at line 1, col 1: syntax error: unexpected -`)
}

func TestParseUnsupported(t *testing.T) {
	f := func(in, feature string) {
		t.Helper()
		_, err := ParseExpr(in)
		var ue *UnsupportedError
		require.True(t, errors.As(err, &ue), "%q: want *UnsupportedError, got %T: %v", in, err, err)
		require.Equal(t, feature, ue.Feature, in)
		require.Equal(t, `unsupported LogQL feature: "`+feature+`"`, err.Error())
	}
	f(`rate({app="foo"}[5m:1m])`, "subquery [5m:1m]")
}

func TestLineContains(t *testing.T) {
	for q, want := range map[string][]string{
		`{a="b"}`:                                      nil,
		`{a="b"} |= "x" != "y" |= "z"`:                 {"x", "z"},
		`{a="b"} |= "x" or "y" |= "z"`:                 {"z"}, // either of two: no one string is needed
		`{a="b"} |~ "x" | json |= "z"`:                 {"z"}, // parsers keep the line
		`{a="b"} |= "x" | line_format "{{.a}}" |= "z"`: {"x"},
		`{a="b"} |= "x" | unpack |= "z"`:               {"x"},
		`{a="b"} |= "x" | decolorize |= "z"`:           {"x"},
		`{a="b"} |= "x" | regexp "(?P<a>.)" | label_format b=a | keep b |= "z"`: {"x", "z"},
	} {
		e, err := ParseExpr(q)
		require.NoError(t, err, q)
		require.Equal(t, want, e.(*LogQuery).LineContains(), q)
	}
}

package traceql

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var fuzzQueries = []string{
	`{}`,
	`{ resource.service.name = "frontend" && name = "HTTP GET" && duration > 100ms && status = error }`,
	`{ span.http.status_code >= 500 || .foo-bar = "x" && (kind = server || kind != client) }`,
	`{ span."my attr" = ` + "`raw \\d`" + ` && ."a\"b\\c" !~ "x.*" }`,
	`{ .a = -1.5e3 && .b < -2 && duration >= -1h30m && .c = true && .d = .5 }`,
	`{ traceDuration > 2d && rootName =~ "GET.*" && rootServiceName != "x" && statusMessage > "" }`,
	`({ kind = server } > { kind = client }) && { status = ok } || { span:name = "a" }`,
	`{ trace:rootService = "a" } > { span:kind = consumer } > { span:status = unset }`,
	`{ 500 <= span.code && .cached }`,
	"{\n\t.a = 1 // c\n} /* c */ && { .b = 2 }",
	`{ .a = 1 } | count() > 3`,
	`{ .a = 1 } >> { .b = 2 } << { .c = 3 } < {} ~ { .d = 4 }`,
	`({ .a = 1 } &>> { .b = 2 } &> {}) || { .c = 3 } &<< { .d = 4 } &< {} &~ {}`,
	`{ .a = 1 } !>> { .b = 2 }`,
	`{ .a != nil }`,
	`{ .a = "x }`,
	`{ ."unterminated }`,
	`{ duration > 1µs && duration < 5μs }`,
	`{nestedSetParent<0 && true && resource.service.name != nil} | rate() by(resource.service.name) with(sample=true)`,
	`{nestedSetParent<0 && true && status=error} | rate() `,
	`{ .a = nil || nestedSetParent >= 0 } | count_over_time() by (name, status, span.x)`,
	`{} | quantile_over_time(duration, 0.5, .9, 1) by ()`,
	`{} | histogram_over_time(span.bytes) with (sample = true, exemplars = 5)`,
	`{ kind = server } | sum_over_time(duration) by (.a) | topk(3) | bottomk(1)`,
	`{} | avg_over_time(span.x) | min_over_time(span.x)`,
	`{} | max_over_time(duration) by (resource.service.name, rootName)`,
	`{nestedSetParent<0 && true} | compare({status = error}, 10, 1700000000000000000, 1700000060000000000)`,
	`{} | compare({ duration >= 1s && .a = "x" }, 2)`,
	`{} | rate() by (`,
	`{ status = error } | select(resource.service.name, span.http.method, name, status)`,
	`{} | select(nestedSetLeft, nestedSetRight, nestedSetParent) | select(span:id, .a)`,
	`{} | select(`,
	`{} | quantile_over_time(duration, 2)`,
	`{ status = error } | count() > 1 | select(span.http.method)`,
	`{} | avg(duration) >= 1.5s | min(span.x) < -2 | max(.y) != 0.5 | sum(resource.z) = 10`,
	`{ .a = 1 } && { .b = 2 } | count() <= 2 | count() >`,
	`{ kind = server } !> {} !< { .a !~ "x" } !~ {} !<< { status = error } !>> {}`,
	`{} | { status = error } > { .v = 1 } | coalesce() | count() > 0 | ({ .w > 0 } || {})`,
}

func FuzzParse(f *testing.F) {
	for _, q := range fuzzQueries {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		e, err := Parse(q)
		if err != nil {
			switch err.(type) {
			case *ParseError, *UnsupportedError:
			default:
				t.Fatalf("%q: unexpected error type %T: %v", q, err, err)
			}
			return
		}
		s := e.String()
		again, err := Parse(s)
		require.NoError(t, err, "%q printed as %q", q, s)
		require.Equal(t, s, again.String(), "%q", q)
		for _, c := range e.Conditions() {
			_, err := Parse("{ " + c.String() + " }")
			require.NoError(t, err, "%q: condition %s", q, c)
		}
	})
}

// FuzzMatch evaluates whatever parses over the test trace plus a span built
// from the fuzzer's values: it must not panic, must return ascending indices
// within the trace, and the canonical form must give the same result.
func FuzzMatch(f *testing.F) {
	for i, q := range fuzzQueries {
		f.Add(q, "x", int64(i), float64(i)/3, i%2 == 0, "server", "error")
	}
	f.Add(`{ .v = 1 && .w = 1.0 && .s = "1" && .b }`, "1", int64(1), 1.0, true, "", "")
	f.Add(`{ .v > 1ms || .w < -1.5 || .s =~ ".*" }`, "", int64(math.MinInt64), math.NaN(), false, "SPAN_KIND_CLIENT", "STATUS_CODE_OK")
	f.Add(`{} | sum(.v) > 0 | avg(.w) < 1 | min(duration) >= 0 | max(.s) = 1`, "1", int64(-3), 0.25, false, "", "")
	base := testTrace()
	f.Fuzz(func(t *testing.T, q, s string, i int64, fl float64, b bool, kind, status string) {
		query, err := Parse(q)
		if err != nil {
			return
		}
		extra := Span{
			SpanID: spanID(99), ParentSpanID: spanID(int(uint64(i) % numTestSpans)), Name: s, Kind: kind,
			StatusCode: status, StatusMessage: s, Start: t0.Add(time.Duration(i % int64(time.Hour))),
			Duration: time.Duration(i), Attributes: map[string]Value{
				"v": IntValue(i), "w": FloatValue(fl), "s": StringValue(s), "b": BoolValue(b), s: FloatValue(fl),
			},
			Resource: map[string]Value{"service.name": StringValue(s), "v": FloatValue(fl), "s": IntValue(i)},
		}
		trace := append(slices.Clone(base), extra)
		got := query.Match(trace)
		require.True(t, slices.IsSorted(got), "%q: %v", q, got)
		for k, idx := range got {
			require.True(t, idx >= 0 && idx < len(trace), "%q: %v", q, got)
			require.True(t, k == 0 || got[k-1] != idx, "%q: duplicate in %v", q, got)
		}
		again, err := Parse(query.String())
		require.NoError(t, err)
		require.Equal(t, got, again.Match(trace), "%q as %q", q, query.String())
		require.Nil(t, query.Match(nil))
	})
}

// FuzzMetrics evaluates whatever parses as a metrics query over the metrics
// test spans with the fuzzer's step: it must not panic, and every series
// must have samples, none NaN, in time order inside the range.
func FuzzMetrics(f *testing.F) {
	for _, q := range fuzzQueries {
		f.Add(q, int64(metricsStep), false)
	}
	f.Add(`{} | rate() by (resource.service.name) | topk(1)`, int64(time.Second), true)
	f.Fuzz(func(t *testing.T, q string, step int64, instant bool) {
		query, err := Parse(q)
		if err != nil || !query.IsMetrics() {
			return
		}
		start, end := t0m.UnixNano(), t0m.Add(time.Minute).UnixNano()
		step = max(step%int64(time.Minute), int64(10*time.Millisecond)) // at most 6000 steps
		res, err := Metrics(context.Background(), &fakeFetcher{sets: metricsSpans()}, MetricsRequest{
			Query: query, Start: start, End: end, Step: step, Instant: instant, Exemplars: 10,
		})
		require.NoError(t, err)
		for _, s := range res.Series {
			require.NotEmpty(t, s.Samples)
			for i, p := range s.Samples {
				require.False(t, math.IsNaN(p.Value), "%q", q)
				require.True(t, i == 0 || p.TimestampMs > s.Samples[i-1].TimestampMs)
				require.True(t, p.TimestampMs > start/1e6-step/1e6 && p.TimestampMs <= end/1e6+step/1e6)
			}
		}
	})
}

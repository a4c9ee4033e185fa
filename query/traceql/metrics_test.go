package traceql

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/record"
)

// The metrics test data: traces of a root span of service "a" (kind
// server, name "GET /") and a child of service "b" (kind client, name
// "db"), starting together, over six 10 s steps after t0m:
//
//	step 0 (t0m, t0m+10s]: 2 traces, roots 3 ms, children 1 ms; the first
//	                       child is an error; the second trace starts at
//	                       t0m+10s exactly (the step's end is included)
//	step 2:                1 trace, root 6 ms, child 2 ms
//	step 5:                3 traces, roots 20 ms, children 2 ms
//
// plus one trace at t0m exactly and one after the range, which no query
// counts (steps are right-closed).
var t0m = time.Unix(1_700_000_000, 0) // a multiple of 10 s

const metricsStep = 10 * time.Second

func metricsSpans() []record.Spanset {
	var sets []record.Spanset
	n := 0
	add := func(start time.Duration, rootDur, childDur time.Duration, childErr bool) {
		n++
		tid := [16]byte{15: byte(n)}
		st := t0m.Add(start).UnixNano()
		root := &record.Span{
			TraceID: tid, SpanID: [8]byte{0: byte(n), 7: 1}, Name: "GET /", Kind: record.KindServer,
			Start: st, End: st + int64(rootDur),
			Resource:   []record.KV{{Key: "service.name", Value: "a", Type: record.TypeString}},
			Attributes: []record.KV{{Key: "http.status_code", Value: "200", Type: record.TypeInt}},
		}
		child := &record.Span{
			TraceID: tid, SpanID: [8]byte{0: byte(n), 7: 2}, ParentSpanID: root.SpanID, Name: "db", Kind: record.KindClient,
			Start: st, End: st + int64(childDur),
			Resource: []record.KV{{Key: "service.name", Value: "b", Type: record.TypeString}},
		}
		if childErr {
			child.StatusCode = record.StatusError
		}
		sets = append(sets, record.Spanset{TraceID: tid, Spans: []*record.Span{root, child}})
	}
	add(0, time.Second, time.Second, false) // at the range's start: left out
	add(time.Second, 3*time.Millisecond, time.Millisecond, true)
	add(10*time.Second, 3*time.Millisecond, time.Millisecond, false)
	add(25*time.Second, 6*time.Millisecond, 2*time.Millisecond, false)
	for range 3 {
		add(55*time.Second, 20*time.Millisecond, 2*time.Millisecond, false)
	}
	add(61*time.Second, time.Second, time.Second, false) // after the range
	return sets
}

func runMetrics(t *testing.T, q string, tweak ...func(*MetricsRequest)) *MetricsResult {
	t.Helper()
	req := MetricsRequest{
		Query: mustParse(t, q), Start: t0m.UnixNano(), End: t0m.Add(60 * time.Second).UnixNano(),
		Step: int64(metricsStep),
	}
	for _, f := range tweak {
		f(&req)
	}
	res, err := Metrics(context.Background(), &fakeFetcher{sets: metricsSpans()}, req)
	require.NoError(t, err, q)
	return res
}

// seriesValues maps each series (its labels printed) to its values per
// step, NaN where the series has no sample.
func seriesValues(t *testing.T, res *MetricsResult) map[string][]float64 {
	t.Helper()
	out := map[string][]float64{}
	for _, s := range res.Series {
		vals := []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}
		for _, p := range s.Samples {
			i := int((time.UnixMilli(p.TimestampMs).Sub(t0m) / metricsStep)) - 1
			require.True(t, i >= 0 && i < 6, "sample at %d", p.TimestampMs)
			require.Equal(t, t0m.Add(time.Duration(i+1)*metricsStep).UnixMilli(), p.TimestampMs, "samples sit at step ends")
			vals[i] = p.Value
		}
		out[labelsString(s.Labels)] = vals
	}
	return out
}

func labelsString(ls []Label) string {
	s := "{"
	for i, l := range ls {
		if i > 0 {
			s += ", "
		}
		s += l.Key + "=" + l.Value.String()
	}
	return s + "}"
}

var nan = math.NaN()

func requireSeries(t *testing.T, want map[string][]float64, res *MetricsResult) {
	t.Helper()
	got := seriesValues(t, res)
	require.Len(t, got, len(want), "%v", got)
	for k, w := range want {
		g, ok := got[k]
		require.True(t, ok, "no series %s in %v", k, got)
		for i := range w {
			if math.IsNaN(w[i]) {
				require.True(t, math.IsNaN(g[i]), "%s step %d: %v", k, i, g)
				continue
			}
			require.InDelta(t, w[i], g[i], 1e-9, "%s step %d: %v", k, i, g)
		}
	}
}

func TestMetricsRateAndCount(t *testing.T) {
	requireSeries(t, map[string][]float64{
		`{resource.service.name="a"}`: {0.2, 0, 0.1, 0, 0, 0.3},
		`{resource.service.name="b"}`: {0.2, 0, 0.1, 0, 0, 0.3},
	}, runMetrics(t, `{} | rate() by (resource.service.name)`))

	requireSeries(t, map[string][]float64{
		`{__name__="count_over_time"}`: {4, 0, 2, 0, 0, 6},
	}, runMetrics(t, `{} | count_over_time()`))

	// Drilldown's root-spans signal, its nil guard and its errors panel.
	requireSeries(t, map[string][]float64{
		`{name="GET /"}`: {0.2, 0, 0.1, 0, 0, 0.3},
	}, runMetrics(t, `{nestedSetParent<0 && true && name != nil} | rate() by(name) with(sample=true)`))
	requireSeries(t, map[string][]float64{
		`{__name__="rate"}`: {0.1, 0, 0, 0, 0, 0},
	}, runMetrics(t, `{true && true && status=error} | rate() `))

	// by() a field some spans lack: a nil label.
	requireSeries(t, map[string][]float64{
		`{span.http.status_code=200}`: {2, 0, 1, 0, 0, 3},
		`{span.http.status_code=nil}`: {2, 0, 1, 0, 0, 3},
	}, runMetrics(t, `{} | count_over_time() by (span.http.status_code)`))
}

func TestMetricsOverTime(t *testing.T) {
	const ms = 0.001
	q := func(fn string) *MetricsResult {
		return runMetrics(t, `{} | `+fn+`(duration) by (resource.service.name)`)
	}
	requireSeries(t, map[string][]float64{
		`{resource.service.name="a"}`: {6 * ms, nan, 6 * ms, nan, nan, 60 * ms},
		`{resource.service.name="b"}`: {2 * ms, nan, 2 * ms, nan, nan, 6 * ms},
	}, q("sum_over_time"))
	requireSeries(t, map[string][]float64{
		`{resource.service.name="a"}`: {3 * ms, nan, 6 * ms, nan, nan, 20 * ms},
		`{resource.service.name="b"}`: {1 * ms, nan, 2 * ms, nan, nan, 2 * ms},
	}, q("avg_over_time"))
	requireSeries(t, map[string][]float64{
		`{resource.service.name="a"}`: {3 * ms, nan, 6 * ms, nan, nan, 20 * ms},
		`{resource.service.name="b"}`: {1 * ms, nan, 2 * ms, nan, nan, 2 * ms},
	}, q("min_over_time"))
	requireSeries(t, map[string][]float64{
		`{__name__="max_over_time"}`: {3 * ms, nan, 6 * ms, nan, nan, 20 * ms},
	}, runMetrics(t, `{} | max_over_time(duration)`))
	// An int attribute; the spans without it are left out.
	requireSeries(t, map[string][]float64{
		`{__name__="sum_over_time"}`: {400, nan, 200, nan, nan, 600},
	}, runMetrics(t, `{} | sum_over_time(span.http.status_code)`))
}

func TestMetricsHistogramAndQuantile(t *testing.T) {
	// Roots: 3 ms falls in (2^21, 2^22] ns, 6 ms in (2^22, 2^23], 20 ms in
	// (2^24, 2^25]; buckets are labelled in seconds.
	b := func(pow int) string { return `{__bucket=` + formatFloat(float64(int64(1)<<pow)/1e9) + `}` }
	requireSeries(t, map[string][]float64{
		b(22): {2, 0, 0, 0, 0, 0},
		b(23): {0, 0, 1, 0, 0, 0},
		b(25): {0, 0, 0, 0, 0, 3},
	}, runMetrics(t, `{nestedSetParent<0} | histogram_over_time(duration)`))

	// p1 is the top of the bucket holding the largest value; p0.5 of two
	// values in one bucket is halfway (exponentially) through it.
	requireSeries(t, map[string][]float64{
		`{p=0.5}`: {math.Pow(2, 21.5) / 1e9, nan, math.Pow(2, 23) / 1e9, nan, nan, math.Pow(2, 24+2.0/3) / 1e9},
		`{p=1.0}`: {math.Pow(2, 22) / 1e9, nan, math.Pow(2, 23) / 1e9, nan, nan, math.Pow(2, 25) / 1e9},
	}, runMetrics(t, `{nestedSetParent<0} | quantile_over_time(duration, .5, 1) by()`))

	// Across buckets: children of step 0 are 1 ms (bucket 2^20), roots 3 ms
	// (2^22); p0.5 of the four is the top of the lower bucket.
	got := seriesValues(t, runMetrics(t, `{} | quantile_over_time(duration, 0.5)`))
	require.InDelta(t, math.Pow(2, 20)/1e9, got[`{p=0.5}`][0], 1e-12)
}

func TestLog2Quantile(t *testing.T) {
	bs := []bucketCount{{max: 4, count: 1}, {max: 8, count: 2}, {max: 16, count: 1}}
	require.Equal(t, 4.0, log2Quantile(0.25, bs))
	require.Equal(t, 8.0, log2Quantile(0.75, bs))
	require.InDelta(t, math.Pow(2, 2.5), log2Quantile(0.5, bs), 1e-9) // 2nd of 4: half into (4, 8]
	require.Equal(t, 16.0, log2Quantile(1, bs))
	require.Equal(t, 4.0, log2Quantile(0, bs)) // at least one value is read
	require.True(t, math.IsNaN(log2Quantile(0.5, []bucketCount{{max: 4}})))
	for v, want := range map[uint64]float64{2: 2, 3: 4, 4: 4, 5: 8, 1 << 40: 1 << 40} {
		got, ok := log2Bucket(v)
		require.True(t, ok)
		require.Equal(t, want, got, "%d", v)
	}
	_, ok := log2Bucket(1)
	require.False(t, ok)
}

func TestMetricsCompare(t *testing.T) {
	res := runMetrics(t, `{} | compare({status = error})`)
	got := seriesValues(t, res)
	// The one error span (a child, service b, step 0) is the selection.
	want := map[string][]float64{
		`{__meta_type="selection", resource.service.name="b"}`:      {1, 0, 0, 0, 0, 0},
		`{__meta_type="selection", status="error"}`:                 {1, 0, 0, 0, 0, 0},
		`{__meta_type="selection_total", status=nil}`:               {1, 0, 0, 0, 0, 0},
		`{__meta_type="baseline", resource.service.name="a"}`:       {2, 0, 1, 0, 0, 3},
		`{__meta_type="baseline", resource.service.name="b"}`:       {1, 0, 1, 0, 0, 3},
		`{__meta_type="baseline", status="unset"}`:                  {3, 0, 2, 0, 0, 6},
		`{__meta_type="baseline", kind="client"}`:                   {1, 0, 1, 0, 0, 3},
		`{__meta_type="baseline_total", resource.service.name=nil}`: {3, 0, 2, 0, 0, 6},
		`{__meta_type="baseline", span.http.status_code=200}`:       {2, 0, 1, 0, 0, 3},
	}
	for k, w := range want {
		require.Equal(t, w, got[k], "%s in %v", k, got)
	}
	_, ok := got[`{__meta_type="selection", status="unset"}`]
	require.False(t, ok)

	// Exemplars go to the totals of their side, valued at the step's total.
	res = runMetrics(t, `{} | compare({status = error})`, func(r *MetricsRequest) { r.Exemplars = 12 })
	found := false
	for _, s := range res.Series {
		if labelsString(s.Labels) == `{__meta_type="selection_total", status=nil}` {
			found = true
			require.Len(t, s.Exemplars, 1)
			require.Equal(t, "00000000000000000000000000000002", s.Exemplars[0].Labels[0].Value.Str, "the error span's trace")
			require.Equal(t, 1.0, s.Exemplars[0].Value)
		}
		if s.Labels[0].Value.Str == "selection" || s.Labels[0].Value.Str == "baseline" {
			require.Empty(t, s.Exemplars)
		}
	}
	require.True(t, found)

	// A time window: only spans started in it can be the selection, and
	// topN 1 keeps the most frequent value of each attribute.
	w0, w1 := t0m.Add(20*time.Second).UnixNano(), t0m.Add(30*time.Second).UnixNano()
	got = seriesValues(t, runMetrics(t, `{} | compare({ name = "db" }, 1, `+itoa(w0)+`, `+itoa(w1)+`)`))
	require.Equal(t, []float64{0, 0, 1, 0, 0, 0}, got[`{__meta_type="selection", name="db"}`])
	require.Equal(t, []float64{2, 0, 1, 0, 0, 3}, got[`{__meta_type="baseline", kind="server"}`])
	require.Equal(t, []float64{4, 0, 1, 0, 0, 6}, got[`{__meta_type="baseline_total", kind=nil}`])
	_, ok = got[`{__meta_type="baseline", kind="client"}`]
	require.False(t, ok, "server spans (6) outnumber client spans (5) in the baseline")
}

func itoa(i int64) string { return Literal{Type: LiteralInt, Int: i}.String() }

func TestMetricsTopKBottomK(t *testing.T) {
	requireSeries(t, map[string][]float64{
		`{resource.service.name="a"}`: {6e-3, nan, 6e-3, nan, nan, 60e-3},
	}, runMetrics(t, `{} | sum_over_time(duration) by (resource.service.name) | topk(1)`))
	requireSeries(t, map[string][]float64{
		`{resource.service.name="b"}`: {2e-3, nan, 2e-3, nan, nan, 6e-3},
	}, runMetrics(t, `{} | sum_over_time(duration) by (resource.service.name) | bottomk(1)`))
	// Ties go to the series that sorts first.
	requireSeries(t, map[string][]float64{
		`{resource.service.name="a"}`: {0.2, 0, 0.1, 0, 0, 0.3},
	}, runMetrics(t, `{} | rate() by (resource.service.name) | topk(1)`))
}

func TestMetricsLimitsAndExemplars(t *testing.T) {
	res := runMetrics(t, `{} | rate() by (resource.service.name)`, func(r *MetricsRequest) { r.MaxSeries = 1 })
	require.True(t, res.Truncated)
	require.Len(t, res.Series, 1)

	res = runMetrics(t, `{} | rate() by (resource.service.name)`, func(r *MetricsRequest) { r.Exemplars = 3 })
	require.False(t, res.Truncated)
	n := 0
	for _, s := range res.Series {
		for _, e := range s.Exemplars {
			n++
			require.Equal(t, "trace:id", e.Labels[0].Key)
			require.Len(t, e.Labels[0].Value.Str, 32)
			// A rate exemplar takes its sample's value.
			found := false
			for _, p := range s.Samples {
				if p.TimestampMs >= e.TimestampMs && p.TimestampMs-e.TimestampMs < metricsStep.Milliseconds() {
					require.Equal(t, p.Value, e.Value)
					found = true
				}
			}
			require.True(t, found)
		}
	}
	require.Equal(t, 3, n)
	// Spread over the steps with spans (0, 2 and 5), not all from the first.
	steps := map[int64]bool{}
	for _, s := range res.Series {
		for _, e := range s.Exemplars {
			steps[(e.TimestampMs-t0m.UnixMilli()-1)/metricsStep.Milliseconds()] = true
		}
	}
	require.Equal(t, map[int64]bool{0: true, 2: true, 5: true}, steps)

	res = runMetrics(t, `{nestedSetParent<0} | max_over_time(duration)`, func(r *MetricsRequest) { r.Exemplars = 10 })
	require.Len(t, res.Series[0].Exemplars, 3, "one a step with spans")
	require.Equal(t, 0.003, res.Series[0].Exemplars[0].Value, "the span's own duration")

	// Instant: one value for the whole range, [start, end].
	res = runMetrics(t, `{} | rate()`, func(r *MetricsRequest) { r.Instant = true })
	require.Len(t, res.Series, 1)
	require.Len(t, res.Series[0].Samples, 1)
	require.InDelta(t, 14.0/60, res.Series[0].Samples[0].Value, 1e-9, "12 spans inside, 2 at the start")
	require.Equal(t, t0m.Add(time.Minute).UnixMilli(), res.Series[0].Samples[0].TimestampMs)

	_, err := Metrics(context.Background(), &fakeFetcher{}, MetricsRequest{Query: mustParse(t, `{}`), Start: 1, End: 2, Step: 1})
	require.ErrorIs(t, err, ErrNotMetrics)

	boom := errors.New("too much data")
	_, err = Metrics(context.Background(), &fakeFetcher{sets: metricsSpans(), err: boom}, MetricsRequest{Query: mustParse(t, `{} | rate()`), Start: 1, End: 2, Step: 1})
	require.ErrorIs(t, err, boom)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Metrics(ctx, &fakeFetcher{sets: metricsSpans()}, MetricsRequest{Query: mustParse(t, `{} | rate()`), Start: 1, End: 2, Step: 1})
	require.ErrorIs(t, err, context.Canceled)
}

func TestMetricsIntervals(t *testing.T) {
	// Start rounds down and end up to the step; a span at a step's end is
	// in that step.
	iv := newIntervals(MetricsRequest{Start: 15, End: 31, Step: 10})
	require.Equal(t, intervals{start: 10, end: 40, step: 10, n: 3}, iv)
	for ts, want := range map[int64]int{10: -1, 11: 0, 20: 0, 21: 1, 40: 2, 41: -1} {
		require.Equal(t, want, iv.of(ts), "%d", ts)
	}
}

package shard

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/tsdb/tsdbutil"
)

// TestDirectLikeTheEngine evaluates the parts that direct takes, shard by
// shard, with direct and with the engine, and wants the same series and
// points, and values equal to the bit: the sum adds the same numbers in
// the same order. The shard of a series with histograms is left to the
// engine.
func TestDirectLikeTheEngine(t *testing.T) {
	db, start := testDB(t)
	// After the test data, in the head: a counter with stale markers and
	// irregular samples, and one that turns into native histograms.
	app := db.Appender(context.Background())
	from := start.Add(2 * time.Hour)
	v := 0.0
	for i := range 200 {
		ts := from.Add(time.Duration(i)*10*time.Second + time.Duration(i%7)*time.Second).UnixMilli()
		f := v
		switch {
		case i%50 == 49:
			f = math.Float64frombits(value.StaleNaN)
		case i%37 == 0:
			v, f = 1, 1 // a reset
		default:
			v += float64(i % 5)
			f = v
		}
		if _, err := app.Append(0, labels.FromStrings("__name__", "odd_total", "job", "j9"), ts, f); err != nil {
			t.Fatal(err)
		}
		mixed := labels.FromStrings("__name__", "mixed_total", "job", "j9")
		if i < 100 {
			_, err := app.Append(0, mixed, ts, float64(i))
			if err != nil {
				t.Fatal(err)
			}
		} else if _, err := app.AppendHistogram(0, mixed, ts, tsdbutil.GenerateTestHistogram(int64(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 10_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	qStart, qEnd := start.Add(-23*time.Minute), start.Add(2*time.Hour+40*time.Minute) // a step of an hour meets the histograms at 2h37m
	const shards = 3
	for _, tc := range []struct {
		q        string
		toEngine bool
	}{
		{q: `sum(rate(req_total[5m]))`},
		{q: `sum by (job) (rate(req_total[1m]))`},
		{q: `sum without (instance) (increase(req_total[10m]))`},
		{q: `sum by (code, job) (rate(req_total[5m]))`},
		{q: `sum by (__name__, job) (rate(req_total[5m]))`},
		{q: `sum by (job) (rate(req_total{code!="300"}[3m]))`},
		{q: `sum(rate(odd_total[1m]))`},
		{q: `sum without () (increase(odd_total[45s]))`},
		{q: `sum(rate(mixed_total[5m]))`, toEngine: true},
	} {
		t.Run(tc.q, func(t *testing.T) {
			expr, err := parser.ParseExpr(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			p := directOf(expr.(*parser.AggregateExpr))
			if p == nil {
				t.Fatal("not taken by direct")
			}
			for _, step := range []time.Duration{15 * time.Second, time.Minute, 7 * time.Minute, time.Hour} {
				r := newRun(db, qStart, qEnd, step, 1)
				defer r.close() // before the TSDB closes, which waits for its queriers
				toEngine := 0
				for j := range shards {
					d := &directQuery{p: p, expr: tc.q, q: r.shard(j, shards), start: r.start, end: r.end, step: r.step, maxSamples: 10_000_000,
						engine: func() (promql.Query, error) {
							return eng.NewRangeQuery(context.Background(), r.shard(j, shards), nil, tc.q, qStart, qEnd, step)
						}}
					got := exec(t, func() (promql.Query, error) { return d, nil })
					if d.fallback != nil {
						toEngine++
					}
					want := exec(t, func() (promql.Query, error) {
						return eng.NewRangeQuery(context.Background(), r.shard(j, shards), nil, tc.q, qStart, qEnd, step)
					})
					sameBits(t, got, want)
				}
				if want := map[bool]int{false: 0, true: 1}[tc.toEngine]; toEngine != want {
					t.Fatalf("step %v: %d shards left to the engine, want %d", step, toEngine, want)
				}
			}
		})
	}

	for _, q := range []string{
		`sum(rate(mem_bytes[5m]))`, // the engine annotates: not a counter's name
		`sum(rate(req_total[5m] offset 1m))`,
		`sum(rate(req_total[5m] @ 100))`,
		`sum(irate(req_total[5m]))`,
		`max(rate(req_total[5m]))`,
		`sum(rate(req_total[5m]) * 2)`,
	} {
		expr, err := parser.ParseExpr(q)
		if err != nil {
			t.Fatal(err)
		}
		if directOf(expr.(*parser.AggregateExpr)) != nil {
			t.Errorf("%s is taken by direct", q)
		}
	}
}

func sameBits(t *testing.T, got, want promql.Matrix) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d series, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !labels.Equal(g.Metric, w.Metric) || len(g.Floats) != len(w.Floats) || len(g.Histograms) != len(w.Histograms) {
			t.Fatalf("series %d is %v, want %v", i, g, w)
		}
		for j := range w.Floats {
			if g.Floats[j].T != w.Floats[j].T || math.Float64bits(g.Floats[j].F) != math.Float64bits(w.Floats[j].F) {
				t.Fatalf("%s: point %d is %v, want %v", w.Metric, j, g.Floats[j], w.Floats[j])
			}
		}
	}
}

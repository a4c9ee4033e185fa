package shard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/tsdbutil"

	"github.com/sightline-dev/sightline/storage/colblock"
)

// testDB is a TSDB set up as Sightline's (columnar blocks, sharding in the
// head) holding two hours of counters, gauges and native histograms, part
// of it compacted into blocks, so that series are read from blocks and head
// at once. Some series start late, end early or have a gap, and one
// instance has a 20-minute gap in all its series.
func testDB(t testing.TB) (*tsdb.DB, time.Time) {
	t.Helper()
	o := tsdb.DefaultOptions()
	o.MinBlockDuration = (30 * time.Minute).Milliseconds()
	o.MaxBlockDuration = o.MinBlockDuration
	o.EnableSharding = true
	colblock.Configure(o, colblock.NewReaders(), colblock.DefaultOptions())
	db, err := tsdb.Open(t.TempDir(), nil, nil, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })

	start := time.UnixMilli(1_700_000_000_000).Truncate(time.Hour)
	const step, points = 15 * time.Second, 480 // two hours
	rnd := rand.New(rand.NewPCG(1, 2))
	app := db.Appender(context.Background())
	// The first sample sets the head's time range, and with it the oldest
	// time that the appender takes: the start.
	if _, err := app.Append(0, labels.FromStrings("__name__", "anchor"), start.UnixMilli(), 0); err != nil {
		t.Fatal(err)
	}
	for job := range 3 {
		for inst := range 8 {
			base := []string{"job", fmt.Sprintf("j%d", job), "instance", fmt.Sprintf("i%d", inst)}
			first, last := 0, points
			switch rnd.IntN(4) {
			case 0:
				first = rnd.IntN(points / 2)
			case 1:
				last = points/2 + rnd.IntN(points/2)
			}
			gapFrom, gapTo := 0, 0
			if inst == 3 {
				gapFrom, gapTo = 200, 280
			} else if rnd.IntN(3) == 0 {
				gapFrom = rnd.IntN(points)
				gapTo = gapFrom + rnd.IntN(60)
			}
			for code := range 3 {
				ls := labels.FromStrings(append([]string{"__name__", "req_total", "code", fmt.Sprint(200 + code*100)}, base...)...)
				v := 0.0
				for i := first; i < last; i++ {
					v += rnd.Float64() * 10
					if rnd.IntN(200) == 0 {
						v = 0 // a counter reset
					}
					if i < gapFrom || i >= gapTo {
						if _, err := app.Append(0, ls, start.Add(time.Duration(i)*step).UnixMilli(), v); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			gauge := labels.FromStrings(append([]string{"__name__", "mem_bytes"}, base...)...)
			hist := labels.FromStrings(append([]string{"__name__", "lat_seconds"}, base...)...)
			for i := first; i < last; i++ {
				if i >= gapFrom && i < gapTo {
					continue
				}
				ts := start.Add(time.Duration(i) * step).UnixMilli()
				if _, err := app.Append(0, gauge, ts, 50+rnd.Float64()*100); err != nil {
					t.Fatal(err)
				}
				h := tsdbutil.GenerateTestHistogram(int64(i + inst))
				h.CounterResetHint = histogram.UnknownCounterReset
				if _, err := app.AppendHistogram(0, hist, ts, h, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no block was compacted: the test would read the head alone")
	}
	return db, start
}

func newEngines() (plain promql.QueryEngine, sharded Engine) {
	eng := promql.NewEngine(promql.EngineOpts{
		MaxSamples: 10_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute,
		EnableAtModifier: true, EnableNegativeOffset: true,
	})
	return eng, Engine{QueryEngine: eng, Shards: 5, Parallel: 2, MaxSamples: 10_000_000, LookbackDelta: 5 * time.Minute}
}

// TestShardedLikeOneEvaluation evaluates queries with and without shards,
// instant and range, and wants the same series, points and values (sums
// to 1e-9, their order of addition differs), and the expected parts split.
func TestShardedLikeOneEvaluation(t *testing.T) {
	db, start := testDB(t)
	plain, sharded := newEngines()
	at := fmt.Sprint(start.Add(70 * time.Minute).Unix())
	for _, tc := range []struct {
		q     string
		parts int
	}{
		{`sum(rate(req_total[5m]))`, 1},
		{`sum by (job) (rate(req_total[5m]))`, 1},
		{`sum by (instance) (rate(req_total[1m]))`, 1},
		{`sum without (instance) (rate(req_total[5m]))`, 1},
		{`count by (code) (req_total)`, 1},
		{`count without (code, job) (req_total > 500)`, 1},
		{`max by (job) (mem_bytes)`, 1},
		{`min(mem_bytes offset 10m)`, 1},
		{`group by (job) (mem_bytes > 100)`, 1},
		{`sum by (job) (increase(req_total[10m]) * 2)`, 1},
		{`count(count_over_time(req_total[20m]))`, 1},
		{`max by (instance) (quantile_over_time(0.5, mem_bytes[10m]))`, 1},
		{`sum(req_total @ ` + at + `)`, 1},
		{`sum(rate(lat_seconds[5m]))`, 1},
		{`histogram_quantile(0.9, sum by (job) (rate(lat_seconds[5m])))`, 1},
		{`sum by (job) (histogram_count(rate(lat_seconds[5m])))`, 1},
		{`sum(rate(req_total[5m])) / sum(rate(req_total[10m]))`, 2},
		{`sum(max by (job) (mem_bytes))`, 1}, // the inner one
		// Not split: series of two vectors meet, a function joins series
		// or makes one from none, an aggregation that a second one of its
		// kind does not combine, a selector of more than one metric name.
		{`sum(rate(req_total[5m]) / on(job, instance, code) rate(req_total[10m]))`, 0},
		{`sum(histogram_quantile(0.5, rate(lat_seconds[5m])))`, 0},
		{`sum(absent(nope))`, 0},
		{`sum(vector(1))`, 0},
		{`avg(mem_bytes)`, 0},
		{`topk(3, mem_bytes)`, 0},
		{`quantile(0.5, mem_bytes)`, 0},
		{`sum(rate({__name__=~"req_total|mem_bytes"}[5m]))`, 0},
		{`sum(rate(req_total[10m:1m]))`, 0},
		{`max_over_time(sum(rate(req_total[5m]))[30m:1m])`, 0},
		{`sum(rate(req_total[5m])) + max_over_time(sum(mem_bytes)[30m:1m])`, 1},
		{`sum(label_replace(mem_bytes, "a", "b", "", ""))`, 0},
		// The query itself, computed series by series; not a bare selector.
		{`rate(req_total[5m])`, 1},
		{`max_over_time(mem_bytes[10m])`, 1},
		{`last_over_time(mem_bytes[5m])`, 1},
		{`abs(mem_bytes - 300) > 10`, 1},
		{`histogram_count(rate(lat_seconds[5m]))`, 1},
		{`rate(nope_total[5m])`, 1},
		{`mem_bytes`, 0},
		{`(mem_bytes offset 5m)`, 0},
		{`rate({__name__=~"req_total|mem_bytes"}[5m])`, 0},
	} {
		t.Run(tc.q, func(t *testing.T) {
			expr, err := parser.ParseExpr(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if parts := split(expr); len(parts) != tc.parts {
				t.Fatalf("split into %d parts, want %d", len(parts), tc.parts)
			}
			ctx := context.Background()
			for _, ts := range []time.Duration{5 * time.Minute, 61 * time.Minute, 119 * time.Minute} {
				want := exec(t, func() (promql.Query, error) { return plain.NewInstantQuery(ctx, db, nil, tc.q, start.Add(ts)) })
				got := exec(t, func() (promql.Query, error) { return sharded.NewInstantQuery(ctx, db, nil, tc.q, start.Add(ts)) })
				sameValue(t, got, want)
			}
			for _, step := range []time.Duration{15 * time.Second, time.Minute, 7 * time.Minute} {
				want := exec(t, func() (promql.Query, error) {
					return plain.NewRangeQuery(ctx, db, nil, tc.q, start.Add(-10*time.Minute), start.Add(130*time.Minute), step)
				})
				got := exec(t, func() (promql.Query, error) {
					return sharded.NewRangeQuery(ctx, db, nil, tc.q, start.Add(-10*time.Minute), start.Add(130*time.Minute), step)
				})
				sameValue(t, got, want)
			}
		})
	}
}

// TestShardedLookback: a query's own lookback delta holds in its split
// parts, the sum of a selector's values that direct.go evaluates included.
func TestShardedLookback(t *testing.T) {
	db, start := testDB(t)
	plain, sharded := newEngines()
	ctx := context.Background()
	for _, q := range []string{`sum by (job) (mem_bytes)`, `count by (job) (mem_bytes)`} {
		for _, lookback := range []time.Duration{30 * time.Second, 10 * time.Minute} {
			opts := promql.NewPrometheusQueryOpts(false, lookback)
			want := exec(t, func() (promql.Query, error) {
				return plain.NewRangeQuery(ctx, db, opts, q, start.Add(-10*time.Minute), start.Add(130*time.Minute), 20*time.Second)
			})
			got := exec(t, func() (promql.Query, error) {
				return sharded.NewRangeQuery(ctx, db, opts, q, start.Add(-10*time.Minute), start.Add(130*time.Minute), 20*time.Second)
			})
			sameValue(t, got, want)
		}
	}
}

// exec runs a query and returns its value, which it copies out of the
// engine's pools. An instant vector is sorted: the order of its series is
// that in which the engine met them, which is undefined.
func exec(t *testing.T, newQuery func() (promql.Query, error)) promql.Matrix {
	t.Helper()
	q, err := newQuery()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	res := q.Exec(context.Background())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var m promql.Matrix
	switch v := res.Value.(type) {
	case promql.Vector:
		for _, s := range v {
			ps := promql.Series{Metric: s.Metric}
			if s.H != nil {
				ps.Histograms = []promql.HPoint{{T: s.T, H: s.H.Copy()}}
			} else {
				ps.Floats = []promql.FPoint{{T: s.T, F: s.F}}
			}
			m = append(m, ps)
		}
		slices.SortFunc(m, func(a, b promql.Series) int { return labels.Compare(a.Metric, b.Metric) })
	case promql.Matrix:
		for _, s := range v {
			ps := promql.Series{Metric: s.Metric, Floats: append([]promql.FPoint(nil), s.Floats...)}
			for _, p := range s.Histograms {
				ps.Histograms = append(ps.Histograms, promql.HPoint{T: p.T, H: p.H.Copy()})
			}
			m = append(m, ps)
		}
	default:
		t.Fatalf("unexpected result type %T", res.Value)
	}
	return m
}

func sameValue(t *testing.T, got, want promql.Matrix) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d series, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	points := 0
	for i := range want {
		g, w := got[i], want[i]
		if !labels.Equal(g.Metric, w.Metric) {
			t.Fatalf("series %d is %s, want %s", i, g.Metric, w.Metric)
		}
		if len(g.Floats) != len(w.Floats) || len(g.Histograms) != len(w.Histograms) {
			t.Fatalf("%s: %d floats and %d histograms, want %d and %d", w.Metric, len(g.Floats), len(g.Histograms), len(w.Floats), len(w.Histograms))
		}
		for j := range w.Floats {
			if g.Floats[j].T != w.Floats[j].T || !near(g.Floats[j].F, w.Floats[j].F) {
				t.Fatalf("%s: point %d is %v, want %v", w.Metric, j, g.Floats[j], w.Floats[j])
			}
		}
		for j := range w.Histograms {
			gh, wh := g.Histograms[j], w.Histograms[j]
			if gh.T != wh.T || !near(gh.H.Count, wh.H.Count) || !near(gh.H.Sum, wh.H.Sum) ||
				len(gh.H.PositiveBuckets) != len(wh.H.PositiveBuckets) {
				t.Fatalf("%s: histogram %d is %v, want %v", w.Metric, j, gh, wh)
			}
			for k := range wh.H.PositiveBuckets {
				if !near(gh.H.PositiveBuckets[k], wh.H.PositiveBuckets[k]) {
					t.Fatalf("%s: histogram %d is %v, want %v", w.Metric, j, gh, wh)
				}
			}
		}
		points += len(w.Floats) + len(w.Histograms)
	}
	if points == 0 {
		t.Log("both results are empty")
	}
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// TestShardedErrors: a part's error is the query's, as Prometheus would
// give it, and a cancelled query stops.
func TestShardedErrors(t *testing.T) {
	db, start := testDB(t)
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 100, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	sharded := Engine{QueryEngine: eng, Shards: 2, MaxSamples: 100}
	q, err := sharded.NewRangeQuery(context.Background(), db, nil, `sum(rate(req_total[5m]))`, start, start.Add(2*time.Hour), 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if res := q.Exec(context.Background()); !errors.As(res.Err, new(promql.ErrTooManySamples)) {
		t.Fatalf("error %v, want too many samples", res.Err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q2, err := sharded.NewInstantQuery(ctx, db, nil, `sum(rate(req_total[5m]))`, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if res := q2.Exec(ctx); !errors.As(res.Err, new(promql.ErrQueryCanceled)) {
		t.Fatalf("error %v, want cancelled", res.Err)
	}
}

// TestShardsPartition: the shards' series are all series, each once, from
// head and blocks.
func TestShardsPartition(t *testing.T) {
	db, start := testDB(t)
	r := newRun(db, start, start, 0, 0)
	defer r.close()
	m := labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "req_total")
	seen := map[string]int{}
	all := 0
	for i := range 3 {
		q, err := r.shard(i, 3).Querier(start.UnixMilli(), start.Add(2*time.Hour).UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		set := q.Select(context.Background(), false, nil, m)
		n := 0
		for set.Next() {
			seen[set.At().Labels().String()]++
			n++
		}
		if set.Err() != nil {
			t.Fatal(set.Err())
		}
		if n == 0 {
			t.Errorf("shard %d has no series", i)
		}
		all += n
	}
	q, err := db.Querier(start.UnixMilli(), start.Add(2*time.Hour).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, m)
	want := 0
	for set.Next() {
		want++
		if seen[set.At().Labels().String()] != 1 {
			t.Errorf("%s is in %d shards", set.At().Labels(), seen[set.At().Labels().String()])
		}
	}
	if all != want {
		t.Errorf("shards have %d series, all are %d", all, want)
	}
}

// FuzzSplit: splitting any query neither panics nor makes a query that
// the parser refuses, and every part is an aggregation the parser takes,
// or the query itself, computed series by series.
func FuzzSplit(f *testing.F) {
	for _, q := range []string{
		`sum by (job) (rate(x[5m]))`, `histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))`,
		`count without (a) (x > 1) / sum(max by (b) (y offset 5m))`, `sum(x @ end())`,
		`sum(rate(x[5m]) * on(a) group_left y)`, `-sum(-abs(x))`, `sum(clamp(x, 0, 1 + 2))`,
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		expr, err := parser.ParseExpr(q)
		if err != nil {
			return
		}
		parts := split(expr)
		if len(parts) == 0 {
			return
		}
		if _, err := parser.ParseExpr(expr.String()); err != nil {
			t.Fatalf("%q split into %q, which does not parse: %v", q, expr.String(), err)
		}
		for _, p := range parts {
			pe, err := parser.ParseExpr(p.expr)
			if err != nil {
				t.Fatalf("%q has part %q, which does not parse: %v", q, p.expr, err)
			}
			if _, ok := pe.(*parser.AggregateExpr); !ok && (len(parts) > 1 || !perSeries(pe)) {
				t.Fatalf("%q has part %q, neither an aggregation nor the query's series", q, p.expr)
			}
		}
	})
}

// TestShardedTimeout: the evaluations of a split query share one timeout,
// which ends it as the engine's own would.
func TestShardedTimeout(t *testing.T) {
	db, start := testDB(t)
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 10_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	sharded := Engine{QueryEngine: eng, Shards: 2, Timeout: time.Nanosecond}
	q, err := sharded.NewRangeQuery(context.Background(), db, nil, `sum(rate(req_total[5m]))`, start, start.Add(2*time.Hour), 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if res := q.Exec(context.Background()); !errors.As(res.Err, new(promql.ErrQueryTimeout)) {
		t.Fatalf("error %v, want a timeout", res.Err)
	}
}

// TestDirectPartsRunAtOnce: a part that direct.go evaluates is split into
// as many shards as run at once, the engine's parts into Shards.
func TestDirectPartsRunAtOnce(t *testing.T) {
	db, start := testDB(t)
	_, e := newEngines()
	e.Shards, e.Parallel = 8, 2
	for qs, want := range map[string]int{
		`sum by (job) (rate(req_total[5m]))`: 2,
		`max by (job) (rate(req_total[5m]))`: 8,
	} {
		q, err := e.NewRangeQuery(context.Background(), db, nil, qs, start, start.Add(time.Hour), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		sq, ok := q.(*query)
		if !ok || len(sq.partials) != 1 {
			t.Fatalf("%s: not split into one part: %T", qs, q)
		}
		if got := len(sq.partials[0]); got != want {
			t.Errorf("%s: %d shards, want %d", qs, got, want)
		}
		if res := q.Exec(context.Background()); res.Err != nil {
			t.Errorf("%s: %v", qs, res.Err)
		}
		q.Close()
	}
}

// TestWholeQuery: a query computed series by series is split into as
// many shards as run at once, instant and over a range.
func TestWholeQuery(t *testing.T) {
	db, start := testDB(t)
	_, e := newEngines()
	ctx := context.Background()
	const qs = `max_over_time(mem_bytes[10m])`
	for _, step := range []time.Duration{0, time.Minute} {
		q, err := e.newQuery(ctx, db, nil, qs, start, start.Add(time.Hour), step)
		if err != nil {
			t.Fatal(err)
		}
		if sq, ok := q.(*query); !ok || !sq.whole || len(sq.partials) != 1 || len(sq.partials[0]) != 2 {
			t.Errorf("step %v: %T, want a whole query split into 2 shards", step, q)
		}
		q.Close()
	}
}

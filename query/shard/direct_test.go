package shard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/tsdbutil"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/sightline-dev/sightline/storage/colblock"
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
		// Histograms only, after a gap of more than the range: the
		// first sample after an empty window is a histogram.
		if i >= 150 {
			if _, err := app.AppendHistogram(0, labels.FromStrings("__name__", "late_total", "job", "j9"), ts, tsdbutil.GenerateTestHistogram(int64(i)), nil); err != nil {
				t.Fatal(err)
			}
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
		{q: `sum by (job) (irate(req_total[1m]))`},
		{q: `sum without (instance) (irate(odd_total[45s]))`},
		{q: `sum by (job) (idelta(mem_bytes[5m]))`}, // a gauge: no annotation for irate and idelta
		{q: `sum(irate(mixed_total[5m]))`, toEngine: true},
		{q: `sum by (job) (mem_bytes)`},
		{q: `sum without (instance) (req_total)`},
		{q: `sum(odd_total)`}, // stale markers end a value before the lookback does
		// A group's labels are its series' whole, the metric name too.
		{q: `sum by (__name__, code, instance, job) (req_total)`},
		{q: `sum by (job) (mixed_total)`, toEngine: true},
		{q: `sum(rate(mixed_total[5m]))`, toEngine: true},
		{q: `sum by (job) (rate(late_total[5m]))`, toEngine: true},
		{q: `sum(late_total)`, toEngine: true},
		// Whole queries, series by series.
		{q: `rate(req_total[5m])`},
		{q: `increase(odd_total[45s])`},
		{q: `(irate(odd_total{job="j9"}[1m]))`},
		{q: `idelta(mem_bytes[5m])`},
		{q: `rate(mixed_total[5m])`, toEngine: true},
		{q: `irate(late_total[5m])`, toEngine: true},
	} {
		t.Run(tc.q, func(t *testing.T) {
			expr, err := parser.ParseExpr(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			p := directOf(expr)
			if p == nil {
				t.Fatal("not taken by direct")
			}
			for _, step := range []time.Duration{15 * time.Second, time.Minute, 7 * time.Minute, time.Hour} {
				r := newRun(db, qStart, qEnd, step, 1)
				defer r.close() // before the TSDB closes, which waits for its queriers
				toEngine := 0
				for j := range shards {
					d := &directQuery{p: p, lookback: 5 * time.Minute, expr: tc.q, q: r.shard(j, shards), start: r.start, end: r.end, step: r.step, maxSamples: 10_000_000,
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
			// An instant query is one step: at a sample, between samples,
			// where the histograms are, and where there is nothing.
			for _, at := range []time.Time{qStart.Add(90 * time.Minute), qStart.Add(100*time.Minute + 7*time.Second), qStart.Add(3 * time.Hour), qEnd.Add(time.Hour)} {
				r := newRun(db, at, at, 0, 1)
				defer r.close()
				toEngine := 0
				for j := range shards {
					d := &directQuery{p: p, lookback: 5 * time.Minute, expr: tc.q, q: r.shard(j, shards), start: r.start, end: r.end, maxSamples: 10_000_000,
						engine: func() (promql.Query, error) {
							return eng.NewInstantQuery(context.Background(), r.shard(j, shards), nil, tc.q, at)
						}}
					got := exec(t, func() (promql.Query, error) { return d, nil })
					if d.fallback != nil {
						toEngine++
					}
					want := exec(t, func() (promql.Query, error) {
						return eng.NewInstantQuery(context.Background(), r.shard(j, shards), nil, tc.q, at)
					})
					sameBits(t, got, want)
				}
				if toEngine > 0 && !tc.toEngine {
					t.Fatalf("at %v: %d shards left to the engine", at, toEngine)
				}
			}
		})
	}

	for _, q := range []string{
		`sum(rate(mem_bytes[5m]))`, // the engine annotates: not a counter's name
		`sum(rate(req_total[5m] offset 1m))`,
		`sum(rate(req_total[5m] @ 100))`,
		`sum(deriv(req_total[5m]))`,
		`max(rate(req_total[5m]))`,
		`sum(rate(req_total[5m]) * 2)`,
		`sum(mem_bytes offset 5m)`,
		`sum(mem_bytes @ 100)`,
		`rate(mem_bytes[5m])`,
		`deriv(req_total[5m])`,
		`mem_bytes`,
		`rate(req_total[5m] offset 1m)`,
	} {
		expr, err := parser.ParseExpr(q)
		if err != nil {
			t.Fatal(err)
		}
		if directOf(expr) != nil {
			t.Errorf("%s is taken by direct", q)
		}
	}
}

// TestDirectReadsBlockRuns: direct reads a block's float samples a run at
// a time (colblock's Floats) where it can, and its results equal the
// engine's, which reads them one at a time, to the bit, at steps and
// ranges that start and end runs anywhere and skip over some.
func TestDirectReadsBlockRuns(t *testing.T) {
	db, start := testDB(t)
	rs := colblock.NewReaders()
	b := db.Blocks()[0]
	block := storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) {
		return rs.BlockQuerier(b, mint, maxt)
	})
	q, err := block.Querier(b.MinTime(), b.MaxTime())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "req_total"))
	if !set.Next() {
		t.Fatal("no series in the block")
	}
	if _, ok := set.At().Iterator(nil).(colblock.FloatRuns); !ok {
		t.Fatal("the block's series iterators hand over no runs: the test would read samples one at a time")
	}

	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 10_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	qStart, qEnd := start.Add(-7*time.Minute), start.Add(40*time.Minute)
	for _, query := range []string{
		`sum by (job) (rate(req_total[5m]))`,
		`sum(increase(req_total[47s]))`,
		`sum by (instance) (irate(req_total[1m]))`,
		`sum by (job) (mem_bytes)`,
	} {
		expr, err := parser.ParseExpr(query)
		if err != nil {
			t.Fatal(err)
		}
		p := directOf(expr)
		for _, step := range []time.Duration{15 * time.Second, 37 * time.Second, 11 * time.Minute} {
			r := newRun(block, qStart, qEnd, step, 1)
			defer r.close() // before the TSDB closes, which waits for its queriers
			d := &directQuery{p: p, lookback: 5 * time.Minute, expr: query, q: r.shard(0, 1), start: r.start, end: r.end, step: r.step, maxSamples: 10_000_000,
				engine: func() (promql.Query, error) { return nil, errors.New("left to the engine") }}
			got := exec(t, func() (promql.Query, error) { return d, nil })
			want := exec(t, func() (promql.Query, error) {
				return eng.NewRangeQuery(context.Background(), r.shard(0, 1), nil, query, qStart, qEnd, step)
			})
			if len(want) == 0 {
				t.Fatalf("%s at %v: no result", query, step)
			}
			sameBits(t, got, want)
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
			gf, wf := g.Floats[j].F, w.Floats[j].F
			if g.Floats[j].T != w.Floats[j].T || (math.Float64bits(gf) != math.Float64bits(wf) && !(math.IsNaN(gf) && math.IsNaN(wf))) {
				t.Fatalf("%s: point %d is %v, want %v", w.Metric, j, g.Floats[j], w.Floats[j])
			}
		}
	}
}

// FuzzDirectLikeTheEngine: on counters made of the input (any float,
// stale markers, resets, uneven times) and any range and step, direct's
// sum by (job) of rate, increase, irate and idelta, and of the series'
// own values under any lookback, equal the engine's to the bit.
func FuzzDirectLikeTheEngine(f *testing.F) {
	f.Add([]byte("\x05\x3c\x10\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"), uint16(300), uint16(60), uint8(0))
	f.Add([]byte("\x00\x01\xff\x80\x7f\x00\x00\x00\x00\x00\x00\xf0\x7f\x11\x22\x33"), uint16(15), uint16(7), uint8(1))
	f.Add([]byte("\x05\x3c\x10\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"), uint16(120), uint16(30), uint8(2))
	f.Add([]byte("\x00\x01\xff\x80\x7f\x00\x00\x00\x00\x00\x00\xf0\x7f\x11\x22\x33"), uint16(60), uint16(61), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, rangeSec, stepSec uint16, fnIndex uint8) {
		if rangeSec == 0 || stepSec == 0 || len(data) > 4096 {
			return
		}
		// Each sample takes 3 bytes: the series (of 4), the time since
		// the series' last sample (s), and the value's change, of which
		// some mean a reset, a stale marker, NaN or infinity.
		var series [4]promql.Series
		var last [4]int64
		var v [4]float64
		for i := 0; i+3 <= len(data); i += 3 {
			s := data[i] % 4
			last[s] += int64(data[i+1]%120+1) * 1000
			f := v[s]
			switch d := data[i+2]; {
			case d < 8:
				f = math.Float64frombits(value.StaleNaN)
			case d < 12:
				v[s], f = 0, 0
			case d == 12:
				f = math.NaN()
			case d == 13:
				f = math.Inf(1)
			case d == 14:
				f = -float64(d)
			case d == 15:
				f = math.Copysign(0, -1) // a reset to -0, which irate and idelta keep
			default:
				v[s] += float64(d) / 7
				f = v[s]
			}
			series[s].Floats = append(series[s].Floats, promql.FPoint{T: last[s], F: f})
		}
		var list []storage.Series
		for s := range series {
			if len(series[s].Floats) > 0 {
				series[s].Metric = labels.FromStrings("__name__", "x_total", "job", []string{"a", "b"}[s%2], "s", string(rune('0'+s)))
				list = append(list, promql.NewStorageSeries(series[s]))
			}
		}
		fn := []string{"rate", "increase", "irate", "idelta", ""}[fnIndex%5]
		if rangeSec%900 == 0 {
			return
		}
		q := fmt.Sprintf("sum by (job) (%s(x_total[%ds]))", fn, rangeSec%900)
		lookback := time.Duration(rangeSec%900) * time.Second // for the selector's values
		if fn == "" {
			q = "sum by (job) (x_total)"
		}
		start, end, step := time.UnixMilli(0), time.UnixMilli(130*1000*120), time.Duration(stepSec%1800+1)*time.Second
		// And an instant query, at a time within the data's hours; and
		// the function's own result, series by series.
		at := time.UnixMilli(int64(stepSec) * 240)
		queries := []string{q}
		if fn != "" {
			queries = append(queries, fmt.Sprintf("%s(x_total[%ds])", fn, rangeSec%900))
		}
		for _, q := range queries {
			directLikeTheEngine(t, list, q, lookback, start, end, step)
			directLikeTheEngine(t, list, q, lookback, at, at, 0)
		}
	})
}

// directLikeTheEngine evaluates q over list with direct and with the
// engine, from start to end at step (0 for an instant query at start),
// and wants the same bits.
func directLikeTheEngine(t *testing.T, list []storage.Series, q string, lookback time.Duration, start, end time.Time, step time.Duration) {
	t.Helper()
	expr, err := parser.ParseExpr(q)
	if err != nil {
		t.Fatal(err)
	}
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 10_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	r := newRun(listQueryable(list), start, end, step, 1)
	defer r.close()
	d := &directQuery{p: directOf(expr), lookback: lookback, expr: q, q: r.shard(0, 1), start: r.start, end: r.end, step: r.step, maxSamples: 10_000_000,
		engine: func() (promql.Query, error) { t.Fatal("left to the engine"); return nil, nil }}
	got := exec(t, func() (promql.Query, error) { return d, nil })
	want := exec(t, func() (promql.Query, error) {
		opts := promql.NewPrometheusQueryOpts(false, lookback)
		if step == 0 {
			return eng.NewInstantQuery(context.Background(), r.shard(0, 1), opts, q, start)
		}
		return eng.NewRangeQuery(context.Background(), r.shard(0, 1), opts, q, start, end, step)
	})
	sameBits(t, got, want)
}

// TestRateOfWindows: rateOf keeps what it computed from one window's
// times for the next. Windows whose first and last samples lie where the
// last window's did, with more samples between them or a start bounded
// by the counter's zero, are computed again, as the engine computes them.
func TestRateOfWindows(t *testing.T) {
	series := func(i int, f ...float64) storage.Series {
		s := promql.Series{Metric: labels.FromStrings("__name__", "x_total", "s", strconv.Itoa(i))}
		for j, v := range f {
			s.Floats = append(s.Floats, promql.FPoint{T: int64(j) * 60_000 / int64(len(f)-1), F: v})
		}
		return promql.NewStorageSeries(s)
	}
	list := []storage.Series{
		series(0, 100, 160, 220),           // first and last at 0 and 60 s
		series(1, 100, 110, 130, 160, 220), // more samples between them
		series(2, 5, 110, 130, 160, 220),   // close to zero
		series(3, 100, 160, 220),
	}
	for _, q := range []string{`sum(rate(x_total[100s]))`, `sum(increase(x_total[100s]))`} {
		directLikeTheEngine(t, list, q, 5*time.Minute, time.UnixMilli(80_000), time.UnixMilli(80_000), 0)
		directLikeTheEngine(t, list, q, 5*time.Minute, time.UnixMilli(0), time.UnixMilli(120_000), 15*time.Second)
	}
}

// listQueryable holds series in memory and selects by their labels.
type listQueryable []storage.Series

func (l listQueryable) Querier(int64, int64) (storage.Querier, error) { return l, nil }

func (l listQueryable) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	var out []storage.Series
	for _, s := range l {
		if matchAll(s.Labels(), ms) {
			out = append(out, s)
		}
	}
	return &listSet{series: out}
}

func matchAll(ls labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

func (listQueryable) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (listQueryable) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (listQueryable) Close() error { return nil }

// BenchmarkDirect: range queries of the parts direct takes, over the test
// data's blocks and head, split into shards and evaluated by the engine
// (direct off) or by direct; ns/op is what to compare.
func BenchmarkDirect(b *testing.B) {
	db, start := testDB(b)
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 10_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	for _, q := range []string{
		`sum by (job) (rate(req_total[5m]))`,
		`sum by (job) (irate(req_total[5m]))`,
		`sum by (job) (mem_bytes)`,
		`rate(req_total[5m])`, // a whole query, series by series
	} {
		for _, path := range []string{"engine", "direct"} {
			b.Run(q+"/"+path, func(b *testing.B) {
				sharded := Engine{QueryEngine: eng, Shards: 2, Parallel: 1, LookbackDelta: 5 * time.Minute}
				if path == "direct" {
					sharded.MaxSamples = 10_000_000
				}
				for b.Loop() {
					qry, err := sharded.NewRangeQuery(context.Background(), db, nil, q, start, start.Add(2*time.Hour), 15*time.Second)
					if err != nil {
						b.Fatal(err)
					}
					if res := qry.Exec(context.Background()); res.Err != nil {
						b.Fatal(res.Err)
					}
					qry.Close()
				}
			})
		}
	}
}

// BenchmarkRateOf: rate of a 5-minute window of a counter scraped every
// minute, a call per step; "steady" at the same place in every window,
// as a series scraped at a steady interval is, "moving" elsewhere in each,
// which computes everything every time.
func BenchmarkRateOf(b *testing.B) {
	windows := func(jitter int64) [][]promql.FPoint {
		var out [][]promql.FPoint
		for k := range int64(64) {
			var w []promql.FPoint
			for j := range int64(5) {
				t := (k+j)*60_000 + 7_000 + (k%2)*jitter
				w = append(w, promql.FPoint{T: t, F: float64(1000 + t/100)})
			}
			out = append(out, w)
		}
		return out
	}
	for name, jitter := range map[string]int64{"steady": 0, "moving": 3_000} {
		b.Run(name, func(b *testing.B) {
			ws := windows(jitter)
			r := rateOf{isRate: true, rangeSeconds: 300}
			var sum float64
			for i := 0; b.Loop(); i++ {
				k := int64(i % len(ws))
				sum += r.of(ws[k], (k+5)*60_000-300_000, (k+5)*60_000)
			}
			if sum <= 0 {
				b.Fatal("no rate")
			}
		})
	}
}

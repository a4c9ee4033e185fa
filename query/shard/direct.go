package shard

import (
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/schema"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/stats"

	"github.com/sightline-dev/sightline/storage/colblock"
)

// A dashboard's range queries are mostly sum by (…) (rate(x[5m])) (or
// irate), and histogram_quantile over one. Prometheus' engine spends most
// of such a query's CPU moving each sample through its
// BufferedSeriesIterator and ring buffer, once a step, and in a function
// call a step: over a day it was 2.6 times VictoriaMetrics' time. direct
// evaluates that part itself, a series at a time, in one pass over its
// samples, with the engine's arithmetic (rateOf or
// instantValue, and the sum's Kahan-Neumaier addition in the engine's
// order of series), so that its result is the engine's to the bit. It
// takes only floats without warnings: at the first histogram sample,
// warning or error it hands the part to the engine, which gives its
// answer, annotation or error as Prometheus does.

// directPart is a part that direct evaluates: sum by|without (grouping)
// (fn(selector[rng])) for fn rate, increase, irate or idelta, or of the
// selector itself; or a whole query fn(selector[rng]), each series its
// own group. The selector has no offset, @, anchored or smoothed
// modifier, and for rate and increase a metric name that the engine
// accepts without an annotation.
type directPart struct {
	grouping  []string // sorted, as the engine sorts them
	without   bool
	perSeries bool          // a whole query: each series is its own group, labelled as the engine labels fn's result
	fn        string        // "" for the selector's own values
	rng       time.Duration // of fn's range; the lookback's for the selector
	matchers  []*labels.Matcher
}

// directOf returns the part e, an aggregation or a whole query, as a
// directPart, or nil.
func directOf(e parser.Expr) *directPart {
	d := &directPart{}
	if agg, ok := e.(*parser.AggregateExpr); ok {
		if agg.Op != parser.SUM || agg.Param != nil {
			return nil
		}
		e = agg.Expr
		d.grouping, d.without = slices.Sorted(slices.Values(agg.Grouping)), agg.Without
	} else {
		d.perSeries = true
	}
	e = unparen(e)
	vs, ok := e.(*parser.VectorSelector)
	if call, isCall := e.(*parser.Call); isCall && len(call.Args) == 1 {
		switch call.Func.Name {
		case "rate", "increase", "irate", "idelta":
			if ms, isMatrix := call.Args[0].(*parser.MatrixSelector); isMatrix {
				vs, ok = ms.VectorSelector.(*parser.VectorSelector)
				d.fn, d.rng = call.Func.Name, ms.Range
			}
		}
	}
	if !ok || !plain(vs) || (d.perSeries && d.fn == "") {
		return nil
	}
	if (d.fn == "rate" || d.fn == "increase") && !counterName(vs) {
		return nil // the engine annotates the result: "might not be a counter"
	}
	d.matchers = vs.LabelMatchers
	return d
}

// plain says whether vs has no offset, @, anchored or smoothed modifier.
func plain(vs *parser.VectorSelector) bool {
	return vs.OriginalOffset == 0 && vs.Offset == 0 && vs.Timestamp == nil && vs.StartOrEnd == 0 && !vs.Anchored && !vs.Smoothed
}

// counterName says whether the selector's metric name (oneMetric made sure
// it has one) ends as the engine wants a counter's to.
func counterName(vs *parser.VectorSelector) bool {
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			for _, s := range []string{"_total", "_sum", "_count", "_bucket"} {
				if strings.HasSuffix(m.Value, s) {
					return true
				}
			}
		}
	}
	return false
}

// errToEngine says that the engine must evaluate the part.
var errToEngine = errors.New("shard: left to the engine")

// directQuery is one shard's evaluation of a directPart, as a promql.Query
// whose Exec falls back on the engine's query of the part.
type directQuery struct {
	p          *directPart
	lookback   time.Duration // the query's, for a selector's values
	expr       string
	q          storage.Queryable // the shard's
	start, end int64             // of the query, ms
	step       int64             // ms; 0 for an instant query at start
	maxSamples int
	engine     func() (promql.Query, error) // the engine's query of the part
	fallback   promql.Query                 // once made
}

func (d *directQuery) Exec(ctx context.Context) *promql.Result {
	m, err := d.eval(ctx)
	if !errors.Is(err, errToEngine) {
		if err == nil && d.step == 0 {
			return &promql.Result{Value: vectorOf(m)}
		}
		return &promql.Result{Value: m, Err: err}
	}
	if d.fallback, err = d.engine(); err != nil {
		return &promql.Result{Err: err}
	}
	return d.fallback.Exec(ctx)
}

func (d *directQuery) Close() {
	if d.fallback != nil {
		d.fallback.Close()
	}
}

func (*directQuery) Statement() parser.Statement { return nil }
func (*directQuery) Stats() *stats.Statistics    { return nil }
func (*directQuery) Cancel()                     {} // Exec's context cancels it
func (d *directQuery) String() string            { return d.expr }

// group is one output series: the sum of each step, as the engine's
// groupedAggregation adds it.
type group struct {
	metric labels.Labels
	sum, c []float64 // by step: the sum and its Kahan-Neumaier compensation
	seen   []bool
	n      int // steps seen
	// A series' own group (perSeries) has one value a step, final when
	// computed: its points, without sum, c and seen.
	points []promql.FPoint
}

func (d *directQuery) eval(ctx context.Context) (promql.Matrix, error) {
	// The range and hints of the engine's Select, so that the evaluation
	// shares the run's querier with the others and reads what they read.
	step := max(d.step, 1) // an instant query is one step
	rng := d.p.rng.Milliseconds()
	hints := &storage.SelectHints{
		Start: d.start - rng + 1, End: d.end, Step: d.step, Range: rng,
		Func: d.p.fn, By: !d.p.without, Grouping: d.p.grouping,
	}
	if d.p.fn == "" {
		rng = d.lookback.Milliseconds() // a step's value is its last sample in the lookback
		hints.Start, hints.Range, hints.Func = d.start-rng+1, 0, "sum"
	}
	querier, err := d.q.Querier(hints.Start, hints.End)
	if err != nil {
		return nil, errToEngine
	}
	// Each series is evaluated as the set reaches it, while what the set
	// read of it is in the cache; the set's error and warnings, known
	// at its end, send the part to the engine, which words them as
	// Prometheus does.
	// An aggregation keeps nothing of a series past it but its group's
	// labels, copied: its set may reuse the memory of each series for the
	// next (colblock.ReadOnce). A series' own group keeps its labels.
	selectCtx := ctx
	if !d.p.perSeries {
		selectCtx = colblock.ReadOnce(ctx)
	}
	set := querier.Select(selectCtx, false, hints, d.p.matchers...)
	steps := int((d.end-d.start)/step) + 1
	var (
		groups  []*group
		byKey   = map[uint64]*group{}
		buf     = make([]byte, 0, 1024)
		lb      = labels.NewBuilder(labels.EmptyLabels())
		window  []promql.FPoint
		it      chunkenc.Iterator
		cur     floatCursor
		points  int             // that the engine would hold: the rate's and the sum's
		scratch []promql.FPoint // a perSeries group's points, as they are computed
		rate    = rateOf{isRate: d.p.fn == "rate", rangeSeconds: d.p.rng.Seconds()}
	)
	for i := 0; set.Next(); i++ {
		s := set.At()
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, contextErr(err)
			}
		}
		// As the engine labels fn's result (without the metric name
		// and type), or the sum's input (the series' own labels).
		metric := s.Labels()
		if d.p.fn != "" {
			metric = metric.DropReserved(schema.IsMetadataLabel)
		}
		var key uint64
		var g *group
		if !d.p.perSeries {
			switch {
			case d.p.without:
				key, buf = metric.HashWithoutLabels(buf, d.p.grouping...)
			case len(d.p.grouping) > 0:
				key, buf = metric.HashForLabels(buf, d.p.grouping...)
			}
			g = byKey[key]
		}
		if g == nil {
			g = &group{}
			if !d.p.perSeries {
				sums := make([]float64, 2*steps)
				g.sum, g.c, g.seen = sums[:steps], sums[steps:], make([]bool, steps)
			}
			switch {
			case d.p.perSeries:
				g.metric = metric
			case d.p.without:
				lb.Reset(metric)
				lb.Del(d.p.grouping...)
				lb.Del(labels.MetricName)
				g.metric = lb.Labels()
			default:
				lb.Reset(metric)
				lb.Keep(d.p.grouping...)
				g.metric = lb.Labels()
			}
			if !d.p.perSeries && g.metric.Len() == metric.Len() {
				// The builder left out no label and handed back
				// metric itself, whose memory is the set's.
				g.metric = g.metric.Copy()
			}
			if !d.p.perSeries {
				byKey[key] = g
			}
			groups = append(groups, g)
			if points += steps; points > d.maxSamples {
				return nil, errToEngine // which refuses the query, or holds less
			}
		}

		it = s.Iterator(it)
		cur.reset(it)
		window = window[:0]
		for k := 0; k < steps; k++ {
			ts := d.start + int64(k)*step
			mint := ts - rng
			drop := 0
			for drop < len(window) && window[drop].T <= mint {
				drop++
			}
			if drop > 0 {
				window = append(window[:0], window[drop:]...)
			}
			if len(window) == 0 {
				// A day-long dashboard over a series of an hour has
				// nothing at most steps: go on at the next sample's.
				t, _, ok := cur.peek()
				if !ok {
					break
				}
				if t > ts {
					k = int((t-d.start+step-1)/step) - 1
					continue
				} else if t <= mint {
					cur.seek(mint + 1)
				}
			}
			for {
				t, f, ok := cur.peek()
				if !ok || t > ts {
					break
				}
				cur.j++
				// A selector's value is its last sample, none if that is
				// a staleness marker; the functions leave markers out.
				if t > mint && (d.p.fn == "" || !value.IsStaleNaN(f)) {
					window = append(window, promql.FPoint{T: t, F: f})
				}
			}
			if cur.notFloat {
				return nil, errToEngine
			}
			var v float64
			switch last := len(window) - 1; {
			case d.p.fn == "":
				if last < 0 || value.IsStaleNaN(window[last].F) {
					continue
				}
				v = window[last].F
			case last < 1:
				continue
			case d.p.fn == "rate" || d.p.fn == "increase":
				v = rate.of(window, mint, ts)
			default:
				v = instantValue(window[last-1], window[last], d.p.fn == "irate")
			}
			points++
			switch {
			case d.p.perSeries:
				scratch = append(scratch, promql.FPoint{T: ts, F: v})
			case !g.seen[k]:
				g.sum[k], g.seen[k] = v, true // c[k] is still 0
				g.n++
			default:
				g.sum[k], g.c[k] = kahanSumInc(v, g.sum[k], g.c[k])
			}
		}
		if cur.notFloat || it.Err() != nil || points > d.maxSamples {
			// A histogram sample met where the window was empty, or the
			// engine's error.
			return nil, errToEngine
		}
		if len(scratch) > 0 {
			g.points, scratch = slices.Clone(scratch), scratch[:0] // in one allocation of its size
		}
	}

	if set.Err() != nil || len(set.Warnings()) > 0 {
		return nil, errToEngine
	}

	m := make(promql.Matrix, 0, len(groups))
	for _, g := range groups {
		if len(g.points) > 0 {
			m = append(m, promql.Series{Metric: g.metric, Floats: g.points})
		}
		if g.n == 0 {
			continue
		}
		s := promql.Series{Metric: g.metric, Floats: make([]promql.FPoint, 0, g.n)}
		for k, seen := range g.seen {
			if seen {
				s.Floats = append(s.Floats, promql.FPoint{T: d.start + int64(k)*step, F: g.sum[k] + g.c[k]})
			}
		}
		m = append(m, s)
	}
	sort.Sort(m)
	return m, nil
}

// vectorOf is an instant query's result m, which has a point a series.
func vectorOf(m promql.Matrix) promql.Vector {
	v := make(promql.Vector, 0, len(m))
	for _, s := range m {
		v = append(v, promql.Sample{Metric: s.Metric, T: s.Floats[0].T, F: s.Floats[0].F})
	}
	return v
}

// floatCursor reads a series' float samples: a run at a time from an
// iterator that hands them over (colblock's, through the store's merge of
// blocks; the profile of a long-range rate() had a fifth of its time in
// calls a sample), else one at a time.
type floatCursor struct {
	it       chunkenc.Iterator
	floats   colblock.FloatRuns // it, if it has runs
	ts       []int64            // the run: the sample it is at, and before it
	vs       []float64
	j        int  // the sample read next, in the run
	done     bool // after the last sample
	notFloat bool // the iterator is at a histogram sample
	one      [1]int64
	onev     [1]float64
}

func (c *floatCursor) reset(it chunkenc.Iterator) {
	*c = floatCursor{it: it}
	c.floats, _ = it.(colblock.FloatRuns)
}

// peek returns the next sample and leaves it next; ok is false after the
// last float sample, and at a histogram sample, which notFloat says.
func (c *floatCursor) peek() (t int64, f float64, ok bool) {
	if c.j < len(c.ts) {
		return c.ts[c.j], c.vs[c.j], true
	}
	return c.fill()
}

// fill reads the next run, or the next sample.
func (c *floatCursor) fill() (int64, float64, bool) {
	if c.done || c.notFloat {
		return 0, 0, false
	}
	if c.floats != nil && len(c.ts) > 0 { // the iterator is at the run's last sample
		if c.ts, c.vs = c.floats.Floats(); len(c.ts) > 0 {
			c.j = 0
			return c.ts[0], c.vs[0], true
		}
	}
	return c.read(c.it.Next())
}

// read makes the sample the iterator is at, of type vt, the run.
func (c *floatCursor) read(vt chunkenc.ValueType) (int64, float64, bool) {
	c.ts, c.vs, c.j = nil, nil, 0
	switch vt {
	case chunkenc.ValNone:
		c.done = true
		return 0, 0, false
	case chunkenc.ValFloat:
		c.one[0], c.onev[0] = c.it.At()
		c.ts, c.vs = c.one[:], c.onev[:]
		return c.ts[0], c.vs[0], true
	}
	c.notFloat = true
	return 0, 0, false
}

// seek moves to the first sample at or after t, which is after the
// samples read.
func (c *floatCursor) seek(t int64) {
	switch n := len(c.ts); {
	case c.j < n && c.ts[n-1] >= t:
		c.j += sort.Search(n-c.j, func(i int) bool { return c.ts[c.j+i] >= t })
	case !c.done && !c.notFloat:
		c.read(c.it.Seek(t)) // from the run's last sample, before t
	}
}

// rateOf computes the engine's rate (isRate) or increase of a counter's
// float samples in (rangeStart, rangeEnd], at least two: its steps in its
// order, so that it gives the engine's result to the bit.
//
// Most of that is divisions of the window's times, one after the other:
// they took three quarters of the time of the function, itself a seventh of a
// 1-hour sum by (job, code) (rate(...)). A series scraped at a steady
// interval has the same times relative to the window at every step, so
// rateOf keeps what it computed from them for the last window and
// computes it again only when they change.
type rateOf struct {
	isRate       bool
	rangeSeconds float64

	window [4]int64 // of the last computation: its first and last sample's distances from the range's start and end, their distance, the samples - 1
	valid  bool
	// From the times alone: the durations the engine extrapolates by
	// (before the start is bounded by a counter's zero), the sampled
	// interval, and the factor the result is multiplied by.
	durationToStart, durationToEnd, sampledInterval, factor float64
}

func (r *rateOf) of(samples []promql.FPoint, rangeStart, rangeEnd int64) float64 {
	n := len(samples) - 1
	firstT, lastT := samples[0].T, samples[n].T
	result := samples[n].F - samples[0].F
	prev := samples[0].F
	for _, p := range samples[1:] {
		if p.F < prev { // a counter reset
			result += prev
		}
		prev = p.F
	}
	if w := [4]int64{firstT - rangeStart, rangeEnd - lastT, lastT - firstT, int64(n)}; !r.valid || w != r.window {
		r.window, r.valid = w, true
		r.durationToStart = float64(firstT-rangeStart) / 1000
		r.durationToEnd = float64(rangeEnd-lastT) / 1000
		r.sampledInterval = float64(lastT-firstT) / 1000
		averageDurationBetweenSamples := r.sampledInterval / float64(n)
		extrapolationThreshold := averageDurationBetweenSamples * 1.1
		if r.durationToStart >= extrapolationThreshold {
			r.durationToStart = averageDurationBetweenSamples / 2
		}
		if r.durationToEnd >= extrapolationThreshold {
			r.durationToEnd = averageDurationBetweenSamples / 2
		}
		r.factor = r.factorOf(r.durationToStart)
	}
	// A counter is not extrapolated below zero.
	factor := r.factor
	if result > 0 && samples[0].F >= 0 {
		if durationToZero := r.sampledInterval * (samples[0].F / result); durationToZero < r.durationToStart {
			factor = r.factorOf(durationToZero)
		}
	}
	return result * factor
}

func (r *rateOf) factorOf(durationToStart float64) float64 {
	factor := (r.sampledInterval + durationToStart + r.durationToEnd) / r.sampledInterval
	if r.isRate {
		factor /= r.rangeSeconds
	}
	return factor
}

// instantValue is the engine's irate (isRate) or idelta of a series'
// last two float samples, a and b.
func instantValue(a, b promql.FPoint, isRate bool) float64 {
	v := b.F // a counter's reset
	if !isRate || !(b.F < a.F) {
		v = b.F - a.F
	}
	if isRate {
		v /= float64(b.T-a.T) / 1000
	}
	return v
}

// kahanSumInc is the engine's: it adds inc to sum with compensation c.
func kahanSumInc(inc, sum, c float64) (newSum, newC float64) {
	t := sum + inc
	switch {
	case math.IsInf(t, 0):
		c = 0
	case math.Abs(sum) >= math.Abs(inc):
		c += (sum - t) + inc
	default:
		c += (inc - t) + sum
	}
	return t, c
}

// contextErr is the engine's error for a done context.
func contextErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return promql.ErrQueryTimeout("expression evaluation")
	}
	return promql.ErrQueryCanceled("expression evaluation")
}

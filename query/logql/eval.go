package logql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// EvalOptions bounds the work of one metric query evaluation.
type EvalOptions struct {
	// MaxSeries is the most series any stage of the evaluation may hold:
	// the series of a range aggregation (one per distinct label set after
	// the pipeline, so `| json` can multiply them), of an aggregation, of a
	// binary operation and of the result. 0 means no limit.
	MaxSeries int
	// MaxSteps is the most evaluation steps, (end-start)/step+1, that is
	// points per series; Loki and Prometheus refuse more than 11,000. 0
	// means no limit.
	MaxSteps int
	// Count, when set, is used instead of the FetchFunc for the range
	// aggregations whose result does not depend on lines: those summed by
	// labels (or into one series) whose pipeline only drops or keeps
	// labels, filters label strings and decolorizes. Such a query (Grafana's log volume, rates by
	// service) then reads no lines, and gets the same result.
	Count CountFunc
}

// DefaultEvalOptions returns the limits Eval uses: 10,000 series, 11,000
// steps.
func DefaultEvalOptions() EvalOptions {
	return EvalOptions{MaxSeries: 10000, MaxSteps: 11000}
}

// ctxCheckInterval is how many entries or steps pass between checks of the
// context, so that a cancelled query stops quickly without paying for a
// check per entry.
const ctxCheckInterval = 1024

// Eval evaluates a range metric query at every step from start to end (inclusive),
// like Loki's query_range; for an instant query start == end and step is ignored.
// Results are Prometheus types so the HTTP layer can render Loki's "matrix"/"vector" JSON.
func (m *MetricQuery) Eval(ctx context.Context, start, end time.Time, step time.Duration, fetch FetchFunc) (promql.Matrix, error) {
	return m.EvalWithOptions(ctx, start, end, step, fetch, DefaultEvalOptions())
}

// EvalWithOptions is Eval with explicit limits. Point timestamps are the
// step times in milliseconds; series are sorted by labels and a series has
// no point at steps where it has no value (no zero filling). Errors are
// *LimitError, *PipelineError, the context's error, fetch's errors and
// errors of the binary operations' vector matching.
func (m *MetricQuery) EvalWithOptions(ctx context.Context, start, end time.Time, step time.Duration, fetch FetchFunc, opts EvalOptions) (promql.Matrix, error) {
	if end.Before(start) {
		return nil, fmt.Errorf("invalid time range: end %s is before start %s", end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
	}
	steps := 1
	if !end.Equal(start) {
		if step <= 0 {
			return nil, fmt.Errorf("invalid step %s: must be positive for a range query", step)
		}
		n := end.Sub(start) / step
		if opts.MaxSteps > 0 && n >= time.Duration(opts.MaxSteps) {
			return nil, newStepsLimitError(int(min(n+1, math.MaxInt32)), opts.MaxSteps)
		}
		steps = int(n) + 1
	} else {
		step = time.Nanosecond // only step 0 exists; any positive step works
	}
	ev := &evaluator{ctx: ctx, fetch: fetch, opts: opts, start: start, step: step, steps: steps}
	v, err := ev.eval(m.Expr)
	if err != nil {
		return nil, err
	}
	if v.isScalar {
		v.series = []*series{ev.scalarSeries(v.scalar)}
	}
	out := make(promql.Matrix, 0, len(v.series))
	for _, s := range v.series {
		if len(s.points) == 0 {
			continue
		}
		fp := make([]promql.FPoint, len(s.points))
		for i, p := range s.points {
			fp[i] = promql.FPoint{T: ev.stepTime(p.k).UnixMilli(), F: p.v}
		}
		out = append(out, promql.Series{Metric: s.lbls, Floats: fp})
	}
	if opts.MaxSeries > 0 && len(out) > opts.MaxSeries {
		return nil, newSeriesLimitError(opts.MaxSeries)
	}
	sort.SliceStable(out, func(i, j int) bool { return labels.Compare(out[i].Metric, out[j].Metric) < 0 })
	if a, ok := m.Expr.(*VectorAggregation); ok && steps == 1 && (a.Op == OpSort || a.Op == OpSortDesc) {
		sortByValue(out, a.Op == OpSortDesc)
	}
	return out, nil
}

type evaluator struct {
	ctx   context.Context
	fetch FetchFunc
	opts  EvalOptions
	start time.Time
	step  time.Duration
	steps int
}

// point is a value at step k.
type point struct {
	k int
	v float64
}

type series struct {
	lbls   labels.Labels
	points []point // ascending k
}

// value is the result of a node: a scalar (number literals and arithmetic
// between them) or a set of series.
type value struct {
	isScalar bool
	scalar   float64
	series   []*series
}

func (ev *evaluator) stepTime(k int) time.Time { return ev.start.Add(time.Duration(k) * ev.step) }

func (ev *evaluator) scalarSeries(v float64) *series {
	s := &series{lbls: labels.EmptyLabels(), points: make([]point, ev.steps)}
	for k := range s.points {
		s.points[k] = point{k: k, v: v}
	}
	return s
}

func (ev *evaluator) eval(e SampleExpr) (value, error) {
	switch e := e.(type) {
	case *NumberLiteral:
		return value{isScalar: true, scalar: e.Value}, nil
	case *RangeAggregation:
		var ss []*series
		var err error
		switch {
		case e.Op == OpAbsentOverTime:
			ss, err = ev.evalAbsent(e)
		case e.Unwrap != nil:
			ss, err = ev.evalUnwrapRange(e, nil, false)
		default:
			ss, err = ev.evalRange(e, nil, false)
		}
		return value{series: ss}, err
	case *LabelReplace:
		return ev.evalLabelReplace(e)
	case *Vector:
		return value{series: []*series{ev.scalarSeries(e.Value)}}, nil
	case *VectorAggregation:
		return ev.evalVectorAggregation(e)
	case *BinaryOp:
		return ev.evalBinary(e)
	}
	panic(fmt.Sprintf("BUG: unknown metric expression %T", e))
}

// seriesSet collects series by label set and enforces MaxSeries.
type seriesSet struct {
	max    int
	byHash map[uint64][]int
	list   []*series
}

func newSeriesSet(max int) *seriesSet {
	return &seriesSet{max: max, byHash: map[uint64][]int{}}
}

func (ss *seriesSet) get(lbls labels.Labels) (int, error) {
	h := lbls.Hash()
	for _, i := range ss.byHash[h] {
		if labels.Equal(ss.list[i].lbls, lbls) {
			return i, nil
		}
	}
	if ss.max > 0 && len(ss.list) >= ss.max {
		return 0, newSeriesLimitError(ss.max)
	}
	ss.list = append(ss.list, &series{lbls: lbls})
	ss.byHash[h] = append(ss.byHash[h], len(ss.list)-1)
	return len(ss.list) - 1, nil
}

// add appends a point; a second point at the same step means two results
// share a label set, which PromQL refuses too.
func (ss *seriesSet) add(i, k int, v float64) error {
	s := ss.list[i]
	if n := len(s.points); n > 0 && s.points[n-1].k == k {
		return fmt.Errorf("vector cannot contain metrics with the same labelset %s", s.lbls)
	}
	s.points = append(s.points, point{k: k, v: v})
	return nil
}

// windowEvent is a change of a range series' count and bytes at step k:
// an entry enters the window at one step and leaves it at a later one.
type windowEvent struct {
	k     int
	count int64
	bytes int64
}

type rangeSeries struct {
	lbls          labels.Labels
	enter, leave  []windowEvent
	enterUnsorted bool
	leaveUnsorted bool
}

func addEvent(evs []windowEvent, unsorted *bool, k int, count, bytes int64) []windowEvent {
	if n := len(evs); n > 0 {
		last := &evs[n-1]
		if last.k == k {
			last.count += count
			last.bytes += bytes
			return evs
		}
		if last.k > k {
			*unsorted = true
		}
	}
	return append(evs, windowEvent{k: k, count: count, bytes: bytes})
}

// ceilDiv is ⌈a/b⌉ for b > 0.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}

// evalRange evaluates a range aggregation in one pass over the entries:
// each entry counts at the steps t with t-range < ts+offset <= t, a
// contiguous run of steps, so it adds one "enter" and one "leave" event to
// its series and a sweep over the events yields every step's value. When
// grouping is set (sum pushed down), series labels are grouped at once.
func (ev *evaluator) evalRange(r *RangeAggregation, g *Grouping, grouped bool) ([]*series, error) {
	acc := &rangeAcc{
		ev: ev, startNs: ev.start.UnixNano(), stepNs: int64(ev.step), rangeNs: int64(r.Range), offNs: int64(r.Offset),
		set: map[uint64][]*rangeSeries{},
	}
	from := ev.start.Add(-r.Offset - r.Range)
	to := ev.stepTime(ev.steps - 1).Add(-r.Offset)

	var err error
	if names, ok := countNames(r.Query, g, grouped); ok && ev.opts.Count != nil {
		err = ev.countRange(acc, r.Query, g, names, from, to)
	} else {
		err = ev.fetchRange(acc, r.Query, g, grouped, from, to)
	}
	if err != nil {
		return nil, err
	}

	secs := r.Range.Seconds()
	out := make([]*series, 0, acc.nSeries)
	for _, list := range acc.set {
		for _, rs := range list {
			s := &series{lbls: rs.lbls}
			sweep(rs, ev.steps, func(k int, count, bytes int64) {
				var v float64
				switch r.Op {
				case OpCountOverTime:
					v = float64(count)
				case OpRate:
					v = float64(count) / secs
				case OpBytesOverTime:
					v = float64(bytes)
				case OpBytesRate:
					v = float64(bytes) / secs
				}
				s.points = append(s.points, point{k: k, v: v})
			})
			out = append(out, s)
		}
	}
	return out, nil
}

// rangeAcc collects the window events of a range aggregation's series.
type rangeAcc struct {
	ev                              *evaluator
	startNs, stepNs, rangeNs, offNs int64
	set                             map[uint64][]*rangeSeries
	nSeries                         int
}

// window returns the steps whose window holds an entry at ts; first > last
// when none does (between windows, when the range is shorter than the step).
func (a *rangeAcc) window(ts int64) (first, last int64) {
	u := ts + a.offNs
	first = max(ceilDiv(u-a.startNs, a.stepNs), 0)
	last = min(ceilDiv(u+a.rangeNs-a.startNs, a.stepNs)-1, int64(a.ev.steps)-1)
	return first, last
}

// series returns the series of lbls, adding it within MaxSeries.
func (a *rangeAcc) series(lbls labels.Labels) (*rangeSeries, error) {
	h := lbls.Hash()
	for _, c := range a.set[h] {
		if labels.Equal(c.lbls, lbls) {
			return c, nil
		}
	}
	if limit := a.ev.opts.MaxSeries; limit > 0 && a.nSeries >= limit {
		return nil, newSeriesLimitError(limit)
	}
	rs := &rangeSeries{lbls: lbls}
	a.set[h] = append(a.set[h], rs)
	a.nSeries++
	return rs, nil
}

// add counts n entries of size bytes in all in the windows from first to
// last.
func (a *rangeAcc) add(rs *rangeSeries, first, last, n, size int64) {
	rs.enter = addEvent(rs.enter, &rs.enterUnsorted, int(first), n, size)
	if last+1 < int64(a.ev.steps) {
		rs.leave = addEvent(rs.leave, &rs.leaveUnsorted, int(last+1), n, size)
	}
}

// together says whether entries at minT and at maxT, and so every entry
// between (windows only move forward with time), count in the same
// windows.
func (a *rangeAcc) together(minT, maxT int64) bool {
	f1, l1 := a.window(minT)
	f2, l2 := a.window(maxT)
	return f1 == f2 && l1 == l2
}

// fetchRange runs the pipeline over every entry of the range.
func (ev *evaluator) fetchRange(acc *rangeAcc, q *LogQuery, g *Grouping, grouped bool, from, to time.Time) error {
	query := q
	if grouped && g == nil {
		query = withoutUnreadParsers(query)
	}
	seen := 0
	return ev.fetch(ev.ctx, q.Matchers, from, to, func(e Entry) error {
		if seen++; seen%ctxCheckInterval == 0 {
			if err := ev.ctx.Err(); err != nil {
				return err
			}
		}
		first, last := acc.window(e.Timestamp.UnixNano())
		if first > last {
			return nil
		}
		b := labelsBuilder{base: e.Labels, ts: e.Timestamp}
		if _, keep := query.run(e.Line, &b); !keep {
			return nil
		}
		lbls := b.labels()
		if b.err != "" {
			return &PipelineError{ErrorType: b.err, Series: lbls}
		}
		if grouped {
			lbls = groupLabels(lbls, g)
		}
		rs, err := acc.series(lbls)
		if err != nil {
			return err
		}
		acc.add(rs, first, last, 1, int64(len(e.Line)))
		return nil
	})
}

// countNames returns the labels that the series of a range aggregation
// need of an entry, when its line is not needed: the aggregation is summed
// (grouped) by labels, or into one series, and its pipeline only drops or
// keeps labels, filters label strings and decolorizes, stages that neither
// read the line into labels nor fail. An entry's series then follows from
// its labels of these names (the grouping's, the filters' and those of
// drops and keeps with a matcher), which a CountFunc gives.
func countNames(q *LogQuery, g *Grouping, grouped bool) ([]string, bool) {
	if !grouped || (g != nil && g.Without) {
		return nil, false
	}
	var names []string
	if g != nil {
		names = append(names, g.Labels...)
	}
	var filterNames func(f LabelFilter) bool
	filterNames = func(f LabelFilter) bool {
		switch f := f.(type) {
		case *StringLabelFilter:
			names = append(names, f.Matcher.Name)
			return true
		case *BinaryLabelFilter:
			return filterNames(f.Left) && filterNames(f.Right)
		}
		return false // numeric filters may fail on a value
	}
	for _, s := range q.Stages {
		switch s := s.(type) {
		case *Drop, *Keep:
			// A drop's (keep's) value matters only with a matcher: a label
			// dropped (kept) whatever its value might as well not be
			// fetched. (Grafana's `| drop __error__` would otherwise ask the
			// store for a name no stream has, and so for every record's
			// labels.)
			ls := []DropLabel(nil)
			if d, ok := s.(*Drop); ok {
				ls = d.Labels
			} else {
				ls = s.(*Keep).Labels
			}
			for _, l := range ls {
				if l.Matcher != nil {
					names = append(names, l.Name)
				}
			}
		case *Decolorize:
			// Rewrites the line only.
		case *LabelFilterStage:
			if !filterNames(s.Filter) {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	slices.Sort(names)
	return slices.Compact(names), true // a name once, or a store may give its label twice
}

// countRange is fetchRange through the CountFunc, for the queries that
// countNames accepts: the pipeline runs once per label set, on the labels
// of names, which are all it reads.
func (ev *evaluator) countRange(acc *rangeAcc, q *LogQuery, g *Grouping, names []string, from, to time.Time) error {
	type keyed struct {
		done bool
		rs   *rangeSeries // nil: the pipeline drops the entries
	}
	var byKey []keyed
	seen := 0
	return ev.opts.Count(ev.ctx, q.Matchers, names, from, to, acc.together, func(e CountEntry) error {
		if seen++; seen%ctxCheckInterval == 0 {
			if err := ev.ctx.Err(); err != nil {
				return err
			}
		}
		first, last := acc.window(e.Timestamp)
		if first > last {
			return nil
		}
		for e.Key >= len(byKey) {
			byKey = append(byKey, keyed{})
		}
		k := &byKey[e.Key]
		if !k.done {
			b := labelsBuilder{base: e.Labels}
			if _, keep := q.run("", &b); keep {
				rs, err := acc.series(groupLabels(b.labels(), g))
				if err != nil {
					return err
				}
				k.rs = rs
			}
			k.done = true
		}
		if k.rs != nil {
			acc.add(k.rs, first, last, int64(e.N), int64(e.Size))
		}
		return nil
	})
}

// withoutUnreadParsers drops the parsers of a pipeline whose labels are
// all discarded (sum without grouping) when no stage reads labels: the
// parsers cannot change the result then. Loki's parser hints skip them in
// this case too, so a line that is not JSON does not fail
// sum(count_over_time({app="a"} | json [5m])) there either.
func withoutUnreadParsers(q *LogQuery) *LogQuery {
	var kept []Stage
	for _, s := range q.Stages {
		switch s.(type) {
		case *LabelFilterStage, *LineFormat:
			return q
		case *JSONParser, *LogfmtParser:
			continue
		}
		kept = append(kept, s)
	}
	return &LogQuery{Matchers: q.Matchers, Stages: kept}
}

// sweep calls fn for every step at which the series has at least one entry
// in its window, in step order.
func sweep(rs *rangeSeries, steps int, fn func(k int, count, bytes int64)) {
	enter, leave := normalizeEvents(rs.enter, rs.enterUnsorted), normalizeEvents(rs.leave, rs.leaveUnsorted)
	var count, bytes int64
	i, j := 0, 0
	for i < len(enter) || j < len(leave) {
		// The next step at which something changes.
		k := steps
		if i < len(enter) {
			k = enter[i].k
		}
		if j < len(leave) && leave[j].k < k {
			k = leave[j].k
		}
		for ; i < len(enter) && enter[i].k == k; i++ {
			count += enter[i].count
			bytes += enter[i].bytes
		}
		for ; j < len(leave) && leave[j].k == k; j++ {
			count -= leave[j].count
			bytes -= leave[j].bytes
		}
		next := steps
		if i < len(enter) {
			next = enter[i].k
		}
		if j < len(leave) && leave[j].k < next {
			next = leave[j].k
		}
		if count > 0 {
			for s := k; s < next; s++ {
				fn(s, count, bytes)
			}
		}
	}
}

// normalizeEvents sorts events by step and merges those of the same step;
// only needed when fetch did not deliver entries in timestamp order.
func normalizeEvents(evs []windowEvent, unsorted bool) []windowEvent {
	if !unsorted {
		return evs
	}
	slices.SortStableFunc(evs, func(a, b windowEvent) int { return a.k - b.k })
	out := evs[:0]
	for _, e := range evs {
		if n := len(out); n > 0 && out[n-1].k == e.k {
			out[n-1].count += e.count
			out[n-1].bytes += e.bytes
			continue
		}
		out = append(out, e)
	}
	return out
}

// groupLabels applies a by/without grouping; nil groups everything into
// the empty label set. Empty values count as absent, as in PromQL.
func groupLabels(lbls labels.Labels, g *Grouping) labels.Labels {
	if g == nil {
		return labels.EmptyLabels()
	}
	b := labels.NewScratchBuilder(len(g.Labels))
	lbls.Range(func(l labels.Label) {
		if l.Value == "" {
			return
		}
		if slices.Contains(g.Labels, l.Name) != g.Without {
			b.Add(l.Name, l.Value)
		}
	})
	return b.Labels() // Range visits names in order, so no sort is needed
}

// byStep transposes series into per-step rows (CSR layout): rows[k] lists
// the (series index, value) pairs present at step k.
type byStep struct {
	offsets []int
	refs    []stepRef
}

type stepRef struct {
	si int
	v  float64
}

func transpose(ss []*series, steps int) byStep {
	off := make([]int, steps+1)
	for _, s := range ss {
		for _, p := range s.points {
			off[p.k+1]++
		}
	}
	for k := 1; k <= steps; k++ {
		off[k] += off[k-1]
	}
	refs := make([]stepRef, off[steps])
	fill := slices.Clone(off[:steps])
	for si, s := range ss {
		for _, p := range s.points {
			refs[fill[p.k]] = stepRef{si: si, v: p.v}
			fill[p.k]++
		}
	}
	return byStep{offsets: off, refs: refs}
}

func (b byStep) row(k int) []stepRef { return b.refs[b.offsets[k]:b.offsets[k+1]] }

func (ev *evaluator) checkCtx(k int) error {
	if k%ctxCheckInterval == 0 {
		return ev.ctx.Err()
	}
	return nil
}

func (ev *evaluator) evalVectorAggregation(a *VectorAggregation) (value, error) {
	var in []*series
	if a.Op == OpApproxTopK && ev.steps > 1 {
		return value{}, errors.New("approx_topk is only supported for instant queries")
	}
	if a.Op == OpSort || a.Op == OpSortDesc {
		// The order of a vector; EvalWithOptions orders instant results.
		v, err := ev.eval(a.Expr)
		if v.isScalar {
			v = value{series: []*series{ev.scalarSeries(v.scalar)}}
		}
		return v, err
	}
	r, _ := a.Expr.(*RangeAggregation)
	switch {
	case r != nil && a.Op == OpSum && r.Unwrap == nil && r.Op != OpAbsentOverTime:
		// sum commutes with grouping: group while extracting, so that
		// `| json` labels that the sum drops never become series.
		ss, err := ev.evalRange(r, a.Grouping, true)
		if err != nil {
			return value{}, err
		}
		in = ss
	case r != nil && a.Op == OpSum && r.Unwrap != nil && (r.Op == OpSumOverTime || r.Op == OpRate):
		// So does it with sums of unwrapped values.
		ss, err := ev.evalUnwrapRange(r, a.Grouping, true)
		if err != nil {
			return value{}, err
		}
		in = ss
	default:
		v, err := ev.eval(a.Expr)
		if err != nil {
			return value{}, err
		}
		in = v.series
		if v.isScalar {
			in = []*series{ev.scalarSeries(v.scalar)}
		}
	}
	// Sorted input makes topk/bottomk ties deterministic.
	sortSeries(in)

	groupOf := make([]int, len(in))
	groups := newSeriesSet(ev.opts.MaxSeries)
	for i, s := range in {
		gi, err := groups.get(groupLabels(s.lbls, a.Grouping))
		if err != nil {
			return value{}, err
		}
		groupOf[i] = gi
	}
	rows := transpose(in, ev.steps)
	if a.Op == OpTopK || a.Op == OpBottomK || a.Op == OpApproxTopK {
		return ev.evalTopK(a, in, groupOf, len(groups.list), rows)
	}

	type acc struct {
		step     int
		n        int
		sum      float64
		minmax   float64
		hasValue bool
		mean, m2 float64 // for stddev and stdvar (Welford)
	}
	accs := make([]acc, len(groups.list))
	for i := range accs {
		accs[i].step = -1
	}
	var touched []int
	for k := 0; k < ev.steps; k++ {
		if err := ev.checkCtx(k); err != nil {
			return value{}, err
		}
		touched = touched[:0]
		for _, ref := range rows.row(k) {
			gi := groupOf[ref.si]
			ac := &accs[gi]
			if ac.step != k {
				*ac = acc{step: k}
				touched = append(touched, gi)
			}
			ac.n++
			ac.sum += ref.v
			d := ref.v - ac.mean
			ac.mean += d / float64(ac.n)
			ac.m2 += d * (ref.v - ac.mean)
			switch {
			case !ac.hasValue:
				ac.minmax, ac.hasValue = ref.v, true
			case a.Op == OpMax && (ref.v > ac.minmax || math.IsNaN(ac.minmax)):
				ac.minmax = ref.v
			case a.Op == OpMin && (ref.v < ac.minmax || math.IsNaN(ac.minmax)):
				ac.minmax = ref.v
			}
		}
		for _, gi := range touched {
			ac := &accs[gi]
			var v float64
			switch a.Op {
			case OpSum:
				v = ac.sum
			case OpAvg:
				v = ac.sum / float64(ac.n)
			case OpCount:
				v = float64(ac.n)
			case OpMin, OpMax:
				v = ac.minmax
			case OpStdvar:
				v = ac.m2 / float64(ac.n)
			case OpStddev:
				v = math.Sqrt(ac.m2 / float64(ac.n))
			}
			groups.list[gi].points = append(groups.list[gi].points, point{k: k, v: v})
		}
	}
	return value{series: groups.list}, nil
}

// evalTopK keeps, at every step and in every group, the k series with the
// largest (topk) or smallest (bottomk) values, with their own labels. NaN
// ranks last either way.
func (ev *evaluator) evalTopK(a *VectorAggregation, in []*series, groupOf []int, nGroups int, rows byStep) (value, error) {
	out := make([]*series, len(in))
	perGroup := make([][]stepRef, nGroups)
	var touched []int
	better := func(x, y stepRef) bool {
		switch {
		case math.IsNaN(x.v) || math.IsNaN(y.v):
			if math.IsNaN(x.v) != math.IsNaN(y.v) {
				return !math.IsNaN(x.v)
			}
		case x.v != y.v:
			if a.Op != OpBottomK {
				return x.v > y.v
			}
			return x.v < y.v
		}
		return x.si < y.si
	}
	for k := 0; k < ev.steps; k++ {
		if err := ev.checkCtx(k); err != nil {
			return value{}, err
		}
		touched = touched[:0]
		for _, ref := range rows.row(k) {
			gi := groupOf[ref.si]
			if len(perGroup[gi]) == 0 {
				touched = append(touched, gi)
			}
			perGroup[gi] = append(perGroup[gi], ref)
		}
		for _, gi := range touched {
			refs := perGroup[gi]
			if len(refs) > a.Param {
				sort.Slice(refs, func(i, j int) bool { return better(refs[i], refs[j]) })
				refs = refs[:a.Param]
			}
			for _, ref := range refs {
				if out[ref.si] == nil {
					out[ref.si] = &series{lbls: in[ref.si].lbls}
				}
				out[ref.si].points = append(out[ref.si].points, point{k: k, v: ref.v})
			}
			perGroup[gi] = perGroup[gi][:0]
		}
	}
	res := make([]*series, 0, len(out))
	for _, s := range out {
		if s != nil {
			res = append(res, s)
		}
	}
	return value{series: res}, nil
}

func sortSeries(ss []*series) {
	sort.SliceStable(ss, func(i, j int) bool { return labels.Compare(ss[i].lbls, ss[j].lbls) < 0 })
}

// applyOp computes l op r. For comparisons keep reports whether the
// comparison holds; with filter the value is then l, otherwise 0 or 1.
// Division and modulo by zero give NaN, as in Loki.
func applyOp(op string, l, r float64, filter bool) (v float64, keep bool) {
	cmp := func(ok bool) (float64, bool) {
		if filter {
			return l, ok
		}
		if ok {
			return 1, true
		}
		return 0, true
	}
	switch op {
	case "+":
		return l + r, true
	case "-":
		return l - r, true
	case "*":
		return l * r, true
	case "/":
		if r == 0 {
			return math.NaN(), true
		}
		return l / r, true
	case "%":
		if r == 0 {
			return math.NaN(), true
		}
		return math.Mod(l, r), true
	case "^":
		return math.Pow(l, r), true
	case "==":
		return cmp(l == r)
	case "!=":
		return cmp(l != r)
	case ">":
		return cmp(l > r)
	case ">=":
		return cmp(l >= r)
	case "<":
		return cmp(l < r)
	case "<=":
		return cmp(l <= r)
	}
	panic("BUG: unknown binary operator " + op)
}

func (ev *evaluator) evalBinary(b *BinaryOp) (value, error) {
	lv, err := ev.eval(b.LHS)
	if err != nil {
		return value{}, err
	}
	rv, err := ev.eval(b.RHS)
	if err != nil {
		return value{}, err
	}
	if b.Matching == nil {
		// Hand-built expressions may leave it out; the parser never does.
		m := &VectorMatching{Card: CardOneToOne}
		if isSetOp(b.Op) {
			m.Card = CardManyToMany
		}
		b = &BinaryOp{Op: b.Op, LHS: b.LHS, RHS: b.RHS, ReturnBool: b.ReturnBool, Matching: m}
	}
	filter := isComparison(b.Op) && !b.ReturnBool
	switch {
	case (lv.isScalar || rv.isScalar) && isSetOp(b.Op):
		return value{}, fmt.Errorf("set operation %q needs series on both sides, not a number", b.Op)
	case lv.isScalar && rv.isScalar:
		// Loki folds comparisons between numbers to 0 or 1.
		v, _ := applyOp(b.Op, lv.scalar, rv.scalar, false)
		return value{isScalar: true, scalar: v}, nil
	case lv.isScalar || rv.isScalar:
		return ev.scalarBinary(b, lv, rv, filter)
	case isSetOp(b.Op):
		return ev.setBinary(b, lv.series, rv.series)
	}
	return ev.vectorBinary(b, lv.series, rv.series, filter)
}

// scalarBinary applies op between a vector and a number, keeping the
// vector's labels; a filtering comparison keeps the vector's value.
func (ev *evaluator) scalarBinary(b *BinaryOp, lv, rv value, filter bool) (value, error) {
	vec, scalarLeft := lv.series, true
	if lv.isScalar {
		vec = rv.series
	} else {
		scalarLeft = false
	}
	out := make([]*series, 0, len(vec))
	for _, s := range vec {
		o := &series{lbls: s.lbls}
		for _, p := range s.points {
			l, r := p.v, rv.scalar
			if scalarLeft {
				l, r = lv.scalar, p.v
			}
			v, keep := applyOp(b.Op, l, r, filter)
			if !keep {
				continue
			}
			if filter {
				v = p.v
			}
			o.points = append(o.points, point{k: p.k, v: v})
		}
		if len(o.points) > 0 {
			out = append(out, o)
		}
	}
	return value{series: out}, nil
}

// signature is the part of a series' labels that vector matching compares.
func signature(lbls labels.Labels, m *VectorMatching, buf []byte) (uint64, []byte) {
	if m.On {
		return lbls.HashForLabels(buf, m.Labels...)
	}
	return lbls.HashWithoutLabels(buf, m.Labels...)
}

func signatures(ss []*series, m *VectorMatching) []uint64 {
	sigs := make([]uint64, len(ss))
	var buf []byte
	for i, s := range ss {
		sigs[i], buf = signature(s.lbls, m, buf)
	}
	return sigs
}

func (ev *evaluator) setBinary(b *BinaryOp, lhs, rhs []*series) (value, error) {
	lsigs, rsigs := signatures(lhs, b.Matching), signatures(rhs, b.Matching)
	lrows, rrows := transpose(lhs, ev.steps), transpose(rhs, ev.steps)
	out := newSeriesSet(ev.opts.MaxSeries)
	lIdx := make([]int, len(lhs))
	rIdx := make([]int, len(rhs))
	for i := range lIdx {
		lIdx[i] = -1
	}
	for i := range rIdx {
		rIdx[i] = -1
	}
	emit := func(idx []int, ss []*series, si, k int, v float64) error {
		if idx[si] < 0 {
			i, err := out.get(ss[si].lbls)
			if err != nil {
				return err
			}
			idx[si] = i
		}
		return out.add(idx[si], k, v)
	}
	for k := 0; k < ev.steps; k++ {
		if err := ev.checkCtx(k); err != nil {
			return value{}, err
		}
		rset := map[uint64]bool{}
		for _, ref := range rrows.row(k) {
			rset[rsigs[ref.si]] = true
		}
		lset := map[uint64]bool{}
		for _, ref := range lrows.row(k) {
			lset[lsigs[ref.si]] = true
			in := rset[lsigs[ref.si]]
			if (b.Op == "and" && in) || b.Op == "or" || (b.Op == "unless" && !in) {
				if err := emit(lIdx, lhs, ref.si, k, ref.v); err != nil {
					return value{}, err
				}
			}
		}
		if b.Op == "or" {
			for _, ref := range rrows.row(k) {
				if !lset[rsigs[ref.si]] {
					if err := emit(rIdx, rhs, ref.si, k, ref.v); err != nil {
						return value{}, err
					}
				}
			}
		}
	}
	return value{series: out.list}, nil
}

// vectorBinary matches the two sides' series like PromQL: one-to-one by
// default, many-to-one with group_left, one-to-many with group_right.
func (ev *evaluator) vectorBinary(b *BinaryOp, lhs, rhs []*series, filter bool) (value, error) {
	m := b.Matching
	swapped := m.Card == CardOneToMany
	if swapped {
		// Work as many-to-one with the sides exchanged; the operator still
		// sees them in query order.
		lhs, rhs = rhs, lhs
	}
	lsigs, rsigs := signatures(lhs, m), signatures(rhs, m)
	lrows, rrows := transpose(lhs, ev.steps), transpose(rhs, ev.steps)
	out := newSeriesSet(ev.opts.MaxSeries)
	type pair struct{ l, r int }
	resultIdx := map[pair]int{}
	for k := 0; k < ev.steps; k++ {
		if err := ev.checkCtx(k); err != nil {
			return value{}, err
		}
		right := map[uint64]stepRef{}
		for _, ref := range rrows.row(k) {
			sig := rsigs[ref.si]
			if _, dup := right[sig]; dup {
				side := "right"
				if swapped {
					side = "left"
				}
				return value{}, fmt.Errorf("found duplicate series on the %s hand-side of the operation %q at %s; "+
					"many-to-many matching not allowed: matching labels must be unique on one side",
					side, b.Op, ev.stepTime(k).Format(time.RFC3339))
			}
			right[sig] = ref
		}
		matched := map[uint64]map[int]bool{}
		for _, ref := range lrows.row(k) {
			sig := lsigs[ref.si]
			rref, ok := right[sig]
			if !ok {
				continue
			}
			pk := pair{ref.si, rref.si}
			oi, ok := resultIdx[pk]
			if !ok {
				var err error
				oi, err = out.get(resultMetric(lhs[ref.si].lbls, rhs[rref.si].lbls, m))
				if err != nil {
					return value{}, err
				}
				resultIdx[pk] = oi
			}
			prev, exists := matched[sig]
			if m.Card == CardOneToOne {
				if exists {
					return value{}, errors.New("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
				}
				matched[sig] = nil
			} else {
				if !exists {
					prev = map[int]bool{}
					matched[sig] = prev
				}
				if prev[oi] {
					return value{}, errors.New("multiple matches for labels: grouping labels must ensure unique matches")
				}
				prev[oi] = true
			}
			l, r := ref.v, rref.v
			if swapped {
				l, r = r, l
			}
			v, keep := applyOp(b.Op, l, r, filter)
			if !keep {
				continue
			}
			if err := out.add(oi, k, v); err != nil {
				return value{}, err
			}
		}
	}
	res := out.list[:0:0]
	for _, s := range out.list {
		if len(s.points) > 0 {
			res = append(res, s)
		}
	}
	return value{series: res}, nil
}

// resultMetric is the label set of a matched pair, as in PromQL: the
// "many" side's labels, reduced to the matching labels for one-to-one
// matching, plus the group_left/group_right labels from the "one" side.
func resultMetric(many, one labels.Labels, m *VectorMatching) labels.Labels {
	b := labels.NewBuilder(many)
	if m.Card == CardOneToOne {
		if m.On {
			b.Keep(m.Labels...)
		} else {
			b.Del(m.Labels...)
		}
	}
	for _, n := range m.Include {
		if v := one.Get(n); v != "" {
			b.Set(n, v)
		} else {
			b.Del(n)
		}
	}
	return b.Labels()
}

// sortByValue orders an instant result as sort and sort_desc do: by
// value, NaN last either way, ties by labels.
func sortByValue(m promql.Matrix, desc bool) {
	sort.SliceStable(m, func(i, j int) bool {
		a, b := m[i].Floats[0].F, m[j].Floats[0].F
		if math.IsNaN(a) || math.IsNaN(b) {
			return !math.IsNaN(a) && math.IsNaN(b)
		}
		if desc {
			return a > b
		}
		return a < b
	})
}

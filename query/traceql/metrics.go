package traceql

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/sightline-dev/sightline/storage/record"
)

// MetricsRequest is a TraceQL metrics query over a time range, Tempo's
// QueryRangeRequest.
type MetricsRequest struct {
	Query *Query // a metrics query (Query.IsMetrics)
	// Start and End are unix nanoseconds. A range query is evaluated at
	// steps of Step: Start is rounded down and End up to a multiple of Step,
	// and the sample at time T counts the spans that started in (T-Step, T],
	// as in Tempo. An instant query (Instant) has one sample, at End, for
	// the spans that started in [Start, End].
	Start, End int64
	Step       int64
	Instant    bool
	// Exemplars is the most exemplars returned, over all series.
	Exemplars int
	// MaxSeries bounds the series kept while evaluating; the spans of
	// further series are left out and the result marked Truncated. 0 means
	// DefaultMaxSeries.
	MaxSeries int
	// MaxSpans, if positive, replaces the store's limit on the spans a
	// fetch may read: metrics stream, keeping series × steps, not spans.
	MaxSpans int
}

// DefaultMaxSeries is Tempo's default limit on the series of a metrics
// query (query_frontend.metrics.max_response_series).
const DefaultMaxSeries = 1000

// Label is a series or exemplar label. A Value with no Type is nil: the
// span had no value for a by() field.
type Label struct {
	Key   string
	Value Value
}

// Sample is one point of a series.
type Sample struct {
	TimestampMs int64
	Value       float64
}

// Exemplar is a span behind a sample: its trace:id and span:id labels,
// its value (the aggregated field's, else the sample's) and its start.
type Exemplar struct {
	Labels      []Label
	Value       float64
	TimestampMs int64
}

// MetricsSeries is one series of a metrics result. Samples hold no NaN:
// steps without a value are left out, as Tempo leaves them out.
type MetricsSeries struct {
	Labels    []Label
	Samples   []Sample
	Exemplars []Exemplar
}

// MetricsResult is what Metrics returns.
type MetricsResult struct {
	Series []MetricsSeries // sorted by their labels
	// Truncated is set when MaxSeries (or compare's bound on the values it
	// tracks) left spans out: the result is partial.
	Truncated bool
	Stats     record.FetchStats
}

// ErrNotMetrics is returned by Metrics for a query without a metrics
// function, with Tempo's message.
var ErrNotMetrics = errors.New("not a metrics query")

// internal label names, as Tempo writes them.
const (
	labelName     = "__name__"
	labelBucket   = "__bucket"
	labelMetaType = "__meta_type"
	labelQuantile = "p"
)

// interval maps span start times to the steps of a request.
type intervals struct {
	start, end, step int64
	n                int
	instant          bool
}

func newIntervals(req MetricsRequest) intervals {
	if req.Instant {
		return intervals{start: req.Start, end: req.End, step: max(req.End-req.Start, 1), n: 1, instant: true}
	}
	step := max(req.Step, 1)
	start := req.Start - mod(req.Start, step)
	end := req.End
	if r := mod(end, step); r != 0 {
		end += step - r
	}
	return intervals{start: start, end: end, step: step, n: int((end - start) / step)}
}

func mod(a, b int64) int64 {
	r := a % b
	if r < 0 {
		r += b
	}
	return r
}

// of returns the step of a span that started at ts, -1 outside the range.
func (iv intervals) of(ts int64) int {
	if iv.instant {
		if ts < iv.start || ts > iv.end {
			return -1
		}
		return 0
	}
	if ts <= iv.start || ts > iv.end {
		return -1
	}
	return int((ts - iv.start - 1) / iv.step)
}

// timestampMs is the time of step i's sample.
func (iv intervals) timestampMs(i int) int64 {
	if iv.instant {
		return iv.end / int64(time.Millisecond)
	}
	return (iv.start + int64(i+1)*iv.step) / int64(time.Millisecond)
}

// observation is one matched span as the aggregation sees it.
type observation struct {
	tc   *traceCtx
	span *Span
	st   *record.Span
	step int
}

// evaluator is the state of one metrics function over the spans.
type evaluator interface {
	observe(o *observation) bool // false: the span was left out (too many series)
	// exemplar offers the span just observed as an exemplar.
	exemplar(o *observation, p *exemplarPicker)
	result() []rawSeries
}

// rawSeries is a series before its NaN steps are dropped.
type rawSeries struct {
	labels    []Label
	values    []float64
	exemplars []Exemplar
}

// Metrics evaluates a metrics query over the spans f holds in the
// request's range. It streams: the spans are aggregated as they are
// fetched, and what it keeps is bounded by the series (at most MaxSeries)
// times the steps, plus the exemplars. Errors from the fetch (the store's
// scan limit, a cancelled ctx) are returned as they are.
func Metrics(ctx context.Context, f SpansetFetcher, req MetricsRequest) (*MetricsResult, error) {
	m := req.Query.metrics
	if m == nil {
		return nil, ErrNotMetrics
	}
	if req.MaxSeries <= 0 {
		req.MaxSeries = DefaultMaxSeries
	}
	iv := newIntervals(req)
	var ev evaluator
	if m.fn == MetricsCompare {
		ev = newCompareEvaluator(m, iv, req.MaxSeries)
	} else {
		ev = newGroupEvaluator(m, iv, req.MaxSeries)
	}
	ex := newExemplarPicker(req.Exemplars, iv.n)
	truncated := false
	var o observation
	sm := newSpansetMatcher(req.Query)
	fetch := record.FetchSpansRequest{Start: iv.start, End: iv.end, Conditions: fetchConditions(req.Query),
		SkipSpanAttributes: !req.Query.readsSpanAttributes(), MaxSpans: req.MaxSpans}
	stats, err := f.Fetch(ctx, fetch, func(ss *record.Spanset) error {
		tc, idx := sm.match(ss.Spans)
		for _, i := range idx {
			st := ss.Spans[i]
			step := iv.of(st.Start)
			if step < 0 {
				continue
			}
			o = observation{tc: tc, span: &tc.spans[i], st: st, step: step}
			if !ev.observe(&o) {
				truncated = true
				continue
			}
			ev.exemplar(&o, ex)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, ctxErr
	}
	raw := ev.result()
	if c, ok := ev.(*compareEvaluator); ok && c.truncated {
		truncated = true
	}
	for _, s := range m.second {
		raw = keepTopK(raw, iv.n, s)
	}
	res := &MetricsResult{Truncated: truncated, Stats: stats}
	for _, r := range raw {
		s := MetricsSeries{Labels: r.labels}
		for i, v := range r.values {
			if !math.IsNaN(v) {
				s.Samples = append(s.Samples, Sample{TimestampMs: iv.timestampMs(i), Value: v})
			}
		}
		if len(s.Samples) == 0 {
			continue
		}
		for _, e := range r.exemplars {
			if !math.IsNaN(e.Value) {
				s.Exemplars = append(s.Exemplars, e)
			}
		}
		res.Series = append(res.Series, s)
	}
	slices.SortFunc(res.Series, func(a, b MetricsSeries) int { return cmp.Compare(labelsKey(a.Labels), labelsKey(b.Labels)) })
	return res, nil
}

// labelsKey is a series' identity, and its sort order.
func labelsKey(ls []Label) string {
	var sb strings.Builder
	for _, l := range ls {
		sb.WriteString(l.Key)
		sb.WriteByte(0)
		sb.WriteByte(byte('0' + l.Value.Type))
		sb.WriteString(l.Value.String())
		sb.WriteByte(0)
	}
	return sb.String()
}

// appendValueKey appends what identifies v among values: its type, and its
// text (a string's unquoted) with its length before it.
func appendValueKey(key []byte, v Value) []byte {
	text := v.Str
	if v.Type != TypeString {
		text = v.String()
	}
	key = append(key, byte(v.Type))
	key = binary.AppendUvarint(key, uint64(len(text)))
	return append(key, text...)
}

// labelValue turns an evaluated value into a label value: status and kind
// as their keywords, durations as Go writes them (Tempo's strings).
func labelValue(v val) Value {
	switch v.kind {
	case vString, vStatus, vKind:
		return StringValue(v.s)
	case vInt:
		return IntValue(v.i)
	case vFloat:
		return FloatValue(v.f)
	case vBool:
		return BoolValue(v.b)
	case vDuration:
		return StringValue(time.Duration(v.i).String())
	}
	return Value{}
}

// number is a field's value as the *_over_time functions aggregate it:
// numbers as they are, durations in seconds; ok is false for anything else.
func number(v val) (float64, bool) {
	switch v.kind {
	case vInt:
		return float64(v.i), true
	case vFloat:
		return v.f, !math.IsNaN(v.f)
	case vDuration:
		return time.Duration(v.i).Seconds(), true
	}
	return 0, false
}

// log2Bucket is the power of two a value falls under, Tempo's bucketing of
// histogram_over_time and quantile_over_time: the smallest 2^k >= v, for
// v >= 2; ok is false below.
func log2Bucket(v uint64) (float64, bool) {
	if v < 2 {
		return 0, false
	}
	return float64(uint64(1) << (64 - bits.LeadingZeros64(v-1))), true
}

// bucketOf buckets a field's value: durations by their nanoseconds,
// reported in seconds; integers as they are. Floats and other types are
// not bucketed (as in Tempo).
func bucketOf(v val) (float64, bool) {
	switch v.kind {
	case vDuration:
		if v.i < 0 {
			return 0, false
		}
		b, ok := log2Bucket(uint64(v.i))
		return b / float64(time.Second), ok
	case vInt:
		if v.i < 0 {
			return 0, false
		}
		return log2Bucket(uint64(v.i))
	}
	return 0, false
}

// bucketCount is one histogram bucket: the values at most max (and above
// the bucket below).
type bucketCount struct {
	max   float64
	count float64
}

// log2Quantile estimates quantile p of the values in buckets (sorted by
// max, each bucket holding values up to its max and above the previous
// one's): it finds the bucket holding the ceil(p*n)-th smallest value and
// interpolates exponentially inside it, between the previous bucket's max
// (half this one's for the first) and its own, as Tempo does.
func log2Quantile(p float64, buckets []bucketCount) float64 {
	var total float64
	for _, b := range buckets {
		total += b.count
	}
	if total == 0 || math.IsNaN(p) {
		return math.NaN()
	}
	rank := max(math.Ceil(p*total), 1)
	var seen, prev float64 // prev: the max of the last bucket with values
	for _, b := range buckets {
		if b.count == 0 {
			continue
		}
		if seen+b.count < rank {
			seen, prev = seen+b.count, b.max
			continue
		}
		if seen+b.count == rank {
			return b.max
		}
		hi := math.Log2(b.max)
		lo := hi - 1
		if prev > 0 {
			lo = math.Log2(prev)
		}
		frac := (rank - seen) / b.count
		return math.Pow(2, lo+(hi-lo)*frac)
	}
	return buckets[len(buckets)-1].max
}

// exemplarPicker keeps up to max exemplars, an equal share of max per
// step, so that they spread over the time range rather than all come from
// the spans read first.
type exemplarPicker struct {
	max, n  int
	perStep []int // exemplars kept per step
	share   int
}

func newExemplarPicker(limit, steps int) *exemplarPicker {
	return &exemplarPicker{max: limit, perStep: make([]int, steps), share: max(1, (limit+steps-1)/max(steps, 1))}
}

// take reports whether one more exemplar may be kept at step, counting it.
func (p *exemplarPicker) take(step int) bool {
	if p.n >= p.max || p.perStep[step] >= p.share {
		return false
	}
	p.perStep[step]++
	p.n++
	return true
}

// newExemplar is the exemplar of an observed span, without its value.
func newExemplar(o *observation) Exemplar {
	return Exemplar{
		Labels: []Label{
			{Key: "trace:id", Value: StringValue(hex.EncodeToString(o.st.TraceID[:]))},
			{Key: "span:id", Value: StringValue(hex.EncodeToString(o.st.SpanID[:]))},
		},
		TimestampMs: o.st.Start / int64(time.Millisecond),
	}
}

// exemplar keeps at most one exemplar per series and step.
func (g *groupEvaluator) exemplar(o *observation, p *exemplarPicker) {
	s := g.last
	if s == nil || s.exemplarSteps[o.step] || !p.take(o.step) {
		return
	}
	value := math.NaN()
	if g.m.fn.takesField() {
		if f, ok := number(o.tc.value(g.m.field, o.span)); ok {
			value = f
		}
	}
	s.exemplarSteps[o.step] = true
	s.exemplars = append(s.exemplars, pendingExemplar{step: o.step, value: value, ex: newExemplar(o)})
}

type pendingExemplar struct {
	step  int
	value float64 // NaN: the sample's value
	ex    Exemplar
}

// groupEvaluator evaluates the functions other than compare: one series
// per distinct by() value (one series without by()), each with a value
// per step, or a histogram per step for histogram_over_time and
// quantile_over_time.
type groupEvaluator struct {
	m         *metricsPipeline
	iv        intervals
	maxSeries int
	series    map[string]*groupSeries
	last      *groupSeries // the series of the last observation
	key       []byte
	vals      []val
}

type groupSeries struct {
	labels        []Label
	values        []float64             // NaN where no span counted, except for counts
	counts        []float64             // avg_over_time: spans per step
	hist          map[float64][]float64 // bucket max -> count per step
	exemplarSteps []bool
	exemplars     []pendingExemplar
}

func newGroupEvaluator(m *metricsPipeline, iv intervals, maxSeries int) *groupEvaluator {
	return &groupEvaluator{m: m, iv: iv, maxSeries: maxSeries, series: map[string]*groupSeries{}}
}

func (g *groupEvaluator) observe(o *observation) bool {
	g.last = nil
	var x float64 // the field's value
	switch g.m.fn {
	case MetricsSumOverTime, MetricsAvgOverTime, MetricsMinOverTime, MetricsMaxOverTime:
		f, ok := number(o.tc.value(g.m.field, o.span))
		if !ok {
			return true
		}
		x = f
	case MetricsHistogramOverTime, MetricsQuantileOverTime:
		b, ok := bucketOf(o.tc.value(g.m.field, o.span))
		if !ok {
			return true
		}
		x = b
	}
	s := g.seriesOf(o)
	if s == nil {
		return false
	}
	g.last = s
	i := o.step
	switch g.m.fn {
	case MetricsRate, MetricsCountOverTime:
		s.values[i]++
	case MetricsSumOverTime:
		s.values[i] = nanAs0(s.values[i]) + x
	case MetricsAvgOverTime:
		s.values[i] = nanAs0(s.values[i]) + x
		s.counts[i]++
	case MetricsMinOverTime:
		if math.IsNaN(s.values[i]) || x < s.values[i] {
			s.values[i] = x
		}
	case MetricsMaxOverTime:
		if math.IsNaN(s.values[i]) || x > s.values[i] {
			s.values[i] = x
		}
	case MetricsHistogramOverTime, MetricsQuantileOverTime:
		h := s.hist[x]
		if h == nil {
			h = make([]float64, g.iv.n)
			s.hist[x] = h
		}
		h[i]++
	}
	return true
}

func nanAs0(f float64) float64 {
	if math.IsNaN(f) {
		return 0
	}
	return f
}

// seriesOf finds or starts the series of o's by() values; nil when that
// would pass maxSeries.
func (g *groupEvaluator) seriesOf(o *observation) *groupSeries {
	g.key, g.vals = g.key[:0], g.vals[:0]
	for _, f := range g.m.by {
		v := o.tc.value(f, o.span)
		g.vals = append(g.vals, v)
		g.key = appendValueKey(g.key, labelValue(v))
	}
	if s, ok := g.series[string(g.key)]; ok {
		return s
	}
	if len(g.series) >= g.maxSeries {
		return nil
	}
	s := &groupSeries{exemplarSteps: make([]bool, g.iv.n)}
	for i, f := range g.m.by {
		s.labels = append(s.labels, Label{Key: f.String(), Value: labelValue(g.vals[i])})
	}
	switch g.m.fn {
	case MetricsHistogramOverTime, MetricsQuantileOverTime:
		s.hist = map[float64][]float64{}
	case MetricsRate, MetricsCountOverTime:
		s.values = make([]float64, g.iv.n)
	default:
		s.values = nans(g.iv.n)
		if g.m.fn == MetricsAvgOverTime {
			s.counts = make([]float64, g.iv.n)
		}
	}
	g.series[string(g.key)] = s
	return s
}

func nans(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

// name labels a series without by(), as Tempo does: {__name__="rate"}.
func (g *groupEvaluator) labels(s *groupSeries, extra ...Label) []Label {
	ls := slices.Clone(s.labels)
	if len(g.m.by) == 0 && len(extra) == 0 {
		ls = append(ls, Label{Key: labelName, Value: StringValue(g.m.fn.String())})
	}
	return append(ls, extra...)
}

func (g *groupEvaluator) result() []rawSeries {
	var out []rawSeries
	for _, s := range g.series {
		switch g.m.fn {
		case MetricsHistogramOverTime:
			out = append(out, g.histogramSeries(s)...)
		case MetricsQuantileOverTime:
			out = append(out, g.quantileSeries(s)...)
		default:
			values := s.values
			switch g.m.fn {
			case MetricsRate:
				perSecond := 1 / time.Duration(g.iv.step).Seconds()
				for i := range values {
					values[i] *= perSecond
				}
			case MetricsAvgOverTime:
				for i := range values {
					values[i] /= s.counts[i]
				}
			}
			out = append(out, rawSeries{labels: g.labels(s), values: values, exemplars: exemplarsAt(s.exemplars, values)})
		}
	}
	return out
}

// exemplarsAt gives exemplars without a value of their own the value of
// their step's sample.
func exemplarsAt(pending []pendingExemplar, values []float64) []Exemplar {
	out := make([]Exemplar, 0, len(pending))
	for _, p := range pending {
		e := p.ex
		e.Value = p.value
		if math.IsNaN(e.Value) {
			e.Value = values[p.step]
		}
		out = append(out, e)
	}
	return out
}

func sortedBuckets(h map[float64][]float64) []float64 {
	bs := make([]float64, 0, len(h))
	for b := range h {
		bs = append(bs, b)
	}
	slices.Sort(bs)
	return bs
}

// histogramSeries are a series per bucket, {__bucket=<max>}, counting the
// spans per step (0 where none), each bucket with the exemplars that fall
// in it.
func (g *groupEvaluator) histogramSeries(s *groupSeries) []rawSeries {
	var out []rawSeries
	for _, b := range sortedBuckets(s.hist) {
		r := rawSeries{labels: g.labels(s, Label{Key: labelBucket, Value: FloatValue(b)}), values: s.hist[b]}
		for _, p := range s.exemplars {
			if e := p.ex; !math.IsNaN(p.value) && p.value <= b && p.value > b/2 {
				e.Value = p.value
				r.exemplars = append(r.exemplars, e)
			}
		}
		out = append(out, r)
	}
	return out
}

// quantileSeries are a series per quantile, {p=<q>}, with the quantile
// of each step's histogram (NaN where no span counted); an exemplar goes
// to the quantile whose value at its step is nearest its own.
func (g *groupEvaluator) quantileSeries(s *groupSeries) []rawSeries {
	bs := sortedBuckets(s.hist)
	out := make([]rawSeries, len(g.m.quantiles))
	buckets := make([]bucketCount, len(bs))
	for qi, q := range g.m.quantiles {
		out[qi] = rawSeries{labels: g.labels(s, Label{Key: labelQuantile, Value: FloatValue(q)}), values: nans(g.iv.n)}
	}
	for i := range g.iv.n {
		for j, b := range bs {
			buckets[j] = bucketCount{max: b, count: s.hist[b][i]}
		}
		for qi, q := range g.m.quantiles {
			out[qi].values[i] = log2Quantile(q, buckets)
		}
	}
	for _, p := range s.exemplars {
		best, bestDist := -1, math.Inf(1)
		for qi := range out {
			if d := math.Abs(out[qi].values[p.step] - p.value); d < bestDist {
				best, bestDist = qi, d
			}
		}
		if best >= 0 {
			e := p.ex
			e.Value = p.value
			out[best].exemplars = append(out[best].exemplars, e)
		}
	}
	return out
}

// keepTopK keeps, at each step, the k series with the highest values (the
// lowest for bottomk), ties going to the series that sort first; the other
// series' values at that step become NaN, and series left with none go.
func keepTopK(in []rawSeries, n int, s secondStage) []rawSeries {
	keep := make([][]bool, len(in))
	for i := range keep {
		keep[i] = make([]bool, n)
	}
	idx := make([]int, 0, len(in))
	keys := make([]string, len(in))
	for i := range in {
		keys[i] = labelsKey(in[i].labels)
	}
	for step := range n {
		idx = idx[:0]
		for i := range in {
			if step < len(in[i].values) && !math.IsNaN(in[i].values[step]) {
				idx = append(idx, i)
			}
		}
		slices.SortFunc(idx, func(a, b int) int {
			c := cmp.Compare(in[b].values[step], in[a].values[step])
			if s.bottom {
				c = -c
			}
			if c != 0 {
				return c
			}
			return cmp.Compare(keys[a], keys[b])
		})
		for _, i := range idx[:min(len(idx), s.k)] {
			keep[i][step] = true
		}
	}
	var out []rawSeries
	for i, r := range in {
		kept := false
		values := make([]float64, len(r.values))
		for step, v := range r.values {
			if keep[i][step] {
				values[step], kept = v, true
			} else {
				values[step] = math.NaN()
			}
		}
		if kept {
			out = append(out, rawSeries{labels: r.labels, values: values, exemplars: r.exemplars})
		}
	}
	return out
}

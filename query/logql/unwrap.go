package logql

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// ErrSampleExtraction marks an entry whose unwrapped label does not convert
// to a number, as in Loki.
const ErrSampleExtraction = "SampleExtractionErr"

// sample is one unwrapped value.
type sample struct {
	ts int64 // unix nanoseconds
	v  float64
}

// convert turns the unwrapped label's value into a sample value: a number,
// or with duration()/duration_seconds() seconds, with bytes() bytes.
func (u *Unwrap) convert(s string) (float64, error) {
	switch u.Conv {
	case "duration", "duration_seconds":
		return durationSeconds(s)
	case "bytes":
		b, err := parseBytes(s)
		return float64(b), err
	}
	return strconv.ParseFloat(s, 64)
}

// evalUnwrapRange evaluates a range aggregation over unwrapped values: it
// runs the pipeline over every entry, makes a sample of the label's value
// and aggregates each series' samples in every step's window. When grouped
// (a sum pushed down, for the operators it commutes with), series labels
// are grouped by g at once.
func (ev *evaluator) evalUnwrapRange(r *RangeAggregation, g *Grouping, grouped bool) ([]*series, error) {
	from := ev.start.Add(-r.Offset - r.Range)
	to := ev.stepTime(ev.steps - 1).Add(-r.Offset)
	u := r.Unwrap
	set := newSeriesSet(ev.opts.MaxSeries)
	var samples [][]sample
	seen := 0
	err := ev.fetch(ev.ctx, r.Query.Matchers, from, to, func(e Entry) error {
		if seen++; seen%ctxCheckInterval == 0 {
			if err := ev.ctx.Err(); err != nil {
				return err
			}
		}
		b := labelsBuilder{base: e.Labels, ts: e.Timestamp}
		line, keep := r.Query.run(e.Line, &b)
		if !keep {
			return nil
		}
		s, _ := b.get(u.Label)
		if s == "" {
			return nil // a line without the label has no sample, as in Loki
		}
		v, err := u.convert(s)
		if err != nil {
			if b.err == "" {
				b.setErr(ErrSampleExtraction, err.Error())
			}
			v = 0
		}
		for _, f := range u.PostFilters {
			if _, keep := (&LabelFilterStage{Filter: f}).process(line, &b); !keep {
				return nil
			}
		}
		lbls := b.labels()
		if b.err != "" {
			return &PipelineError{ErrorType: b.err, Series: lbls}
		}
		// The series is the entry's labels without the unwrapped one, or
		// those of the grouping.
		if rg := r.Grouping; rg != nil && !rg.Without {
			lbls = groupLabels(lbls, rg)
		} else {
			without := &Grouping{Without: true, Labels: []string{u.Label}}
			if rg != nil {
				without.Labels = append(without.Labels, rg.Labels...)
			}
			lbls = groupLabels(lbls, without)
		}
		if grouped {
			lbls = groupLabels(lbls, g)
		}
		i, err := set.get(lbls)
		if err != nil {
			return err
		}
		for i >= len(samples) {
			samples = append(samples, nil)
		}
		samples[i] = append(samples[i], sample{ts: e.Timestamp.UnixNano(), v: v})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*series, 0, len(set.list))
	for i, s := range set.list {
		ss := samples[i]
		if !slices.IsSortedFunc(ss, func(a, b sample) int { return int(a.ts - b.ts) }) {
			sort.SliceStable(ss, func(a, b int) bool { return ss[a].ts < ss[b].ts })
		}
		lo, hi := 0, 0
		for k := 0; k < ev.steps; k++ {
			if err := ev.checkCtx(k); err != nil {
				return nil, err
			}
			end := ev.stepTime(k).Add(-r.Offset).UnixNano()
			start := end - int64(r.Range)
			for hi < len(ss) && ss[hi].ts <= end {
				hi++
			}
			for lo < hi && ss[lo].ts <= start {
				lo++
			}
			if lo == hi {
				continue
			}
			v, ok := aggregateSamples(r, ss[lo:hi], start, end)
			if ok {
				s.points = append(s.points, point{k: k, v: v})
			}
		}
		if len(s.points) > 0 {
			out = append(out, s)
		}
	}
	return out, nil
}

// aggregateSamples applies a range operator to the samples of one window
// (start, end]; ok is false when it has no value there.
func aggregateSamples(r *RangeAggregation, ss []sample, start, end int64) (float64, bool) {
	switch r.Op {
	case OpRate:
		return sumSamples(ss) / r.Range.Seconds(), true
	case OpSumOverTime:
		return sumSamples(ss), true
	case OpAvgOverTime:
		// Kahan-free mean, incrementally, as PromQL's avg_over_time.
		var mean float64
		for i, s := range ss {
			mean += (s.v - mean) / float64(i+1)
		}
		return mean, true
	case OpMinOverTime, OpMaxOverTime:
		v := ss[0].v
		for _, s := range ss[1:] {
			if (r.Op == OpMaxOverTime && (s.v > v || math.IsNaN(v))) || (r.Op == OpMinOverTime && (s.v < v || math.IsNaN(v))) {
				v = s.v
			}
		}
		return v, true
	case OpStdvarOverTime, OpStddevOverTime:
		var n, mean, m2 float64
		for _, s := range ss {
			n++
			d := s.v - mean
			mean += d / n
			m2 += d * (s.v - mean)
		}
		if r.Op == OpStddevOverTime {
			return math.Sqrt(m2 / n), true
		}
		return m2 / n, true
	case OpQuantileOverTime:
		vs := make([]float64, len(ss))
		for i, s := range ss {
			vs[i] = s.v
		}
		return quantile(r.Param, vs), true
	case OpFirstOverTime:
		return ss[0].v, true
	case OpLastOverTime:
		return ss[len(ss)-1].v, true
	case OpRateCounter:
		return extrapolatedRate(ss, start, end, time.Duration(end-start))
	}
	panic("BUG: unknown unwrapped range operator " + r.Op)
}

func sumSamples(ss []sample) float64 {
	var sum float64
	for _, s := range ss {
		sum += s.v
	}
	return sum
}

// quantile is PromQL's: the φ-quantile of vs by linear interpolation
// between the closest ranks; -Inf for φ < 0, +Inf for φ > 1.
func quantile(q float64, vs []float64) float64 {
	switch {
	case len(vs) == 0 || math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(1)
	}
	sort.Float64s(vs)
	n := float64(len(vs))
	rank := q * (n - 1)
	lower := math.Max(0, math.Floor(rank))
	upper := math.Min(n-1, lower+1)
	w := rank - math.Floor(rank)
	return vs[int(lower)]*(1-w) + vs[int(upper)]*w
}

// extrapolatedRate is PromQL's rate() over counter samples in the window
// (start, end]: the increase, corrected for counter resets, extrapolated
// to the window's edges, per second. It needs two samples.
func extrapolatedRate(ss []sample, start, end int64, rng time.Duration) (float64, bool) {
	if len(ss) < 2 {
		return 0, false
	}
	first, last := ss[0], ss[len(ss)-1]
	result := last.v - first.v
	prev := first.v
	for _, s := range ss[1:] {
		if s.v < prev {
			result += prev
		}
		prev = s.v
	}
	secs := func(ns int64) float64 { return float64(ns) / 1e9 }
	durationToStart := secs(first.ts - start)
	durationToEnd := secs(end - last.ts)
	sampled := secs(last.ts - first.ts)
	if sampled == 0 {
		return 0, false
	}
	avgBetween := sampled / float64(len(ss)-1)
	if result > 0 && first.v >= 0 {
		if toZero := sampled * (first.v / result); toZero < durationToStart {
			durationToStart = toZero
		}
	}
	threshold := avgBetween * 1.1
	interval := sampled
	if durationToStart < threshold {
		interval += durationToStart
	} else {
		interval += avgBetween / 2
	}
	if durationToEnd < threshold {
		interval += durationToEnd
	} else {
		interval += avgBetween / 2
	}
	return result * (interval / sampled) / rng.Seconds(), true
}

// evalAbsent is absent_over_time: 1 at the steps whose window has no entry
// (with unwrap, no sample) at all, in a series labelled with the
// selector's equality matchers (a name matched twice left out), as in Loki
// and Prometheus.
func (ev *evaluator) evalAbsent(r *RangeAggregation) ([]*series, error) {
	inner := *r
	var present []*series
	var err error
	if r.Unwrap != nil {
		inner.Op = OpSumOverTime
		present, err = ev.evalUnwrapRange(&inner, nil, true)
	} else {
		inner.Op = OpCountOverTime
		present, err = ev.evalRange(&inner, nil, true)
	}
	if err != nil {
		return nil, err
	}
	has := make([]bool, ev.steps)
	for _, s := range present {
		for _, p := range s.points {
			has[p.k] = true
		}
	}
	out := &series{lbls: absentLabels(r.Query.Matchers)}
	for k := range has {
		if !has[k] {
			out.points = append(out.points, point{k: k, v: 1})
		}
	}
	if len(out.points) == 0 {
		return nil, nil
	}
	return []*series{out}, nil
}

func absentLabels(ms []*labels.Matcher) labels.Labels {
	b := labels.NewBuilder(labels.EmptyLabels())
	twice := map[string]bool{}
	for _, m := range ms {
		if m.Type != labels.MatchEqual {
			continue
		}
		if b.Get(m.Name) != "" || twice[m.Name] {
			twice[m.Name] = true
			b.Del(m.Name)
			continue
		}
		b.Set(m.Name, m.Value)
	}
	return b.Labels()
}

// evalLabelReplace applies label_replace to every series.
func (ev *evaluator) evalLabelReplace(l *LabelReplace) (value, error) {
	v, err := ev.eval(l.Expr)
	if err != nil {
		return value{}, err
	}
	in := v.series
	if v.isScalar {
		in = []*series{ev.scalarSeries(v.scalar)}
	}
	out := newSeriesSet(ev.opts.MaxSeries)
	for _, s := range in {
		lbls := s.lbls
		src := lbls.Get(l.Src)
		if idx := l.re.FindStringSubmatchIndex(src); idx != nil {
			res := string(l.re.ExpandString(nil, l.Replacement, src, idx))
			b := labels.NewBuilder(lbls)
			if res == "" {
				b.Del(l.Dst)
			} else {
				b.Set(l.Dst, res)
			}
			lbls = b.Labels()
		}
		i, err := out.get(lbls)
		if err != nil {
			return value{}, err
		}
		for _, p := range s.points {
			if err := out.add(i, p.k, p.v); err != nil {
				return value{}, fmt.Errorf("label_replace: %w", err)
			}
		}
	}
	return value{series: out.list}, nil
}

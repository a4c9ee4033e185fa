package metricsexporter

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"math"
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	prw "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

// fastPath appends the data points of series the tenant has sent before
// without Prometheus' translator. Profiled under the benchmark's load, the
// translator was a quarter of OTLP ingest's CPU: for every data point it
// sorts and sanitises the attributes, merges in the promoted resource
// attributes, job and instance, and builds a label set per series (a
// histogram's _sum, _count and each bucket), all only to find a series
// that was there a minute ago.
//
// So a series is also cached under an ID made of what its labels are made
// of: the resource's attributes, the scope, the metric's name, unit,
// description, type and temporality, the data point's attributes and, for
// a histogram, its bounds and which of its series it is. A metric all of
// whose data points have known IDs is appended from the cache and taken
// out of the request; the translator converts the rest as before.
//
// The IDs are learnt from the translator itself: a metric with an unknown
// data point is, once the translator has appended the request, also
// converted alone into a recorder, and its series are cached only if the
// recorder got the samples, in number, order and values, that the fast
// path would append for it. What the translator
// does, the fast path therefore does too, or it leaves the metric alone.
//
// It takes gauges, cumulative sums, cumulative explicit-bucket histograms
// and cumulative exponential histograms without exemplars: the bulk of
// what SDKs send. An exponential histogram's data point is converted to
// a native histogram on every export (nativeHistogram, which lays out the
// buckets as the translator does), only its series is cached. Summaries,
// delta metrics, data points with exemplars and metrics the translator
// refuses always go through the translator.
//
// The translator derives a resource's target_info samples from the
// resource's attributes and the span of its data points. So in each
// resource two keepers, a metric with the earliest data point and one
// with the latest, are left to it unless the fast path took all the
// others and knows the resource's target_info series (or that it has
// none): then it appends the keepers and the target_info samples itself,
// at the translator's timestamps (targetInfoTimes), and the translator
// has nothing of the resource. It learns the target_info series as it
// learns the others: from the translator's conversion of a keeper alone
// in its resource, if that made the samples targetInfoTimes says. Left
// to the translator, the keepers were 3% of the benchmark's OTLP data
// points and 5% of its ingest CPU.
type fastPath struct {
	settings prw.Settings
	seeds    [2]maphash.Seed
	scratch  sync.Pool // of *fastRun
}

func newFastPath(settings prw.Settings) *fastPath {
	return &fastPath{settings: settings, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

// fastRun is one request's scratch space.
type fastRun struct {
	buf     []byte
	samples []sample
	marks   []tsdbstore.Mark
	entries []tsdbstore.SeriesEntry
	prev    []tsdbstore.Mark
	hits    []hit
	taken   []bool
	spans   []metricSpan
	cursor  tsdbstore.Cursor // the request's lookups of groups
	unknown []unknownMetric  // to learn once the translator has appended them
	kept    []keeper         // a resource's keepers
	// unknownInfo are the resources whose target_info is to be learnt.
	unknownInfo []unknownInfo
	times       []int64
	seen        map[infoSample]struct{} // the request's target_info samples
}

type unknownInfo struct {
	rm    pmetric.ResourceMetrics
	resID tsdbstore.ID
	k     keeper // converted alone in rm
}

// infoSample is a target_info sample, by the hash of its labels, which the
// translator appends once per request.
type infoSample struct {
	hash uint64
	t    int64
}

// unknownMetric is a metric the fast path could take but did not know.
type unknownMetric struct {
	rm     pmetric.ResourceMetrics
	sm     pmetric.ScopeMetrics
	m      pmetric.Metric
	prefix [3]tsdbstore.ID
}

// sample is a float sample or, with h, a native histogram sample.
type sample struct {
	t int64
	v float64
	h *histogram.Histogram
}

// mark is the duplicate mark of s in request: histograms have none, as
// on the translator's way.
func (s sample) mark(request uint64) tsdbstore.Mark {
	if s.h != nil {
		return tsdbstore.Mark{}
	}
	return tsdbstore.Mark{Request: request, T: s.t, V: s.v}
}

type hit struct {
	key   cacheKey
	entry tsdbstore.SeriesEntry
	prev  tsdbstore.Mark
	mark  tsdbstore.Mark
	s     sample
}

// appendKnown appends what a knows of md and removes it from md, hands
// the rest to translate, and then learns the IDs of the series of the
// metrics it could have taken. It learns after the translator has
// appended them so that a group holds the head's references and labels,
// which the translator's appends left in a's cache under their hashes:
// learnt before, a group held a second copy of every new series' labels,
// for as long as the series lived. An error is the store's: the request
// fails.
func (f *fastPath) appendKnown(ctx context.Context, md pmetric.Metrics, a *seriesAppender, translate func()) error {
	if f == nil || a.refs == nil {
		translate() // none, or the store refused the tenant: the translator says so
		return nil
	}
	r, _ := f.scratch.Get().(*fastRun)
	if r == nil {
		r = &fastRun{}
	}
	defer f.scratch.Put(r)
	r.cursor = tsdbstore.Cursor{}
	defer func() {
		clear(r.unknown) // the pool must not keep the request
		r.unknown = r.unknown[:0]
		clear(r.unknownInfo)
		r.unknownInfo = r.unknownInfo[:0]
		clear(r.kept)
	}()
	clear(r.seen)
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		first, last, lo, hi := keepers(r, rm)
		resID := f.resourceID(r, rm)
		sms := rm.ScopeMetrics()
		r.taken, r.kept = r.taken[:0], r.kept[:0]
		all := true // every metric of rm but the keepers taken
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			scopeID := f.scopeID(r, sm)
			ms := sm.Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				got := left
				if eligible(m) {
					prefix := [3]tsdbstore.ID{resID, scopeID, f.metricID(r, m)}
					if m == first || m == last {
						r.kept = append(r.kept, keeper{sm: sm, m: m, prefix: prefix, at: len(r.taken)})
						r.taken = append(r.taken, false)
						continue
					}
					var err error
					if got, err = f.appendMetric(r, a, m, prefix); err != nil {
						return err
					}
					if got == unknown {
						r.unknown = append(r.unknown, unknownMetric{rm, sm, m, prefix})
					}
				}
				all = all && got == taken
				r.taken = append(r.taken, got == taken)
			}
		}
		if len(r.kept) > 0 {
			// Only the keepers left (all): with the resource's
			// target_info known, the translator is not needed.
			ok, err := f.appendKeepers(r, a, rm, resID, lo, hi, all)
			if err != nil {
				return err
			}
			for _, k := range r.kept {
				r.taken[k.at] = ok
			}
		}
		x := 0
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			taken := r.taken[x : x+ms.Len()]
			x += ms.Len()
			if slices.Contains(taken, true) {
				k := 0
				ms.RemoveIf(func(pmetric.Metric) bool { k++; return taken[k-1] })
			}
		}
	}
	translate()
	for _, u := range r.unknown {
		f.learn(ctx, r, a.refs, u.rm, u.sm, u.m, u.prefix)
	}
	for _, u := range r.unknownInfo {
		f.learnTargetInfo(ctx, r, a.refs, u.rm, u.resID, u.k)
	}
	return nil
}

// keeper is a metric keepers chose, at r.taken[at].
type keeper struct {
	sm     pmetric.ScopeMetrics
	m      pmetric.Metric
	prefix [3]tsdbstore.ID
	at     int
}

// What appendMetric did with a metric.
type outcome int

const (
	left    outcome = iota // to the translator
	unknown                // to the translator, which the fast path can learn from
	taken                  // appended
)

// appendMetric appends every sample of m if the cache knows all its
// series.
func (f *fastPath) appendMetric(r *fastRun, a *seriesAppender, m pmetric.Metric, prefix [3]tsdbstore.ID) (outcome, error) {
	r.hits = r.hits[:0]
	if got := f.lookup(r, a, m, prefix); got != taken {
		return got, nil
	}
	a.m.untranslated.Add(float64(pointCount(m)))
	return taken, f.storeHits(r, a)
}

// lookup adds to r.hits the samples of m and their series, if the cache
// knows them all (taken).
func (f *fastPath) lookup(r *fastRun, a *seriesAppender, m pmetric.Metric, prefix [3]tsdbstore.ID) outcome {
	for x := range pointCount(m) {
		if hasExemplars(m, x) {
			return left
		}
		var ok bool
		if r.samples, ok = samplesOf(m, x, r.samples[:0]); !ok {
			return left
		}
		r.marks = r.marks[:0]
		for _, s := range r.samples {
			r.marks = append(r.marks, s.mark(a.request))
		}
		// One lookup for all the series of the data point.
		pid := f.pointID(r, m, x, prefix)
		r.entries, r.prev, ok = a.refs.GetGroup(&r.cursor, pid, r.marks, r.entries[:0], r.prev[:0])
		if !ok {
			if _, _, failed := a.refs.GetGroup(nil, f.unlearnable(r, prefix), nil, nil, nil); failed {
				return left
			}
			return unknown
		}
		for i, e := range r.entries {
			r.hits = append(r.hits, hit{key: cacheKey{group: pid, member: i}, entry: e, prev: r.prev[i], mark: r.marks[i], s: r.samples[i]})
		}
	}
	return taken
}

// storeHits appends the samples of r.hits.
func (f *fastPath) storeHits(r *fastRun, a *seriesAppender) error {
	for _, h := range r.hits {
		md, family := h.entry.Meta.Data()
		meta := prw.Metadata{Metadata: md, MetricFamilyName: family}
		if err := a.store(h.key, h.entry, h.prev, true, h.mark, h.entry.Labels, meta, h.s.t, h.s.v, h.s.h, nil); err != nil {
			return err
		}
	}
	return nil
}

// appendKeepers appends the keepers of rm, the metrics with its earliest
// (lo) and latest (hi) data points, and its target_info samples, if take
// and the cache knows all their series: then the translator is not needed
// for rm. False leaves them to the translator, which they are learnt from
// if they are unknown (taken or not, so that the next request can take
// them).
func (f *fastPath) appendKeepers(r *fastRun, a *seriesAppender, rm pmetric.ResourceMetrics, resID tsdbstore.ID, lo, hi pcommon.Timestamp, take bool) (bool, error) {
	info := f.targetInfoID(r, resID)
	known := true
	var target tsdbstore.SeriesEntry // none if the resource has no target_info
	r.marks = append(r.marks[:0], tsdbstore.Mark{})
	var ok bool
	if r.entries, r.prev, ok = a.refs.GetGroup(nil, info, r.marks, r.entries[:0], r.prev[:0]); ok {
		target = r.entries[0]
	} else if _, _, ok = a.refs.GetGroup(nil, info, nil, nil, nil); !ok {
		r.unknownInfo = append(r.unknownInfo, unknownInfo{rm: rm, resID: resID, k: r.kept[0]})
		known = false
	}
	r.hits = r.hits[:0]
	for _, k := range r.kept {
		switch f.lookup(r, a, k.m, k.prefix) {
		case unknown:
			r.unknown = append(r.unknown, unknownMetric{rm, k.sm, k.m, k.prefix})
			known = false
		case left:
			known = false
		}
	}
	if !take || !known {
		return false, nil
	}
	for _, k := range r.kept {
		a.m.untranslated.Add(float64(pointCount(k.m)))
	}
	if err := f.storeHits(r, a); err != nil {
		return true, err
	}
	if target.Labels.IsEmpty() {
		return true, nil // the resource has no target_info
	}
	md, family := target.Meta.Data()
	meta := prw.Metadata{Metadata: md, MetricFamilyName: family}
	hash := target.Labels.Hash()
	if r.seen == nil {
		r.seen = map[infoSample]struct{}{}
	}
	for _, t := range f.targetInfoTimes(lo, hi, r.times[:0]) {
		if _, dup := r.seen[infoSample{hash, t}]; dup {
			continue
		}
		r.seen[infoSample{hash, t}] = struct{}{}
		if err := a.store(cacheKey{group: info}, target, tsdbstore.Mark{}, true, tsdbstore.Mark{}, target.Labels, meta, t, 1, nil, nil); err != nil {
			return true, err
		}
	}
	return true, nil
}

// targetInfoID is the group of a resource's target_info series: one
// member, or none if the resource has no target_info.
func (f *fastPath) targetInfoID(r *fastRun, resID tsdbstore.ID) tsdbstore.ID {
	b := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(r.buf[:0], resID[0]), resID[1])
	return f.hash(r, append(b, targetInfo...))
}

// targetInfoTimes appends the timestamps of the target_info samples the
// translator makes for a resource whose data points span lo to hi: every
// half lookback delta from lo, and hi, each once.
func (f *fastPath) targetInfoTimes(lo, hi pcommon.Timestamp, out []int64) []int64 {
	interval := f.settings.LookbackDelta / 2
	earliest, latest := lo.AsTime(), hi.AsTime()
	for ts := earliest; ts.Before(latest); ts = ts.Add(interval) {
		out = appendOnce(out, ts.UnixMilli())
	}
	return appendOnce(out, latest.UnixMilli())
}

// appendOnce appends t to the non-decreasing ts unless it is its last.
func appendOnce(ts []int64, t int64) []int64 {
	if len(ts) > 0 && ts[len(ts)-1] == t {
		return ts
	}
	return append(ts, t)
}

// learnTargetInfo converts the keeper k alone in its resource rm and, if
// the translator made of it the target_info samples targetInfoTimes says
// (or none), caches rm's target_info series.
func (f *fastPath) learnTargetInfo(ctx context.Context, r *fastRun, refs *tsdbstore.SeriesRefs, rm pmetric.ResourceMetrics, resID tsdbstore.ID, k keeper) {
	rec, _ := f.convertAlone(ctx, rm, k.sm, k.m) // target_info comes even if k.m is refused
	lo, hi := timestamps(k.m)
	want := f.targetInfoTimes(lo, hi, r.times[:0])
	n := 0 // target_info calls, last
	for n < len(rec.calls) && rec.calls[len(rec.calls)-1-n].meta.MetricFamilyName == targetInfo {
		n++
	}
	calls := rec.calls[len(rec.calls)-n:]
	if n == len(rec.calls) && n > 0 {
		return // k.m is a target_info of its own
	}
	if n == 0 {
		refs.PutGroup(f.targetInfoID(r, resID), nil)
		return
	}
	if n != len(want) {
		return
	}
	for i, c := range calls {
		if c.t != want[i] || c.v != 1 || c.h != nil || !labels.Equal(c.ls, calls[0].ls) || c.meta != calls[0].meta {
			return
		}
	}
	c := calls[0]
	e := tsdbstore.SeriesEntry{Labels: c.ls, Meta: tsdbstore.ShareMeta(nil, c.meta.Metadata, c.meta.MetricFamilyName)}
	if hashed, ok := takeHashed(refs, c.ls); ok {
		e.Ref, e.Labels = hashed.Ref, hashed.Labels
	}
	refs.PutGroup(f.targetInfoID(r, resID), []tsdbstore.SeriesEntry{e})
}

// convertAlone converts m alone in its resource and scope, as the
// translator does, into a recorder.
func (f *fastPath) convertAlone(ctx context.Context, rm pmetric.ResourceMetrics, sm pmetric.ScopeMetrics, m pmetric.Metric) (recorder, error) {
	one := pmetric.NewMetrics()
	orm := one.ResourceMetrics().AppendEmpty()
	rm.Resource().CopyTo(orm.Resource())
	osm := orm.ScopeMetrics().AppendEmpty()
	sm.Scope().CopyTo(osm.Scope())
	osm.SetSchemaUrl(sm.SchemaUrl())
	m.CopyTo(osm.Metrics().AppendEmpty())
	var rec recorder
	_, err := prw.NewPrometheusConverter(&rec).FromMetrics(ctx, one, f.settings)
	return rec, err
}

// takeHashed returns the entry of series ls that the translator's appends
// left in refs under its hash (the head's reference, and the labels the
// head holds rather than a copy), and takes it out: a group holds it now.
func takeHashed(refs *tsdbstore.SeriesRefs, ls labels.Labels) (tsdbstore.SeriesEntry, bool) {
	e, _, ok := refs.Get(ls.Hash(), ls, tsdbstore.Mark{})
	if ok {
		refs.Forget(ls.Hash(), ls)
	}
	return e, ok
}

// unlearnable is the group under which the cache remembers, for as long as it
// keeps an entry, that the metric of prefix could not be learnt, so that it
// is not translated twice in every request.
func (f *fastPath) unlearnable(r *fastRun, prefix [3]tsdbstore.ID) tsdbstore.ID {
	return f.hash(r, append(appendPrefix(r.buf[:0], prefix), "unlearnable"...))
}

// appendPrefix appends the IDs of a metric's resource, scope and metric.
func appendPrefix(b []byte, prefix [3]tsdbstore.ID) []byte {
	for _, id := range prefix {
		b = binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(b, id[0]), id[1])
	}
	return b
}

// learn converts m alone into a recorder and, if the translator made of
// it exactly the samples samplesOf says, caches its series by ID.
func (f *fastPath) learn(ctx context.Context, r *fastRun, refs *tsdbstore.SeriesRefs, rm pmetric.ResourceMetrics, sm pmetric.ScopeMetrics, m pmetric.Metric, prefix [3]tsdbstore.ID) {
	rec, err := f.convertAlone(ctx, rm, sm, m)
	if err != nil || !rec.matches(r, m) {
		refs.PutGroup(f.unlearnable(r, prefix), nil)
		return
	}
	j := 0
	var meta *tsdbstore.SeriesMeta // shared by the metric's series
	for x := range pointCount(m) {
		samples, _ := samplesOf(m, x, r.samples[:0])
		n := len(samples)
		pid := f.pointID(r, m, x, prefix)
		r.marks = append(r.marks[:0], make([]tsdbstore.Mark, n)...)
		known, _, ok := refs.GetGroup(nil, pid, r.marks, r.entries[:0], r.prev[:0])
		group := make([]tsdbstore.SeriesEntry, n)
		for i := range group {
			c := rec.calls[j]
			j++
			meta = tsdbstore.ShareMeta(meta, c.meta.Metadata, c.meta.MetricFamilyName)
			group[i] = tsdbstore.SeriesEntry{Labels: c.ls, Meta: meta}
			// The head's reference, and the labels it holds rather than
			// a copy, if the series was appended before (else the first
			// append finds it by its labels).
			if ok && labels.Equal(known[i].Labels, c.ls) {
				group[i].Ref, group[i].Labels = known[i].Ref, known[i].Labels
			} else if e, ok := takeHashed(refs, c.ls); ok {
				group[i].Ref, group[i].Labels = e.Ref, e.Labels
			}
		}
		refs.PutGroup(pid, group)
	}
}

// matches says whether the translator made of m, alone in its resource,
// exactly the samples samplesOf says, all of m's family, followed by
// nothing but the resource's target_info (a gauge called target_info is
// left to the translator).
func (rec *recorder) matches(r *fastRun, m pmetric.Metric) bool {
	if len(rec.calls) == 0 || rec.calls[0].meta.MetricFamilyName == targetInfo {
		return false
	}
	j := 0
	for x := range pointCount(m) {
		var ok bool
		if r.samples, ok = samplesOf(m, x, r.samples[:0]); !ok {
			return false
		}
		for _, s := range r.samples {
			if j >= len(rec.calls) || rec.calls[j].meta != rec.calls[0].meta || rec.calls[j].t != s.t ||
				math.Float64bits(rec.calls[j].v) != math.Float64bits(s.v) || !sameHistogram(rec.calls[j].h, s.h) {
				return false
			}
			j++
		}
	}
	for _, c := range rec.calls[j:] {
		if c.meta.MetricFamilyName != targetInfo {
			return false
		}
	}
	return true
}

const targetInfo = "target_info"

// sameHistogram says whether a and b are both nil or the same histogram
// bit for bit, with the same layout.
func sameHistogram(a, b *histogram.Histogram) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.CounterResetHint == b.CounterResetHint && a.Schema == b.Schema &&
		math.Float64bits(a.ZeroThreshold) == math.Float64bits(b.ZeroThreshold) &&
		a.ZeroCount == b.ZeroCount && a.Count == b.Count && math.Float64bits(a.Sum) == math.Float64bits(b.Sum) &&
		slices.Equal(a.PositiveSpans, b.PositiveSpans) && slices.Equal(a.NegativeSpans, b.NegativeSpans) &&
		slices.Equal(a.PositiveBuckets, b.PositiveBuckets) && slices.Equal(a.NegativeBuckets, b.NegativeBuckets) &&
		slices.Equal(a.CustomValues, b.CustomValues)
}

// recorder is a CombinedAppender that keeps what the translator makes.
type recorder struct {
	calls []recorded
}

type recorded struct {
	ls   labels.Labels
	meta prw.Metadata
	t    int64
	v    float64
	h    *histogram.Histogram
}

func (r *recorder) AppendSample(ls labels.Labels, meta prw.Metadata, _, t int64, v float64, _ []exemplar.Exemplar) error {
	r.calls = append(r.calls, recorded{ls: ls, meta: meta, t: t, v: v})
	return nil
}

func (r *recorder) AppendHistogram(ls labels.Labels, meta prw.Metadata, _, t int64, h *histogram.Histogram, _ []exemplar.Exemplar) error {
	r.calls = append(r.calls, recorded{ls: ls, meta: meta, t: t, h: h})
	return nil
}

// eligible says whether the fast path takes m's kind of metric (one
// without data points is the translator's to refuse).
func eligible(m pmetric.Metric) bool {
	switch m.Type() {
	case pmetric.MetricTypeGauge, pmetric.MetricTypeSum, pmetric.MetricTypeHistogram, pmetric.MetricTypeExponentialHistogram:
		if pointCount(m) == 0 {
			return false
		}
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return true
	case pmetric.MetricTypeSum:
		return m.Sum().AggregationTemporality() == pmetric.AggregationTemporalityCumulative
	case pmetric.MetricTypeHistogram:
		return m.Histogram().AggregationTemporality() == pmetric.AggregationTemporalityCumulative
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().AggregationTemporality() == pmetric.AggregationTemporalityCumulative
	}
	return false
}

func numberPoints(m pmetric.Metric) pmetric.NumberDataPointSlice {
	if m.Type() == pmetric.MetricTypeGauge {
		return m.Gauge().DataPoints()
	}
	return m.Sum().DataPoints()
}

// pointCount is the number of data points of an eligible metric.
func pointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	}
	return numberPoints(m).Len()
}

func hasExemplars(m pmetric.Metric, x int) bool {
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().At(x).Exemplars().Len() > 0
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().At(x).Exemplars().Len() > 0
	}
	return numberPoints(m).At(x).Exemplars().Len() > 0
}

// samplesOf appends to out the samples Prometheus' translator makes of
// data point x of the eligible metric m, in its order: the value of a
// gauge or sum; a histogram's _sum (if it has one), _count, each bucket's
// cumulative count and the +Inf bucket; an exponential histogram's native
// histogram. A point flagged as having no value gives stale markers.
// False for a point the translator refuses.
func samplesOf(m pmetric.Metric, x int, out []sample) ([]sample, bool) {
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		return histogramSamples(m.Histogram().DataPoints().At(x), out), true
	case pmetric.MetricTypeExponentialHistogram:
		p := m.ExponentialHistogram().DataPoints().At(x)
		h, ok := nativeHistogram(p)
		return append(out, sample{t: millis(p.Timestamp()), h: h}), ok
	}
	p := numberPoints(m).At(x)
	var v float64
	switch p.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		v = float64(p.IntValue())
	case pmetric.NumberDataPointValueTypeDouble:
		v = p.DoubleValue()
	}
	return append(out, sample{t: millis(p.Timestamp()), v: orStale(v, p.Flags())}), true
}

// histogramSamples appends the samples of a histogram data point.
func histogramSamples(p pmetric.HistogramDataPoint, out []sample) []sample {
	t := millis(p.Timestamp())
	if p.HasSum() {
		out = append(out, sample{t: t, v: orStale(p.Sum(), p.Flags())})
	}
	out = append(out, sample{t: t, v: orStale(float64(p.Count()), p.Flags())})
	var cumulative uint64
	for i := range min(p.ExplicitBounds().Len(), p.BucketCounts().Len()) {
		cumulative += p.BucketCounts().At(i)
		out = append(out, sample{t: t, v: orStale(float64(cumulative), p.Flags())})
	}
	return append(out, sample{t: t, v: orStale(float64(p.Count()), p.Flags())})
}

func millis(ts pcommon.Timestamp) int64 { return int64(ts) / 1_000_000 }

func orStale(v float64, flags pmetric.DataPointFlags) float64 {
	if flags.NoRecordedValue() {
		return math.Float64frombits(value.StaleNaN)
	}
	return v
}

// keepers returns the metrics of rm that the translator keeps for
// target_info: one with rm's earliest data point and one with its latest,
// of those not eligible if there are any (the translator converts them
// anyway), else the smallest.
func keepers(r *fastRun, rm pmetric.ResourceMetrics) (first, last pmetric.Metric, lo, hi pcommon.Timestamp) {
	lo, hi = pcommon.Timestamp(math.MaxUint64), pcommon.Timestamp(0)
	r.spans = r.spans[:0]
	sms := rm.ScopeMetrics()
	for j := 0; j < sms.Len(); j++ {
		ms := sms.At(j).Metrics()
		for k := 0; k < ms.Len(); k++ {
			s := metricSpan{m: ms.At(k)}
			s.lo, s.hi = timestamps(s.m)
			r.spans = append(r.spans, s)
			lo, hi = min(lo, s.lo), max(hi, s.hi)
		}
	}
	rank := func(m pmetric.Metric) int {
		if !eligible(m) {
			return -1
		}
		return pointCount(m)
	}
	var firstRank, lastRank int
	for _, s := range r.spans {
		if s.lo == lo && (first == (pmetric.Metric{}) || rank(s.m) < firstRank) {
			first, firstRank = s.m, rank(s.m)
		}
		if s.hi == hi && (last == (pmetric.Metric{}) || rank(s.m) < lastRank) {
			last, lastRank = s.m, rank(s.m)
		}
	}
	return first, last, lo, hi
}

// metricSpan is a metric with its earliest and latest timestamp.
type metricSpan struct {
	m      pmetric.Metric
	lo, hi pcommon.Timestamp
}

// timestamps is the earliest and latest timestamp of m's data points, as
// the translator finds them for target_info.
func timestamps(m pmetric.Metric) (lo, hi pcommon.Timestamp) {
	switch m.Type() {
	case pmetric.MetricTypeGauge, pmetric.MetricTypeSum:
		return span(numberPoints(m).Len(), numberPoints(m).At)
	case pmetric.MetricTypeHistogram:
		return span(m.Histogram().DataPoints().Len(), m.Histogram().DataPoints().At)
	case pmetric.MetricTypeExponentialHistogram:
		return span(m.ExponentialHistogram().DataPoints().Len(), m.ExponentialHistogram().DataPoints().At)
	case pmetric.MetricTypeSummary:
		return span(m.Summary().DataPoints().Len(), m.Summary().DataPoints().At)
	}
	return pcommon.Timestamp(math.MaxUint64), 0
}

// span is the earliest and latest timestamp of the n points at gives.
func span[P interface{ Timestamp() pcommon.Timestamp }](n int, at func(int) P) (lo, hi pcommon.Timestamp) {
	lo = pcommon.Timestamp(math.MaxUint64)
	for i := range n {
		ts := at(i).Timestamp()
		lo, hi = min(lo, ts), max(hi, ts)
	}
	return lo, hi
}

// hash is the 128-bit hash of b, which lives in r.buf.
func (f *fastPath) hash(r *fastRun, b []byte) tsdbstore.ID {
	r.buf = b
	return tsdbstore.ID{maphash.Bytes(f.seeds[0], b), maphash.Bytes(f.seeds[1], b)}
}

// resourceID, scopeID and metricID hash what the labels of a metric's
// series are made of: the IDs of its resource, scope and metric are the
// prefix of its data points' IDs.
func (f *fastPath) resourceID(r *fastRun, rm pmetric.ResourceMetrics) tsdbstore.ID {
	return f.hash(r, appendMap(r.buf[:0], rm.Resource().Attributes()))
}

func (f *fastPath) scopeID(r *fastRun, sm pmetric.ScopeMetrics) tsdbstore.ID {
	scope := sm.Scope()
	b := appendString(appendString(appendString(r.buf[:0], scope.Name()), scope.Version()), sm.SchemaUrl())
	return f.hash(r, appendMap(b, scope.Attributes()))
}

func (f *fastPath) metricID(r *fastRun, m pmetric.Metric) tsdbstore.ID {
	return f.hash(r, appendMetricIdentity(r.buf[:0], m))
}

// pointID hashes the data point x of m under prefix, the IDs of its
// resource, scope and metric: its attributes and, for a histogram, what
// decides its series (bounds, whether it has a sum, how many counts).
func (f *fastPath) pointID(r *fastRun, m pmetric.Metric, x int, prefix [3]tsdbstore.ID) tsdbstore.ID {
	b := appendPrefix(r.buf[:0], prefix)
	switch m.Type() {
	case pmetric.MetricTypeGauge, pmetric.MetricTypeSum:
		return f.hash(r, appendMap(b, numberPoints(m).At(x).Attributes()))
	case pmetric.MetricTypeExponentialHistogram:
		return f.hash(r, appendMap(b, m.ExponentialHistogram().DataPoints().At(x).Attributes()))
	}
	p := m.Histogram().DataPoints().At(x)
	b = appendMap(b, p.Attributes())
	b = binary.AppendUvarint(b, uint64(p.BucketCounts().Len()))
	if p.HasSum() {
		b = append(b, 1)
	}
	b = binary.AppendUvarint(b, uint64(p.ExplicitBounds().Len()))
	for i := 0; i < p.ExplicitBounds().Len(); i++ {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.ExplicitBounds().At(i)))
	}
	return f.hash(r, b)
}

// appendMetricIdentity appends what of m decides its series' names, types and
// metadata.
func appendMetricIdentity(b []byte, m pmetric.Metric) []byte {
	b = appendString(appendString(appendString(b, m.Name()), m.Unit()), m.Description())
	b = append(b, byte(m.Type()))
	switch m.Type() {
	case pmetric.MetricTypeSum:
		b = append(b, byte(m.Sum().AggregationTemporality()))
		if m.Sum().IsMonotonic() {
			b = append(b, 1)
		}
	case pmetric.MetricTypeHistogram:
		b = append(b, byte(m.Histogram().AggregationTemporality()))
	}
	return appendMap(b, m.Metadata())
}

// appendMap appends an encoding of attrs that no other map has.
func appendMap(b []byte, attrs pcommon.Map) []byte {
	b = binary.AppendUvarint(b, uint64(attrs.Len()))
	attrs.Range(func(k string, v pcommon.Value) bool {
		b = appendValue(appendString(b, k), v)
		return true
	})
	return b
}

func appendValue(b []byte, v pcommon.Value) []byte {
	b = append(b, byte(v.Type()))
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendString(b, v.Str())
	case pcommon.ValueTypeInt:
		return binary.LittleEndian.AppendUint64(b, uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Double()))
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return append(b, 1)
		}
		return append(b, 0)
	}
	return appendString(b, v.AsString()) // maps, slices, bytes: rare
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

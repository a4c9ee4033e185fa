package shard

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// run is the storage of one split query's evaluations: the queriers they
// share and the parts' results.
//
// The evaluations share one querier per time range, so that a tenant's
// fetch limits count a part's shards together, as they would count the
// part unsplit.
type run struct {
	q                storage.Queryable
	start, end, step int64 // of the query, in ms; step 0 for an instant query

	mu       sync.Mutex
	queriers map[[2]int64]storage.Querier // guarded by mu; opened by the first Select
	results  [][]storage.Series           // [part]; set before the final evaluation
	whole    []parser.Value               // guarded by mu; a whole query's shards' results, copied
}

func newRun(q storage.Queryable, start, end time.Time, step time.Duration, parts int) *run {
	return &run{q: q, start: start.UnixMilli(), end: end.UnixMilli(), step: step.Milliseconds(),
		queriers: map[[2]int64]storage.Querier{}, results: make([][]storage.Series, parts)}
}

// shard is the storage of the evaluations of shard index of count; count
// 0 for the final evaluation, which reads all series and the parts'
// results.
func (r *run) shard(index, count int) storage.Queryable {
	return shardQueryable{r: r, index: uint64(index), count: uint64(count)}
}

// querier returns the shared querier of mint to maxt.
func (r *run) querier(mint, maxt int64) (storage.Querier, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q, ok := r.queriers[[2]int64{mint, maxt}]; ok {
		return q, nil
	}
	q, err := r.q.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	r.queriers[[2]int64{mint, maxt}] = q
	return q, nil
}

func (r *run) setResults(results [][][]storage.Series) {
	for i, shards := range results {
		r.results[i] = slices.Concat(shards...)
	}
}

// addWhole keeps a shard's result v of a whole query, a copy of it if
// copied: the engine takes its memory back when the shard's query is
// closed.
func (r *run) addWhole(v parser.Value, copied bool) {
	if copied {
		v = copyValue(v)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.whole = append(r.whole, v)
}

// copyValue is a copy of an engine's result v.
func copyValue(v parser.Value) parser.Value {
	switch in := v.(type) {
	case promql.Vector:
		out := make(promql.Vector, len(in))
		for i, s := range in {
			out[i] = s
			if s.H != nil {
				out[i].H = s.H.Copy()
			}
		}
		return out
	case promql.Matrix:
		out := make(promql.Matrix, len(in))
		for i, s := range in {
			out[i] = copyPoints(s, s.Metric)
		}
		return out
	}
	return v
}

// copyPoints is s with metric, and copies of its points, which the
// engine takes back when its query is closed.
func copyPoints(s promql.Series, metric labels.Labels) promql.Series {
	out := promql.Series{Metric: metric, Floats: slices.Clone(s.Floats)}
	for _, p := range s.Histograms {
		out.Histograms = append(out.Histograms, promql.HPoint{T: p.T, H: p.H.Copy()})
	}
	return out
}

// union is a whole query's result: its shards' results together, a
// range query's sorted by labels as the engine sorts them.
func (r *run) union() parser.Value {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.step == 0 {
		out := promql.Vector{}
		for _, v := range r.whole {
			out = append(out, v.(promql.Vector)...)
		}
		return out
	}
	out := promql.Matrix{}
	for _, v := range r.whole {
		out = append(out, v.(promql.Matrix)...)
	}
	sort.Sort(out)
	return out
}

// close closes the queriers, once every evaluation is done, and drops
// the results.
func (r *run) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.queriers {
		_ = q.Close() // a TSDB querier's Close only releases read locks
	}
	clear(r.queriers)
	clear(r.results)
	r.whole = nil
}

// series turns shard's result of a part into series for the final
// evaluation: labelled with the shard, and with a staleness marker one
// step after each point that the next step does not follow, so that the
// final evaluation's lookback does not carry a point into a step where
// the part had none.
func (r *run) series(v parser.Value, shard int) []storage.Series {
	name := strconv.Itoa(shard)
	var out []storage.Series
	b := labels.NewBuilder(labels.EmptyLabels())
	withShard := func(ls labels.Labels) labels.Labels {
		b.Reset(ls)
		b.Set(shardLabel, name)
		return b.Labels()
	}
	switch v := v.(type) {
	case promql.Vector: // an instant query's
		out = make([]storage.Series, 0, len(v))
		floats := make([]promql.FPoint, len(v)) // one allocation for all
		for i, s := range v {
			ps := promql.Series{Metric: withShard(s.Metric)}
			if s.H != nil {
				ps.Histograms = []promql.HPoint{{T: s.T, H: s.H.Copy()}}
			} else {
				floats[i] = promql.FPoint{T: s.T, F: s.F}
				ps.Floats = floats[i : i+1 : i+1]
			}
			out = append(out, promql.NewStorageSeries(ps))
		}
	case promql.Matrix:
		out = make([]storage.Series, 0, len(v))
		for _, s := range v {
			ps := copyPoints(s, withShard(s.Metric))
			ps.Floats = append(ps.Floats, r.staleMarkers(s)...)
			slices.SortFunc(ps.Floats, func(a, b promql.FPoint) int { return cmp.Compare(a.T, b.T) })
			out = append(out, promql.NewStorageSeries(ps))
		}
	}
	return out
}

// staleMarkers returns a staleness marker at each step after a point of s
// that has no point.
func (r *run) staleMarkers(s promql.Series) []promql.FPoint {
	stale := math.Float64frombits(value.StaleNaN)
	var out []promql.FPoint
	f, h := s.Floats, s.Histograms
	for len(f) > 0 || len(h) > 0 {
		var t int64
		if len(h) == 0 || (len(f) > 0 && f[0].T < h[0].T) {
			t, f = f[0].T, f[1:]
		} else {
			t, h = h[0].T, h[1:]
		}
		next := t + r.step
		if next > r.end {
			break
		}
		if (len(f) == 0 || f[0].T != next) && (len(h) == 0 || h[0].T != next) {
			out = append(out, promql.FPoint{T: next, F: stale})
		}
	}
	return out
}

// shardQueryable reads the series of one shard through the run's shared
// queriers, and a part's results where a selector asks for them.
type shardQueryable struct {
	r            *run
	index, count uint64
}

func (q shardQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	return shardQuerier{shardQueryable: q, mint: mint, maxt: maxt}, nil
}

type shardQuerier struct {
	shardQueryable
	mint, maxt int64
}

func (q shardQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	for _, m := range ms {
		if m.Name == partialLabel {
			return q.partial(m.Value, sortSeries)
		}
	}
	sq, err := q.r.querier(q.mint, q.maxt)
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	if q.count == 0 {
		return sq.Select(ctx, sortSeries, hints, ms...)
	}
	h := storage.SelectHints{Start: q.mint, End: q.maxt}
	if hints != nil {
		h = *hints
	}
	h.ShardIndex, h.ShardCount = q.index, q.count
	return &inShard{SeriesSet: sq.Select(ctx, sortSeries, &h, ms...), index: q.index, count: q.count}
}

// partial returns the results of the part named by a partialLabel value.
func (q shardQuerier) partial(name string, sortSeries bool) storage.SeriesSet {
	i, err := strconv.Atoi(name)
	if err != nil || i < 0 || i >= len(q.r.results) {
		return storage.EmptySeriesSet()
	}
	series := q.r.results[i]
	if sortSeries {
		series = slices.Clone(series)
		slices.SortFunc(series, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	}
	return &listSet{series: series}
}

func (shardQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil // the engine asks none
}

func (shardQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

// Close leaves the shared querier open for the other evaluations; the run
// closes it.
func (shardQuerier) Close() error { return nil }

// inShard passes the series of one shard. The TSDB returns only those
// when asked (SelectHints), and a querier that ignored the hints would
// count every series once per shard; this check costs a hash a series.
type inShard struct {
	storage.SeriesSet
	index, count uint64
}

func (s *inShard) Next() bool {
	for s.SeriesSet.Next() {
		if labels.StableHash(s.At().Labels())%s.count == s.index {
			return true
		}
	}
	return false
}

type listSet struct {
	series []storage.Series
	next   int
}

func (s *listSet) Next() bool {
	if s.next >= len(s.series) {
		return false
	}
	s.next++
	return true
}

func (s *listSet) At() storage.Series              { return s.series[s.next-1] }
func (*listSet) Err() error                        { return nil }
func (*listSet) Warnings() annotations.Annotations { return nil }

package promapi

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// Estimated bytes of one sample in the API's JSON: a float sample is
// `[1735689600.123,"0.123456789"],`, a native histogram's is a count, a
// sum and one array of four strings a bucket.
const (
	jsonFloatBytes     = 32
	jsonHistogramBytes = 80
	jsonBucketBytes    = 60
)

// sizeBoundEngine refuses a query whose result would be more than max
// bytes as the API's JSON, once it is evaluated and before it is encoded:
// -query.max-samples bounds what a query holds while it runs, but up to
// 50M samples encode to about 1.5 GB, which neither a 2-core server nor
// Grafana should be asked to handle for one panel.
type sizeBoundEngine struct {
	promql.QueryEngine
	max     int64
	refused prometheus.Counter
}

func (e sizeBoundEngine) NewInstantQuery(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, ts time.Time) (promql.Query, error) {
	qry, err := e.QueryEngine.NewInstantQuery(ctx, q, opts, qs, ts)
	if err != nil {
		return nil, err
	}
	return sizeBoundQuery{Query: qry, e: e}, nil
}

func (e sizeBoundEngine) NewRangeQuery(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, start, end time.Time, interval time.Duration) (promql.Query, error) {
	qry, err := e.QueryEngine.NewRangeQuery(ctx, q, opts, qs, start, end, interval)
	if err != nil {
		return nil, err
	}
	return sizeBoundQuery{Query: qry, e: e}, nil
}

type sizeBoundQuery struct {
	promql.Query
	e sizeBoundEngine
}

// Exec answers a result over the bound with an error, which the API
// answers 422 (errorType "execution"), as it does other evaluation limits.
func (q sizeBoundQuery) Exec(ctx context.Context) *promql.Result {
	res := q.Query.Exec(ctx)
	if res.Err == nil && jsonSize(res.Value, q.e.max) > q.e.max {
		q.e.refused.Inc()
		res.Err = fmt.Errorf("the query's result would be more than %d bytes as JSON (-query.max-response-bytes); aggregate it into fewer series, or ask for a larger step or a shorter range", q.e.max)
		res.Value = nil // Close still recovers the memory: the query keeps its own reference
	}
	return res
}

// jsonSize estimates the bytes of v in the API's JSON, counting no further
// than past max.
func jsonSize(v parser.Value, max int64) int64 {
	var n int64
	switch v := v.(type) {
	case promql.Vector:
		for _, s := range v {
			n += labelsSize(s.Metric) + jsonFloatBytes
			if s.H != nil {
				n += histogramSize(s.H)
			}
			if n > max {
				return n
			}
		}
	case promql.Matrix:
		for _, s := range v {
			n += labelsSize(s.Metric) + int64(len(s.Floats))*jsonFloatBytes
			for _, p := range s.Histograms {
				n += histogramSize(p.H)
			}
			if n > max {
				return n
			}
		}
	}
	return n
}

func labelsSize(ls labels.Labels) int64 {
	n := int64(16) // {"metric":{},"values":[]}
	ls.Range(func(l labels.Label) { n += int64(len(l.Name) + len(l.Value) + 6) })
	return n
}

func histogramSize(h *histogram.FloatHistogram) int64 {
	return jsonHistogramBytes + int64(len(h.PositiveBuckets)+len(h.NegativeBuckets))*jsonBucketBytes
}

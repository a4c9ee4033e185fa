package storetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"

	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tracestore"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

var discard = slog.New(slog.DiscardHandler)

// Logs opens a log store with the default options, changed by mod if it
// is not nil; its metrics go to reg.
func Logs(t testing.TB, reg prometheus.Registerer, mod func(*logstore.Options)) *logstore.Store {
	t.Helper()
	return open(t, logstore.DefaultOptions(), mod, func(dir string, o logstore.Options) (*logstore.Store, error) {
		return logstore.Open(dir, o, discard, reg)
	})
}

// Traces opens a trace store as Logs opens a log store.
func Traces(t testing.TB, reg prometheus.Registerer, mod func(*tracestore.Options)) *tracestore.Store {
	t.Helper()
	return open(t, tracestore.DefaultOptions(), mod, func(dir string, o tracestore.Options) (*tracestore.Store, error) {
		return tracestore.Open(dir, o, discard, reg)
	})
}

// Metrics opens a metrics store as Logs opens a log store.
func Metrics(t testing.TB, reg prometheus.Registerer, mod func(*tsdbstore.Options)) *tsdbstore.Store {
	t.Helper()
	return open(t, tsdbstore.DefaultOptions(), mod, func(dir string, o tsdbstore.Options) (*tsdbstore.Store, error) {
		return tsdbstore.Open(dir, discard, reg, o)
	})
}

func open[O any, S io.Closer](t testing.TB, o O, mod func(*O), open func(string, O) (S, error)) S {
	t.Helper()
	if mod != nil {
		mod(&o)
	}
	s, err := open(t.TempDir(), o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// Records returns every log record of a tenant, oldest first.
func Records(t testing.TB, store *logstore.Store, tenantID string) []*logstore.Record {
	t.Helper()
	recs, _, err := store.Search(tenant.With(context.Background(), tenantID), logstore.SearchRequest{Query: query.NewMatchAllQuery(), To: math.MaxInt64})
	require.NoError(t, err)
	return recs
}

// Sample is a sample of a series.
type Sample struct {
	T int64 // unix milliseconds
	V float64
}

// Samples returns the samples of metric name of a tenant, series by
// series, oldest first.
func Samples(t testing.TB, store *tsdbstore.Store, tenantID, name string) []Sample {
	t.Helper()
	q, err := store.Querier(0, time.Now().Add(time.Hour).UnixMilli())
	require.NoError(t, err)
	defer q.Close()
	ss := q.Select(tenant.With(context.Background(), tenantID), false, nil, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, name))
	var out []Sample
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			ts, v := it.At()
			out = append(out, Sample{ts, v})
		}
	}
	require.NoError(t, ss.Err())
	return out
}

// MetricsDump is everything a metrics store holds of a tenant, as text:
// series, samples, histograms and exemplars.
func MetricsDump(t testing.TB, store *tsdbstore.Store, id string) string {
	t.Helper()
	ctx := tenant.With(context.Background(), id)
	q, err := store.Querier(math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	defer q.Close()
	var b strings.Builder
	all := labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")
	ss := q.Select(ctx, true, nil, all)
	var it chunkenc.Iterator
	for ss.Next() {
		s := ss.At()
		fmt.Fprintln(&b, s.Labels())
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			switch vt {
			case chunkenc.ValFloat:
				ts, v := it.At()
				fmt.Fprintf(&b, " %d %x\n", ts, math.Float64bits(v))
			case chunkenc.ValHistogram:
				ts, h := it.AtHistogram(nil)
				fmt.Fprintf(&b, " %d %s\n", ts, h)
			case chunkenc.ValFloatHistogram:
				ts, h := it.AtFloatHistogram(nil)
				fmt.Fprintf(&b, " %d %s\n", ts, h)
			}
		}
		require.NoError(t, it.Err())
	}
	require.NoError(t, ss.Err())
	eq, err := store.ExemplarQuerier(ctx)
	require.NoError(t, err)
	ex, err := eq.Select(math.MinInt64, math.MaxInt64, []*labels.Matcher{all})
	require.NoError(t, err)
	// In no particular order.
	slices.SortFunc(ex, func(a, b exemplar.QueryResult) int { return labels.Compare(a.SeriesLabels, b.SeriesLabels) })
	for _, r := range ex {
		fmt.Fprintln(&b, r.SeriesLabels)
		for _, e := range r.Exemplars {
			fmt.Fprintln(&b, "", e.Labels, e.Ts, e.Value)
		}
	}
	return b.String()
}

// FirstDifference shows where two dumps part, line by line: want the
// reference's, got the store under test's.
func FirstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range min(len(w), len(g)) {
		if w[i] != g[i] {
			return fmt.Sprintf("line %d: the reference has\n%.300s\nthe store under test has\n%.300s", i+1, w[i], g[i])
		}
	}
	return fmt.Sprintf("the reference has %d lines, the store under test %d", len(w), len(g))
}

// CollectorContext is the context a collector component is called with
// for a request whose X-Scope-OrgID header is id (the OTLP receiver keeps
// the headers with include_metadata).
func CollectorContext(id string) context.Context {
	return client.NewContext(context.Background(), client.Info{Metadata: client.NewMetadata(map[string][]string{tenant.Header: {id}})})
}

// Counter returns the value of counter name in g, of the series whose
// labels are the name-value pairs given; 0 when there is none.
func Counter(t testing.TB, g prometheus.Gatherer, name string, labelPairs ...string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labelPairs); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetName() == labelPairs[i] && lp.GetValue() == labelPairs[i+1]
				}
				if !found {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

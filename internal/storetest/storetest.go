package storetest

import (
	"context"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
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

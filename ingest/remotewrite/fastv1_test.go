package remotewrite

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sightline-dev/sightline/internal/storetest"
	"github.com/sightline-dev/sightline/internal/throttle"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

// newReference returns Prometheus' own remote-write handler over a store
// of its own, behind Sightline's checks of size and type: what Sightline's
// receiver must answer and store alike.
func newReference(t testing.TB) (http.Handler, *tsdbstore.Store) {
	t.Helper()
	store, reg := openStore(t)
	h := remote.NewWriteHandler(slog.New(slog.DiscardHandler), reg, store,
		remoteapi.MessageTypes{remoteapi.WriteV1MessageType, remoteapi.WriteV2MessageType}, false, false, false)
	return tenant.Middleware(guarded(DefaultOptions(), h)), store
}

// workload makes remote_write 1.0 requests with what senders get wrong
// as well as right: labels out of order, duplicated, without a name or not
// UTF-8; samples out of order, repeated, too far ahead; native histograms,
// valid or not; exemplars; and bodies that are not valid protobuf.
type workload struct {
	rng    *rand.Rand
	base   int64
	series [][]prompb.Label
	next   []int64 // per series, the timestamp of its next sample
}

func newWorkload(seed uint64) *workload {
	w := &workload{rng: rand.New(rand.NewPCG(seed, 1)), base: time.Now().Add(-30 * time.Minute).UnixMilli()}
	for i := range 40 {
		ls := []prompb.Label{{Name: "__name__", Value: fmt.Sprintf("m%d", i%7)}, {Name: "instance", Value: fmt.Sprintf("i%d", i)}, {Name: "job", Value: "j"}}
		switch i % 10 {
		case 1: // out of order on the wire, which the receiver sorts
			ls[0], ls[2] = ls[2], ls[0]
		case 2:
			ls = append(ls, prompb.Label{Name: "job", Value: "again"})
		case 3:
			ls = ls[1:]
		case 4:
			ls[1].Value = "bad\xff"
		case 5:
			ls = append(ls, prompb.Label{Name: "zempty", Value: ""})
		}
		w.series = append(w.series, ls)
		w.next = append(w.next, w.base)
	}
	return w
}

func (w *workload) timestamp(i int) int64 {
	switch r := w.rng.IntN(100); {
	case r < 4: // again, or older: duplicate or out of order
		return w.next[i] - int64(w.rng.IntN(3))*1000
	case r < 6:
		return time.Now().Add(time.Hour).UnixMilli() // beyond maxAhead
	}
	w.next[i] += 1000 + int64(w.rng.IntN(1000))
	return w.next[i]
}

func (w *workload) request() []byte {
	var req prompb.WriteRequest
	for range 1 + w.rng.IntN(8) {
		i := w.rng.IntN(len(w.series))
		ts := prompb.TimeSeries{Labels: w.series[i]}
		if i%10 == 9 { // native histograms
			for range w.rng.IntN(3) {
				h := &histogram.Histogram{Count: 3, Sum: 2.5, Schema: 0, ZeroThreshold: 0.001, ZeroCount: 1,
					PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{1, 0}}
				if w.rng.IntN(5) == 0 {
					h.Count = 7 // does not add up: invalid
				}
				if w.rng.IntN(2) == 0 {
					ts.Histograms = append(ts.Histograms, prompb.FromFloatHistogram(w.timestamp(i), h.ToFloat(nil)))
				} else {
					ts.Histograms = append(ts.Histograms, prompb.FromIntHistogram(w.timestamp(i), h))
				}
			}
		} else {
			for range w.rng.IntN(4) {
				v := w.rng.Float64() * 100
				if w.rng.IntN(50) == 0 {
					v = math.NaN()
				}
				ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: w.timestamp(i), Value: v})
			}
		}
		// Not on a series with an empty label: Prometheus' handler looks
		// its exemplars up under labels that still have it, finds no
		// series and drops them, where Sightline keeps them.
		if len(ts.Samples) > 0 && i%10 != 5 && w.rng.IntN(5) == 0 {
			ts.Exemplars = append(ts.Exemplars, prompb.Exemplar{Labels: []prompb.Label{{Name: "trace_id", Value: fmt.Sprintf("%032x", w.rng.Uint64())}},
				Value: 1, Timestamp: ts.Samples[0].Timestamp})
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	if w.rng.IntN(10) == 0 {
		req.Metadata = append(req.Metadata, prompb.MetricMetadata{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "m1", Help: "h"})
	}
	raw, err := req.Marshal()
	if err != nil {
		panic(err)
	}
	switch w.rng.IntN(40) {
	case 0:
		raw = raw[:w.rng.IntN(len(raw))] // truncated
	case 1:
		raw = append(raw, 0x0b, 0x0c) // an empty group: old protobuf, skipped by Prometheus
	case 2:
		raw = append(raw, 0x00, 0x01) // field 0
	case 3:
		raw[w.rng.IntN(len(raw))] ^= byte(1 + w.rng.IntN(255))
	}
	if w.rng.IntN(60) == 0 {
		return []byte("not snappy")
	}
	return snappy.Encode(nil, raw)
}

// TestV1LikePrometheus sends the same requests to Sightline's receiver and
// to Prometheus' own handler, each with its own store: every answer (status,
// headers and error) and, at the end, every series, sample, histogram and exemplar
// stored must be the same, and so must the count of invalid series.
func TestV1LikePrometheus(t *testing.T) {
	store, reg := openStore(t)
	ours := tenant.Middleware(New(store, DefaultOptions(), slog.New(slog.DiscardHandler), reg))
	theirs, refStore := newReference(t)

	codes := map[int]int{}
	for seed := range uint64(3) {
		w := newWorkload(seed)
		for i := range 1000 {
			body := w.request()
			org := []string{"", "team-b"}[i%2]
			a, b := post(ours, "application/x-protobuf", org, body), post(theirs, "application/x-protobuf", org, body)
			require.Equal(t, b.Code, a.Code, "seed %d request %d: %s", seed, i, b.Body.String())
			// The same error, named alike; Sightline's own refusals (a
			// timestamp too far ahead) say more after the colon.
			require.Equal(t, errorKind(b.Body.String()), errorKind(a.Body.String()), "seed %d request %d: %s", seed, i, a.Body.String())
			require.Equal(t, b.Header(), a.Header(), "seed %d request %d", seed, i)
			codes[a.Code]++
		}
	}
	t.Log("answers by status:", codes)
	// The workload makes each kind of answer often.
	for _, code := range []int{http.StatusNoContent, http.StatusBadRequest} {
		require.Greater(t, codes[code], 100, "status %d", code)
	}
	for _, id := range []string{tenant.Default, "team-b"} {
		got, want := storetest.MetricsDump(t, store, id), storetest.MetricsDump(t, refStore, id)
		if got != want {
			t.Errorf("tenant %q: stores differ:\n%s", id, storetest.FirstDifference(want, got))
		}
		require.Greater(t, strings.Count(got, "\n"), 500, "tenant %q stored little", id)
	}
	// Both count the series they skipped for their labels, in one counter.
	require.Greater(t, storetest.Counter(t, reg, "prometheus_api_remote_write_invalid_labels_samples_total"), 50.0)
}

func errorKind(body string) string { return strings.SplitN(body, ":", 2)[0] }

// FuzzV1LikePrometheus: whatever the body, Sightline's receiver answers
// as Prometheus' handler does.
func FuzzV1LikePrometheus(f *testing.F) {
	w := newWorkload(1)
	for range 20 {
		f.Add(w.request())
	}
	store, reg := openStore(f)
	ours := tenant.Middleware(New(store, DefaultOptions(), slog.New(slog.DiscardHandler), reg))
	theirs, _ := newReference(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		a, b := post(ours, "application/x-protobuf", "", body), post(theirs, "application/x-protobuf", "", body)
		require.Equal(t, b.Code, a.Code, b.Body.String())
		require.Equal(t, errorKind(b.Body.String()), errorKind(a.Body.String()))
	})
}

// TestV1ReadsValidBodiesItself: a well-formed remote_write 1.0 body never
// reaches Prometheus' handler, or the receiver would not be faster.
func TestV1ReadsValidBodiesItself(t *testing.T) {
	store, _ := openStore(t)
	logger := slog.New(slog.DiscardHandler)
	fallback := 0
	h := tenant.Middleware(&v1Handler{app: store, invalid: prometheus.NewCounter(prometheus.CounterOpts{Name: "x"}),
		logger: logger, badInput: throttle.New(logger, time.Second),
		prom: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fallback++
			w.WriteHeader(http.StatusTeapot)
		})})
	w := newWorkload(3)
	for i := range 300 {
		var req prompb.WriteRequest
		for j := range 5 {
			s := (i*5 + j) % len(w.series)
			req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: w.series[s], Samples: []prompb.Sample{{Timestamp: w.base + int64(i)*1000, Value: float64(i)}}})
		}
		raw, err := req.Marshal()
		require.NoError(t, err)
		code := post(h, "application/x-protobuf;proto=prometheus.WriteRequest", "", snappy.Encode(nil, raw)).Code
		require.NotEqual(t, http.StatusTeapot, code)
	}
	require.Zero(t, fallback)
	require.Equal(t, http.StatusTeapot, post(h, "", "", []byte("not snappy")).Code)
	require.Equal(t, 1, fallback)
	// The known series are in the cache: 300 requests did not build 1500
	// label sets.
	var refs *tsdbstore.SeriesRefs
	app := store.Appender(context.Background())
	refs = app.(tsdbstore.Appender).SeriesRefs()
	require.NoError(t, app.Rollback())
	require.Equal(t, 24, refs.Len(), "the valid series of the workload that arrive sorted")
}

// TestV1OneEntryPerSeries: the receiver's cache names a series by its
// label messages as they arrive, and keeps only those encoded as
// Prometheus encodes them, so that a sender that varies the order of its
// labels, or adds fields to them, appends to the same series without
// filling the cache with an entry per variant.
func TestV1OneEntryPerSeries(t *testing.T) {
	h, store := newTestReceiver(t)
	base := time.Now().Add(-time.Minute).UnixMilli()
	sorted := []prompb.Label{{Name: "__name__", Value: "a"}, {Name: "job", Value: "x"}, {Name: "zone", Value: "z"}}
	send := func(raw []byte) {
		t.Helper()
		require.Equal(t, http.StatusNoContent, post(h, "application/x-protobuf", "", snappy.Encode(nil, raw)).Code)
	}
	for i := range 20 {
		ls := slices.Clone(sorted)
		rand.Shuffle(len(ls), func(a, b int) { ls[a], ls[b] = ls[b], ls[a] })
		req := prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: ls, Samples: []prompb.Sample{{Timestamp: base + int64(i)*100, Value: float64(i)}}}}}
		raw, err := req.Marshal()
		require.NoError(t, err)
		send(raw)
	}
	// The sorted labels, each label message with an unknown field 3 of
	// its own content, which protobuf skips.
	for i := 20; i < 30; i++ {
		var ts []byte
		for _, l := range sorted {
			lm, err := (&prompb.Label{Name: l.Name, Value: l.Value}).Marshal()
			require.NoError(t, err)
			lm = protowire.AppendString(protowire.AppendTag(lm, 3, protowire.BytesType), fmt.Sprint("extra ", i))
			ts = protowire.AppendBytes(protowire.AppendTag(ts, 1, protowire.BytesType), lm)
		}
		sm, err := (&prompb.Sample{Timestamp: base + int64(i)*100, Value: float64(i)}).Marshal()
		require.NoError(t, err)
		ts = protowire.AppendBytes(protowire.AppendTag(ts, 2, protowire.BytesType), sm)
		send(protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), ts))
	}
	req := prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: sorted, Samples: []prompb.Sample{{Timestamp: base + 3000, Value: 30}}}}}
	raw, err := req.Marshal()
	require.NoError(t, err)
	send(raw)

	q, err := store.Querier(0, time.Now().UnixMilli())
	require.NoError(t, err)
	defer q.Close()
	ss := q.Select(tenant.With(context.Background(), tenant.Default), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "a"))
	var got []float64
	n := 0
	for ss.Next() {
		n++
		require.Equal(t, labels.FromStrings("__name__", "a", "job", "x", "zone", "z"), ss.At().Labels())
		it := ss.At().Iterator(nil)
		for it.Next() != chunkenc.ValNone {
			_, v := it.At()
			got = append(got, v)
		}
	}
	require.NoError(t, ss.Err())
	require.Equal(t, 1, n)
	require.Len(t, got, 31, "every sample in the one series")

	app := store.Appender(context.Background())
	refs := app.(tsdbstore.Appender).SeriesRefs()
	require.NoError(t, app.Rollback())
	require.Equal(t, 1, refs.Len(), "one entry, of the sorted labels as prompb encodes them")
}

var _ storage.Appendable = (*tsdbstore.Store)(nil)

// BenchmarkRemoteWrite: one request of 2,000 series of 5 labels, a sample
// each, as Prometheus sends them; Sightline's receiver against
// Prometheus' handler, each on its own store.
func BenchmarkRemoteWrite(b *testing.B) {
	const series = 2000
	base := time.Now().Add(-time.Hour).UnixMilli()
	body := func(i int) []byte {
		var req prompb.WriteRequest
		for s := range series {
			req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
				Labels: []prompb.Label{{Name: "__name__", Value: "http_requests_total"}, {Name: "code", Value: fmt.Sprint(200 + s%5)},
					{Name: "instance", Value: fmt.Sprintf("host-%d:9100", s/20)}, {Name: "job", Value: "api"}, {Name: "route", Value: fmt.Sprintf("/api/v1/r%d", s%20)}},
				Samples: []prompb.Sample{{Timestamp: base + int64(i)*1000, Value: float64(i * s)}},
			})
		}
		raw, err := req.Marshal()
		require.NoError(b, err)
		return snappy.Encode(nil, raw)
	}
	for _, receiver := range []string{"sightline", "prometheus"} {
		b.Run(receiver, func(b *testing.B) {
			h, _ := newTestReceiver(b)
			if receiver == "prometheus" {
				h, _ = newReference(b)
			}
			require.Equal(b, http.StatusNoContent, post(h, "application/x-protobuf", "", body(-1)).Code) // series created
			bodies := make([][]byte, 0, b.N)
			for i := range b.N {
				bodies = append(bodies, body(i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if code := post(h, "application/x-protobuf", "", bodies[i]).Code; code != http.StatusNoContent {
					b.Fatal(code)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*series), "ns/sample")
		})
	}
}

package traceql

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tracestore"
	"github.com/sightline-dev/sightline/storage/tracestore/tracestoretest"
)

// fakeFetcher hands out fixed spansets and records what it was asked.
type fakeFetcher struct {
	sets    []record.Spanset
	err     error // returned after the spansets
	got     record.FetchSpansRequest
	handled int // spansets fn was called with
}

func (f *fakeFetcher) Fetch(_ context.Context, req record.FetchSpansRequest, fn func(*record.Spanset) error) (record.FetchStats, error) {
	f.got = req
	st := record.FetchStats{Segments: 1}
	for i := range f.sets {
		st.SpansScanned += len(f.sets[i].Spans)
		f.handled++
		if err := fn(&f.sets[i]); err != nil {
			return st, err
		}
	}
	return st, f.err
}

func spanset(spans []*record.Span) record.Spanset {
	return record.Spanset{TraceID: spans[0].TraceID, Spans: spans}
}

func mustParse(t testing.TB, q string) *Query {
	t.Helper()
	pq, err := Parse(q)
	require.NoError(t, err)
	return pq
}

func TestSearchSendsConditions(t *testing.T) {
	f := &fakeFetcher{}
	_, _, err := Search(context.Background(), f, SearchRequest{Query: mustParse(t, `{ span.amount > 12 && status = error } > { name = "x" }`), From: 5, To: 10})
	require.NoError(t, err)
	require.Equal(t, record.FetchSpansRequest{Start: 5, End: 10, Conditions: []record.Condition{
		{Field: record.Field{Scope: record.ScopeSpan, Name: "amount"}, Op: record.OpGreater, Value: record.Literal{Type: record.LiteralInt, Int: 12}},
		{Field: record.Field{Intrinsic: record.IntrinsicStatus}, Op: record.OpEqual, Value: record.Literal{Type: record.LiteralStatus, Str: "error"}},
		{Field: record.Field{Intrinsic: record.IntrinsicName}, Op: record.OpEqual, Value: record.Literal{Type: record.LiteralString, Str: "x"}},
	}}, f.got)

	_, _, err = Search(context.Background(), f, SearchRequest{Query: mustParse(t, `{ .a = 1 } || { .b = 2 }`)})
	require.NoError(t, err)
	require.Nil(t, f.got.Conditions)
}

// A search that neither tests nor selects a span attribute asks the store
// to leave them unread; one that does, or that selects one, does not.
func TestSearchSkipsSpanAttributes(t *testing.T) {
	f := &fakeFetcher{}
	for q, skip := range map[string]bool{
		`{ status = error }`: true,
		`{ resource.service.name = "a" && duration > 1s }`:   true,
		`{ status = error } | select(resource.service.name)`: true,
		`{ span.amount > 12 }`:                               false,
		`{ .amount > 12 }`:                                   false,
		`{ status = error } | select(span.amount)`:           false,
		`{ status = error } | select(.amount)`:               false,
	} {
		_, _, err := Search(context.Background(), f, SearchRequest{Query: mustParse(t, q)})
		require.NoError(t, err)
		require.Equal(t, skip, f.got.SkipSpanAttributes, q)
	}
}

// A trace whose spans come in two spansets (two segments) is matched in
// each, and its summary gathers both.
func TestSearchSummaries(t *testing.T) {
	tr := tracestoretest.Trace(7, true)
	root, client, server := tr[0], tr[1], tr[2]
	other := tracestoretest.Trace(8, true)
	f := &fakeFetcher{sets: []record.Spanset{
		spanset([]*record.Span{client, server}), // the newer segment, without the root
		spanset(other),
		spanset([]*record.Span{root, server}), // a retry stored the server span twice
	}}
	res, st, err := Search(context.Background(), f, SearchRequest{Query: mustParse(t, `{ status = error } || { kind = client }`), Limit: 5, SpansPerSpanSet: 2})
	require.NoError(t, err)
	require.Equal(t, record.FetchStats{Segments: 1, SpansScanned: 7}, st)
	require.Len(t, res, 2)
	got := res[1] // trace 7 started before trace 8
	require.Equal(t, root.TraceID, got.TraceID)
	require.Equal(t, "frontend", got.RootServiceName)
	require.Equal(t, "GET /cart", got.RootSpanName)
	require.Equal(t, root.Start, got.Start)
	require.Equal(t, 50*time.Millisecond, got.Duration)
	require.Equal(t, 3, got.MatchedCount)
	require.Equal(t, []*record.Span{client, server}, got.Matched, "at most SpansPerSpanSet, copied")
	require.NotSame(t, client, got.Matched[0])
	require.Equal(t, other[0].TraceID, res[0].TraceID, "newest first")
}

func TestSearchLimit(t *testing.T) {
	var sets []record.Spanset
	for i := 10; i > 0; i-- {
		sets = append(sets, spanset(tracestoretest.Trace(i, i%2 == 0)))
	}
	f := &fakeFetcher{sets: sets}
	res, _, err := Search(context.Background(), f, SearchRequest{Query: mustParse(t, `{ status = error }`), Limit: 3})
	require.NoError(t, err)
	require.Len(t, res, 3)
	require.Equal(t, 5, f.handled, "the fetch stops once enough traces matched")
	require.Equal(t, tracestoretest.Trace(10, false)[0].TraceID, res[0].TraceID)
	require.Equal(t, tracestoretest.Trace(6, false)[0].TraceID, res[2].TraceID)

	f = &fakeFetcher{sets: sets, err: errors.New("disk on fire")}
	_, _, err = Search(context.Background(), f, SearchRequest{Query: mustParse(t, `{ status = error }`), Limit: 30})
	require.EqualError(t, err, "disk on fire")
}

func openTraceStore(t testing.TB, mod func(*tracestore.Options)) *tracestore.Store {
	t.Helper()
	o := tracestore.DefaultOptions()
	if mod != nil {
		mod(&o)
	}
	s, err := tracestore.Open(t.TempDir(), o, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// Search over the trace store, its heads and its segments.
func TestSearchTraceStore(t *testing.T) {
	s := openTraceStore(t, nil)
	ctx := context.Background()
	for i := 0; i < 3000; i++ {
		_, err := s.Append(ctx, tracestoretest.Trace(i, i%100 == 0))
		require.NoError(t, err)
		if i == 1500 {
			require.NoError(t, s.Flush())
		}
	}
	search := func(q string, limit int) []TraceSummary {
		t.Helper()
		res, _, err := Search(ctx, s, SearchRequest{Query: mustParse(t, q), From: math.MinInt64, To: math.MaxInt64, Limit: limit})
		require.NoError(t, err)
		return res
	}
	res := search(`{ resource.service.name = "checkout" && status = error }`, 100)
	require.Len(t, res, 30)
	require.Equal(t, tracestoretest.Trace(2900, true)[0].TraceID, res[0].TraceID, "newest first")
	require.Equal(t, "frontend", res[0].RootServiceName)
	require.Equal(t, "GET /cart", res[0].RootSpanName)
	require.Equal(t, 50*time.Millisecond, res[0].Duration)
	require.Equal(t, 1, res[0].MatchedCount)
	require.Equal(t, "charge", res[0].Matched[0].Name)

	require.Len(t, search(`{ kind = client } > { span.amount > 12 }`, 5), 5)
	require.Empty(t, search(`{ kind = server } > { span.amount > 12 }`, 5))
	require.Empty(t, search(`{ duration > 1s }`, 5))

	s2 := openTraceStore(t, func(o *tracestore.Options) { o.MaxScanSpans = 100 })
	for i := 0; i < 100; i++ {
		_, err := s2.Append(ctx, tracestoretest.Trace(i, false))
		require.NoError(t, err)
	}
	_, _, err := Search(ctx, s2, SearchRequest{Query: mustParse(t, `{}`), From: math.MinInt64, To: math.MaxInt64})
	require.ErrorIs(t, err, tracestore.ErrTooMuchData)
}

// The store's prefilter skips traces before the engine matches them;
// Search must still find exactly the traces the matcher accepts.
func TestSearchFindsWhatTheMatcherAccepts(t *testing.T) {
	s := openTraceStore(t, nil)
	ctx := context.Background()
	var all [][]*record.Span
	for i := 0; i < 600; i++ {
		tr := tracestoretest.Trace(i, i%7 == 0)
		if i%5 == 0 {
			tr[1].Attributes = append(tr[1].Attributes, tracestoretest.Str("service.name", "override"), record.KV{Key: "http.method", Value: "7", Type: record.TypeInt})
		}
		all = append(all, tr)
		_, err := s.Append(ctx, tr)
		require.NoError(t, err)
		if i == 300 {
			require.NoError(t, s.Flush())
		}
	}
	for _, q := range []string{
		`{ resource.service.name = "checkout" && status = error }`,
		`{ .service.name = "frontend" }`,
		`{ .service.name = "override" }`,
		`{ .http.method = "GET" }`,
		`{ span.http.method = "GET" } && { kind = client }`,
		`{ name = "charge" && duration >= 28ms }`,
		`{ duration > 45ms } || { status = error }`,
		`{ kind = server && duration < 30ms }`,
		`{ status = ok }`,
	} {
		pq := mustParse(t, q)
		want := map[[16]byte]bool{}
		for _, tr := range all {
			qs := make([]Span, len(tr))
			for i, sp := range tr {
				qs[i] = storedSpan(sp, storedAttrs(sp.Resource), storedAttrs(sp.Attributes))
			}
			if len(pq.Match(qs)) > 0 {
				want[tr[0].TraceID] = true
			}
		}
		res, _, err := Search(ctx, s, SearchRequest{Query: pq, From: math.MinInt64, To: math.MaxInt64, Limit: 10_000})
		require.NoError(t, err)
		got := map[[16]byte]bool{}
		for _, r := range res {
			got[r.TraceID] = true
		}
		require.Equal(t, want, got, q)
		if q != `{ status = ok }` {
			require.NotEmpty(t, want, q)
		}
	}
}

func TestStoredValue(t *testing.T) {
	f := func(text string, typ record.ValueType, want Value, wantOK bool) {
		t.Helper()
		v, ok := StoredValue(text, typ)
		require.Equal(t, wantOK, ok)
		require.Equal(t, want, v)
	}
	f("x", record.TypeString, StringValue("x"), true)
	f("-42", record.TypeInt, IntValue(-42), true)
	f("12x", record.TypeInt, StringValue("12x"), true)
	f("1.5", record.TypeDouble, FloatValue(1.5), true)
	f("true", record.TypeBool, BoolValue(true), true)
	f("AAE=", record.TypeBytes, Value{}, false)
	f("[1]", record.TypeArray, Value{}, false)
	f("", record.TypeEmpty, Value{}, false)
}

// BenchmarkSearch searches 300,000 flushed spans (100,000 traces, 1% of
// them failing) for the newest 20 traces with a failing checkout span.
func BenchmarkSearch(b *testing.B) {
	s := openTraceStore(b, nil)
	ctx := context.Background()
	for i := 0; i < 100_000; i++ {
		_, err := s.Append(ctx, tracestoretest.Trace(i, i%100 == 0))
		require.NoError(b, err)
	}
	require.NoError(b, s.Flush())
	q := mustParse(b, `{ resource.service.name = "checkout" && status = error }`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, _, err := Search(ctx, s, SearchRequest{Query: q, From: math.MinInt64, To: math.MaxInt64, Limit: 20})
		require.NoError(b, err)
		require.Len(b, res, 20)
	}
}

// The structural operators relate the spans of one spanset: a trace whose
// spans sit in two segments does not match a relation between spans of
// different segments, one whose spans are together does.
func TestSearchStructuralPerSpanset(t *testing.T) {
	split := tracestoretest.Trace(7, true) // GET /cart > POST checkout > charge
	root, client, server := split[0], split[1], split[2]
	whole := tracestoretest.Trace(8, true)
	f := &fakeFetcher{sets: []record.Spanset{
		spanset([]*record.Span{client, server}),
		spanset(whole),
		spanset([]*record.Span{root}),
	}}
	search := func(q string) map[[16]byte][]string {
		t.Helper()
		res, _, err := Search(context.Background(), f, SearchRequest{Query: mustParse(t, q), Limit: 5, SpansPerSpanSet: 5})
		require.NoError(t, err)
		out := map[[16]byte][]string{}
		for _, ts := range res {
			for _, s := range ts.Matched {
				out[ts.TraceID] = append(out[ts.TraceID], s.Name)
			}
			require.Equal(t, len(ts.Matched), ts.MatchedCount)
		}
		return out
	}
	require.Equal(t, map[[16]byte][]string{whole[0].TraceID: {"GET /cart", "charge"}},
		search(`{ name = "GET /cart" } &>> { name = "charge" }`))
	require.Equal(t, map[[16]byte][]string{whole[0].TraceID: {"charge"}},
		search(`{ name = "GET /cart" } >> { status = error }`))
	require.Equal(t, map[[16]byte][]string{root.TraceID: {"POST checkout", "charge"}, whole[0].TraceID: {"POST checkout", "charge"}},
		search(`{ kind = client } &>> { kind = server }`))
	require.Equal(t, map[[16]byte][]string{root.TraceID: {"POST checkout"}, whole[0].TraceID: {"GET /cart", "POST checkout"}},
		search(`{ name = "charge" } << {}`))
	// Aggregates count per spanset too: the split trace's spansets hold 2
	// and 1 spans, so neither has more than 2.
	require.Equal(t, map[[16]byte][]string{whole[0].TraceID: {"GET /cart", "POST checkout", "charge"}},
		search(`{} | count() > 2`))
	require.Equal(t, map[[16]byte][]string{root.TraceID: {"POST checkout", "charge"}},
		search(`{} | count() = 2`))
}

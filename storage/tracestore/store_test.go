package tracestore

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/segment"
)

// bleve (imported with the log store's attribute codec) starts its workers at init.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"))
}

func openStore(t *testing.T, dir string, mod func(*Options)) *Store {
	t.Helper()
	o := DefaultOptions()
	if mod != nil {
		mod(&o)
	}
	s, err := Open(dir, o, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	return s
}

var base = time.Now().Add(-10 * time.Minute).UnixNano()

func str(k, v string) KV { return KV{Key: k, Value: v, Type: logstore.TypeString} }

// trace builds a trace n: a frontend server root, a frontend client child
// and a checkout server grandchild, which fails when fail is set.
func trace(n int, fail bool) []*Span {
	var id [16]byte
	id[0], id[15] = byte(n>>8), byte(n)
	id[7] = 1
	sid := func(k byte) [8]byte { return [8]byte{byte(n >> 8), byte(n), k, 1} }
	start := base + int64(n)*int64(time.Millisecond)
	fe := []KV{str("service.name", "frontend"), str("host.name", "node-1")}
	co := []KV{str("service.name", "checkout")}
	root := &Span{TraceID: id, SpanID: sid(1), Name: "GET /cart", Kind: KindServer, Start: start, End: start + int64(50*time.Millisecond),
		Attributes: []KV{str("http.method", "GET"), {Key: "http.status_code", Value: "200", Type: logstore.TypeInt}},
		Resource:   fe, ScopeName: "otel", ScopeVersion: "1.0", TraceState: "a=b", Flags: 1}
	client := &Span{TraceID: id, SpanID: sid(2), ParentSpanID: sid(1), Name: "POST checkout", Kind: KindClient,
		Start: start + int64(time.Millisecond), End: start + int64(40*time.Millisecond), Resource: fe, ScopeName: "otel",
		Events: []Event{{Time: start + int64(2*time.Millisecond), Name: "sent", Attributes: []KV{str("k", "v")}}},
		Links:  []Link{{TraceID: [16]byte{9}, SpanID: [8]byte{9}, TraceState: "x=y", Attributes: []KV{str("l", "1")}, DroppedAttributesCount: 2}}}
	server := &Span{TraceID: id, SpanID: sid(3), ParentSpanID: sid(2), Name: "charge", Kind: KindServer,
		Start: start + int64(2*time.Millisecond), End: start + int64(30*time.Millisecond), Resource: co,
		Attributes: []KV{{Key: "amount", Value: "12.5", Type: logstore.TypeDouble}}, DroppedEventsCount: 3}
	if fail {
		server.StatusCode, server.StatusMessage = StatusError, "card declined"
	}
	return []*Span{root, client, server}
}

func ids(spans []*Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, fmt.Sprintf("%x", s.SpanID))
	}
	return out
}

func TestTraceAcrossHeadSegmentsAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	ctx := context.Background()
	tr := trace(7, true)
	// The spans of one trace arrive in three requests, minutes apart: one
	// lands in a segment, one in another, one stays in the head.
	for _, sp := range tr {
		res, err := s.Append(ctx, []*Span{sp})
		require.NoError(t, err)
		require.Equal(t, 1, res.Accepted)
		if sp != tr[2] {
			require.NoError(t, s.Flush())
		}
	}
	for i := 0; i < 2000; i++ { // other traces around it
		_, err := s.Append(ctx, trace(1000+i, false))
		require.NoError(t, err)
	}
	got, err := s.Trace(ctx, tr[0].TraceID)
	require.NoError(t, err)
	require.Equal(t, ids(tr), ids(got))
	require.Equal(t, *tr[1], *got[1], "every field kept")

	require.NoError(t, s.Close())
	s = openStore(t, dir, nil) // the head comes back from the WAL
	got, err = s.Trace(ctx, tr[0].TraceID)
	require.NoError(t, err)
	require.Equal(t, ids(tr), ids(got))
	require.Equal(t, *tr[2], *got[2])
	require.NoError(t, s.Flush())
	got, err = s.Trace(ctx, trace(1500, false)[0].TraceID)
	require.NoError(t, err)
	require.Equal(t, ids(trace(1500, false)), ids(got))
	for i := range got {
		require.Equal(t, *trace(1500, false)[i], *got[i])
	}
	require.NoError(t, s.Close())
}

func TestBlockRoundTrip(t *testing.T) {
	var spans []*Span
	for i := 0; i < 200; i++ {
		spans = append(spans, trace(i, i%7 == 0)...)
	}
	spans[5].ParentSpanID = [8]byte{1, 2, 3} // a parent outside the block
	spans[7].End = spans[7].Start - 5        // kept as sent
	got, err := decodeBlock(encodeBlock(spans), len(spans), nil)
	require.NoError(t, err)
	for i := range spans {
		require.Equal(t, *spans[i], got[i])
	}
}

func TestRejectsBadIDs(t *testing.T) {
	s := openStore(t, t.TempDir(), func(o *Options) { o.MaxSpanBytes = 1000 })
	defer s.Close()
	tr := trace(1, false)
	tr[0].TraceID = [16]byte{}
	tr[1].SpanID = [8]byte{}
	tr[2].Attributes = []KV{str("big", string(make([]byte, 2000)))}
	ok := trace(2, false)[0]
	ok.Name = "bad \xff name"
	res, err := s.Append(context.Background(), append(tr, ok))
	require.NoError(t, err)
	require.Equal(t, 1, res.Accepted)
	require.Equal(t, 1, res.Repaired)
	got, err := s.Trace(context.Background(), ok.TraceID)
	require.NoError(t, err)
	require.Equal(t, "bad \uFFFD name", got[0].Name)
	require.Equal(t, map[string]int{ReasonInvalidTraceID: 1, ReasonInvalidSpanID: 1, ReasonTooLarge: 1}, res.Rejected)
}

func TestSearchAndTags(t *testing.T) {
	s := openStore(t, t.TempDir(), nil)
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 3000; i++ {
		_, err := s.Append(ctx, trace(i, i%100 == 0))
		require.NoError(t, err)
		if i == 1500 {
			require.NoError(t, s.Flush())
		}
	}
	search := func(q string, limit int) []TraceSummary {
		t.Helper()
		pq, err := traceql.Parse(q)
		require.NoError(t, err)
		res, _, err := s.Search(ctx, SearchRequest{Query: pq, From: math.MinInt64, To: math.MaxInt64, Limit: limit})
		require.NoError(t, err)
		return res
	}
	res := search(`{ resource.service.name = "checkout" && status = error }`, 100)
	require.Len(t, res, 30)
	require.Equal(t, trace(2900, true)[0].TraceID, res[0].TraceID, "newest first")
	require.Equal(t, "frontend", res[0].RootServiceName)
	require.Equal(t, "GET /cart", res[0].RootSpanName)
	require.Equal(t, 50*time.Millisecond, res[0].Duration)
	require.Equal(t, 1, res[0].MatchedCount)
	require.Equal(t, "charge", res[0].Matched[0].Name)

	require.Len(t, search(`{ kind = client } > { span.amount > 12 }`, 5), 5)
	require.Empty(t, search(`{ kind = server } > { span.amount > 12 }`, 5))
	require.Empty(t, search(`{ duration > 1s }`, 5))

	tags, err := s.Tags(ctx, math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Equal(t, []string{"host.name", "service.name"}, tags.Resource)
	require.Equal(t, []string{"amount", "http.method", "http.status_code"}, tags.Span)
	vals, err := s.TagValues(ctx, "resource.service.name", math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Equal(t, []traceql.Value{traceql.StringValue("checkout"), traceql.StringValue("frontend")}, vals)
	vals, err = s.TagValues(ctx, ".http.status_code", math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Equal(t, []traceql.Value{traceql.IntValue(200)}, vals)
	vals, err = s.TagValues(ctx, "name", math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Len(t, vals, 3)

	s2 := openStore(t, t.TempDir(), func(o *Options) { o.MaxScanSpans = 100 })
	defer s2.Close()
	for i := 0; i < 100; i++ {
		_, err := s2.Append(ctx, trace(i, false))
		require.NoError(t, err)
	}
	_, _, err = s2.Search(ctx, SearchRequest{Query: mustParse(t, `{}`), From: math.MinInt64, To: math.MaxInt64})
	require.ErrorIs(t, err, ErrTooMuchData)
}

func mustParse(t *testing.T, q string) *traceql.Query {
	pq, err := traceql.Parse(q)
	require.NoError(t, err)
	return pq
}

func FuzzDecodeBlock(f *testing.F) {
	cols := encodeBlock(append(trace(1, true), trace(2, false)...))
	for _, name := range allColumns {
		f.Add(name, cols[name])
	}
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		c := segment.Columns{}
		for k, v := range cols {
			c[k] = v
		}
		c[name] = b
		_, _ = decodeBlock(c, 6, nil)
	})
}

func FuzzReplay(f *testing.F) {
	var e segment.Enc
	for _, sp := range trace(1, true) {
		sp.encode(&e)
	}
	f.Add(e.B)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = traceSignal{}.Replay(newHead(), b)
	})
}

// Appends, flushes and reads at once: every trace read back is whole (run
// with -race).
func TestConcurrentAppendFlushRead(t *testing.T) {
	s := openStore(t, t.TempDir(), func(o *Options) { o.HeadMaxRows = 300 })
	defer s.Close()
	ctx := context.Background()
	done := make(chan struct{})
	errs := make(chan error, 3)
	go func() {
		defer close(done)
		for i := 0; i < 1000; i++ {
			if _, err := s.Append(ctx, trace(i, i%10 == 0)); err != nil {
				errs <- err
				return
			}
			if i%250 == 0 {
				if err := s.Flush(); err != nil {
					errs <- err
					return
				}
			}
		}
	}()
	q := mustParse(t, `{ status = error }`)
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
		}
		got, err := s.Trace(ctx, trace(0, true)[0].TraceID)
		require.NoError(t, err)
		require.Contains(t, []int{0, 3}, len(got), "a trace is read whole or not at all")
		_, _, err = s.Search(ctx, SearchRequest{Query: q, From: math.MinInt64, To: math.MaxInt64, Limit: 5})
		require.NoError(t, err)
		_, err = s.Tags(ctx, math.MinInt64, math.MaxInt64)
		require.NoError(t, err)
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	res, _, err := s.Search(ctx, SearchRequest{Query: q, From: math.MinInt64, To: math.MaxInt64, Limit: 1000})
	require.NoError(t, err)
	require.Len(t, res, 100)
}

// The prefilter skips traces before matching; Search must still find
// exactly the traces the TraceQL matcher accepts.
func TestSearchFindsWhatTheMatcherAccepts(t *testing.T) {
	s := openStore(t, t.TempDir(), nil)
	defer s.Close()
	ctx := context.Background()
	var all [][]*Span
	for i := 0; i < 600; i++ {
		tr := trace(i, i%7 == 0)
		if i%5 == 0 {
			tr[1].Attributes = append(tr[1].Attributes, str("service.name", "override"), KV{Key: "http.method", Value: "7", Type: logstore.TypeInt})
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
			qs := make([]traceql.Span, len(tr))
			for i, sp := range tr {
				qs[i] = querySpan(sp, queryAttrs(sp.Resource))
			}
			if len(pq.Match(qs)) > 0 {
				want[tr[0].TraceID] = true
			}
		}
		res, _, err := s.Search(ctx, SearchRequest{Query: pq, From: math.MinInt64, To: math.MaxInt64, Limit: 10_000})
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

// Merged segments answer like the segments they replace: a trace whose
// spans were in three segments comes back whole, search and tags work.
func TestMergedSegments(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, func(o *Options) { o.MergeFanIn = 4 })
	ctx := context.Background()
	tr := trace(7, true)
	for i := 0; i < 2000; i++ {
		spans := trace(1000+i, i%100 == 0)
		if i%200 == 0 {
			spans = append(spans, tr[i/200%3])
		}
		_, err := s.Append(ctx, spans)
		require.NoError(t, err)
		if i%100 == 99 {
			require.NoError(t, s.Flush())
		}
	}
	n, _, _ := s.st.Tenant("default").Segments().Stats()
	require.NoError(t, s.Compact())
	merged, rows, _ := s.st.Tenant("default").Segments().Stats()
	require.Less(t, merged, n, "20 flushes merged")
	require.Equal(t, 2000*3+10, rows)

	check := func() {
		got, err := s.Trace(ctx, tr[0].TraceID)
		require.NoError(t, err)
		require.Equal(t, ids(tr), ids(got), "a span stored four times comes back once")
		require.Equal(t, *tr[1], *got[1], "every field kept")
		want := trace(1500, false)
		got, err = s.Trace(ctx, want[0].TraceID)
		require.NoError(t, err)
		require.Equal(t, ids(want), ids(got))
		res, _, err := s.Search(ctx, SearchRequest{Query: mustParse(t, `{ resource.service.name = "checkout" && status = error }`), From: math.MinInt64, To: math.MaxInt64, Limit: 100})
		require.NoError(t, err)
		require.Len(t, res, 21)
		vals, err := s.TagValues(ctx, "resource.service.name", math.MinInt64, math.MaxInt64)
		require.NoError(t, err)
		require.Equal(t, []traceql.Value{traceql.StringValue("checkout"), traceql.StringValue("frontend")}, vals)
	}
	check()
	require.NoError(t, s.Close())
	s = openStore(t, dir, nil)
	defer s.Close()
	check()
}

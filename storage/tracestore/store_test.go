package tracestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/segment"
	"github.com/sightline-dev/sightline/storage/tracestore/tracestoretest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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

var (
	str   = tracestoretest.Str
	trace = tracestoretest.Trace
)

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
	tr[2].Attributes = []record.KV{str("big", string(make([]byte, 2000)))}
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

	// Spans of a request share their resource: repaired once, for all.
	shared := trace(3, false)
	res2 := []record.KV{str("service.name", "svc\xff")}
	for _, sp := range shared {
		sp.Resource = res2
	}
	res, err = s.Append(context.Background(), shared)
	require.NoError(t, err)
	require.Equal(t, 1, res.Repaired)
	got, err = s.Trace(context.Background(), shared[0].TraceID)
	require.NoError(t, err)
	require.Len(t, got, len(shared))
	for _, sp := range got {
		require.Equal(t, "svc\uFFFD", sp.Resource[0].Value)
	}
}

// Conditions the prefilter checks.
var (
	checkoutService = record.Condition{Field: record.Field{Scope: record.ScopeResource, Name: "service.name"}, Op: record.OpEqual,
		Value: record.Literal{Type: record.LiteralString, Str: "checkout"}}
	statusError = record.Condition{Field: record.Field{Intrinsic: record.IntrinsicStatus}, Op: record.OpEqual,
		Value: record.Literal{Type: record.LiteralStatus, Str: "error"}}
	slowSpan = record.Condition{Field: record.Field{Intrinsic: record.IntrinsicDuration}, Op: record.OpGreater,
		Value: record.Literal{Type: record.LiteralDuration, Duration: time.Second}}
)

// fetchAll returns the spansets Fetch returns over all time, as trace IDs in
// the order they came.
func fetchAll(t *testing.T, s *Store, conds ...record.Condition) [][16]byte {
	t.Helper()
	var out [][16]byte
	_, err := s.Fetch(context.Background(), record.FetchSpansRequest{Start: math.MinInt64, End: math.MaxInt64, Conditions: conds}, func(ss *record.Spanset) error {
		require.Equal(t, ss.TraceID, ss.Spans[0].TraceID)
		out = append(out, ss.TraceID)
		return nil
	})
	require.NoError(t, err)
	return out
}

// distinct counts the traces of fetchAll's answer.
func distinct(ids [][16]byte) int {
	seen := map[[16]byte]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	return len(seen)
}

var errStop = errors.New("stop")

func TestFetch(t *testing.T) {
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
	// The prefilter leaves out the traces the conditions rule out; the
	// others come whole (all their spans in one place), newest first.
	got := fetchAll(t, s, checkoutService, statusError)
	require.Len(t, got, 30)
	require.Equal(t, trace(2900, true)[0].TraceID, got[0], "newest first")
	require.Equal(t, trace(0, true)[0].TraceID, got[29])
	require.Empty(t, fetchAll(t, s, slowSpan))
	// A condition the prefilter does not check rules nothing out.
	regex := record.Condition{Field: record.Field{Intrinsic: record.IntrinsicName}, Op: record.OpRegex, Value: record.Literal{Type: record.LiteralString, Str: "x"}}
	require.Len(t, fetchAll(t, s, regex), 3000)

	// A trace is fetched when one of its spans starts in the range: trace
	// 98's last span starts 100 ms after Base.
	req := record.FetchSpansRequest{Start: tracestoretest.Base + 100*int64(time.Millisecond), End: tracestoretest.Base + 199*int64(time.Millisecond)}
	var spans int
	var ids [][16]byte
	_, err := s.Fetch(ctx, req, func(ss *record.Spanset) error {
		spans += len(ss.Spans)
		ids = append(ids, ss.TraceID)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, ids, 102)
	require.Equal(t, trace(199, false)[0].TraceID, ids[0])
	require.Equal(t, trace(98, false)[0].TraceID, ids[101])
	require.Equal(t, 306, spans)

	// A fetch stops when told, having read the blocks it needed only.
	all, err := s.Fetch(ctx, record.FetchSpansRequest{Start: math.MinInt64, End: math.MaxInt64}, func(*record.Spanset) error { return nil })
	require.NoError(t, err)
	require.Equal(t, record.FetchStats{Segments: 1, BlocksRead: all.BlocksRead, SpansScanned: 9000}, all)
	n := 0
	st, err := s.Fetch(ctx, record.FetchSpansRequest{Start: math.MinInt64, End: math.MaxInt64}, func(*record.Spanset) error {
		if n++; n == 1600 { // past the head's 1499 traces
			return errStop
		}
		return nil
	})
	require.ErrorIs(t, err, errStop)
	require.Equal(t, 1, st.Segments)
	require.Equal(t, 1, st.BlocksRead)
	require.Less(t, st.SpansScanned, all.SpansScanned)

	s2 := openStore(t, t.TempDir(), func(o *Options) { o.MaxScanSpans = 100 })
	defer s2.Close()
	for i := 0; i < 100; i++ {
		_, err := s2.Append(ctx, trace(i, false))
		require.NoError(t, err)
	}
	_, err = s2.Fetch(ctx, record.FetchSpansRequest{Start: math.MinInt64, End: math.MaxInt64}, func(*record.Spanset) error { return nil })
	require.ErrorIs(t, err, ErrTooMuchData)
	// A streaming aggregation may read more than a search (MaxSpans).
	_, err = s2.Fetch(ctx, record.FetchSpansRequest{Start: math.MinInt64, End: math.MaxInt64, MaxSpans: 1000}, func(*record.Spanset) error { return nil })
	require.NoError(t, err)

	// Without the span attributes (SkipSpanAttributes), the spans of a
	// segment come with everything else, from fewer bytes.
	require.NoError(t, s.Flush())
	for _, skip := range []bool{false, true} {
		var withAttrs, spans int
		_, err := s.Fetch(ctx, record.FetchSpansRequest{Start: math.MinInt64, End: math.MaxInt64, SkipSpanAttributes: skip}, func(ss *record.Spanset) error {
			for _, sp := range ss.Spans {
				spans++
				require.NotEmpty(t, sp.Name)
				require.NotEmpty(t, sp.Resource)
				if len(sp.Attributes) > 0 {
					withAttrs++
				}
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, 9000, spans)
		if skip {
			require.Zero(t, withAttrs)
		} else {
			require.Equal(t, 6000, withAttrs, "two spans of each trace have attributes")
		}
	}
}

func TestTags(t *testing.T) {
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
	tags, err := s.Tags(ctx, math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Equal(t, []string{"host.name", "service.name"}, tags.Resource)
	require.Equal(t, []string{"amount", "http.method", "http.status_code"}, tags.Span)
	vals, err := s.TagValues(ctx, "resource.service.name", math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Equal(t, []TagValue{{"checkout", record.TypeString}, {"frontend", record.TypeString}}, vals)
	vals, err = s.TagValues(ctx, ".http.status_code", math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Equal(t, []TagValue{{"200", record.TypeInt}}, vals)
	vals, err = s.TagValues(ctx, "name", math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Len(t, vals, 3)
}

// tracemeta.json keeps the tag index as it always has: value types are
// numbers (1 string, 2 int, 3 double, 4 bool).
func TestTagIndexFormat(t *testing.T) {
	ti := newTagIndex()
	ti.add(trace(1, true))
	b, err := json.Marshal(ti)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"resource": {"host.name": {"values": {"node-1": 1}}, "service.name": {"values": {"checkout": 1, "frontend": 1}}},
		"span": {"amount": {"values": {"12.5": 3}}, "http.method": {"values": {"GET": 1}}, "http.status_code": {"values": {"200": 2}}},
		"names": {"values": {"GET /cart": 1, "POST checkout": 1, "charge": 1}}
	}`, string(b))
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
		encodeSpan(&e, sp)
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
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
		}
		got, err := s.Trace(ctx, trace(0, true)[0].TraceID)
		require.NoError(t, err)
		require.Contains(t, []int{0, 3}, len(got), "a trace is read whole or not at all")
		n := 0
		_, err = s.Fetch(ctx, record.FetchSpansRequest{Start: math.MinInt64, End: math.MaxInt64, Conditions: []record.Condition{statusError}},
			func(*record.Spanset) error {
				if n++; n == 5 {
					return errStop
				}
				return nil
			})
		if !errors.Is(err, errStop) {
			require.NoError(t, err)
		}
		_, err = s.Tags(ctx, math.MinInt64, math.MaxInt64)
		require.NoError(t, err)
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 100, distinct(fetchAll(t, s, statusError)))
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
		require.Equal(t, 21, distinct(fetchAll(t, s, checkoutService, statusError)))
		vals, err := s.TagValues(ctx, "resource.service.name", math.MinInt64, math.MaxInt64)
		require.NoError(t, err)
		require.Equal(t, []TagValue{{"checkout", record.TypeString}, {"frontend", record.TypeString}}, vals)
	}
	check()
	require.NoError(t, s.Close())
	s = openStore(t, dir, nil)
	defer s.Close()
	check()
}

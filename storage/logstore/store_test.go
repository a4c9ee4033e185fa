package logstore

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tenant"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"))
}

func openStore(t testing.TB, dir string, mod func(*Options)) *Store {
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

func rec(i int, service, sev, body string, trace byte) *Record {
	r := &Record{
		Timestamp:    base + int64(i)*int64(time.Millisecond),
		SeverityText: sev,
		Body:         body,
		BodyType:     record.TypeString,
		Resource:     []record.KV{{Key: "service.name", Value: service, Type: record.TypeString}, {Key: "host.name", Value: "node-1", Type: record.TypeString}},
		Attributes:   []record.KV{{Key: "http.method", Value: "POST", Type: record.TypeString}, {Key: "attempt", Value: fmt.Sprint(i % 3), Type: record.TypeInt}},
		ScopeName:    "app",
	}
	if trace != 0 {
		r.TraceID[0], r.TraceID[15] = trace, 1
		r.SpanID[0] = trace
	}
	return r
}

// fixture: 2000 records over two services; every 100th is a payment
// failure of trace 7.
func fixture() []*Record {
	var recs []*Record
	for i := 0; i < 2000; i++ {
		switch {
		case i%100 == 0:
			recs = append(recs, rec(i, "checkout", "ERROR", fmt.Sprintf("payment failed for order %d: card declined", i), 7))
		case i%2 == 0:
			recs = append(recs, rec(i, "checkout", "INFO", fmt.Sprintf("order %d placed", i), 0))
		default:
			recs = append(recs, rec(i, "cart", "DEBUG", fmt.Sprintf("cart %d updated with 3 items", i), 9))
		}
	}
	return recs
}

func search(t *testing.T, s *Store, q string, limit int) []*Record {
	t.Helper()
	pq, err := ParseQuery(q)
	require.NoError(t, err)
	out, _, err := s.Search(context.Background(), SearchRequest{Query: pq, From: 0, To: time.Now().UnixNano(), Limit: limit, Backward: true})
	require.NoError(t, err)
	return out
}

func checkQueries(t *testing.T, s *Store) {
	t.Helper()
	f := func(q string, want int) {
		t.Helper()
		require.Len(t, search(t, s, q, 0), want, q)
	}
	f(`service.name:checkout AND "payment failed" AND severity_text:ERROR`, 20)
	f(`"payment failed"`, 20)
	f(`"failed payment"`, 0) // a phrase is in order
	f(`declined`, 20)
	f(`DECLINED`, 20) // text is case-insensitive
	f(`severity_text:error`, 0)
	f(`service.name:cart`, 1000)
	f(`service.name:cart AND NOT updated`, 0)
	f(`order AND NOT payment`, 980)
	f(`http.method:post AND service.name:checkout`, 1000)
	f(`host.name:node`, 2000) // string attributes are tokenised
	f(`trace_id:07000000000000000000000000000001`, 20)
	f(`severity_text:ERROR OR service.name:cart`, 1020)
	f(`pay*`, 20)
	f(`/declin.d/`, 20)
	f(`nothing-like-this`, 0)
	// Tokens starting with a digit are not in the block index; the search
	// still finds them record by record.
	f(`1900`, 1)
	f(`"order 1900"`, 1)
	f(`"3 items"`, 1000)
	f(`1900 OR 1800`, 2)
	f(`*`, 2000)

	// Limit and direction: the newest first.
	got := search(t, s, `"payment failed"`, 3)
	require.Len(t, got, 3)
	require.Equal(t, "payment failed for order 1900: card declined", got[0].Body)
	require.Equal(t, "payment failed for order 1700: card declined", got[2].Body)

	var id [16]byte
	id[0], id[15] = 7, 1
	tr, err := s.ByTrace(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, tr, 20)
	require.Equal(t, "payment failed for order 0: card declined", tr[0].Body)
	require.Equal(t, "checkout", tr[0].ResourceAttr("service.name"))
	require.Equal(t, "POST", tr[0].Attr("http.method"))
	require.Equal(t, byte(7), tr[0].SpanID[0])

	var lines []string
	_, err = s.Fetch(context.Background(), FetchRequest{Matchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "service_name", "checkout"), labels.MustNewMatcher(labels.MatchEqual, "severity", "error")},
		To: time.Now().UnixNano()}, func(e Entry) error {
		lines = append(lines, e.Line)
		require.Equal(t, "07000000000000000000000000000001", e.Metadata.Get("trace_id"))
		require.Equal(t, "node-1", e.Metadata.Get("host_name"))
		return nil
	})
	require.NoError(t, err)
	require.Len(t, lines, 20)
	require.Equal(t, "payment failed for order 0: card declined", lines[0])

	streams, _, err := s.Streams(context.Background(), nil, 0, time.Now().UnixNano())
	require.NoError(t, err)
	require.Len(t, streams, 3)
	counts, _, err := s.Histogram(context.Background(), query.NewMatchAllQuery(), base, base+int64(2*time.Second), int64(time.Second))
	require.NoError(t, err)
	require.Equal(t, []int64{1000, 1000, 0}, counts)
}

func TestSearchHeadSegmentsAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	res, err := s.Append(context.Background(), fixture())
	require.NoError(t, err)
	require.Equal(t, 2000, res.Accepted)
	t.Run("head", func(t *testing.T) { checkQueries(t, s) })

	require.NoError(t, s.Flush())
	n, rows, _ := s.st.Tenant(tenant.Default).Segments().Stats()
	require.Equal(t, 1, n)
	require.Equal(t, 2000, rows)
	t.Run("segment", func(t *testing.T) { checkQueries(t, s) })

	// Half in a segment, half in the head, across a restart.
	require.NoError(t, s.Close())
	dir2 := t.TempDir()
	s = openStore(t, dir2, nil)
	recs := fixture()
	_, err = s.Append(context.Background(), recs[:1000])
	require.NoError(t, err)
	require.NoError(t, s.Flush())
	_, err = s.Append(context.Background(), recs[1000:])
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s = openStore(t, dir2, nil)
	defer s.Close()
	t.Run("segment+replayed head", func(t *testing.T) { checkQueries(t, s) })
}

func TestTenantsAndLimits(t *testing.T) {
	s := openStore(t, t.TempDir(), func(o *Options) { o.MaxRecordBytes = 1000; o.MaxScanRecords = 1500 })
	defer s.Close()
	big := rec(1, "x", "INFO", string(make([]byte, 2000)), 0)
	res, err := s.Append(tenant.With(context.Background(), "team-a"), []*Record{rec(0, "x", "INFO", "hello \xff world", 0), big})
	require.NoError(t, err)
	require.Equal(t, 1, res.Accepted)
	require.Equal(t, 1, res.Rejected[ReasonTooLarge])
	require.Equal(t, 1, res.Repaired)
	got, _, err := s.Search(tenant.With(context.Background(), "team-a"), SearchRequest{Query: query.NewMatchAllQuery(), To: time.Now().UnixNano()})
	require.NoError(t, err)
	require.Equal(t, "hello \uFFFD world", got[0].Body, "invalid UTF-8 is repaired, never stored corrupt")

	// Records of a request share their resource: repaired once, for all.
	shared := []record.KV{{Key: "service.name", Value: "svc\xff", Type: record.TypeString}}
	two := []*Record{rec(2, "x", "INFO", "one", 0), rec(3, "x", "INFO", "two", 0), rec(4, "x", "INFO", "three", 0)}
	two[0].Resource, two[1].Resource = shared, shared
	two[2].Resource = []record.KV{{Key: "service.name", Value: "other\xfe", Type: record.TypeString}}
	res, err = s.Append(tenant.With(context.Background(), "team-b"), two)
	require.NoError(t, err)
	require.Equal(t, 2, res.Repaired, "the shared resource counts once, the other resource once")
	got, _, err = s.Search(tenant.With(context.Background(), "team-b"), SearchRequest{Query: query.NewMatchAllQuery(), To: time.Now().UnixNano()})
	require.NoError(t, err)
	require.Len(t, got, 3)
	for _, r := range got {
		require.True(t, utf8.ValidString(r.Resource[0].Value), "resource of %q stored as %q", r.Body, r.Resource[0].Value)
	}
	got, _, err = s.Search(context.Background(), SearchRequest{Query: query.NewMatchAllQuery(), To: time.Now().UnixNano()})
	require.NoError(t, err)
	require.Empty(t, got, "the default tenant sees nothing of team-a")

	_, err = s.Append(context.Background(), fixture())
	require.NoError(t, err)
	_, _, err = s.Search(context.Background(), SearchRequest{Query: query.NewMatchAllQuery(), To: time.Now().UnixNano()})
	require.ErrorIs(t, err, ErrTooMuchData)
	require.ErrorContains(t, err, "more than 1500 records")

	_, err = ParseQuery(`body:"unterminated`)
	require.Error(t, err)
}

func TestRetention(t *testing.T) {
	s := openStore(t, t.TempDir(), func(o *Options) { o.Retention = time.Hour })
	defer s.Close()
	old := rec(0, "x", "INFO", "ancient", 0)
	old.Timestamp = time.Now().Add(-3 * time.Hour).UnixNano()
	_, err := s.Append(context.Background(), []*Record{old})
	require.NoError(t, err)
	require.NoError(t, s.Flush())
	_, err = s.Append(context.Background(), []*Record{rec(1, "x", "INFO", "recent", 0)})
	require.NoError(t, err)
	require.NoError(t, s.Flush())
	s.ApplyRetention()
	got := search(t, s, "*", 0)
	require.Len(t, got, 1)
	require.Equal(t, "recent", got[0].Body)
}

func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{`a AND b`, `"x y" OR NOT z`, `f:v*`, `/re/`, `n:>5`, `+a -b`, `(`} {
		f.Add(q)
	}
	im, err := newIndexMapping()
	require.NoError(f, err)
	r := rec(1, "svc", "INFO", "payment failed", 3)
	f.Fuzz(func(t *testing.T, q string) {
		pq, err := ParseQuery(q)
		if err != nil {
			return
		}
		newMatcher(pq, im).Match(r)
		relax(pq)
	})
}

func FuzzDecodeBlock(f *testing.F) {
	cols := encodeBlock(fixture()[:10])
	f.Add(cols[colTime], cols[colBody], cols[colResDict], cols[colAttrs])
	f.Fuzz(func(t *testing.T, tm, body, res, attrs []byte) {
		c := encodeBlock(fixture()[:10])
		c[colTime], c[colBody], c[colResDict], c[colAttrs] = tm, body, res, attrs
		_, _ = decodeBlock(c, 10)
	})
}

func TestBackpressure(t *testing.T) {
	s := openStore(t, t.TempDir(), func(o *Options) { o.MaxPendingRows = 1500; o.HeadMaxRows = 1 << 30; o.HeadMaxAge = time.Hour })
	defer s.Close()
	recs := fixture()
	_, err := s.Append(context.Background(), recs[:1000])
	require.NoError(t, err)
	_, err = s.Append(context.Background(), recs[1000:])
	require.ErrorIs(t, err, ErrBackpressure, "1000 waiting + 1000 more is over 1500")
	require.NoError(t, s.Flush())
	_, err = s.Append(context.Background(), recs[1000:])
	require.NoError(t, err, "accepted again once flushed")
	require.Len(t, search(t, s, "*", 0), 2000)
}

// TestConcurrentAppendSearchFlush runs writers, readers and flushes at once;
// with -race it checks the head snapshot and flush hand-over. Every record
// is found exactly once at the end.
func TestConcurrentAppendSearchFlush(t *testing.T) {
	s := openStore(t, t.TempDir(), func(o *Options) { o.HeadMaxRows = 700; o.MergeFanIn = 2 })
	defer s.Close()
	const writers, batches, per = 3, 200, 5
	done := make(chan struct{})
	errs := make(chan error, writers+2)
	for w := 0; w < writers; w++ {
		go func(w int) {
			for b := 0; b < batches; b++ {
				var recs []*Record
				for i := 0; i < per; i++ {
					recs = append(recs, rec(w*10000+b*per+i, fmt.Sprintf("svc-%d", w), "INFO", fmt.Sprintf("writer %d batch %d line %d", w, b, i), byte(w+1)))
				}
				if _, err := s.Append(context.Background(), recs); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(w)
	}
	go func() {
		for {
			select {
			case <-done:
				errs <- nil
				return
			default:
			}
			if err := s.Flush(); err != nil {
				errs <- err
				return
			}
			if err := s.Compact(); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() {
		pq, _ := ParseQuery("writer")
		// While heads are cut and segments merged, a query never sees a
		// record twice or loses one it saw.
		prev := int64(0)
		for {
			select {
			case <-done:
				errs <- nil
				return
			default:
			}
			if _, _, err := s.Search(context.Background(), SearchRequest{Query: pq, To: time.Now().UnixNano(), Limit: 10, Backward: true}); err != nil {
				errs <- err
				return
			}
			var id [16]byte
			id[0], id[15] = 1, 1
			if _, err := s.ByTrace(context.Background(), id); err != nil {
				errs <- err
				return
			}
			counts, _, err := s.Histogram(context.Background(), query.NewMatchAllQuery(), 0, time.Now().UnixNano(), time.Now().UnixNano())
			if err == nil && (counts[0] < prev || counts[0] > writers*batches*per) {
				err = fmt.Errorf("%d records seen after %d, of %d", counts[0], prev, writers*batches*per)
			}
			if err != nil {
				errs <- err
				return
			}
			prev = counts[0]
		}
	}()
	for w := 0; w < writers; w++ {
		require.NoError(t, <-errs)
	}
	close(done)
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	t.Logf("segments by merge level: %v", s.st.Tenant(tenant.Default).Segments().Levels())
	got := search(t, s, "writer", 0)
	require.Len(t, got, writers*batches*per)
	seen := map[string]bool{}
	for _, r := range got {
		require.False(t, seen[r.Body], "record %q found twice", r.Body)
		seen[r.Body] = true
	}
}

// openFiles counts the process' open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here")
	}
	return len(fds)
}

// A server that runs for months flushes many small heads: merges keep the
// segments and open files bounded, and every query answers as before.
func TestManyFlushesStayBounded(t *testing.T) {
	dir := t.TempDir()
	fds := openFiles(t)
	s := openStore(t, dir, nil)
	recs := fixture()
	const flushes = 200
	per := len(recs) / flushes
	var segs []int
	for i := range flushes {
		_, err := s.Append(context.Background(), recs[i*per:(i+1)*per])
		require.NoError(t, err)
		require.NoError(t, s.Flush())
		require.NoError(t, s.Compact())
		n, _, _ := s.st.Tenant(tenant.Default).Segments().Stats()
		segs = append(segs, n)
		// Levels of 10, 80 and 640 records, fewer than 8 of each (fewer
		// than 2 once the partition is cold).
		require.LessOrEqual(t, n, 3*7, "segments after %d flushes", i+1)
	}
	open := openFiles(t) - fds
	t.Logf("segments after each flush (last 10): %v; open files: %d", segs[len(segs)-10:], open)
	require.LessOrEqual(t, open, 3*7*4, "open files of 200 flushes, merged")
	checkQueries(t, s)

	require.NoError(t, s.Close())
	s = openStore(t, dir, nil)
	defer s.Close()
	checkQueries(t, s)
}

// Segments with a full-text index (large merged ones) and without (flushed
// heads, small merges) answer every query alike.
func TestFullTextIndexedMergedSegments(t *testing.T) {
	dir := t.TempDir()
	mod := func(o *Options) { o.FullTextMinRecords = 1000; o.MergeFanIn = 2 }
	s := openStore(t, dir, mod)
	recs := fixture()
	for i := range 4 {
		_, err := s.Append(context.Background(), recs[i*500:(i+1)*500])
		require.NoError(t, err)
		require.NoError(t, s.Flush())
	}
	require.NoError(t, s.Compact())
	indexed := 0
	segs := s.st.Tenant(tenant.Default).Snapshot(0, time.Now().UnixNano(), func(*head) {})
	for _, r := range segs {
		if r.Extra().(*segExtra).index != nil {
			indexed++
		}
		r.Release()
	}
	require.Equal(t, 1, indexed, "the merge of 2000 records has a full-text index")
	checkQueries(t, s)
	require.NoError(t, s.Close())
	s = openStore(t, dir, mod)
	defer s.Close()
	checkQueries(t, s)
}

// A word search reads only the blocks whose token filter may hold it.
func TestTokenFiltersSkipBlocks(t *testing.T) {
	s := openStore(t, t.TempDir(), nil)
	defer s.Close()
	var recs []*Record
	for i := range 40 * 512 {
		body := fmt.Sprintf("routine work item %d done", i)
		if i == 7777 {
			body = "deadlock detected on table orders"
		}
		recs = append(recs, rec(i, "db", "INFO", body, 0))
	}
	_, err := s.Append(context.Background(), recs)
	require.NoError(t, err)
	require.NoError(t, s.Flush())
	for _, q := range []string{"deadlock", `"deadlock detected"`, "body:deadlock", "deadlock AND orders", "deadlock OR nosuchword"} {
		pq, err := ParseQuery(q)
		require.NoError(t, err)
		out, st, err := s.Search(context.Background(), SearchRequest{Query: pq, From: 0, To: time.Now().UnixNano(), Limit: 10})
		require.NoError(t, err)
		require.Len(t, out, 1, q)
		require.LessOrEqual(t, st.BlocksRead, 2, "%s: one block holds the word, 40 are there (1%% false positives)", q)
	}
	pq, _ := ParseQuery("dead*")
	out, st, err := s.Search(context.Background(), SearchRequest{Query: pq, From: 0, To: time.Now().UnixNano(), Limit: 10})
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Equal(t, 40, st.BlocksRead, "a prefix needs a full-text index: without one every block is read")
}

// hashes are the block filter's tokens of the terms: every term under
// its field and under "" (any field), as unqualified queries search every
// field. blockHashes must compute the same without building the terms.
func (bt *blockTerms) hashes() []uint64 {
	out := []uint64{}
	seen := map[string]bool{}
	for _, m := range []map[string]map[string]struct{}{bt.values, bt.words} {
		for k, set := range m {
			for v := range set {
				out = append(out, tokenHash(k, v))
				if !seen[v] {
					seen[v] = true
					out = append(out, tokenHash("", v))
				}
			}
		}
	}
	return out
}

// The flush path's token hashes are those of the block's terms.
func TestBlockHashesAreTheTermsHashes(t *testing.T) {
	recs := fixture()
	for i := 0; i < len(recs); i += 512 {
		blk := recs[i:min(i+512, len(recs))]
		require.ElementsMatch(t, newBlockTerms(blk).hashes(), blockHashes(blk))
	}
}

// Merges copy the blocks of sources that do not overlap in time as they
// are stored, decode those that do, and answer every query the same.
func TestMergeCopiesBlocksInTimeOrder(t *testing.T) {
	merged := func(s *Store, how string) float64 {
		return testutil.ToFloat64(s.m.mergedBlocks.WithLabelValues(how))
	}
	// Flushes of consecutive times: every block is copied.
	s := openStore(t, t.TempDir(), func(o *Options) { o.MergeFanIn = 4 })
	recs := fixture()
	for i := range 4 {
		_, err := s.Append(context.Background(), recs[i*500:(i+1)*500])
		require.NoError(t, err)
		require.NoError(t, s.Flush())
	}
	require.NoError(t, s.Compact())
	n, _, _ := s.st.Tenant(tenant.Default).Segments().Stats()
	require.Equal(t, 1, n)
	// Four copied by one merge, or more if the partition is cold by the
	// clock (it is then merged in pairs, each merge copying again).
	require.GreaterOrEqual(t, merged(s, "copied"), 4.0)
	require.Equal(t, 0.0, merged(s, "decoded"))
	checkQueries(t, s)
	// Copied blocks' stream columns point into the merged segment's
	// streams: counting from columns agrees with reading records.
	names := []string{"service_name", "severity"}
	got, st := countAll(t, s, nil, names, 0, time.Now().UnixNano())
	require.Equal(t, fetchCounted(t, s, nil, names, 0, time.Now().UnixNano()), got)
	require.Zero(t, st.RecordsScanned, "counted from columns, no record decoded")
	require.Equal(t, 2000, st.RecordsCounted)
	require.NoError(t, s.Close())

	// Flushes whose times interleave: blocks are decoded and merged.
	s = openStore(t, t.TempDir(), func(o *Options) { o.MergeFanIn = 4 })
	defer s.Close()
	for k := range 4 {
		var part []*Record
		for i := k; i < len(recs); i += 4 {
			part = append(part, recs[i])
		}
		_, err := s.Append(context.Background(), part)
		require.NoError(t, err)
		require.NoError(t, s.Flush())
	}
	require.NoError(t, s.Compact())
	require.Positive(t, merged(s, "decoded"))
	checkQueries(t, s)
}

// An attribute with an empty key is stored like any other, and a bare-word
// search (every field) over it finds its value instead of recursing until
// the stack overflows (issue 12: one such record took the server down at
// every search, after every restart).
func TestEmptyAttributeKey(t *testing.T) {
	s := openStore(t, t.TempDir(), nil)
	defer s.Close()
	r := rec(1, "checkout", "INFO", "hello", 0)
	r.Attributes = append(r.Attributes, record.KV{Key: "", Value: "nameless", Type: record.TypeString})
	_, err := s.Append(context.Background(), []*Record{r, rec(2, "checkout", "INFO", "other", 0)})
	require.NoError(t, err)
	for _, where := range []string{"head", "segment"} {
		require.Len(t, search(t, s, "hello", 0), 1, where)
		require.Len(t, search(t, s, "nameless", 0), 1, where)
		require.NoError(t, s.Flush())
	}
}

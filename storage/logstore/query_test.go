package logstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/tenant"
)

var errEnough = errors.New("enough")

// fetchAll runs a Fetch and returns its entries, stopping after limit (0:
// no limit).
func fetchAll(t testing.TB, s *Store, ctx context.Context, ms []*labels.Matcher, from, to int64, backward bool, limit int) ([]Entry, SearchStats) {
	t.Helper()
	var out []Entry
	st, err := s.Fetch(ctx, FetchRequest{Matchers: ms, From: from, To: to, Backward: backward}, func(e Entry) error {
		out = append(out, e)
		if len(out) == limit {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		require.NoError(t, err)
	}
	return out, st
}

func segmentCount(s *Store) int {
	n, _, _ := s.st.Tenant(tenant.Default).Segments().Stats()
	return n
}

// TestFetchOrder: records spread over three segments whose time ranges
// overlap and over an unsorted head, with equal timestamps across and
// within units, come oldest first forward and newest first backward, the
// backward order being exactly the forward one reversed.
func TestFetchOrder(t *testing.T) {
	// No merges: the test wants three segments whatever the clock says
	// (a cold partition's segments are merged in pairs).
	s := openStore(t, t.TempDir(), func(o *Options) { o.MergeFanIn = 0 })
	defer s.Close()
	var batches [4][]*Record
	var all []*Record
	for i := 0; i < 4000; i++ {
		r := rec(i, []string{"a", "b"}[i/2%2], "INFO", fmt.Sprintf("line %d", i), 0)
		r.Timestamp = base + int64(i/3)*int64(time.Millisecond) // three records a timestamp
		batches[i*7%4] = append(batches[i*7%4], r)
		all = append(all, r)
	}
	for k, b := range batches {
		if k == 3 {
			slices.Reverse(b) // the head: newest appended first
		}
		_, err := s.Append(context.Background(), b)
		require.NoError(t, err)
		if k < 3 {
			require.NoError(t, s.Flush())
		}
	}
	require.Equal(t, 3, segmentCount(s))

	check := func(t *testing.T, ms []*labels.Matcher, from, to int64) {
		var want []*Record
		for _, r := range all {
			if r.Timestamp > from && r.Timestamp <= to && (len(ms) == 0 || r.ResourceAttr("service.name") == ms[0].Value) {
				want = append(want, r)
			}
		}
		require.NotEmpty(t, want)
		sort.SliceStable(want, func(i, j int) bool { return want[i].Timestamp < want[j].Timestamp })

		fwd, st := fetchAll(t, s, context.Background(), ms, from, to, false, 0)
		bwd, _ := fetchAll(t, s, context.Background(), ms, from, to, true, 0)
		require.Len(t, fwd, len(want))
		require.Equal(t, 3, st.Segments)
		timestamps := func(es []Entry) []int64 {
			var out []int64
			for _, e := range es {
				out = append(out, e.Timestamp)
			}
			return out
		}
		var wantTS []int64
		for _, r := range want {
			wantTS = append(wantTS, r.Timestamp)
		}
		require.Equal(t, wantTS, timestamps(fwd))
		// The same records, not only the same timestamps.
		bodies := func(es []Entry) []string {
			var out []string
			for _, e := range es {
				out = append(out, e.Line)
			}
			return out
		}
		var wantBodies []string
		for _, r := range want {
			wantBodies = append(wantBodies, r.Body)
		}
		require.ElementsMatch(t, wantBodies, bodies(fwd))
		slices.Reverse(bwd)
		require.Equal(t, bodies(fwd), bodies(bwd), "backward is forward reversed, ties included")

		e := fwd[0]
		require.Equal(t, e.Record.Body, e.Line)
		require.Equal(t, StreamLabels(e.Record), e.Stream)
		require.Equal(t, "node-1", e.Metadata.Get("host_name"))
	}
	end := base + int64(2*time.Second)
	t.Run("all", func(t *testing.T) { check(t, nil, 0, end) })
	t.Run("stream", func(t *testing.T) {
		check(t, []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "service_name", "b")}, 0, end)
	})
	t.Run("range", func(t *testing.T) {
		// (from, to]: the records at from are out, those at to in.
		check(t, nil, base+int64(300*time.Millisecond), base+int64(700*time.Millisecond))
	})
}

// sequentialStore holds segs segments of blocks*BlockRows records each,
// every segment later than the one before (as flushes of a live store
// are), then head records in the head, all of service "x", one record a
// millisecond.
func sequentialStore(t testing.TB, segs, perSeg, head int, mod func(*Options)) *Store {
	t.Helper()
	s := openStore(t, t.TempDir(), func(o *Options) {
		o.HeadMaxAge = time.Hour // no background flush
		o.MergeFanIn = 0         // and no merges: the tests count segments
		if mod != nil {
			mod(o)
		}
	})
	i := 0
	add := func(n int) {
		recs := make([]*Record, n)
		for j := range recs {
			recs[j] = rec(i, "x", "INFO", fmt.Sprintf("line %d", i), 0)
			i++
		}
		_, err := s.Append(context.Background(), recs)
		require.NoError(t, err)
	}
	for k := 0; k < segs; k++ {
		add(perSeg)
		require.NoError(t, s.Flush())
	}
	add(head)
	return s
}

// TestFetchStopsEarly: a fetch that stops after a few entries decodes only
// the blocks that hold them, the newest backward, the oldest forward.
func TestFetchStopsEarly(t *testing.T) {
	const segs, perSeg, head = 20, 4 * 512, 100
	s := sequentialStore(t, segs, perSeg, head, nil)
	defer s.Close()
	require.Equal(t, segs, segmentCount(s))
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "service_name", "x")}
	end := time.Now().UnixNano()

	all, st := fetchAll(t, s, context.Background(), ms, 0, end, true, 0)
	require.Len(t, all, segs*perSeg+head)
	require.Equal(t, segs*4, st.BlocksRead, "a full fetch reads every block")

	got, st := fetchAll(t, s, context.Background(), ms, 0, end, true, 10)
	require.Equal(t, all[:10], got)
	require.Equal(t, 0, st.BlocksRead, "the newest 10 are in the head")
	require.Equal(t, head, st.RecordsScanned)

	got, st = fetchAll(t, s, context.Background(), ms, 0, end, true, head+10)
	require.Equal(t, all[:head+10], got)
	require.Equal(t, 1, st.BlocksRead, "then in the newest block")

	got, st = fetchAll(t, s, context.Background(), ms, 0, end, false, 10)
	require.Equal(t, "line 0", got[0].Line)
	require.Len(t, got, 10)
	require.Equal(t, 1, st.BlocksRead, "forward: the oldest block")
	require.Equal(t, 512, st.RecordsScanned, "and not the head")
}

// TestFetchLimits: MaxScanRecords counts what is read, so a fetch that stops
// early passes where reading everything would not; a cancelled context
// stops a fetch.
func TestFetchLimits(t *testing.T) {
	s := sequentialStore(t, 10, 1024, 0, func(o *Options) { o.MaxScanRecords = 5000 })
	defer s.Close()
	end := time.Now().UnixNano()
	_, err := s.Fetch(context.Background(), FetchRequest{To: end, Backward: true}, func(Entry) error { return nil })
	require.ErrorIs(t, err, ErrTooMuchData)
	got, st := fetchAll(t, s, context.Background(), nil, 0, end, true, 100)
	require.Len(t, got, 100)
	require.Equal(t, 512, st.RecordsScanned)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Fetch(ctx, FetchRequest{To: end}, func(Entry) error { return nil })
	require.ErrorIs(t, err, context.Canceled)
}

// BenchmarkFetchLimit is a Loki log query with limit=100, newest first,
// over 200k records in 50 segments: its cost must not grow with the range.
func BenchmarkFetchLimit(b *testing.B) {
	s := sequentialStore(b, 50, 4000, 0, nil)
	defer s.Close()
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "service_name", "x")}
	end := time.Now().UnixNano()
	var st SearchStats
	b.ReportAllocs()
	for b.Loop() {
		_, st = fetchAll(b, s, context.Background(), ms, 0, end, true, 100)
	}
	b.ReportMetric(float64(st.BlocksRead), "blocks/op")
}

// A fetch with LineContains reads only blocks whose word filters may hold
// the strings, and never misses a line that contains them.
func TestFetchLineContains(t *testing.T) {
	s := openStore(t, t.TempDir(), func(o *Options) { o.HeadMaxAge = time.Hour; o.MergeFanIn = 0 })
	defer s.Close()
	var recs []*Record
	for i := range 40 * 512 {
		body := fmt.Sprintf("routine work item %d done by worker-%d", i, i%7)
		switch i {
		case 7777:
			body = "ERROR deadlock detected on table orders (tx 99)"
		case 13000:
			body = "warning: deadlocks detected twice"
		}
		recs = append(recs, rec(i, "db", "INFO", body, 0))
	}
	_, err := s.Append(context.Background(), recs)
	require.NoError(t, err)
	require.NoError(t, s.Flush())
	end := time.Now().UnixNano()
	fetch := func(subs ...string) (int, SearchStats) {
		n := 0
		st, err := s.Fetch(context.Background(), FetchRequest{To: end, Backward: true, LineContains: subs}, func(e Entry) error {
			for _, sub := range subs {
				if !strings.Contains(e.Line, sub) {
					return nil
				}
			}
			n++
			return nil
		})
		require.NoError(t, err)
		return n, st
	}
	brute := func(subs ...string) int {
		n := 0
	next:
		for _, r := range recs {
			for _, sub := range subs {
				if !strings.Contains(r.Body, sub) {
					continue next
				}
			}
			n++
		}
		return n
	}
	for _, c := range []struct {
		subs      []string
		maxBlocks int
	}{
		{[]string{"deadlock detected on"}, 2},     // "detected" is a whole word
		{[]string{"lock detected on tab"}, 2},     // so is it here
		{[]string{" deadlocks detected "}, 2},     // both words whole
		{[]string{"deadlock"}, 40},                // may be part of a longer word
		{[]string{"detected", "ERROR "}, 40},      // no word bounded on both sides
		{[]string{"on table orders (tx 99)"}, 2},  // digits are not in the filters; "table", "orders", "tx" are
		{[]string{"item 12 done by"}, 40},         // "done" is in every block
		{[]string{"by worker-3 and more"}, 40},    // "worker" is in every block
		{[]string{"nothing like this at all"}, 2}, // "like", "this", "at" are in no block
	} {
		got, st := fetch(c.subs...)
		require.Equal(t, brute(c.subs...), got, "%q", c.subs)
		require.LessOrEqual(t, st.BlocksRead, c.maxBlocks, "%q", c.subs)
	}
}

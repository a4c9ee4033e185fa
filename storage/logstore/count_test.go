package logstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/segment"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// counted is one record as Count hands it over, or as it follows from a
// Fetch entry, comparable.
type counted struct {
	lbls string
	ts   int64
	size int
}

func countAll(t *testing.T, s *Store, ms []*labels.Matcher, names []string, from, to int64) ([]counted, SearchStats) {
	t.Helper()
	var out []counted
	byKey := map[int]string{}
	st, err := s.Count(context.Background(), ms, names, from, to, nil, func(key int, lbls labels.Labels, ts int64, size, n int) error {
		require.Equal(t, 1, n, "records one by one without together")
		if k, ok := byKey[key]; ok {
			require.Equal(t, k, lbls.String(), "one key, one label set")
		}
		byKey[key] = lbls.String()
		out = append(out, counted{lbls.String(), ts, size})
		return nil
	})
	require.NoError(t, err)
	keys := map[string]int{}
	for k, ls := range byKey {
		_, dup := keys[ls]
		require.False(t, dup, "one label set, one key: %s", ls)
		keys[ls] = k
	}
	slices.SortFunc(out, compareCounted)
	return out, st
}

// fetchCounted is what Count should hand over, from Fetch: each entry's
// labels limited to names.
func fetchCounted(t *testing.T, s *Store, ms []*labels.Matcher, names []string, from, to int64) []counted {
	t.Helper()
	var out []counted
	entries, _ := fetchAll(t, s, context.Background(), ms, from, to, false, 0)
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	for _, e := range entries {
		b := labels.NewScratchBuilder(len(names))
		all := e.Labels()
		for _, n := range names {
			if v := all.Get(n); v != "" {
				b.Add(n, v)
			}
		}
		out = append(out, counted{b.Labels().String(), e.Timestamp, len(e.Line)})
	}
	slices.SortFunc(out, compareCounted)
	return out
}

func compareCounted(a, b counted) int {
	if c := strings.Compare(a.lbls, b.lbls); c != 0 {
		return c
	}
	if a.ts != b.ts {
		return int(a.ts - b.ts)
	}
	return a.size - b.size
}

// TestCount: Count hands over the records Fetch does, with their labels
// limited to the names asked for, from a segment written before the count
// columns, segments with them, and the head; it reads columns, not records,
// except for streams whose records may carry an asked-for name as
// metadata.
func TestCount(t *testing.T) {
	s := openStore(t, t.TempDir(), func(o *Options) { o.MergeFanIn = 0 })
	defer s.Close()
	ctx := context.Background()
	n := 0
	for batch := 0; batch < 4; batch++ {
		var recs []*Record
		for i := 0; i < 3000; i++ {
			r := rec(n, []string{"a", "b", "c"}[n%3], []string{"INFO", "WARN", "ERROR"}[n/3%3], strings.Repeat("x", n%97), 0)
			switch {
			case r.Resource[0].Value == "c" && n%5 == 0:
				// Service c has a level on some records, and so may be
				// counted by it, unlike a and b.
				r.Attributes = append(r.Attributes, record.KV{Key: "level", Value: []string{"debug", "info"}[n%2], Type: record.TypeString})
			case r.Resource[0].Value == "c" && n%7 == 0:
				r.Resource = append(r.Resource, record.KV{Key: "detected.level", Value: "warn", Type: record.TypeString})
			}
			r.Timestamp = base + int64(n/2)*1e6 // records share timestamps
			recs = append(recs, r)
			n++
		}
		_, err := s.Append(ctx, recs)
		require.NoError(t, err)
		if batch == 3 {
			break // the head
		}
		require.NoError(t, s.Flush())
		if batch == 0 {
			stripCountColumns(t, s)
		}
	}
	require.Equal(t, 3, segmentCount(s))

	all := []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, "service_name", ".+")}
	// Of the 12000 records, the first segment's and the head's are decoded
	// (scanned), and so are blocks holding a matching stream whose records
	// may have one of the names as metadata; the others are counted.
	for _, c := range []struct {
		ms      []*labels.Matcher
		names   []string
		scanned int
	}{
		{all, nil, 6000},
		{all, []string{"service_name"}, 6000},
		{all, []string{"severity", "service_name", "severity"}, 6000},
		{all, []string{"level", "detected_level"}, 12000}, // every block has a record of c
		{all, []string{"level", "service_name", "attempt"}, 12000},
		{all, []string{"observed_timestamp", "host_name"}, 12000}, // a record's own field
		{[]*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "service_name", "a")}, []string{"level"}, 6000},
		{[]*labels.Matcher{labels.MustNewMatcher(labels.MatchNotEqual, "severity", "warn"), labels.MustNewMatcher(labels.MatchRegexp, "service_name", "b|c")}, []string{"severity"}, 6000},
		{[]*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "service_name", "none")}, nil, 3000},
	} {
		for _, r := range [][2]int64{{math.MinInt64, math.MaxInt64}, {base + 1000e6, base + 5000e6}, {base + 2500e6 - 1, base + 2500e6}} {
			name := fmt.Sprint(c.ms, c.names, r)
			got, st := countAll(t, s, c.ms, c.names, r[0], r[1])
			require.Equal(t, fetchCounted(t, s, c.ms, c.names, r[0], r[1]), got, name)
			// Counted per block where records of a block count alike
			// (here: per second), the totals per label set and second
			// are the same.
			perSecond := func(ts int64) int64 { return (ts - base) / 1e9 }
			want := map[string][2]int{}
			for _, g := range got {
				k := fmt.Sprint(g.lbls, perSecond(g.ts))
				want[k] = [2]int{want[k][0] + 1, want[k][1] + g.size}
			}
			together := map[string][2]int{}
			batched := false
			st2, err := s.Count(ctx, c.ms, c.names, r[0], r[1], func(minT, maxT int64) bool { return perSecond(minT) == perSecond(maxT) },
				func(_ int, lbls labels.Labels, ts int64, size, n int) error {
					k := fmt.Sprint(lbls.String(), perSecond(ts))
					together[k] = [2]int{together[k][0] + n, together[k][1] + size}
					batched = batched || n > 1
					return nil
				})
			require.NoError(t, err)
			require.Equal(t, want, together, name)
			if r[0] == math.MinInt64 && st2.RecordsCounted > 0 {
				require.True(t, batched, "whole blocks counted at once: %s", name)
			}
			if r[0] == math.MinInt64 {
				require.Equal(t, c.scanned, st.RecordsScanned, name)
				if c.ms[0].Value == ".+" {
					require.Equal(t, 12000-c.scanned, st.RecordsCounted, name)
				}
			}
		}
	}
	// Counting stops at fn's error, and at a cancelled context.
	stop := fmt.Errorf("stop")
	_, err := s.Count(ctx, all, nil, math.MinInt64, math.MaxInt64, nil, func(int, labels.Labels, int64, int, int) error { return stop })
	require.ErrorIs(t, err, stop)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Count(cctx, all, nil, math.MinInt64, math.MaxInt64, nil, func(int, labels.Labels, int64, int, int) error { return nil })
	require.ErrorIs(t, err, context.Canceled)
}

// stripCountColumns makes the segments look as written before the stream
// and size columns and stream metadata names.
func stripCountColumns(t *testing.T, s *Store) {
	segs := s.st.Tenant(tenant.Default).Snapshot(math.MinInt64, math.MaxInt64, func(*head) {})
	for _, r := range segs {
		for i := range r.Blocks {
			// Through meta.json's form, as an old segment would read.
			js, err := json.Marshal(r.Blocks[i])
			require.NoError(t, err)
			var m struct {
				MinT    int64                        `json:"minT"`
				MaxT    int64                        `json:"maxT"`
				Rows    int                          `json:"rows"`
				Columns map[string]segment.ColumnRef `json:"columns"`
			}
			require.NoError(t, json.Unmarshal(js, &m))
			require.Contains(t, m.Columns, colStream)
			delete(m.Columns, colStream)
			delete(m.Columns, colSize)
			js, err = json.Marshal(m)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(js, &r.Blocks[i]))
		}
		for _, st := range r.Extra().(*segExtra).meta.Streams {
			st.Metadata = nil
		}
		r.Release()
	}
}

// TestStreamMetadataNames: a segment lists, per stream, the metadata names
// its records have from attributes, and gives up past maxMetadataKeys.
func TestStreamMetadataNames(t *testing.T) {
	s := openStore(t, t.TempDir(), func(o *Options) { o.MergeFanIn = 0 })
	defer s.Close()
	var recs []*Record
	for i := 0; i < 600; i++ {
		r := rec(i, "a", "INFO", "x", 0)
		r.Resource = append(r.Resource, record.KV{Key: "k8s.pod.name", Value: "p"}, record.KV{Key: "detected.level", Value: "w"})
		if i%100 == 0 {
			r.Attributes = append(r.Attributes, record.KV{Key: "level", Value: "debug"})
		}
		recs = append(recs, r)
		wide := rec(i, "wide", "INFO", "x", 0)
		wide.Attributes = []record.KV{{Key: fmt.Sprintf("k%d", i), Value: "v"}}
		recs = append(recs, wide)
	}
	_, err := s.Append(context.Background(), recs)
	require.NoError(t, err)
	require.NoError(t, s.Flush())
	segs := s.st.Tenant(tenant.Default).Snapshot(math.MinInt64, math.MaxInt64, func(*head) {})
	require.Len(t, segs, 1)
	defer segs[0].Release()
	x, err := openExtra(segs[0].Dir()) // as written to logmeta.json
	require.NoError(t, err)
	for _, st := range x.meta.Streams {
		switch st.LabelsM["service_name"] {
		case "a":
			require.Equal(t, []string{"attempt", "detected_level", "host_name", "http_method", "level"}, st.Metadata)
			require.False(t, st.MetadataCapped)
			require.True(t, st.mayHaveMetadata("level"))
			require.True(t, st.mayHaveMetadata("trace_id"))
			require.False(t, st.mayHaveMetadata("k8s_pod_name"), "a stream label")
		case "wide":
			require.Nil(t, st.Metadata)
			require.True(t, st.MetadataCapped)
			require.True(t, st.mayHaveMetadata("anything"))
		}
	}
}

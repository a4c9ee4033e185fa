package logstore

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tenant"
)

func TestDetectedLevel(t *testing.T) {
	for _, c := range []struct {
		num   int32
		text  string
		attrs []record.KV
		body  string
		want  string
	}{
		// The OTLP severity number, whatever the text and the line say.
		{num: 1, want: "trace"}, {num: 4, want: "trace"}, {num: 5, want: "debug"}, {num: 8, want: "debug"},
		{num: 9, want: "info"}, {num: 12, want: "info"}, {num: 13, want: "warn"}, {num: 16, want: "warn"},
		{num: 17, want: "error"}, {num: 20, want: "error"}, {num: 21, want: "fatal"}, {num: 24, want: "fatal"},
		{num: 17, text: "INFO", body: "level=debug", want: "error"},
		// The text when the number is unset (or out of range).
		{text: "INFO", want: "info"}, {text: "Warning", want: "warn"}, {text: "ERROR2", want: "error"},
		{text: "err", want: "error"}, {text: "CRIT", want: "critical"}, {text: "critical", want: "critical"},
		{text: "FATAL4", want: "fatal"}, {text: "notice", want: "info"}, {text: "dbg", want: "debug"},
		{text: "TRACE", want: "trace"}, {num: 25, text: "warn", want: "warn"},
		// Then a level attribute (Loki's structured metadata).
		{attrs: []record.KV{{Key: "lvl", Value: "WARN"}}, body: "ERROR x", want: "warn"},
		{text: "verbose", attrs: []record.KV{{Key: "Level", Value: "debug"}}, want: "debug"},
		{attrs: []record.KV{{Key: "level", Value: "loud"}}, body: "nothing to see", want: "unknown"},
		// Then the line: a JSON or logfmt level field...
		{body: `{"ts":"2024-05-01T10:00:00Z","nested":{"level":"debug"},"list":[1,"}",{"a":[]}],"level":"error","msg":"boom"}`, want: "error"},
		{body: ` {"severity": "WARNING", "msg": "disk"}`, want: "warn"},
		{body: `{"msg":"INFO: not the field","lvl":"dbg"}`, want: "debug"},
		{body: `ts=2024-05-01T10:00:00Z caller=main.go:12 level=warn msg="disk almost full"`, want: "warn"},
		{body: `msg="level=error inside a value" level="info"`, want: "info"},
		{body: `level=loud msg="an unknown level, then a word: ERROR"`, want: "error"},
		// ... else the first level word.
		{body: "2024-05-01 10:00:00.123 WARN [main] disk almost full", want: "warn"},
		{body: "[error] open /etc/app.conf: permission denied", want: "error"},
		{body: "Info: server started on :8080", want: "info"},
		{body: "panic: runtime error: index out of range", want: "fatal"},
		{body: "E0501 10:00:00.000 1 main.go:12] failed", want: "unknown"}, // glog's letter is not a word
		{body: "request trace_id=4bf9 took 12ms; errors=0", want: "unknown"},
		{body: "GET /api/orders 200", want: "unknown"},
		{body: "", want: "unknown"},
		{body: `{"level":`, want: "unknown"},
		{body: `{"msg":"x", "level": 3}`, want: "unknown"},
	} {
		r := &Record{SeverityNumber: c.num, SeverityText: c.text, Attributes: c.attrs, Body: c.body}
		require.Equal(t, c.want, DetectedLevel(r), "%+v", c)
	}
}

// levelFixture has records whose level comes from each source: severity
// numbers, texts, attributes and lines.
func levelFixture() []*Record {
	var recs []*Record
	add := func(service string, num int32, text, body string, attrs ...record.KV) {
		r := rec(len(recs), service, text, body, 0)
		r.SeverityNumber = num
		r.Attributes = append(r.Attributes, attrs...)
		recs = append(recs, r)
	}
	for i := 0; i < 300; i++ {
		add("otlp", 9, "", "order placed")                              // info
		add("otlp", 17, "Error", "payment failed")                      // error
		add("push", 0, "", `level=warn msg="slow query"`)               // warn
		add("push", 0, "", `{"level":"error","msg":"db down"}`)         // error
		add("push", 0, "", "2024-05-01 DEBUG cache warmed")             // debug
		add("push", 0, "", "no level here")                             // unknown
		add("attr", 0, "", "x", record.KV{Key: "level", Value: "info"}) // info
	}
	return recs
}

var levelCounts = map[string]int{
	`{detected_level="info", service_name="otlp"}`:               300,
	`{detected_level="error", service_name="otlp"}`:              300,
	`{detected_level="warn", service_name="push"}`:               300,
	`{detected_level="error", service_name="push"}`:              300,
	`{detected_level="debug", service_name="push"}`:              300,
	`{detected_level="unknown", service_name="push"}`:            300,
	`{detected_level="info", level="info", service_name="attr"}`: 300,
}

// TestDetectedLevelLabel: detected_level is a stream label of every
// record, in the head, in flushed and in merged segments: stream matchers
// select by it, streams list it, and counting by it (Grafana's log volume,
// sum by (level, detected_level)) reads the segments' columns, not their
// lines.
func TestDetectedLevelLabel(t *testing.T) {
	// Merges may run after each flush: every state answers alike.
	s := openStore(t, t.TempDir(), func(o *Options) { o.MergeFanIn = 2 })
	defer s.Close()
	ctx := context.Background()
	recs := levelFixture()
	third := len(recs) / 3
	for i, part := range [][]*Record{recs[:third], recs[third : 2*third], recs[2*third:]} {
		_, err := s.Append(ctx, part)
		require.NoError(t, err)
		if i < 2 {
			require.NoError(t, s.Flush())
		}
	}
	check := func(what string, headRecords int) {
		t.Helper()
		all := []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, "service_name", ".+")}
		names := []string{"level", "detected_level", "service_name"}
		got, _ := countAll(t, s, all, names, math.MinInt64, math.MaxInt64)
		require.Equal(t, fetchCounted(t, s, all, names, math.MinInt64, math.MaxInt64), got, what)
		// Without the attribute level, which only records can tell.
		otlp := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "service_name", "otlp")}
		_, st := countAll(t, s, otlp, names, math.MinInt64, math.MaxInt64)
		require.Equal(t, headRecords, st.RecordsScanned, "%s: only the head's records are read", what)
		byLabels := map[string]int{}
		for _, c := range got {
			byLabels[c.lbls]++
		}
		require.Equal(t, levelCounts, byLabels, what)

		errs, _ := fetchAll(t, s, ctx, []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "detected_level", "error")}, math.MinInt64, math.MaxInt64, false, 0)
		require.Len(t, errs, 600, what)
		for _, e := range errs {
			require.Equal(t, "error", e.Stream.Get("detected_level"), what)
			require.Equal(t, StreamLabels(e.Record), e.Stream, what)
		}
		streams, _, err := s.Streams(ctx, nil, math.MinInt64, math.MaxInt64)
		require.NoError(t, err)
		levels := map[string]bool{}
		for _, st := range streams {
			levels[st.Labels.Get("detected_level")] = true
		}
		require.Equal(t, map[string]bool{"info": true, "error": true, "warn": true, "debug": true, "unknown": true}, levels, what)
	}
	check("head and segments", len(recs)-2*third) // a head's records are all read
	require.NoError(t, s.Flush())
	require.NoError(t, s.Compact())
	require.Less(t, segmentCount(s), 3)
	check("merged", 0)
}

// TestDetectedLevelOfOldSegments: segments written before streams had a
// detected_level get their severity's, the same for every way of reading
// them (their lines are not read again), and keep it through merges.
func TestDetectedLevelOfOldSegments(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, func(o *Options) { o.MergeFanIn = 0 })
	ctx := context.Background()
	_, err := s.Append(ctx, levelFixture())
	require.NoError(t, err)
	require.NoError(t, s.Flush())
	segs := s.st.Tenant(tenant.Default).Snapshot(math.MinInt64, math.MaxInt64, func(*head) {})
	require.Len(t, segs, 1)
	seg := segs[0].Dir()
	segs[0].Release()
	require.NoError(t, s.Close())

	// logmeta.json as written before: no detected_level.
	path := filepath.Join(seg, "logmeta.json")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var meta map[string]any
	require.NoError(t, json.Unmarshal(b, &meta))
	for _, st := range meta["streams"].([]any) {
		delete(st.(map[string]any)["labels"].(map[string]any), "detected_level")
	}
	b, err = json.Marshal(meta)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))

	s = openStore(t, dir, func(o *Options) { o.MergeFanIn = 2 })
	defer s.Close()
	want := map[string]int{
		`{detected_level="info", service_name="otlp"}`:    300,
		`{detected_level="error", service_name="otlp"}`:   300,
		`{detected_level="unknown", service_name="push"}`: 1200, // no severity: not from the line
		`{detected_level="unknown", service_name="attr"}`: 300,
	}
	for _, what := range []string{"old segment", "merged with a new one (its records decoded)"} {
		all := []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, "service_name", ".+")}
		names := []string{"detected_level", "service_name"}
		got, st := countAll(t, s, all, names, math.MinInt64, math.MaxInt64)
		require.Equal(t, fetchCounted(t, s, all, names, math.MinInt64, math.MaxInt64), got, what)
		require.Zero(t, st.RecordsScanned, what)
		byLabels := map[string]int{}
		for _, c := range got {
			byLabels[c.lbls]++
		}
		require.Equal(t, want, byLabels, what)

		if segmentCount(s) == 1 && len(want) == 4 {
			// A new record, amid the old ones: its level from its line.
			r := rec(1, "new", "", "level=warn msg=x", 0)
			_, err = s.Append(ctx, []*Record{r})
			require.NoError(t, err)
			require.NoError(t, s.Flush())
			want[`{detected_level="warn", service_name="new"}`] = 1
			require.NoError(t, s.Compact())
			require.Equal(t, 1, segmentCount(s))
		}
	}
}

// BenchmarkLineLevel: the cost of reading a level from a line, which
// ingest pays once for each record without a severity.
func BenchmarkLineLevel(b *testing.B) {
	lines := []string{
		`ts=2024-05-01T10:00:00.000Z caller=orders.go:142 level=warn msg="cache miss for key session:88123, loading from database took 12 ms, shard 7f3a" trace_id=4bf92f3577b34da6`,
		`{"ts":"2024-05-01T10:00:00.000Z","caller":"orders.go:142","level":"warn","msg":"cache miss for key session:88123, loading from database took 12 ms, shard 7f3a"}`,
		`2024-05-01T10:00:00.000Z WARN [orders] cache miss for key session:88123, loading from database took 12 ms, shard 7f3a`,
		`GET /api/v1/orders/88123 returned 200 in 12 ms for customer 7f3a and some padding text for a realistic line length here`,
	}
	for range b.N {
		for _, l := range lines {
			lineLevel(l)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines)), "ns/line")
}

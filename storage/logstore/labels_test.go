package logstore

import (
	"context"
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/record"
)

// pushedRecord is a record as the Loki push receiver makes it of a line
// pushed with {job="x", level="warn"} and a structured metadata user.
func pushedRecord(ts int64, line string) *Record {
	return &Record{Timestamp: ts, Body: line, SeverityText: "warn",
		Resource: []record.KV{
			{Key: StreamLabelsAttr, Value: "true"},
			{Key: "job", Value: "x"}, {Key: "level", Value: "warn"}, {Key: "service.name", Value: "x"},
		},
		Attributes: []record.KV{{Key: "user", Value: "u1"}},
	}
}

// TestPushedLabelsAreStreamLabels: every attribute of a resource marked
// StreamLabelsAttr is a stream label (Loki push labels), not structured
// metadata, and the marker is neither; other resources keep only the
// index attributes as stream labels. The same in the head, in segments and
// after a restart (the WAL replays the marker).
func TestPushedLabelsAreStreamLabels(t *testing.T) {
	want := labels.FromStrings("detected_level", "warn", "job", "x", "level", "warn", "service_name", "x", "severity", "warn")
	require.Equal(t, want, StreamLabels(pushedRecord(1, "a")))
	noPushedLabels(t, "Metadata", Metadata(pushedRecord(1, "a")))
	require.Equal(t, "", metadataValue(pushedRecord(1, "a"), "job"))
	require.Equal(t, "u1", metadataValue(pushedRecord(1, "a"), "user"))

	otlp := &Record{Timestamp: 2, Body: "b", SeverityText: "info", Resource: []record.KV{{Key: "service.name", Value: "api"}, {Key: "job", Value: "x"}}}
	require.Equal(t, labels.FromStrings("detected_level", "info", "service_name", "api", "severity", "info"), StreamLabels(otlp))
	require.Equal(t, "x", Metadata(otlp).Get("job"), "an OTLP resource attribute that is no index attribute stays metadata")

	// Names that clash once made label names, or are empty (a JSON push
	// may send any key), are one label or none.
	odd := pushedRecord(1, "a")
	odd.Resource = append(odd.Resource, record.KV{Key: "a.b", Value: "1"}, record.KV{Key: "a_b", Value: "2"}, record.KV{Key: "", Value: "3"})
	require.Equal(t, "1", StreamLabels(odd).Get("a_b"))
	require.False(t, StreamLabels(odd).Has(""))

	// A pushed severity or detected_level is kept as pushed.
	sev := pushedRecord(3, "c")
	sev.Resource = append(sev.Resource, record.KV{Key: "severity", Value: "WARNING"})
	require.Equal(t, "WARNING", StreamLabels(sev).Get("severity"))

	dir := t.TempDir()
	s := openStore(t, dir, nil)
	ctx := context.Background()
	_, err := s.Append(ctx, []*Record{pushedRecord(10, "pushed one"), otlp})
	require.NoError(t, err)
	job := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "job", "x")}
	check := func(what string) {
		t.Helper()
		got, _ := fetchAll(t, s, ctx, job, math.MinInt64, math.MaxInt64, false, 0)
		require.Len(t, got, 1, what)
		require.Equal(t, want, got[0].Stream, what)
		noPushedLabels(t, what, got[0].Metadata)
		var bare []Entry
		_, err := s.Fetch(ctx, FetchRequest{Matchers: job, From: math.MinInt64, To: math.MaxInt64, NoMetadata: true}, func(e Entry) error {
			bare = append(bare, e)
			return nil
		})
		require.NoError(t, err)
		require.Len(t, bare, 1, what)
		require.Equal(t, want, bare[0].Stream, what)
		require.True(t, bare[0].Metadata.IsEmpty(), "%s: NoMetadata", what)
		counted, _ := countAll(t, s, job, []string{"job", "user"}, math.MinInt64, math.MaxInt64)
		require.Len(t, counted, 1, what)
		require.Equal(t, `{job="x", user="u1"}`, counted[0].lbls, what)
		streams, _, err := s.Streams(ctx, job, math.MinInt64, math.MaxInt64)
		require.NoError(t, err)
		require.Len(t, streams, 1, what)
		require.Equal(t, want, streams[0].Labels, what)
	}
	check("head")
	require.NoError(t, s.Close())
	s = openStore(t, dir, nil)
	check("replayed")
	require.NoError(t, s.Flush())
	check("segment")
	require.NoError(t, s.Close())
}

// noPushedLabels checks that md, the structured metadata of pushedRecord,
// has its metadata but none of its stream labels nor the marker.
func noPushedLabels(t *testing.T, what string, md labels.Labels) {
	t.Helper()
	require.Equal(t, "u1", md.Get("user"), what)
	for _, name := range []string{"job", "level", "service_name", LabelName(StreamLabelsAttr)} {
		require.False(t, md.Has(name), "%s: %s in %s", what, name, md)
	}
}

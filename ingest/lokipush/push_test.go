package lokipush

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/logstore"
)

func TestDecodePush(t *testing.T) {
	raw, err := (&push.PushRequest{Streams: []push.Stream{{
		Labels: `{service_name="api", level="warn", k8s_pod_name="p-1"}`,
		Entries: []push.Entry{{Timestamp: time.Unix(10, 5), Line: "slow", StructuredMetadata: push.LabelsAdapter{
			{Name: "trace_id", Value: "4BF92F3577B34DA6A3CE929D0E0E4736"}, {Name: "user", Value: "u1"}}}},
	}}}).Marshal()
	require.NoError(t, err)
	recs, err := decodeProtoPush(snappy.Encode(nil, raw), 1<<20)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	r := recs[0]
	require.Equal(t, int64(10_000_000_005), r.Timestamp)
	require.Equal(t, "warn", r.SeverityText)
	require.Equal(t, "api", r.ResourceAttr("service.name"))
	require.Equal(t, "p-1", r.ResourceAttr("k8s.pod.name"))
	require.True(t, r.HasTrace())
	require.Equal(t, "u1", r.Attr("user"))
	require.Equal(t, "true", r.ResourceAttr(logstore.StreamLabelsAttr), "pushed labels are stream labels")
	require.Equal(t, labels.FromStrings("detected_level", "warn", "k8s_pod_name", "p-1", "level", "warn", "service_name", "api", "severity", "warn"),
		logstore.StreamLabels(r))

	// Without service_name, the service is the first of Loki's
	// discover_service_name labels: app before job.
	for stream, service := range map[string]string{`{job="varlogs", app="web"}`: "web", `{job="varlogs"}`: "varlogs", `{host="h"}`: "unknown_service"} {
		raw, err := (&push.PushRequest{Streams: []push.Stream{{Labels: stream, Entries: []push.Entry{{Timestamp: time.Unix(1, 0), Line: "x"}}}}}).Marshal()
		require.NoError(t, err)
		recs, err := decodeProtoPush(snappy.Encode(nil, raw), 1<<20)
		require.NoError(t, err)
		ls := logstore.StreamLabels(recs[0])
		require.Equal(t, service, ls.Get("service_name"), stream)
		if service == "varlogs" {
			require.Equal(t, "varlogs", ls.Get("job"), "the job label stays")
		}
	}

	recs, err = decodeJSONPush([]byte(`{"streams":[{"stream":{"service_name":"api"},"values":[["1000000000","a"],["2000000000","b",{"trace_id":"nothex"}]]}]}`))
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.False(t, recs[1].HasTrace())
	require.Equal(t, "nothex", recs[1].Attr("trace_id"), "a bad trace ID stays an attribute")
}

// A snappy body that states a huge decoded length is refused before
// anything is allocated for it (issue 12: 9 bytes made the server allocate
// 4 GiB).
func TestSnappyBomb(t *testing.T) {
	bomb := binary.AppendUvarint(nil, 0xf0000000) // the decoded length (3.75 GiB), then nothing
	_, err := decodeProtoPush(bomb, 1<<20)
	require.ErrorIs(t, err, errTooLarge)
	allocs := testing.AllocsPerRun(1, func() { _, _ = decodeProtoPush(bomb, 1<<20) })
	require.Less(t, allocs, 10.0)
}

func FuzzDecodeProtoPush(f *testing.F) {
	raw, _ := (&push.PushRequest{Streams: []push.Stream{{Labels: `{a="b"}`, Entries: []push.Entry{{Timestamp: time.Unix(1, 0), Line: "x"}}}}}).Marshal()
	f.Add(snappy.Encode(nil, raw))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeProtoPush(b, 1<<20)
	})
}

func FuzzDecodeJSONPush(f *testing.F) {
	f.Add([]byte(`{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"m":"v"}]]}]}`))
	f.Add([]byte(`{"streams":[{"stream":{},"values":[]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeJSONPush(b)
	})
}

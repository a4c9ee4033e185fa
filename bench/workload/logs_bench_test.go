package workload

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// BenchmarkLogRequest is the log benchmark's sender cost per request of
// 1,000 records: build and encode, as it sends on the benchmark's cores.
func BenchmarkLogRequest(b *testing.B) {
	g := NewLogGenerator(DefaultLogOptions(), 1)
	now := time.Now()
	for b.Loop() {
		ld := g.Request(now)
		if _, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLogRequestJSON(b *testing.B) {
	g := NewLogGenerator(DefaultLogOptions(), 1)
	now := time.Now()
	for b.Loop() {
		if _, err := (&plog.JSONMarshaler{}).MarshalLogs(g.Request(now)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRequestProtoIsRequestN: the protobuf the sender encodes itself is
// the request RequestN builds, record for record (same seed, same draws).
func TestRequestProtoIsRequestN(t *testing.T) {
	a, b := NewLogGenerator(DefaultLogOptions(), 7), NewLogGenerator(DefaultLogOptions(), 7)
	now := time.Now()
	for range 5 {
		want, err := (&plog.JSONMarshaler{}).MarshalLogs(a.RequestN(now, 300))
		if err != nil {
			t.Fatal(err)
		}
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(b.RequestProto(now, 300, nil)); err != nil {
			t.Fatal(err)
		}
		got, err := (&plog.JSONMarshaler{}).MarshalLogs(req.Logs())
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("RequestProto differs from RequestN:\n got %.600s\nwant %.600s", got, want)
		}
	}
	if len(a.Sampled) != len(b.Sampled) {
		t.Fatalf("sampled traces differ: %d and %d", len(a.Sampled), len(b.Sampled))
	}
}

func BenchmarkLogRequestProto(b *testing.B) {
	g := NewLogGenerator(DefaultLogOptions(), 1)
	now := time.Now()
	var buf []byte
	for b.Loop() {
		buf = g.RequestProto(now, 1000, buf[:0])
	}
}

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

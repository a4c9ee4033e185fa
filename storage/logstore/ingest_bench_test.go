package logstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/segment"
)

// benchRecords builds n records shaped like the log benchmark's workload
// (bench/workload): 12 services, 120–220-byte messages with random fills,
// 3 attributes, 90% with a trace ID.
func benchRecords(n int, rng *rand.Rand) []*Record {
	templates := []string{
		"GET /api/v1/orders/%d returned 200 in %d ms for customer %x",
		"payment for order %d declined by processor: insufficient funds (code %d, request %x)",
		"cache miss for key session:%d, loading from database took %d ms, shard %x",
		"deadlock detected while updating inventory row %d, retrying in %d ms (tx %x)",
	}
	sevs := []string{"INFO", "DEBUG", "WARN", "ERROR"}
	resources := make([][]record.KV, 12)
	for i := range resources {
		resources[i] = []record.KV{{Key: "service.name", Value: fmt.Sprintf("service-%d", i), Type: record.TypeString},
			{Key: "host.name", Value: fmt.Sprintf("node-%d", i%4), Type: record.TypeString}}
	}
	now := time.Now().UnixNano()
	out := make([]*Record, n)
	for i := range out {
		r := &Record{
			Timestamp:    now + int64(i)*1000,
			SeverityText: sevs[rng.IntN(len(sevs))],
			Body:         fmt.Sprintf(templates[rng.IntN(len(templates))], rng.IntN(1e6), rng.IntN(1000), rng.Uint64()) + " and some padding text for a realistic line length here",
			BodyType:     record.TypeString,
			Resource:     resources[rng.IntN(len(resources))],
			Attributes: []record.KV{{Key: "http.method", Value: "POST", Type: record.TypeString}, {Key: "attempt", Value: fmt.Sprint(rng.IntN(3)), Type: record.TypeInt},
				{Key: "user.id", Value: fmt.Sprintf("u%d", rng.IntN(10000)), Type: record.TypeString}},
			ScopeName: "app",
		}
		if rng.IntN(10) != 0 {
			r.TraceID[0], r.TraceID[8] = byte(i/4), byte(rng.Uint32())
			r.SpanID[0] = byte(i)
		}
		out[i] = r
	}
	return out
}

// BenchmarkIngest measures the store's share of log ingest: Append in
// requests of 1,000 records (WAL, head) and the flushes that turn heads
// into segments, reported as records/s.
func BenchmarkIngest(b *testing.B) {
	benchIngest(b, benchRecords(250_000, rand.New(rand.NewPCG(1, 2))))
}

// BenchmarkIngestLevelInLine is BenchmarkIngest with records that carry no
// severity, their level being in the line instead, as lines pushed by
// Promtail or Alloy without a level label: a third logfmt (level=warn
// msg="..."), a third JSON ({"level":"warn","msg":"..."}), a third plain
// text (2024-05-01T10:00:00Z WARN ...).
func BenchmarkIngestLevelInLine(b *testing.B) {
	recs := benchRecords(250_000, rand.New(rand.NewPCG(1, 2)))
	for i, r := range recs {
		lvl := r.SeverityText
		r.SeverityText = ""
		switch i % 3 {
		case 0:
			r.Body = fmt.Sprintf("level=%s msg=%q", strings.ToLower(lvl), r.Body)
		case 1:
			r.Body = fmt.Sprintf(`{"level":%q,"msg":%q}`, strings.ToLower(lvl), r.Body)
		default:
			r.Body = "2024-05-01T10:00:00.000Z " + lvl + " " + r.Body
		}
	}
	benchIngest(b, recs)
}

func benchIngest(b *testing.B, recs []*Record) {
	s := openStore(b, b.TempDir(), func(o *Options) { o.HeadMaxAge = time.Hour; o.MergeFanIn = 0 })
	defer s.Close()
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	total := 0
	for range b.N {
		for i := 0; i < len(recs); i += 1000 {
			batch := make([]*Record, 1000)
			for j := range batch {
				r := *recs[i+j]
				batch[j] = &r
			}
			if _, err := s.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Flush(); err != nil {
			b.Fatal(err)
		}
		total += len(recs)
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "records/s")
	_, _, bytes := s.st.Tenant("default").Segments().Stats()
	b.ReportMetric(float64(bytes)/float64(total), "B/record")
}

// BenchmarkBlockHashes measures the token filter's share of a flush: the
// distinct (field, term) hashes of each block of the benchmark's records.
func BenchmarkBlockHashes(b *testing.B) {
	recs := benchRecords(segment.BlockRows*16, rand.New(rand.NewPCG(1, 2)))
	var h tokenHasher
	for b.Loop() {
		for i := 0; i < len(recs); i += segment.BlockRows {
			h.hashes(recs[i : i+segment.BlockRows])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

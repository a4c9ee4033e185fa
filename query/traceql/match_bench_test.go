package traceql

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/storage/record"
)

// benchTrace is a trace of n spans: a chain of services under one root, each
// span with a handful of attributes, like a large fan-out request.
func benchTrace(n int) []Span {
	tr := make([]Span, n)
	for i := range tr {
		svc := fmt.Sprintf("service-%d", i%20)
		tr[i] = Span{
			SpanID: [8]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 1}, Name: fmt.Sprintf("op-%d", i%50),
			Kind: []string{"server", "client", "internal"}[i%3], StatusCode: []string{"unset", "ok", "error"}[i%7%3],
			Start: t0.Add(time.Duration(i) * time.Millisecond), Duration: time.Duration(i%1000) * time.Millisecond,
			Attributes: map[string]Value{
				"http.method": StringValue("GET"), "http.status_code": IntValue(int64(200 + i%5*100)),
				"http.route": StringValue(fmt.Sprintf("/api/v1/items/%d", i%100)), "retry": BoolValue(i%2 == 0),
			},
			Resource: map[string]Value{"service.name": StringValue(svc), "deployment.environment": StringValue("prod")},
		}
		if i > 0 {
			p := (i - 1) / 4
			tr[i].ParentSpanID = [8]byte{byte(p >> 24), byte(p >> 16), byte(p >> 8), byte(p), 1}
		}
	}
	return tr
}

func BenchmarkMatch(b *testing.B) {
	trace := benchTrace(1000)
	for _, q := range []string{
		`{ resource.service.name = "service-3" && span.http.status_code >= 500 }`,
		`{ .http.route =~ "/api/v1/items/1.*" || duration > 900ms }`,
		`{ kind = server && status = error } > { kind = client }`,
		`{ rootName = "op-0" } && { traceDuration > 1s && name = "op-7" }`,
	} {
		query, err := Parse(q)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(trace))) // "bytes" are spans: MB/s reads as millions of spans per second
			for b.Loop() {
				query.Match(trace)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	q := `{ resource.service.name = "frontend" && name =~ "HTTP (GET|POST)" && duration > 100ms && status = error } > { kind = client && span.http.status_code >= 500 }`
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		if _, err := Parse(q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMetrics evaluates metrics queries over 100 stored traces of 100
// spans of 20 services, spread over an hour, at Grafana's default 15 s step.
func BenchmarkMetrics(b *testing.B) {
	var sets []record.Spanset
	resources := make([][]record.KV, 20) // the spans of a resource share its attributes, as in the store
	for i := range resources {
		resources[i] = []record.KV{{Key: "service.name", Value: fmt.Sprintf("service-%d", i), Type: record.TypeString}}
	}
	for tr := range 100 {
		spans := make([]*record.Span, 100)
		for i := range spans {
			st := t0m.Add(time.Duration(tr)*36*time.Second + time.Duration(i)*time.Millisecond).UnixNano()
			spans[i] = &record.Span{
				TraceID: [16]byte{0: byte(tr), 15: 1}, SpanID: [8]byte{0: byte(i), 7: 1}, Name: fmt.Sprintf("op-%d", i%50),
				Kind: int32(1 + i%3), Start: st, End: st + int64(i%1000)*int64(time.Millisecond),
				Resource:   resources[i%20],
				Attributes: []record.KV{{Key: "http.status_code", Value: fmt.Sprint(200 + i%5*100), Type: record.TypeInt}},
			}
			if i > 0 {
				spans[i].ParentSpanID = [8]byte{0: byte((i - 1) / 4), 7: 1}
			}
		}
		sets = append(sets, record.Spanset{TraceID: spans[0].TraceID, Spans: spans})
	}
	for _, q := range []string{
		`{} | rate() by (resource.service.name)`,
		`{ kind = server } | quantile_over_time(duration, 0.5, 0.9, 0.99) by (resource.service.name)`,
		`{nestedSetParent<0 && true} | compare({ span.http.status_code >= 500 }, 10)`,
	} {
		req := MetricsRequest{Query: mustParse(b, q), Start: t0m.UnixNano(), End: t0m.Add(time.Hour).UnixNano(), Step: int64(15 * time.Second), Exemplars: 100}
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(100 * 100) // "bytes" are spans: MB/s reads as millions of spans per second
			for b.Loop() {
				if _, err := Metrics(context.Background(), &fakeFetcher{sets: sets}, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

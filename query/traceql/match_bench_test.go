package traceql

import (
	"fmt"
	"testing"
	"time"
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

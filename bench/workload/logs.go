package workload

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// LogOptions describe a log load.
type LogOptions struct {
	// RecordsPerRequest is the batch size of one OTLP request (an SDK's
	// batch processor sends up to 512 by default).
	RecordsPerRequest int
	// TracedPercent of the records carry a trace ID; a trace's records come
	// from 1 to 8 consecutive records of one service.
	TracedPercent int
	// Seed makes the load reproducible per generator.
	Seed uint64
}

// DefaultLogOptions are realistic defaults.
func DefaultLogOptions() LogOptions {
	return LogOptions{RecordsPerRequest: 1000, TracedPercent: 90}
}

var logServices = []string{"checkout", "cart", "payment", "catalog", "search", "shipping",
	"auth", "recommendation", "ads", "email", "currency", "frontend"}

// logTemplates are messages of the kind microservices log, about 120-220
// bytes once filled; each %s/%d is filled from the record's context.
var logTemplates = []struct {
	sev     plog.SeverityNumber
	sevText string // strings.ToUpper(sev.String()), set in init
	text    string
}{
	{plog.SeverityNumberInfo, "", "GET /api/v1/orders/%d completed in %dms status=200 bytes=%d user=%s region=%s cache=hit upstream=catalog"},
	{plog.SeverityNumberInfo, "", "POST /api/v1/cart/%d/items added sku=SKU-%d quantity=%d price_cents=%d currency=EUR user=%s"},
	{plog.SeverityNumberInfo, "", "order %d placed by user %s: %d items, total %d cents, shipping to %s, estimated delivery in %d days"},
	{plog.SeverityNumberInfo, "", "request handled route=/api/v1/products/%d method=GET status=200 duration_ms=%d bytes=%d client=%s"},
	{plog.SeverityNumberDebug, "", "cache miss for key product:%d in region %s, fetching from catalog service (ttl=%ds, size=%d bytes, user=%s)"},
	{plog.SeverityNumberDebug, "", "opened connection %d to postgres://orders-db-%d:5432/orders pool_size=%d idle=%d wait_ms=%d user=%s"},
	{plog.SeverityNumberWarn, "", "retrying request %d to inventory service attempt %d of 5 after %dms backoff: upstream returned 503 for %s"},
	{plog.SeverityNumberWarn, "", "slow query on orders table took %dms (threshold 500ms) rows=%d plan=seq_scan user=%s region=%s"},
	{plog.SeverityNumberError, "", "payment declined for order %d: card issuer refused transaction code=%d amount=%d cents user=%s"},
	{plog.SeverityNumberError, "", "connection timeout after %dms to payment-gateway-%d:443 while charging order %d for user %s region=%s"},
	{plog.SeverityNumberError, "", "deadlock detected while reserving inventory for sku SKU-%d order %d, transaction rolled back after %dms user=%s"},
	{plog.SeverityNumberInfo, "", "refund %d issued for order %d: %d cents returned to card ending %d, requested by user %s in %s"},
}

func init() {
	for i := range logTemplates {
		logTemplates[i].sevText = strings.ToUpper(logTemplates[i].sev.String())
	}
}

var regions = []string{"eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-south-1"}

// LogGenerator builds OTLP log requests. It is not safe for concurrent
// use: give each sender its own.
type LogGenerator struct {
	opts  LogOptions
	rng   *rand.Rand
	trace [16]byte
	left  int // records left in the current trace
	// Sampled keeps every 1000th trace ID sent, with its record count, for
	// trace lookups.
	Sampled map[[16]byte]int
	traces  int
	buf     []byte // fill's
}

// NewLogGenerator returns a generator; seed differs per sender.
func NewLogGenerator(opts LogOptions, seed uint64) *LogGenerator {
	return &LogGenerator{opts: opts, rng: rand.New(rand.NewPCG(seed, opts.Seed^0x9e3779b97f4a7c15)), Sampled: map[[16]byte]int{}}
}

// Request returns the next request: RecordsPerRequest records of one
// service at now.
func (g *LogGenerator) Request(now time.Time) plog.Logs {
	return g.RequestN(now, g.opts.RecordsPerRequest)
}

// RequestN returns the next request with n records of one service, the
// i-th at now + i ns.
func (g *LogGenerator) RequestN(now time.Time, n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	svc := logServices[g.rng.IntN(len(logServices))]
	ra := rl.Resource().Attributes()
	ra.PutStr("service.name", svc)
	ra.PutStr("service.namespace", "shop")
	ra.PutStr("service.instance.id", fmt.Sprintf("%s-%d", svc, g.rng.IntN(4)))
	ra.PutStr("host.name", fmt.Sprintf("node-%d", g.rng.IntN(20)))
	ra.PutStr("k8s.namespace.name", "prod")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("shop/" + svc)
	lrs := sl.LogRecords()
	lrs.EnsureCapacity(n)
	ts := pcommon.NewTimestampFromTime(now)
	for i := 0; i < n; i++ {
		lr := lrs.AppendEmpty()
		t := g.rng.IntN(len(logTemplates))
		tpl := logTemplates[t]
		lr.SetTimestamp(ts + pcommon.Timestamp(i))
		lr.SetObservedTimestamp(ts + pcommon.Timestamp(i))
		lr.SetSeverityNumber(tpl.sev)
		lr.SetSeverityText(tpl.sevText)
		lr.Body().SetStr(g.fill(tpl.text))
		attrs := lr.Attributes()
		attrs.PutStr("http.method", []string{"GET", "POST", "PUT"}[g.rng.IntN(3)])
		attrs.PutInt("http.status_code", int64([]int{200, 200, 200, 201, 404, 500, 503}[g.rng.IntN(7)]))
		attrs.PutStr("user.id", string(strconv.AppendInt([]byte("u-"), int64(g.rng.IntN(100_000)), 10)))
		if g.rng.IntN(100) < g.opts.TracedPercent {
			if g.left == 0 {
				binary.LittleEndian.PutUint64(g.trace[:8], g.rng.Uint64())
				binary.LittleEndian.PutUint64(g.trace[8:], g.rng.Uint64())
				g.left = 1 + g.rng.IntN(8)
				g.traces++
			}
			g.left--
			lr.SetTraceID(g.trace)
			var span [8]byte
			binary.LittleEndian.PutUint64(span[:], g.rng.Uint64())
			lr.SetSpanID(span)
			lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
			if g.traces%1000 == 0 {
				g.Sampled[g.trace]++
			}
		}
	}
	return ld
}

// fill fills tpl's verbs from the generator's random source. It appends
// into one reused buffer with strconv: fmt and a growing strings.Builder
// made the sender spend more CPU per record than the server it measures.
func (g *LogGenerator) fill(tpl string) string {
	b := g.buf[:0]
	for i := 0; i < len(tpl); i++ {
		if tpl[i] != '%' || i+1 == len(tpl) {
			b = append(b, tpl[i])
			continue
		}
		i++
		switch tpl[i] {
		case 'd':
			b = strconv.AppendInt(b, int64(g.rng.IntN(1_000_000)), 10)
		case 's':
			if g.rng.IntN(2) == 0 {
				b = append(b, regions[g.rng.IntN(len(regions))]...)
			} else {
				b = strconv.AppendInt(append(b, "u-"...), int64(g.rng.IntN(100_000)), 10)
			}
		}
	}
	g.buf = b
	return string(b)
}

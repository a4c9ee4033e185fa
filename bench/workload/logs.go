package workload

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"google.golang.org/protobuf/encoding/protowire"
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
	req     logRequest // the last request drawn, reused
	pb      protoBuf   // RequestProto's
}

// logRequest is a request as drawn from the random source, before it is
// built as pdata (RequestN) or encoded as protobuf (RequestProto): the one
// place the load is defined, so both give the same records.
type logRequest struct {
	svc, instance, host string
	recs                []logRecord
	text                []byte // bodies and user IDs, which recs slice
}

type logRecord struct {
	tpl        int
	body, user [2]int // [start, end) in text
	method     string
	status     int64
	traced     bool
	trace      [16]byte
	span       [8]byte
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

// draw draws the next request with n records of one service.
func (g *LogGenerator) draw(n int) *logRequest {
	r := &g.req
	r.svc = logServices[g.rng.IntN(len(logServices))]
	r.instance = r.svc + "-" + strconv.Itoa(g.rng.IntN(4))
	r.host = "node-" + strconv.Itoa(g.rng.IntN(20))
	r.recs, r.text = slices.Grow(r.recs[:0], n)[:n], r.text[:0]
	for i := range r.recs {
		lr := &r.recs[i]
		lr.tpl = g.rng.IntN(len(logTemplates))
		lr.body[0] = len(r.text)
		r.text = g.fill(r.text, logTemplates[lr.tpl].text)
		lr.body[1] = len(r.text)
		lr.method = []string{"GET", "POST", "PUT"}[g.rng.IntN(3)]
		lr.status = int64([]int{200, 200, 200, 201, 404, 500, 503}[g.rng.IntN(7)])
		lr.user[0] = len(r.text)
		r.text = strconv.AppendInt(append(r.text, "u-"...), int64(g.rng.IntN(100_000)), 10)
		lr.user[1] = len(r.text)
		lr.traced = g.rng.IntN(100) < g.opts.TracedPercent
		if !lr.traced {
			continue
		}
		if g.left == 0 {
			binary.LittleEndian.PutUint64(g.trace[:8], g.rng.Uint64())
			binary.LittleEndian.PutUint64(g.trace[8:], g.rng.Uint64())
			g.left = 1 + g.rng.IntN(8)
			g.traces++
		}
		g.left--
		lr.trace = g.trace
		binary.LittleEndian.PutUint64(lr.span[:], g.rng.Uint64())
		if g.traces%1000 == 0 {
			g.Sampled[g.trace]++
		}
	}
	return r
}

// RequestN returns the next request with n records of one service, the
// i-th at now + i ns.
func (g *LogGenerator) RequestN(now time.Time, n int) plog.Logs {
	r := g.draw(n)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	ra := rl.Resource().Attributes()
	ra.PutStr("service.name", r.svc)
	ra.PutStr("service.namespace", "shop")
	ra.PutStr("service.instance.id", r.instance)
	ra.PutStr("host.name", r.host)
	ra.PutStr("k8s.namespace.name", "prod")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("shop/" + r.svc)
	lrs := sl.LogRecords()
	lrs.EnsureCapacity(n)
	ts := pcommon.NewTimestampFromTime(now)
	for i, rec := range r.recs {
		lr := lrs.AppendEmpty()
		tpl := logTemplates[rec.tpl]
		lr.SetTimestamp(ts + pcommon.Timestamp(i))
		lr.SetObservedTimestamp(ts + pcommon.Timestamp(i))
		lr.SetSeverityNumber(tpl.sev)
		lr.SetSeverityText(tpl.sevText)
		lr.Body().SetStr(string(r.text[rec.body[0]:rec.body[1]]))
		attrs := lr.Attributes()
		attrs.PutStr("http.method", rec.method)
		attrs.PutInt("http.status_code", rec.status)
		attrs.PutStr("user.id", string(r.text[rec.user[0]:rec.user[1]]))
		if rec.traced {
			lr.SetTraceID(rec.trace)
			lr.SetSpanID(rec.span)
			lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
		}
	}
	return ld
}

// RequestProto is RequestN encoded as an OTLP ExportLogsServiceRequest,
// appended to buf, without building pdata: building it cost the
// benchmark's sender, on the server's cores, a third of what the server
// spends per record.
func (g *LogGenerator) RequestProto(now time.Time, n int, buf []byte) []byte {
	r := g.draw(n)
	pb := &g.pb
	pb.b = pb.b[:0]
	// pb holds a ResourceLogs{resource: 1, scope_logs: 2}.
	res := pb.begin(1) // Resource{attributes: 1}
	for _, kv := range [][2]string{{"service.name", r.svc}, {"service.namespace", "shop"}, {"service.instance.id", r.instance}, {"host.name", r.host}, {"k8s.namespace.name", "prod"}} {
		pb.strAttr(1, kv[0], kv[1])
	}
	pb.end(res)
	scope := pb.begin(2) // ScopeLogs
	sc := pb.begin(1)    // InstrumentationScope
	pb.str(1, "shop/"+r.svc)
	pb.end(sc)
	ts := uint64(now.UnixNano())
	for i, rec := range r.recs {
		lr := pb.begin(2) // LogRecord
		tpl := logTemplates[rec.tpl]
		pb.fixed64(1, ts+uint64(i))
		pb.varint(2, uint64(tpl.sev))
		pb.str(3, tpl.sevText)
		body := pb.begin(5) // AnyValue
		pb.bytes(1, r.text[rec.body[0]:rec.body[1]])
		pb.end(body)
		pb.strAttr(6, "http.method", rec.method)
		kv := pb.begin(6)
		pb.str(1, "http.status_code")
		v := pb.begin(2)
		pb.varint(3, uint64(rec.status))
		pb.end(v)
		pb.end(kv)
		kv = pb.begin(6)
		pb.str(1, "user.id")
		v = pb.begin(2)
		pb.bytes(1, r.text[rec.user[0]:rec.user[1]])
		pb.end(v)
		pb.end(kv)
		if rec.traced {
			pb.fixed32(8, uint32(plog.DefaultLogRecordFlags.WithIsSampled(true)))
			pb.bytes(9, rec.trace[:])
			pb.bytes(10, rec.span[:])
		}
		pb.fixed64(11, ts+uint64(i))
		pb.end(lr)
	}
	pb.end(scope)
	// ExportLogsServiceRequest{resource_logs: 1}: the whole of pb.
	buf = protowire.AppendTag(buf, 1, protowire.BytesType)
	return protowire.AppendBytes(buf, pb.b)
}

// protoBuf encodes nested protobuf messages: begin reserves a message
// field, end writes its length once its content is appended.
type protoBuf struct {
	b     []byte
	stack []int
}

// begin reserves one byte for the length, which is enough for most
// messages; end moves the content of longer ones.
func (p *protoBuf) begin(field protowire.Number) int {
	p.b = append(protowire.AppendTag(p.b, field, protowire.BytesType), 0)
	p.stack = append(p.stack, len(p.b))
	return len(p.stack) - 1
}

func (p *protoBuf) end(level int) {
	start := p.stack[level]
	p.stack = p.stack[:level]
	content := len(p.b) - start
	n := protowire.SizeVarint(uint64(content))
	if n > 1 {
		p.b = slices.Grow(p.b, n-1)[:len(p.b)+n-1]
		copy(p.b[start+n-1:], p.b[start:start+content])
	}
	protowire.AppendVarint(p.b[start-1:start-1], uint64(content))
}

func (p *protoBuf) str(field protowire.Number, s string) {
	p.b = protowire.AppendString(protowire.AppendTag(p.b, field, protowire.BytesType), s)
}

func (p *protoBuf) bytes(field protowire.Number, v []byte) {
	p.b = protowire.AppendBytes(protowire.AppendTag(p.b, field, protowire.BytesType), v)
}

func (p *protoBuf) varint(field protowire.Number, v uint64) {
	p.b = protowire.AppendVarint(protowire.AppendTag(p.b, field, protowire.VarintType), v)
}

func (p *protoBuf) fixed64(field protowire.Number, v uint64) {
	p.b = protowire.AppendFixed64(protowire.AppendTag(p.b, field, protowire.Fixed64Type), v)
}

func (p *protoBuf) fixed32(field protowire.Number, v uint32) {
	p.b = protowire.AppendFixed32(protowire.AppendTag(p.b, field, protowire.Fixed32Type), v)
}

// strAttr appends a KeyValue{key, AnyValue{string_value}} as field.
func (p *protoBuf) strAttr(field protowire.Number, k, v string) {
	kv := p.begin(field)
	p.str(1, k)
	val := p.begin(2)
	p.str(1, v)
	p.end(val)
	p.end(kv)
}

// fill appends tpl with its verbs filled from the generator's random
// source. strconv and one reused buffer: fmt and a growing strings.Builder
// made the sender spend more CPU per record than the server it measures.
func (g *LogGenerator) fill(b []byte, tpl string) []byte {
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
	return b
}

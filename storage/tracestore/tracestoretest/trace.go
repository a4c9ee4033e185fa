package tracestoretest

import (
	"time"

	"github.com/sightline-dev/sightline/storage/record"
)

// Base is the start of trace 0: ten minutes before the tests started, so
// that the traces are recent.
var Base = time.Now().Add(-10 * time.Minute).UnixNano()

// Str is a string attribute.
func Str(k, v string) record.KV { return record.KV{Key: k, Value: v, Type: record.TypeString} }

// Trace builds trace n, starting n ms after Base: a frontend server root
// (GET /cart, 50 ms), a frontend client child (with an event and a link)
// and a checkout server grandchild ("charge", 28 ms, amount 12.5), which
// fails ("card declined") when fail is set.
func Trace(n int, fail bool) []*record.Span {
	var id [16]byte
	id[0], id[15] = byte(n>>8), byte(n)
	id[7] = 1
	sid := func(k byte) [8]byte { return [8]byte{byte(n >> 8), byte(n), k, 1} }
	start := Base + int64(n)*int64(time.Millisecond)
	fe := []record.KV{Str("service.name", "frontend"), Str("host.name", "node-1")}
	co := []record.KV{Str("service.name", "checkout")}
	root := &record.Span{TraceID: id, SpanID: sid(1), Name: "GET /cart", Kind: record.KindServer, Start: start, End: start + int64(50*time.Millisecond),
		Attributes: []record.KV{Str("http.method", "GET"), {Key: "http.status_code", Value: "200", Type: record.TypeInt}},
		Resource:   fe, ScopeName: "otel", ScopeVersion: "1.0", TraceState: "a=b", Flags: 1}
	client := &record.Span{TraceID: id, SpanID: sid(2), ParentSpanID: sid(1), Name: "POST checkout", Kind: record.KindClient,
		Start: start + int64(time.Millisecond), End: start + int64(40*time.Millisecond), Resource: fe, ScopeName: "otel",
		Events: []record.Event{{Time: start + int64(2*time.Millisecond), Name: "sent", Attributes: []record.KV{Str("k", "v")}}},
		Links:  []record.Link{{TraceID: [16]byte{9}, SpanID: [8]byte{9}, TraceState: "x=y", Attributes: []record.KV{Str("l", "1")}, DroppedAttributesCount: 2}}}
	server := &record.Span{TraceID: id, SpanID: sid(3), ParentSpanID: sid(2), Name: "charge", Kind: record.KindServer,
		Start: start + int64(2*time.Millisecond), End: start + int64(30*time.Millisecond), Resource: co,
		Attributes: []record.KV{{Key: "amount", Value: "12.5", Type: record.TypeDouble}}, DroppedEventsCount: 3}
	if fail {
		server.StatusCode, server.StatusMessage = record.StatusError, "card declined"
	}
	return []*record.Span{root, client, server}
}

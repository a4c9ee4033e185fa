package tempoapi

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tracestore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeStore serves fixed data and records what it was asked.
type fakeStore struct {
	spans     []*record.Span
	summaries []traceql.TraceSummary
	stats     record.FetchStats
	searchErr error
	tags      tracestore.TagNames
	values    map[string][]traceql.Value
	matchErr  error

	gotID     [16]byte
	gotSearch traceql.SearchRequest
	gotTag    string
	gotFilter string
	gotFrom   int64
	gotTo     int64
}

func (f *fakeStore) Trace(_ context.Context, id [16]byte) ([]*record.Span, error) {
	f.gotID = id
	out := []*record.Span{}
	for _, s := range f.spans {
		if s.TraceID == id {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakeStore) Search(_ context.Context, req traceql.SearchRequest) ([]traceql.TraceSummary, record.FetchStats, error) {
	f.gotSearch = req
	return f.summaries, f.stats, f.searchErr
}

func (f *fakeStore) Tags(_ context.Context, from, to int64) (tracestore.TagNames, error) {
	f.gotFrom, f.gotTo = from, to
	return f.tags, nil
}

func (f *fakeStore) TagValues(_ context.Context, tag string, from, to int64) ([]traceql.Value, error) {
	f.gotTag, f.gotFrom, f.gotTo = tag, from, to
	return f.values[tag], nil
}

// MatchSpans runs the engine over the store's spans, one spanset a trace;
// matchErr ends the fetch after them.
func (f *fakeStore) MatchSpans(ctx context.Context, q *traceql.Query, from, to int64, fn func(*record.Spanset, []int) error) (record.FetchStats, error) {
	f.gotFilter, f.gotFrom, f.gotTo = q.String(), from, to
	return traceql.MatchSpans(ctx, spansFetcher{f.spans, f.matchErr}, q, from, to, fn)
}

func (f *fakeStore) Metrics(ctx context.Context, req traceql.MetricsRequest) (*traceql.MetricsResult, error) {
	return traceql.Metrics(ctx, spansFetcher{f.spans, f.matchErr}, req)
}

// spansFetcher hands out the traces of spans with a span starting in the
// range asked for, then err.
type spansFetcher struct {
	spans []*record.Span
	err   error
}

func (s spansFetcher) Fetch(_ context.Context, req record.FetchSpansRequest, fn func(*record.Spanset) error) (record.FetchStats, error) {
	var order [][16]byte
	traces := map[[16]byte][]*record.Span{}
	for _, sp := range s.spans {
		if _, ok := traces[sp.TraceID]; !ok {
			order = append(order, sp.TraceID)
		}
		traces[sp.TraceID] = append(traces[sp.TraceID], sp)
	}
	for _, id := range order {
		if slices.ContainsFunc(traces[id], func(sp *record.Span) bool { return sp.Start >= req.Start && sp.Start <= req.End }) {
			if err := fn(&record.Spanset{TraceID: id, Spans: traces[id]}); err != nil {
				return record.FetchStats{}, err
			}
		}
	}
	return record.FetchStats{}, s.err
}

var testNow = time.Unix(1_700_000_000, 0)

func newTestAPI(t *testing.T, store Store) *API {
	t.Helper()
	a := New(store, Options{Version: "1.2.3"}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	a.now = func() time.Time { return testNow }
	return a
}

// get serves one request and returns the response.
func get(t *testing.T, a *API, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	return rec.Result()
}

// body returns the response body; it may be called more than once.
func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return string(b)
}

// otlpJSON rewrites Tempo's trace JSON into the collector's OTLP/JSON, which
// has hex IDs, so that ptrace.JSONUnmarshaler reads it.
func otlpJSON(t *testing.T, tempoJSON []byte) []byte {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(tempoJSON, &v))
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "traceId" || k == "spanId" || k == "parentSpanId") {
					b, err := base64.StdEncoding.DecodeString(s)
					require.NoError(t, err, "%s %q is not base64", k, s)
					v[k] = hex.EncodeToString(b)
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return out
}

// requireSameTraces compares traces through the collector's JSON.
func requireSameTraces(t *testing.T, want, got ptrace.Traces) {
	t.Helper()
	w, err := (&ptrace.JSONMarshaler{}).MarshalTraces(want)
	require.NoError(t, err)
	g, err := (&ptrace.JSONMarshaler{}).MarshalTraces(got)
	require.NoError(t, err)
	require.JSONEq(t, string(w), string(g))
}

func TestTraceByIDJSON(t *testing.T) {
	store := &fakeStore{spans: testSpans()}
	a := newTestAPI(t, store)
	// A trace ID with leading zeros, as search results write it: trimmed.
	resp := get(t, a, "/api/traces/a1a2a3a4a5a6a7a8?start=1699999000&end=1700001000")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Equal(t, traceA, store.gotID, "short IDs are left-padded")
	raw := []byte(body(t, resp))

	// Tempo's shape: batches, base64 IDs, enum names, 64-bit ints as strings,
	// no parentSpanId on the root, status always present.
	var doc struct {
		Batches []struct {
			ScopeSpans []struct {
				Spans []map[string]any `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"batches"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	root := doc.Batches[0].ScopeSpans[0].Spans[0]
	require.Equal(t, base64.StdEncoding.EncodeToString(traceA[:]), root["traceId"])
	require.Equal(t, "AQEBAQEBAQE=", root["spanId"])
	require.NotContains(t, root, "parentSpanId")
	require.Equal(t, "SPAN_KIND_SERVER", root["kind"])
	require.Equal(t, "1700000000000000000", root["startTimeUnixNano"])
	require.Equal(t, map[string]any{"message": "boom", "code": "STATUS_CODE_ERROR"}, root["status"])
	require.Contains(t, string(raw), `{"key":"http.status_code","value":{"intValue":"500"}}`)
	require.Contains(t, string(raw), `{"key":"cache.hit","value":{"boolValue":false}}`)
	require.Contains(t, string(raw), `{"key":"nothing","value":{}}`)
	render := doc.Batches[0].ScopeSpans[1].Spans[0]
	require.Equal(t, map[string]any{}, render["status"], "an unset status is an empty object")

	// Otherwise it is OTLP/JSON.
	got, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(otlpJSON(t, []byte(strings.Replace(string(raw), `"batches"`, `"resourceSpans"`, 1))))
	require.NoError(t, err)
	requireSameTraces(t, ToTraces(testSpans()), got)
}

func TestTraceByIDProtobuf(t *testing.T) {
	a := newTestAPI(t, &fakeStore{spans: testSpans()})
	resp := get(t, a, "/api/traces/0000000000000000A1A2A3A4A5A6A7A8", "Accept", "application/protobuf")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/protobuf", resp.Header.Get("Content-Type"))
	got, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces([]byte(body(t, resp)))
	require.NoError(t, err)
	requireSameTraces(t, ToTraces(testSpans()), got)
}

func TestTraceByIDV2(t *testing.T) {
	a := newTestAPI(t, &fakeStore{spans: testSpans()})
	id := hex.EncodeToString(traceA[:])

	resp := get(t, a, "/api/v2/traces/"+id)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc struct {
		Trace   json.RawMessage `json:"trace"`
		Metrics map[string]any  `json:"metrics"`
	}
	require.NoError(t, json.Unmarshal([]byte(body(t, resp)), &doc))
	require.NotNil(t, doc.Metrics)
	require.Contains(t, string(doc.Trace), `{"resourceSpans":[`)
	got, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(otlpJSON(t, doc.Trace))
	require.NoError(t, err)
	requireSameTraces(t, ToTraces(testSpans()), got)

	resp = get(t, a, "/api/v2/traces/"+id, "Accept", "application/protobuf")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/protobuf", resp.Header.Get("Content-Type"))
	fields := protoFields(t, []byte(body(t, resp)))
	require.Contains(t, fields, protowire.Number(2), "metrics is set")
	got, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(fields[1])
	require.NoError(t, err)
	requireSameTraces(t, ToTraces(testSpans()), got)
}

// protoFields splits a message into its length-delimited fields.
func protoFields(t *testing.T, b []byte) map[protowire.Number][]byte {
	t.Helper()
	out := map[protowire.Number][]byte{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		require.GreaterOrEqual(t, n, 0)
		require.Equal(t, protowire.BytesType, typ)
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		require.GreaterOrEqual(t, n, 0)
		out[num] = v
		b = b[n:]
	}
	return out
}

func TestTraceByIDNotFound(t *testing.T) {
	a := newTestAPI(t, &fakeStore{spans: testSpans()})
	missing := "/api/traces/0123456789abcdef"

	// v1: 404 with an empty body, as Tempo's query frontend answers.
	resp := get(t, a, missing)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Empty(t, body(t, resp))
	resp = get(t, a, missing, "Accept", "application/protobuf")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Empty(t, body(t, resp))

	// v2 answers an empty trace, as Tempo does; 404 would make Grafana fall
	// back to v1.
	resp = get(t, a, "/api/v2/traces/0123456789abcdef")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"trace":{},"metrics":{}}`, body(t, resp))
	resp = get(t, a, "/api/v2/traces/0123456789abcdef", "Accept", "application/protobuf")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []byte{0x0a, 0x00, 0x12, 0x00}, []byte(body(t, resp)), "an empty trace and empty metrics")
}

func TestTraceByIDBadRequest(t *testing.T) {
	a := newTestAPI(t, &fakeStore{})
	f := func(target, wantMsg string) {
		t.Helper()
		resp := get(t, a, target)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, wantMsg, body(t, resp))
	}
	f("/api/traces/xyz", "trace IDs can only contain hex characters: invalid character 'x' at position 1")
	f("/api/v2/traces/12g4", "trace IDs can only contain hex characters: invalid character 'g' at position 3")
	f("/api/traces/"+strings.Repeat("a", 33), "trace IDs can't be larger than 128 bits")
	f("/api/traces/abcd?start=x", `invalid start: strconv.ParseInt: parsing "x": invalid syntax`)
	f("/api/traces/abcd?start=20&end=10", "http parameter start must be before end. received start=20 end=10")
	require.Equal(t, 3.0, testutil.ToFloat64(a.badReq.WithLabelValues(reasonTraceID)))
	require.Equal(t, 2.0, testutil.ToFloat64(a.badReq.WithLabelValues(reasonParams)))
}

func searchStore() *fakeStore {
	spans := testSpans()
	return &fakeStore{
		summaries: []traceql.TraceSummary{
			{
				TraceID: traceA, RootServiceName: "api", RootSpanName: "GET /users",
				Start: spans[0].Start, Duration: 250 * time.Millisecond,
				Matched: []*record.Span{spans[0]}, MatchedCount: 2,
			},
			{TraceID: traceB, Start: 1_699_999_000_000_000_000, Duration: 900 * time.Microsecond},
		},
		stats: record.FetchStats{Segments: 4, BlocksRead: 7, SpansScanned: 1234},
	}
}

func TestSearchTraceQL(t *testing.T) {
	store := searchStore()
	a := newTestAPI(t, store)
	q := `{ resource.service.name = "api" && span.http.status_code >= 500 && status = error && .ratio > 1 && duration > 1ms }`
	resp := get(t, a, "/api/search?"+url.Values{"q": {q}, "limit": {"5"}, "spss": {"10"}, "start": {"1699990000"}, "end": {"1700000000"}}.Encode())
	require.Equal(t, http.StatusOK, resp.StatusCode, body(t, resp))
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))

	req := store.gotSearch
	require.Equal(t, q, req.Query.String())
	require.Equal(t, int64(1_699_990_000_000_000_000), req.From)
	require.Equal(t, int64(1_700_000_000_000_000_000), req.To)
	require.Equal(t, 5, req.Limit)
	require.Equal(t, 10, req.SpansPerSpanSet)

	spanSet := `{
		"spans": [{
			"spanID": "0101010101010101",
			"name": "GET /users",
			"startTimeUnixNano": "1700000000000000000",
			"durationNanos": "250000000",
			"attributes": [
				{"key": "service.name", "value": {"stringValue": "api"}},
				{"key": "http.status_code", "value": {"intValue": "500"}},
				{"key": "status", "value": {"stringValue": "error"}},
				{"key": "ratio", "value": {"doubleValue": 1.5}}
			]
		}],
		"matched": 2
	}`
	require.JSONEq(t, `{
		"traces": [
			{
				"traceID": "a1a2a3a4a5a6a7a8",
				"rootServiceName": "api",
				"rootTraceName": "GET /users",
				"startTimeUnixNano": "1700000000000000000",
				"durationMs": 250,
				"spanSet": `+spanSet+`,
				"spanSets": [`+spanSet+`]
			},
			{
				"traceID": "b1b2b3b4b5b6b7b8b9babbbcbdbebfb0",
				"rootServiceName": "<root span not yet received>",
				"startTimeUnixNano": "1699999000000000000",
				"spanSet": {},
				"spanSets": [{}]
			}
		],
		"metrics": {"totalBlocks": 4, "completedJobs": 1, "totalJobs": 1, "inspectedSpans": "1234", "backendReads": "7"}
	}`, body(t, resp))
}

func TestSearchDefaults(t *testing.T) {
	store := &fakeStore{}
	a := newTestAPI(t, store)
	resp := get(t, a, "/api/search")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"traces":[],"metrics":{"completedJobs":1,"totalJobs":1}}`, body(t, resp))
	req := store.gotSearch
	require.Equal(t, "{}", req.Query.String())
	require.Equal(t, testNow.Add(-time.Hour).UnixNano(), req.From)
	require.Equal(t, testNow.UnixNano(), req.To)
	require.Equal(t, 20, req.Limit)
	require.Equal(t, 3, req.SpansPerSpanSet)

	a.opts.PadTraceIDs = true
	store.summaries = []traceql.TraceSummary{{TraceID: traceA}}
	require.Contains(t, body(t, get(t, a, "/api/search")), `"traceID":"0000000000000000a1a2a3a4a5a6a7a8"`)
}

func TestSearchTags(t *testing.T) {
	f := func(params url.Values, wantQuery string) {
		t.Helper()
		store := &fakeStore{}
		resp := get(t, newTestAPI(t, store), "/api/search?"+params.Encode())
		require.Equal(t, http.StatusOK, resp.StatusCode, body(t, resp))
		require.Equal(t, wantQuery, store.gotSearch.Query.String())
	}
	// Grafana's legacy search sends service.name and name this way.
	f(url.Values{"tags": {`service.name="api" name="GET /users"`}},
		`{ resource.service.name =~ ".*api.*" } && { name =~ ".*GET /users.*" }`)
	f(url.Values{"tags": {`http.status_code=500 status.code=error foo=bar.baz root.service.name=a.b`}},
		`{ span.http.status_code = 500 } && { status = error } && { .foo = "bar.baz" } && { rootServiceName =~ ".*a\\.b.*" }`)
	f(url.Values{"tags": {"http.status_code=5xx\nmy-key=\"a \\\"quoted\\\" value\""}},
		`{ .http.status_code = "5xx" } && { .my-key = "a \"quoted\" value" }`)
	f(url.Values{"tags": {`cluster`}, "minDuration": {"100ms"}, "maxDuration": {"2s"}},
		`{ resource.cluster =~ ".*.*" } && { traceDuration >= 100ms && traceDuration <= 2s }`)
	f(url.Values{"minDuration": {"1d"}, "start": {"1"}, "end": {"2"}}, `{ traceDuration >= 24h }`)
	// Durations apply to tag searches only, as in Tempo.
	f(url.Values{"q": {`{ name = "x" }`}, "minDuration": {"1s"}}, `{ name = "x" }`)
}

func TestSearchBadRequest(t *testing.T) {
	f := func(params url.Values, reason, wantMsg string) {
		t.Helper()
		a := newTestAPI(t, &fakeStore{})
		resp := get(t, a, "/api/search?"+params.Encode())
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Equal(t, wantMsg, body(t, resp))
		require.Equal(t, 1.0, testutil.ToFloat64(a.badReq.WithLabelValues(reason)))
	}
	f(url.Values{"q": {`{ .a = `}}, reasonTraceQL, "invalid TraceQL query: parse error at line 1, col 8: syntax error: unexpected $end")
	f(url.Values{"q": {`{ .a = 1 } | by(.b)`}}, reasonUnsupported, `unsupported TraceQL: "| by()"`)
	f(url.Values{"q": {`{}`}, "tags": {"a=b"}}, reasonParams, "invalid request: can't specify tags and q in the same query")
	f(url.Values{"tags": {`a=b a=c`}}, reasonParams, "invalid tags: tag a has been set twice")
	f(url.Values{"tags": {`a="b`}}, reasonParams, "invalid tags: unterminated quoted value at pos 5")
	f(url.Values{"tags": {`a=b=c`}}, reasonParams, "invalid tags: unexpected '=' at pos 4")
	f(url.Values{"tags": {`status.code=bad`}}, reasonParams, `invalid tags: status.code must be unset, ok or error, not "bad"`)
	f(url.Values{"limit": {"0"}}, reasonParams, "invalid limit: must be a positive number")
	f(url.Values{"limit": {"-1"}}, reasonParams, `invalid limit: strconv.ParseUint: parsing "-1": invalid syntax`)
	f(url.Values{"spss": {"101"}}, reasonParams, "spans per span set exceeds 100. received 101")
	f(url.Values{"minDuration": {"x"}}, reasonParams, `invalid minDuration: time: invalid duration "x"`)
	f(url.Values{"minDuration": {"2s"}, "maxDuration": {"1s"}}, reasonParams, "invalid maxDuration: must be greater than minDuration")
	f(url.Values{"start": {"20"}, "end": {"10"}}, reasonParams, "http parameter start must be before end. received start=20 end=10")
	f(url.Values{"start": {"20"}}, reasonParams, "http parameter start must be before end. received start=20 end=0")
	f(url.Values{"start": {"1"}, "end": {"700000"}}, reasonParams, "range specified by start and end exceeds 168h0m0s. received start=1 end=700000")
	f(url.Values{"q": {"{" + strings.Repeat(" ", 128*1024) + "}"}}, reasonParams, "TraceQL expression exceeds the configured maximum size of 131072 bytes, reduce the query expression size or contact your system administrator")
}

func TestSearchTooMuchData(t *testing.T) {
	a := newTestAPI(t, &fakeStore{searchErr: fmt.Errorf("%w: more than 10 spans to read; narrow the time range or the query", tracestore.ErrTooMuchData)})
	resp := get(t, a, "/api/search?q={}")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "search would read too much data: more than 10 spans to read; narrow the time range or the query", body(t, resp))
	require.Equal(t, 1.0, testutil.ToFloat64(a.badReq.WithLabelValues(reasonTooMuchData)))

	a = newTestAPI(t, &fakeStore{searchErr: fmt.Errorf("disk on fire")})
	resp = get(t, a, "/api/search?q={}")
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Equal(t, "disk on fire", body(t, resp))
}

// intrinsicsJSON is the intrinsic scope's tags, as the tag APIs list them.
const intrinsicsJSON = `["duration","name","status","statusMessage","kind","rootServiceName","rootName","traceDuration",` +
	`"span:status","span:statusMessage","span:duration","span:name","span:kind","trace:rootName","trace:rootService","trace:duration"]`

func TestTagNames(t *testing.T) {
	store := &fakeStore{tags: tracestore.TagNames{Resource: []string{"service.name", "host"}, Span: []string{"http.method", "host"}}}
	a := newTestAPI(t, store)
	f := func(target, want string) {
		t.Helper()
		resp := get(t, a, target)
		require.Equal(t, http.StatusOK, resp.StatusCode, body(t, resp))
		require.JSONEq(t, want, body(t, resp))
	}
	f("/api/search/tags?start=100&end=200", `{"tagNames":["host","http.method","service.name"],"metrics":{}}`)
	require.Equal(t, int64(100e9), store.gotFrom)
	require.Equal(t, int64(200e9), store.gotTo)
	f("/api/search/tags?scope=span", `{"tagNames":["host","http.method"],"metrics":{}}`)
	f("/api/search/tags?scope=intrinsic", `{"tagNames":`+intrinsicsJSON+`,"metrics":{}}`)
	f("/api/v2/search/tags", `{"scopes":[
		{"name":"resource","tags":["host","service.name"]},
		{"name":"span","tags":["host","http.method"]},
		{"name":"intrinsic","tags":`+intrinsicsJSON+`}],"metrics":{}}`)
	f("/api/v2/search/tags?scope=resource&limit=1", `{"scopes":[{"name":"resource","tags":["host"]}],"metrics":{}}`)
	f("/api/v2/search/tags?scope=event", `{"scopes":[],"metrics":{}}`)
	require.Equal(t, testNow.Add(-time.Hour).UnixNano(), store.gotFrom, "no range: the last hour")

	resp := get(t, a, "/api/v2/search/tags?scope=bogus")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "invalid scope: bogus", body(t, resp))
}

func TestTagValues(t *testing.T) {
	store := &fakeStore{values: map[string][]traceql.Value{
		"resource.service.name": {traceql.StringValue("api"), traceql.StringValue("db")},
		"span.http.status_code": {traceql.IntValue(200), traceql.IntValue(500)},
		".ratio":                {traceql.FloatValue(2), traceql.FloatValue(0.5), traceql.BoolValue(true)},
		"name":                  {traceql.StringValue("GET /users")},
		"span.my attr":          {traceql.StringValue("x")},
		".service.name":         {traceql.StringValue("api")},
		".error":                {traceql.BoolValue(true), traceql.BoolValue(false)},
		".a/b":                  {traceql.StringValue("slash")},
	}}
	a := newTestAPI(t, store)
	f := func(target, wantStoreTag, want string) {
		t.Helper()
		store.gotTag = ""
		resp := get(t, a, target)
		require.Equal(t, http.StatusOK, resp.StatusCode, body(t, resp))
		require.JSONEq(t, want, body(t, resp))
		require.Equal(t, wantStoreTag, store.gotTag)
	}
	f("/api/v2/search/tag/resource.service.name/values?q=%7B%7D&start=100&end=200", "resource.service.name",
		`{"tagValues":[{"type":"string","value":"api"},{"type":"string","value":"db"}],"metrics":{}}`)
	require.Equal(t, int64(100e9), store.gotFrom)
	f("/api/v2/search/tag/span.http.status_code/values", "span.http.status_code",
		`{"tagValues":[{"type":"int","value":"200"},{"type":"int","value":"500"}],"metrics":{}}`)
	f("/api/v2/search/tag/.ratio/values", ".ratio",
		`{"tagValues":[{"type":"float","value":"2.0"},{"type":"float","value":"0.5"},{"type":"bool","value":"true"}],"metrics":{}}`)
	f("/api/v2/search/tag/name/values?limit=1", "name", `{"tagValues":[{"type":"string","value":"GET /users"}],"metrics":{}}`)
	f("/api/v2/search/tag/span:name/values", "name", `{"tagValues":[{"type":"string","value":"GET /users"}],"metrics":{}}`)
	f("/api/v2/search/tag/"+url.PathEscape(`span."my attr"`)+"/values", "span.my attr", `{"tagValues":[{"type":"string","value":"x"}],"metrics":{}}`)
	f("/api/v2/search/tag/.a%2Fb/values", ".a/b", `{"tagValues":[{"type":"string","value":"slash"}],"metrics":{}}`)
	f("/api/v2/search/tag/status/values", "",
		`{"tagValues":[{"type":"keyword","value":"ok"},{"type":"keyword","value":"error"},{"type":"keyword","value":"unset"}],"metrics":{}}`)
	f("/api/v2/search/tag/kind/values", "", `{"tagValues":[
		{"type":"keyword","value":"client"},{"type":"keyword","value":"server"},{"type":"keyword","value":"producer"},
		{"type":"keyword","value":"consumer"},{"type":"keyword","value":"internal"},{"type":"keyword","value":"unspecified"}],"metrics":{}}`)
	f("/api/v2/search/tag/duration/values", "", `{"tagValues":[],"metrics":{}}`)
	f("/api/v2/search/tag/event.foo/values", "", `{"tagValues":[],"metrics":{}}`)
	f("/api/v2/search/tag/span.missing/values", "span.missing", `{"tagValues":[],"metrics":{}}`)

	f("/api/search/tag/service.name/values", ".service.name", `{"tagValues":["api"],"metrics":{}}`)
	f("/api/search/tag/root.service.name/values", "resource.service.name", `{"tagValues":["api","db"],"metrics":{}}`)
	f("/api/search/tag/status.code/values", "", `{"tagValues":["unset","ok","error"],"metrics":{}}`)
	f("/api/search/tag/error/values", ".error", `{"tagValues":["true","false"],"metrics":{}}`)

	bad := func(target, wantMsg string) {
		t.Helper()
		resp := get(t, a, target)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Contains(t, body(t, resp), wantMsg)
	}
	bad("/api/v2/search/tag/foo/values", "please provide a valid tagName")
	bad("/api/v2/search/tag/.a%20%3D%201%20%7D%20%7C%7C%20%7B%20.b/values", "please provide a valid tagName")
	bad("/api/search/tag/x/values?start=x", "invalid start")
	require.Equal(t, http.StatusNotFound, get(t, a, "/api/search/tag/x/other").StatusCode)
}

func TestEchoAndBuildInfo(t *testing.T) {
	a := newTestAPI(t, &fakeStore{})
	resp := get(t, a, "/api/echo")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "echo\n", body(t, resp))

	resp = get(t, a, "/api/status/buildinfo")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"version":"2.6.0-sightline","revision":"sightline-1.2.3","branch":"sightline","buildUser":"","buildDate":"","goVersion":""}`, body(t, resp))

	// Tempo's deprecated /api/metrics/summary is not served.
	require.Equal(t, http.StatusNotFound, get(t, a, "/api/metrics/summary?q={}").StatusCode)

	require.Equal(t, 1.0, testutil.ToFloat64(a.requests.WithLabelValues("echo", "200")))
}

// TestSearchSelect: | select(...) adds the selected fields to each matched
// span's attributes after those the query tests, as Tempo's search does;
// the nested set numbers Traces Drilldown selects, which Sightline does not
// keep, are left out, as is a selected attribute the span does not have
// and one already returned because the query tests it.
func TestSearchSelect(t *testing.T) {
	store := searchStore()
	a := newTestAPI(t, store)
	q := `{ status = error } | select(resource.service.name, span.http.method, name, status, span.missing, nestedSetLeft, nestedSetRight, nestedSetParent, .http.method, kind, resource.host.cpus)`
	resp := get(t, a, "/api/search?"+url.Values{"q": {q}}.Encode())
	require.Equal(t, http.StatusOK, resp.StatusCode, body(t, resp))
	var got struct {
		Traces []struct {
			SpanSets []struct {
				Spans []struct {
					SpanID     string            `json:"spanID"`
					Attributes []json.RawMessage `json:"attributes"`
				} `json:"spans"`
			} `json:"spanSets"`
		} `json:"traces"`
	}
	require.NoError(t, json.Unmarshal([]byte(body(t, resp)), &got))
	require.Len(t, got.Traces, 2)
	require.Len(t, got.Traces[0].SpanSets[0].Spans, 1)
	var attrs []string
	for _, kv := range got.Traces[0].SpanSets[0].Spans[0].Attributes {
		attrs = append(attrs, string(kv))
	}
	require.Equal(t, []string{
		`{"key":"status","value":{"stringValue":"error"}}`,
		`{"key":"service.name","value":{"stringValue":"api"}}`,
		`{"key":"http.method","value":{"stringValue":"GET"}}`,
		`{"key":"kind","value":{"stringValue":"server"}}`,
		`{"key":"host.cpus","value":{"intValue":"8"}}`,
	}, attrs)
	require.Equal(t, q, store.gotSearch.Query.String())
}

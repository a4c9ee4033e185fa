package correlate

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/internal/storetest"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tracestore"
	"github.com/sightline-dev/sightline/storage/tracestore/tracestoretest"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

type fixture struct {
	traces  *tracestore.Store
	logs    *logstore.Store
	metrics *tsdbstore.Store
	handler http.Handler
}

// newFixture opens the three stores and serves the correlate API over
// them as sightline does, behind the tenant middleware.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	f := &fixture{traces: storetest.Traces(t, reg, nil), logs: storetest.Logs(t, reg, nil), metrics: storetest.Metrics(t, reg, nil)}
	f.handler = tenant.Middleware(New(f.traces, f.logs, f.metrics, slog.New(slog.DiscardHandler), reg).Handler())
	return f
}

func (f *fixture) spans(t testing.TB, tenantID string, spans []*record.Span) {
	t.Helper()
	res, err := f.traces.Append(tenant.With(context.Background(), tenantID), spans)
	require.NoError(t, err)
	require.Equal(t, len(spans), res.Accepted)
}

// logRecord is a record of service's at ms after the traces' base time,
// of the given span (a zero trace ID for none).
func logRecord(service, body string, ms int, traceID [16]byte, spanID [8]byte) *logstore.Record {
	return &logstore.Record{
		Timestamp: tracestoretest.Base + int64(ms)*int64(time.Millisecond), Body: body, BodyType: record.TypeString,
		SeverityText: "INFO", TraceID: traceID, SpanID: spanID, ScopeName: "shop",
		Resource:   []record.KV{tracestoretest.Str("service.name", service)},
		Attributes: []record.KV{{Key: "attempt", Value: "2", Type: record.TypeInt}},
	}
}

func (f *fixture) records(t testing.TB, tenantID string, recs ...*logstore.Record) {
	t.Helper()
	res, err := f.logs.Append(tenant.With(context.Background(), tenantID), recs)
	require.NoError(t, err)
	require.Equal(t, len(recs), res.Accepted)
}

// exemplar appends a latency sample of service with an exemplar whose
// labels are exLabels (name, value pairs).
func (f *fixture) exemplar(t testing.TB, tenantID, service string, ts time.Time, v float64, exLabels ...string) {
	t.Helper()
	app := f.metrics.Appender(tenant.With(context.Background(), tenantID))
	series := labels.FromStrings("__name__", "http_server_duration_seconds_bucket", "service_name", service, "le", "0.1")
	ref, err := app.Append(0, series, ts.UnixMilli(), v)
	require.NoError(t, err)
	_, err = app.AppendExemplar(ref, series, exemplar.Exemplar{Labels: labels.FromStrings(exLabels...), Value: v, Ts: ts.UnixMilli(), HasTs: true})
	require.NoError(t, err)
	require.NoError(t, app.Commit())
}

// traceID has hex letters, so that its upper and lower case differ.
var traceID = [16]byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}

// withTraceID moves spans into trace traceID.
func withTraceID(spans []*record.Span) [16]byte {
	for _, sp := range spans {
		sp.TraceID = traceID
	}
	return traceID
}

func hexID(id [16]byte) string { return hex.EncodeToString(id[:]) }

// serve asks the handler for path as tenantID ("" for none).
func (f *fixture) serve(method, path, tenantID string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if tenantID != "" {
		req.Header.Set(tenant.Header, tenantID)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, req)
	return w
}

// get asks the handler for path as tenantID ("" for none) and returns the
// status code and the decoded JSON answer.
func (f *fixture) get(t testing.TB, path, tenantID string) (int, map[string]any) {
	t.Helper()
	w := f.serve(http.MethodGet, path, tenantID)
	var body map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), "%d %s", w.Code, w.Body.String())
	require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	return w.Code, body
}

// answer decodes the data of a successful answer.
func answer(t *testing.T, body map[string]any) Answer {
	t.Helper()
	require.Equal(t, "success", body["status"])
	b, err := json.Marshal(body["data"])
	require.NoError(t, err)
	var a Answer
	require.NoError(t, json.Unmarshal(b, &a))
	return a
}

func TestCorrelate(t *testing.T) {
	f := newFixture(t)
	// frontend's root and client spans, checkout's failing "charge", and a
	// mailer's consumer span that ends after the root.
	spans := tracestoretest.Trace(1, true)
	start := spans[0].Start
	spans = append(spans, &record.Span{SpanID: [8]byte{0xaa}, ParentSpanID: spans[0].SpanID, Name: "send receipt", Kind: record.KindConsumer,
		Start: start + int64(60*time.Millisecond), End: start + int64(90*time.Millisecond), Resource: []record.KV{tracestoretest.Str("service.name", "mailer")}})
	id := withTraceID(spans)
	root, client, charge := spans[0].SpanID, spans[1].SpanID, spans[2].SpanID
	f.spans(t, tenant.Default, spans)
	f.spans(t, tenant.Default, tracestoretest.Trace(2, false)) // another trace
	other := tracestoretest.Trace(2, false)[0].TraceID
	f.records(t, tenant.Default,
		logRecord("checkout", "card declined", 20, id, charge),
		logRecord("frontend", "checking out", 1, id, root),
		logRecord("frontend", "other trace", 2, other, root),
		logRecord("frontend", "no trace", 3, [16]byte{}, [8]byte{}),
	)
	now := time.Now().Truncate(time.Millisecond)
	f.exemplar(t, tenant.Default, "checkout", now, 0.028, "trace_id", hexID(id), "span_id", hex.EncodeToString(charge[:]))
	// A client library's label name, upper-case hex: still this trace.
	f.exemplar(t, tenant.Default, "frontend", now.Add(-time.Second), 0.05, "traceID", strings.ToUpper(hexID(id)))
	f.exemplar(t, tenant.Default, "payment", now, 0.01, "trace_id", hexID(other))

	// Grafana's data links may carry the ID in upper case.
	code, body := f.get(t, "/api/v1/correlate/"+strings.ToUpper(hexID(id)), "")
	require.Equal(t, http.StatusOK, code, "%v", body)
	a := answer(t, body)
	require.Equal(t, hexID(id), a.TraceID)

	require.NotNil(t, a.Trace)
	tr := *a.Trace
	require.Equal(t, "frontend", tr.RootService)
	require.Equal(t, "GET /cart", tr.RootName)
	require.Equal(t, time.Unix(0, start).UTC(), tr.Start)
	require.Equal(t, 90.0, tr.DurationMs, "from the first start to the last end")
	require.Equal(t, 4, tr.SpanCount)
	require.Equal(t, 1, tr.ErrorCount)
	require.Equal(t, []string{"checkout", "frontend", "mailer"}, tr.Services)
	require.Len(t, tr.Spans, 4)
	require.Equal(t, "consumer", tr.Spans[3].Kind)
	require.Equal(t, "unset", tr.Spans[3].Status)
	require.Equal(t, Span{
		SpanID: hex.EncodeToString(charge[:]), ParentSpanID: hex.EncodeToString(client[:]),
		Service: "checkout", Name: "charge", Kind: "server", Status: "error", StatusMessage: "card declined",
		Start:      time.Unix(0, spans[2].Start).UTC(),
		DurationMs: 28, Attributes: map[string]any{"amount": 12.5}, Resource: map[string]any{"service.name": "checkout"},
		Events: []Event{}, Links: []Link{}, LogCount: 1,
	}, tr.Spans[2])
	// The client span's event and its link to another trace, which the
	// span details show (the link opens that trace).
	require.Equal(t, []Event{{Time: time.Unix(0, start+int64(2*time.Millisecond)).UTC(), Name: "sent", Attributes: map[string]any{"k": "v"}}}, tr.Spans[1].Events)
	require.Equal(t, []Link{{TraceID: "09000000000000000000000000000000", SpanID: "0900000000000000", Attributes: map[string]any{"l": "1"}}}, tr.Spans[1].Links)
	require.Equal(t, "node-1", tr.Spans[1].Resource["host.name"])
	require.Equal(t, "GET /cart", tr.Spans[0].Name, "spans in start order")
	require.Empty(t, tr.Spans[0].ParentSpanID)
	require.Equal(t, 1, tr.Spans[0].LogCount)
	require.Equal(t, 0, tr.Spans[1].LogCount)

	require.Len(t, a.Logs, 2, "the records of this trace only")
	require.Equal(t, "checking out", a.Logs[0].Body, "oldest first")
	require.Equal(t, "card declined", a.Logs[1].Body)
	require.Equal(t, hexID(id), a.Logs[1].TraceID)
	require.Equal(t, hex.EncodeToString(charge[:]), a.Logs[1].SpanID)
	require.Equal(t, "checkout", a.Logs[1].Resource["service.name"])

	require.Len(t, a.Exemplars, 2, "the exemplars of this trace only")
	require.Equal(t, Exemplar{
		SeriesLabels: map[string]string{"__name__": "http_server_duration_seconds_bucket", "service_name": "frontend", "le": "0.1"},
		Labels:       map[string]string{"traceID": strings.ToUpper(hexID(id))},
		Timestamp:    now.Add(-time.Second).UTC(), Value: 0.05,
	}, a.Exemplars[0], "oldest first")
	require.Equal(t, hex.EncodeToString(charge[:]), a.Exemplars[1].SpanID)
	require.Equal(t, 0.028, a.Exemplars[1].Value)
	require.Equal(t, "checkout", a.Exemplars[1].SeriesLabels["service_name"])

	require.Equal(t, map[string]string{"trace": "/api/traces/" + hexID(id), "logs": "/api/v1/logs/trace/" + hexID(id)}, a.Links)
	require.Equal(t, map[string]any{"spans": 4.0, "logs": 2.0, "exemplars": 2.0}, a.Stats)

	// Flushed, the trace and its records are found in the segments' trace
	// indexes: the same answer.
	require.NoError(t, f.traces.Flush())
	require.NoError(t, f.logs.Flush())
	_, body = f.get(t, "/api/v1/correlate/"+hexID(id), "")
	require.Equal(t, a, answer(t, body))
}

// TestCorrelateTenants: a tenant sees its own spans, records and
// exemplars of a trace ID, never another's.
func TestCorrelateTenants(t *testing.T) {
	f := newFixture(t)
	spans := tracestoretest.Trace(1, false)
	id := spans[0].TraceID
	f.spans(t, "team-a", spans)
	f.records(t, "team-a", logRecord("frontend", "a's record", 1, id, spans[0].SpanID))
	f.exemplar(t, "team-a", "frontend", time.Now(), 0.05, "trace_id", hexID(id))
	// team-b has the same trace ID, with one span of its own and nothing else.
	f.spans(t, "team-b", tracestoretest.Trace(1, false)[2:])

	_, body := f.get(t, "/api/v1/correlate/"+hexID(id), "team-a")
	a := answer(t, body)
	require.Equal(t, 3, a.Trace.SpanCount)
	require.Len(t, a.Logs, 1)
	require.Len(t, a.Exemplars, 1)

	_, body = f.get(t, "/api/v1/correlate/"+hexID(id), "team-b")
	a = answer(t, body)
	require.Equal(t, 1, a.Trace.SpanCount)
	require.Equal(t, "", a.Trace.RootService, "the root span is team-a's")
	require.Equal(t, []string{"checkout"}, a.Trace.Services)
	require.Empty(t, a.Logs)
	require.Empty(t, a.Exemplars)
	require.NotNil(t, a.Logs, "an empty list, not null")
	require.NotNil(t, a.Exemplars)

	code, body := f.get(t, "/api/v1/correlate/"+hexID(id), "")
	require.Equal(t, http.StatusNotFound, code, "the default tenant has none of it: %v", body)

	w := f.serve(http.MethodGet, "/api/v1/correlate/"+hexID(id), "../team-a")
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "invalid tenant ID")
}

// TestCorrelatePartial: a trace whose spans are not stored (sampled out,
// or in a backend of their own) still correlates its records and
// exemplars; the trace is null.
func TestCorrelatePartial(t *testing.T) {
	f := newFixture(t)
	logsOnly, exemplarsOnly := [16]byte{1, 2, 3}, [16]byte{4, 5, 6}
	f.records(t, tenant.Default, logRecord("batch", "nightly run", 0, logsOnly, [8]byte{7}))
	f.exemplar(t, tenant.Default, "batch", time.Now(), 1, "trace_id", hexID(exemplarsOnly))

	code, body := f.get(t, "/api/v1/correlate/"+hexID(logsOnly), "")
	require.Equal(t, http.StatusOK, code)
	require.Nil(t, body["data"].(map[string]any)["trace"])
	a := answer(t, body)
	require.Len(t, a.Logs, 1)
	require.Empty(t, a.Exemplars)

	code, body = f.get(t, "/api/v1/correlate/"+hexID(exemplarsOnly), "")
	require.Equal(t, http.StatusOK, code)
	a = answer(t, body)
	require.Nil(t, a.Trace)
	require.Empty(t, a.Logs)
	require.Len(t, a.Exemplars, 1)
}

func TestCorrelateBadRequests(t *testing.T) {
	f := newFixture(t)
	f.spans(t, tenant.Default, tracestoretest.Trace(1, false))
	for _, tc := range []struct {
		id   string
		code int
		want string // in the error
	}{
		// Shorter IDs are left-padded, as Tempo and Grafana have them.
		{id: "abc", code: http.StatusNotFound, want: "trace 00000000000000000000000000000abc not found"},
		{id: "d269b633813fc60c", code: http.StatusNotFound, want: "trace 0000000000000000d269b633813fc60c not found"},
		{id: strings.Repeat("a", 33), code: http.StatusBadRequest, want: "want 1 to 32 hex digits"},
		{id: strings.Repeat("g", 32), code: http.StatusBadRequest, want: "invalid byte"},
		{id: strings.Repeat("0", 32), code: http.StatusBadRequest, want: "all zero"},
		{id: url.PathEscape("5b8efff798038103d269b633813fc6é"), code: http.StatusBadRequest, want: "invalid byte"}, // 32 bytes
		{id: "4BF92F3577B34DA6A3CE929D0E0E4736", code: http.StatusNotFound,
			want: "trace 4bf92f3577b34da6a3ce929d0e0e4736 not found: no spans, log records or exemplars carry it"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			code, body := f.get(t, "/api/v1/correlate/"+tc.id, "")
			require.Equal(t, tc.code, code, "%v", body)
			require.Equal(t, "error", body["status"])
			require.Contains(t, body["error"], tc.want)
			wantType := "bad_data"
			if tc.code == http.StatusNotFound {
				wantType = "not_found"
			}
			require.Equal(t, wantType, body["errorType"])
		})
	}

	w := f.serve(http.MethodPost, "/api/v1/correlate/"+strings.Repeat("a", 32), "")
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
}

// FuzzCorrelate asks for any ID, query and tenant: the answer is never a
// server error, always JSON, and a successful one is about the ID asked
// for.
func FuzzCorrelate(f *testing.F) {
	fx := newFixture(f)
	spans := tracestoretest.Trace(1, true)
	withTraceID(spans)
	fx.spans(f, tenant.Default, spans)
	fx.records(f, tenant.Default, logRecord("checkout", "card declined", 20, spans[0].TraceID, spans[2].SpanID))
	fx.exemplar(f, tenant.Default, "checkout", time.Now(), 0.028, "trace_id", hexID(spans[0].TraceID))
	for _, s := range []string{hexID(spans[0].TraceID), strings.ToUpper(hexID(spans[0].TraceID)), "", "abc", strings.Repeat("0", 32),
		"%2e%2e", "..", "a/b", "%zz", "é", "x?y", strings.Repeat("f", 64)} {
		f.Add(s, "", "")
	}
	f.Add(hexID(spans[0].TraceID), "start=1&end=2", "team-a")
	f.Add("abc", "limit=-1", "../x")
	f.Fuzz(func(t *testing.T, id, rawQuery, tenantID string) {
		req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/api/v1/correlate/" + id, RawQuery: rawQuery}, Header: http.Header{}}
		req = req.WithContext(context.Background())
		if tenantID != "" {
			req.Header.Set(tenant.Header, tenantID)
		}
		w := httptest.NewRecorder()
		fx.handler.ServeHTTP(w, req)
		require.Less(t, w.Code, 500, "%s", w.Body.String())
		if w.Code >= 300 && w.Code < 400 { // the mux cleans paths with a redirect
			return
		}
		var body map[string]any
		if w.Header().Get("Content-Type") == "application/json; charset=utf-8" {
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), "%s", w.Body.String())
		}
		if w.Code == http.StatusOK {
			require.Equal(t, strings.ToLower(id), body["data"].(map[string]any)["traceID"])
		}
	})
}

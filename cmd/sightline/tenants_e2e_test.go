package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Two tenants send the same delta counter, series for series: each reads
// its own sum. The collector's delta-to-cumulative state was shared, so
// tenant b read a's 1000 plus its own 1 (issue 12).
func TestDeltaCountersStayWithTheirTenant(t *testing.T) {
	s := startServer(t, t.TempDir())
	delta := otlpmetrichttp.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality { return metricdata.DeltaTemporality })
	for _, x := range []struct {
		tenant string
		add    int64
	}{{"a", 1000}, {"b", 1}, {"a", 10}} {
		svc := newOTelService(t, s, "http", "shared", delta, otlpmetrichttp.WithHeaders(map[string]string{"X-Scope-OrgID": x.tenant}))
		c, err := svc.mp.Meter("shared").Int64Counter("shared_delta")
		require.NoError(t, err)
		c.Add(ctxT(t), x.add)
		require.NoError(t, svc.flush(t))
	}
	require.InDelta(t, 1010, queryScalar(t, s.promTenant("a"), `shared_delta_total`), 1e-9)
	require.InDelta(t, 1, queryScalar(t, s.promTenant("b"), `shared_delta_total`), 1e-9)
}

// amAs calls the Alertmanager API as tenant id ("" for the default one)
// and decodes the JSON answer into out (if not nil).
func amAs(t *testing.T, s *server, id, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	header := []string{"Content-Type", "application/json"}
	if id != "" {
		header = append(header, "X-Scope-OrgID", id)
	}
	code, _, b := doHTTP(t, method, s.url(path), rd, header...)
	if out != nil && code/100 == 2 {
		require.NoError(t, json.Unmarshal(b, out), string(b))
	}
	return code
}

type amAlert struct {
	Labels map[string]string `json:"labels"`
}

type amSilence struct {
	ID       string `json:"id"`
	Matchers []struct {
		Name, Value string
	} `json:"matchers"`
}

func alertNames(t *testing.T, s *server, id string) []string {
	t.Helper()
	var alerts []amAlert
	require.Equal(t, http.StatusOK, amAs(t, s, id, http.MethodGet, "/api/v2/alerts", nil, &alerts))
	var names []string
	for _, a := range alerts {
		names = append(names, a.Labels["alertname"]+"/"+a.Labels["tenant"])
	}
	return names
}

// The Alertmanager API shows each tenant its own alerts, groups and
// silences, and lets it silence nothing but its own (issue 12: every caller
// saw every tenant's alerts and could silence them).
func TestAlertmanagerAPIPerTenant(t *testing.T) {
	s := startServer(t, t.TempDir())
	post := func(id, name string, extra map[string]string) {
		ls := map[string]string{"alertname": name}
		for k, v := range extra {
			ls[k] = v
		}
		require.Equal(t, http.StatusOK, amAs(t, s, id, http.MethodPost, "/api/v2/alerts", []amAlert{{Labels: ls}}, nil))
	}
	post("a", "SecretA", map[string]string{"tenant": "b"}) // a cannot pose as b
	post("", "DefaultAlert", nil)
	post("", "Impostor", map[string]string{"tenant": "a"}) // nor the default tenant as a

	require.Equal(t, []string{"SecretA/a"}, alertNames(t, s, "a"))
	require.Empty(t, alertNames(t, s, "b"))
	require.ElementsMatch(t, []string{"DefaultAlert/", "Impostor/"}, alertNames(t, s, ""))
	var groups []struct {
		Alerts []amAlert `json:"alerts"`
	}
	require.Equal(t, http.StatusOK, amAs(t, s, "b", http.MethodGet, "/api/v2/alerts/groups", nil, &groups))
	for _, g := range groups {
		require.Empty(t, g.Alerts, "tenant b sees a group's alerts")
	}

	// b silences "SecretA": the silence is b's, and matches b's alerts only.
	sil := map[string]any{
		"matchers":  []map[string]any{{"name": "alertname", "value": "SecretA", "isRegex": false, "isEqual": true}, {"name": "tenant", "value": "a", "isRegex": false, "isEqual": true}},
		"startsAt":  time.Now().UTC().Format(time.RFC3339),
		"endsAt":    time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"createdBy": "b", "comment": "not yours",
	}
	var created struct {
		SilenceID string `json:"silenceID"`
	}
	require.Equal(t, http.StatusOK, amAs(t, s, "b", http.MethodPost, "/api/v2/silences", sil, &created))
	var bs []amSilence
	require.Equal(t, http.StatusOK, amAs(t, s, "b", http.MethodGet, "/api/v2/silences", nil, &bs))
	require.Len(t, bs, 1)
	require.Contains(t, bs[0].Matchers, struct{ Name, Value string }{"tenant", "b"})
	require.NotContains(t, bs[0].Matchers, struct{ Name, Value string }{"tenant", "a"})

	var as []amSilence
	require.Equal(t, http.StatusOK, amAs(t, s, "a", http.MethodGet, "/api/v2/silences", nil, &as))
	require.Empty(t, as, "tenant a sees b's silence")
	require.Equal(t, http.StatusNotFound, amAs(t, s, "a", http.MethodGet, "/api/v2/silence/"+created.SilenceID, nil, nil))
	require.Equal(t, http.StatusNotFound, amAs(t, s, "a", http.MethodDelete, "/api/v2/silence/"+created.SilenceID, nil, nil))
	sil["id"] = created.SilenceID
	require.Equal(t, http.StatusNotFound, amAs(t, s, "a", http.MethodPost, "/api/v2/silences", sil, nil), "a changes b's silence")
	require.Equal(t, http.StatusOK, amAs(t, s, "b", http.MethodDelete, "/api/v2/silence/"+created.SilenceID, nil, nil))
}

// Per-tenant limits: a tenant over its ingestion burst gets 429 on every
// receiver, another tenant's override lets it write more, and a tenant
// beyond -limits.max-tenants is refused.
func TestTenantLimits(t *testing.T) {
	overrides := filepath.Join(t.TempDir(), "overrides.yml")
	require.NoError(t, os.WriteFile(overrides, []byte("overrides:\n  big:\n    ingestion_burst: 100000\n"), 0o644))
	s := startServer(t, t.TempDir(), "-limits.ingestion-rate", "1", "-limits.ingestion-burst", "100", "-limits.max-tenants", "3",
		"-limits.overrides-file", overrides)
	lines := func(n int) push.Stream {
		var entries []push.Entry
		for i := range n {
			entries = append(entries, push.Entry{Timestamp: time.Now(), Line: fmt.Sprintf("line %d", i)})
		}
		return push.Stream{Labels: `{service_name="limited"}`, Entries: entries}
	}
	pushAs := func(id string, n int) (int, string) {
		raw, err := (&push.PushRequest{Streams: []push.Stream{lines(n)}}).Marshal()
		require.NoError(t, err)
		return post(t, s.url("/loki/api/v1/push"), "application/x-protobuf", snappy.Encode(nil, raw), "X-Scope-OrgID", id)
	}
	code, body := pushAs("default", 200)
	require.Equal(t, http.StatusTooManyRequests, code, body)
	require.Contains(t, body, "items/s")
	code, body = pushAs("default", 60)
	require.Equal(t, http.StatusNoContent, code, body)
	code, body = pushAs("big", 200)
	require.Equal(t, http.StatusNoContent, code, "the override raises big's burst: %s", body)

	// OTLP/HTTP and remote_write refuse the same tenant over its burst.
	var recs []string
	for i := range 60 {
		recs = append(recs, fmt.Sprintf(`{"timeUnixNano":"%d","body":{"stringValue":"otlp %d"}}`, time.Now().UnixNano(), i))
	}
	code, body = post(t, "http://"+s.otlpHTTP+"/v1/logs", "application/json",
		[]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[`+strings.Join(recs, ",")+`]}]}]}`))
	require.Equal(t, http.StatusTooManyRequests, code, body)
	var many []prompb.TimeSeries
	for i := range 50 { // over the 40 left of the default tenant's burst
		many = append(many, series("limited", time.Now(), 1, "i", fmt.Sprint(i)))
	}
	require.Error(t, remoteWrite(t, s, "", many...))
	require.NoError(t, remoteWrite(t, s, "big", many...))

	code, body = pushAs("c", 1)
	require.Equal(t, http.StatusNoContent, code, body)
	code, body = pushAs("d", 1)
	require.Equal(t, http.StatusTooManyRequests, code, "a fourth tenant: %s", body)
	require.Contains(t, body, "max-tenants")
	// Nor do its metrics, over remote_write or OTLP (whose delta state is
	// kept per tenant), and no store opens anything for it.
	require.Error(t, remoteWrite(t, s, "d", series("limited", time.Now(), 1)))
	delta := otlpmetrichttp.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality { return metricdata.DeltaTemporality })
	svc := newOTelService(t, s, "http", "d", delta, otlpmetrichttp.WithHeaders(map[string]string{"X-Scope-OrgID": "d"}))
	c, err := svc.mp.Meter("d").Int64Counter("d_delta")
	require.NoError(t, err)
	c.Add(ctxT(t), 1)
	require.Error(t, svc.flush(t))
	_, err = os.Stat(filepath.Join(s.dataDir, "tenants", "d"))
	require.ErrorIs(t, err, os.ErrNotExist, "a refused tenant has no data directory")
	require.NotEqual(t, "0", metricValue(t, s, `sightline_limits_refused_total{reason="ingestion_rate"}`))
}

// A PromQL query or a series lookup that reads more series, or more bytes
// of chunks, than its tenant may is answered 422 naming the limit, as
// Mimir answers it, and counted; within the limits, and for a tenant whose
// override raises them, queries answer as before.
func TestQueryFetchLimits(t *testing.T) {
	overrides := filepath.Join(t.TempDir(), "overrides.yml")
	require.NoError(t, os.WriteFile(overrides, []byte("overrides:\n  big:\n    max_fetched_series_per_query: 100\n  few-bytes:\n    max_fetched_chunk_bytes_per_query: 1\n"), 0o644))
	s := startServer(t, t.TempDir(), "-limits.max-fetched-series-per-query", "3", "-limits.overrides-file", overrides)
	var five []prompb.TimeSeries
	for i := range 5 {
		five = append(five, series("fetched", time.Now(), float64(i), "i", fmt.Sprint(i)))
	}
	for _, id := range []string{"", "big", "few-bytes"} {
		require.NoError(t, remoteWrite(t, s, id, five...))
	}
	type answer struct {
		Status, ErrorType, Error string
		Data                     json.RawMessage
	}
	ask := func(id, path, form string) (int, answer) {
		t.Helper()
		code, body := post(t, s.url(path), "application/x-www-form-urlencoded", []byte(form), "X-Scope-OrgID", id)
		var a answer
		require.NoError(t, json.Unmarshal([]byte(body), &a), "%d %s", code, body)
		return code, a
	}

	code, a := ask("default", "/api/v1/query", "query=sum(fetched)")
	require.Equal(t, http.StatusUnprocessableEntity, code, "%+v", a)
	require.Equal(t, "execution", a.ErrorType)
	require.Contains(t, a.Error, "the query exceeded the maximum number of series (limit: 3 series")
	code, a = ask("default", "/api/v1/series", "match[]=fetched")
	require.Equal(t, http.StatusUnprocessableEntity, code, "%+v", a)
	require.Contains(t, a.Error, "max-fetched-series-per-query")
	code, a = ask("default", "/api/v1/query", `query=sum(fetched{i=~"[0-2]"})`)
	require.Equal(t, http.StatusOK, code, "%+v", a)
	require.Contains(t, string(a.Data), `"3"`, "0+1+2")

	code, a = ask("big", "/api/v1/query", "query=sum(fetched)")
	require.Equal(t, http.StatusOK, code, "%+v", a)
	require.Contains(t, string(a.Data), `"10"`, "0+1+2+3+4")

	code, a = ask("few-bytes", "/api/v1/query", `query=fetched{i="0"}`)
	require.Equal(t, http.StatusUnprocessableEntity, code, "%+v", a)
	require.Contains(t, a.Error, "the query exceeded the aggregated chunk size limit (limit: 1 bytes")
	code, a = ask("few-bytes", "/api/v1/series", `match[]=fetched{i=~"[0-2]"}`)
	require.Equal(t, http.StatusOK, code, "a series lookup reads no chunks: %+v", a)

	require.Equal(t, "2", metricValue(t, s, `sightline_limits_refused_total{reason="max_fetched_series_per_query"}`))
	require.Equal(t, "1", metricValue(t, s, `sightline_limits_refused_total{reason="max_fetched_chunk_bytes_per_query"}`))
}

// A tenant at -limits.alertmanager-max-alerts gets 429 naming the limit for
// alerts it does not hold yet; another tenant posts as before.
func TestAlertmanagerAlertLimit(t *testing.T) {
	s := startServer(t, t.TempDir(), "-limits.alertmanager-max-alerts", "2")
	alerts := func(names ...string) []amAlert {
		var as []amAlert
		for _, n := range names {
			as = append(as, amAlert{Labels: map[string]string{"alertname": n}})
		}
		return as
	}
	require.Equal(t, http.StatusOK, amAs(t, s, "a", http.MethodPost, "/api/v2/alerts", alerts("A1", "A2"), nil))
	require.Equal(t, http.StatusTooManyRequests, amAs(t, s, "a", http.MethodPost, "/api/v2/alerts", alerts("A3"), nil))
	require.Equal(t, http.StatusOK, amAs(t, s, "a", http.MethodPost, "/api/v2/alerts", alerts("A2"), nil), "an alert a holds may be sent again")
	require.Equal(t, http.StatusOK, amAs(t, s, "b", http.MethodPost, "/api/v2/alerts", alerts("B1", "B2"), nil), "a full tenant holds no one else back")
	require.ElementsMatch(t, []string{"A1/a", "A2/a"}, alertNames(t, s, "a"))
	require.ElementsMatch(t, []string{"B1/b", "B2/b"}, alertNames(t, s, "b"))
	require.Equal(t, "1", metricValue(t, s, `sightline_limits_refused_total{reason="alertmanager_max_alerts_count"}`))
}

package statusapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/internal/storetest"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tracestore/tracestoretest"
)

// TestStatus: each tenant sees its own series, records and spans, in the
// head and, once flushed, in segments; a tenant that wrote nothing sees
// zeros, and no answer names another tenant.
func TestStatus(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics, logs, traces := storetest.Metrics(t, reg, nil), storetest.Logs(t, reg, nil), storetest.Traces(t, reg, nil)
	h := tenant.Middleware(Handler(metrics, logs, traces, time.Now()))
	get := func(tenantID, query string) (int, Answer, string) {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/status/sightline"+query, nil)
		if tenantID != "" {
			req.Header.Set(tenant.Header, tenantID)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var body struct {
			Data Answer `json:"data"`
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
		return w.Code, body.Data, w.Body.String()
	}

	ctxA := tenant.With(context.Background(), "team-a")
	app := metrics.Appender(ctxA)
	for i := range 3 {
		_, err := app.Append(0, labels.FromStrings("__name__", "up", "i", string(rune('a'+i))), time.Now().UnixMilli(), 1)
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
	var recs []*logstore.Record
	for range 5 {
		recs = append(recs, &logstore.Record{Timestamp: time.Now().UnixNano(), Body: "hello", BodyType: record.TypeString})
	}
	_, err := logs.Append(ctxA, recs)
	require.NoError(t, err)
	_, err = traces.Append(ctxA, tracestoretest.Trace(1, false))
	require.NoError(t, err)

	code, a, raw := get("team-a", "")
	require.Equal(t, http.StatusOK, code, raw)
	require.Equal(t, "team-a", a.Tenant)
	require.Equal(t, uint64(3), a.Metrics.HeadSeries)
	require.Equal(t, int64(3), a.Metrics.SamplesAppended)
	require.Equal(t, int64(5), a.Logs.Rows)
	require.Equal(t, 5, a.Logs.HeadRows)
	require.Equal(t, int64(5), a.Logs.Appended)
	require.Equal(t, int64(3), a.Traces.Appended)
	require.Positive(t, a.Logs.WALBytes)

	require.NoError(t, logs.Flush())
	require.NoError(t, traces.Flush())
	_, a, _ = get("team-a", "")
	require.Equal(t, int64(5), a.Logs.Rows, "flushed, the records are in a segment")
	require.Equal(t, 0, a.Logs.HeadRows)
	require.Equal(t, 1, a.Logs.Parts)
	require.Positive(t, a.Logs.Bytes)
	require.Equal(t, int64(3), a.Traces.Rows)
	require.Equal(t, 1, a.Traces.Parts)

	// Another tenant, and the default one, see none of it.
	for _, id := range []string{"team-b", ""} {
		code, b, raw := get(id, "")
		require.Equal(t, http.StatusOK, code, raw)
		require.Equal(t, Answer{Tenant: b.Tenant, Time: b.Time, Started: b.Started}, b, "tenant %q sees only zeros", id)
		require.NotContains(t, raw, "team-a")
	}

	code, _, raw = get("team-a", "?tenant=team-b")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, raw, "takes no parameters")
}

package statusapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/sightline-dev/sightline/storage/segstore"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

// Metrics is the metrics store (*tsdbstore.Store).
type Metrics interface {
	Stats(id string) tsdbstore.TenantStats
}

// Rows is the log or the trace store (*logstore.Store, *tracestore.Store).
type Rows interface {
	Stats(ctx context.Context) segstore.TenantStats
}

// Answer is the data of a status answer.
type Answer struct {
	Tenant string `json:"tenant"`
	// Time is when the figures were read: the UI divides the change of
	// the *Total counters between two answers by the change of Time.
	Time    time.Time             `json:"time"`
	Started time.Time             `json:"started"` // when the counters started
	Metrics tsdbstore.TenantStats `json:"metrics"`
	Logs    segstore.TenantStats  `json:"logs"`
	Traces  segstore.TenantStats  `json:"traces"`
}

// Handler serves GET /api/v1/status/sightline behind tenant.Middleware.
func Handler(metrics Metrics, logs, traces Rows, started time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if len(r.URL.Query()) > 0 {
			// It takes none: a parameter is a mistake worth naming.
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": "/api/v1/status/sightline takes no parameters: it answers for the X-Scope-OrgID tenant"})
			return
		}
		id := tenant.FromContext(r.Context())
		ans := Answer{
			Tenant:  id,
			Time:    time.Now().UTC(),
			Started: started.UTC(),
			Metrics: metrics.Stats(id),
			Logs:    logs.Stats(r.Context()),
			Traces:  traces.Stats(r.Context()),
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": ans})
	})
}

package logsapi

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
)

// RecordJSON is a log record in the native API, with every OTLP field.
type RecordJSON struct {
	Timestamp              time.Time      `json:"timestamp"`
	ObservedTimestamp      time.Time      `json:"observedTimestamp"`
	SeverityNumber         int32          `json:"severityNumber"`
	SeverityText           string         `json:"severityText"`
	Body                   any            `json:"body"`
	TraceID                string         `json:"traceId,omitempty"`
	SpanID                 string         `json:"spanId,omitempty"`
	Flags                  uint32         `json:"flags"`
	Resource               map[string]any `json:"resource"`
	Scope                  ScopeJSON      `json:"scope"`
	Attributes             map[string]any `json:"attributes"`
	DroppedAttributesCount uint32         `json:"droppedAttributesCount,omitempty"`
}

// ScopeJSON is the instrumentation scope.
type ScopeJSON struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// ToJSON renders a record, values with their OTLP types.
func ToJSON(r *logstore.Record) RecordJSON {
	out := RecordJSON{
		Timestamp:              time.Unix(0, r.Timestamp).UTC(),
		ObservedTimestamp:      time.Unix(0, r.ObservedTimestamp).UTC(),
		SeverityNumber:         r.SeverityNumber,
		SeverityText:           r.SeverityText,
		Body:                   typed(r.Body, r.BodyType),
		Flags:                  r.Flags,
		Resource:               KVMap(r.Resource),
		Scope:                  ScopeJSON{Name: r.ScopeName, Version: r.ScopeVersion},
		Attributes:             KVMap(r.Attributes),
		DroppedAttributesCount: r.DroppedAttributesCount,
	}
	// The mark of a Loki push's labels is Sightline's, not the sender's.
	delete(out.Resource, logstore.StreamLabelsAttr)
	if r.HasTrace() {
		out.TraceID = hex.EncodeToString(r.TraceID[:])
	}
	if r.SpanID != ([8]byte{}) {
		out.SpanID = hex.EncodeToString(r.SpanID[:])
	}
	return out
}

// KVMap renders attributes, values with their OTLP types.
func KVMap(kvs []record.KV) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = typed(kv.Value, kv.Type)
	}
	return m
}

func typed(s string, t record.ValueType) any {
	switch t {
	case record.TypeInt, record.TypeDouble, record.TypeBool, record.TypeArray, record.TypeMap:
		if json.Valid([]byte(s)) {
			return json.RawMessage(s)
		}
	}
	return s
}

// searchParams reads the query and time range of a native search.
func searchParams(r *http.Request) (query.Query, time.Time, time.Time, error) {
	q, err := logstore.ParseQuery(r.FormValue("query"))
	if err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	start, end, err := timeRange(r)
	return q, start, end, err
}

func (a *API) search(w http.ResponseWriter, r *http.Request) {
	q, start, end, err := searchParams(r)
	if err != nil {
		a.badReq.WithLabelValues("search").Inc()
		writeError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	limit, err := parseInt(r.FormValue("limit"), 100, 10_000)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid limit: %w", err))
		return
	}
	dir := r.FormValue("direction")
	if dir != "" && dir != "backward" && dir != "forward" {
		writeError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid direction %q: backward or forward", dir))
		return
	}
	recs, st, err := a.store.Search(r.Context(), logstore.SearchRequest{
		Query: q, From: start.UnixNano(), To: end.UnixNano(), Limit: limit, Backward: dir != "forward",
	})
	if err != nil {
		a.queryError(w, err)
		return
	}
	out := make([]RecordJSON, len(recs))
	for i, rec := range recs {
		out[i] = ToJSON(rec)
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"records": out, "stats": st}})
}

func (a *API) queryError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, logstore.ErrTooMuchData):
		writeError(w, http.StatusUnprocessableEntity, "too_much_data", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "canceled", err)
	default:
		writeError(w, http.StatusInternalServerError, "internal", err)
	}
}

func (a *API) byTrace(w http.ResponseWriter, r *http.Request) {
	id, err := record.ParseTraceID(strings.ToLower(r.PathValue("id")))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	recs, err := a.store.ByTrace(r.Context(), id)
	if err != nil {
		a.queryError(w, err)
		return
	}
	// A time range is optional: it only narrows the answer.
	var from, to time.Time
	if s := r.FormValue("start"); s != "" {
		if from, err = parseTime(s, time.Time{}); err != nil {
			writeError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid start: %w", err))
			return
		}
	}
	if s := r.FormValue("end"); s != "" {
		if to, err = parseTime(s, time.Time{}); err != nil {
			writeError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid end: %w", err))
			return
		}
	}
	out := []RecordJSON{}
	for _, rec := range recs {
		if (!from.IsZero() && rec.Timestamp < from.UnixNano()) || (!to.IsZero() && rec.Timestamp > to.UnixNano()) {
			continue
		}
		out = append(out, ToJSON(rec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"records": out}})
}

func (a *API) histogram(w http.ResponseWriter, r *http.Request) {
	q, start, end, err := searchParams(r)
	if err != nil {
		a.badReq.WithLabelValues("search").Inc()
		writeError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	step, err := parseDuration(r.FormValue("step"), max(end.Sub(start)/100, time.Second))
	if err != nil || step <= 0 {
		writeError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid step %q", r.FormValue("step")))
		return
	}
	counts, st, err := a.store.Histogram(r.Context(), q, start.UnixNano(), end.UnixNano(), step.Nanoseconds())
	if err != nil {
		if strings.Contains(err.Error(), "buckets") {
			writeError(w, http.StatusBadRequest, "bad_data", err)
			return
		}
		a.queryError(w, err)
		return
	}
	type bucket struct {
		Time  time.Time `json:"time"`
		Count int64     `json:"count"`
	}
	out := make([]bucket, len(counts))
	for i, c := range counts {
		out[i] = bucket{Time: start.Add(time.Duration(i) * step).UTC(), Count: c}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"buckets": out, "stats": st}})
}

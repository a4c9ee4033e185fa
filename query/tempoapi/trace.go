package tempoapi

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// parseTraceID parses a trace ID as Tempo does (pkg/util.HexStringToTraceID):
// hex digits in either case, at most 128 bits, shorter IDs left-padded with
// zeros (64-bit IDs from Jaeger and Zipkin clients, IDs whose leading zeros
// search results trimmed). The messages are Tempo's.
func parseTraceID(s string) ([16]byte, error) {
	var id [16]byte
	if s == "" {
		return id, errors.New("please provide a traceID")
	}
	for i, c := range s {
		if (c < 'a' || c > 'f') && (c < 'A' || c > 'F') && (c < '0' || c > '9') {
			return id, fmt.Errorf("trace IDs can only contain hex characters: invalid character '%c' at position %d", c, i+1)
		}
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	if len(s) > 32 {
		return id, errors.New("trace IDs can't be larger than 128 bits")
	}
	// Checked above: s is an even number of hex digits, so this cannot fail.
	_, _ = hex.Decode(id[16-len(s)/2:], []byte(s))
	return id, nil
}

// traceIDParams validates the optional start and end (unix seconds) of a
// trace by ID request as Tempo does (api.ParseTraceByIDRequest). They only
// narrow where Tempo looks; the store finds a trace by ID at any age, so
// they are not used further.
func traceIDParams(r *http.Request) error {
	q := r.URL.Query()
	var start, end int64
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"start", &start}, {"end", &end}} {
		if s := q.Get(p.name); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("invalid %s: %w", p.name, err)
			}
			*p.dst = v
		}
	}
	if start != 0 && end != 0 && end <= start {
		return fmt.Errorf("http parameter start must be before end. received start=%d end=%d", start, end)
	}
	return nil
}

// findTrace reads the trace of the request's ID. ok is false when an error
// was already answered.
func (a *API) findTrace(w http.ResponseWriter, r *http.Request) (td ptrace.Traces, ok bool) {
	id, err := parseTraceID(r.PathValue("id"))
	if err != nil {
		a.badRequest(w, r, reasonTraceID, err)
		return td, false
	}
	if err := traceIDParams(r); err != nil {
		a.badRequest(w, r, reasonParams, err)
		return td, false
	}
	spans, err := a.store.Trace(r.Context(), id)
	if err != nil {
		a.storeError(w, r, err)
		return td, false
	}
	return ToTraces(spans), true
}

// traceV1 serves /api/traces/<id>: the trace as tempopb.Trace, which is
// OTLP's TracesData on the wire, or in JSON with resourceSpans renamed
// batches; 404 with an empty body when no span of it is stored, as Tempo's
// query frontend answers (modules/frontend/combiner/trace_by_id.go: its
// queriers' 404s leave the combined response a 404 with no message).
func (a *API) traceV1(w http.ResponseWriter, r *http.Request) {
	td, ok := a.findTrace(w, r)
	if !ok {
		return
	}
	if td.SpanCount() == 0 {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if wantsProtobuf(r) {
		b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			a.storeError(w, r, fmt.Errorf("encode trace: %w", err))
			return
		}
		writeProto(w, b)
		return
	}
	writeJSON(w, http.StatusOK, jsonTraceV1{Batches: toJSONTrace(td).ResourceSpans})
}

// traceByIDResponse is tempopb.TraceByIDResponse in JSON. Metrics is
// always set, as Tempo's combiner sets it; status COMPLETE (0) and an empty
// message are left out, as jsonpb does.
type traceByIDResponse struct {
	Trace   jsonTrace        `json:"trace"`
	Metrics traceByIDMetrics `json:"metrics"`
}

type traceByIDMetrics struct {
	InspectedBytes uint64 `json:"inspectedBytes,omitempty,string"`
}

// traceV2 serves /api/v2/traces/<id>: tempopb.TraceByIDResponse. Like
// Tempo it answers 200 with an empty trace ({"trace":{},"metrics":{}})
// when none is found: its v2 combiner (modules/frontend/combiner/
// trace_by_id_v2.go) substitutes an empty trace, and its queriers' v2
// handler never answers 404. Grafana (grafana-tempo-datasource
// pkg/tempo/trace.go getTrace) reports that as "trace with id ... not
// found", and falls back to the v1 API on a 404, so 404 must mean "no v2
// API".
func (a *API) traceV2(w http.ResponseWriter, r *http.Request) {
	td, ok := a.findTrace(w, r)
	if !ok {
		return
	}
	if wantsProtobuf(r) {
		b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			a.storeError(w, r, fmt.Errorf("encode trace: %w", err))
			return
		}
		writeProto(w, traceByIDResponseProto(b))
		return
	}
	writeJSON(w, http.StatusOK, traceByIDResponse{Trace: toJSONTrace(td)})
}

// Field numbers of tempopb.TraceByIDResponse (pkg/tempopb/tempo.proto):
// trace = 1, metrics = 2, status = 3, message = 4.
const (
	fieldTraceByIDTrace   protowire.Number = 1
	fieldTraceByIDMetrics protowire.Number = 2
)

// traceByIDResponseProto wraps a marshalled tempopb.Trace (OTLP TracesData:
// both have their ResourceSpans as field 1) into a TraceByIDResponse. The
// trace is written even when empty: Grafana dereferences it unchecked
// (tr.Trace.ResourceSpans). Metrics is written empty, as Tempo sets it.
func traceByIDResponseProto(trace []byte) []byte {
	b := make([]byte, 0, len(trace)+16)
	b = protowire.AppendTag(b, fieldTraceByIDTrace, protowire.BytesType)
	b = protowire.AppendBytes(b, trace)
	b = protowire.AppendTag(b, fieldTraceByIDMetrics, protowire.BytesType)
	b = protowire.AppendBytes(b, nil)
	return b
}

func writeProto(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/protobuf")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// traces answers a TraceQL search as a table of traces (each trace ID
// opening the trace) or a trace by ID as a trace frame.
func (d *Datasource) traces(ctx context.Context, q Query, tr backend.TimeRange) (data.Frames, error) {
	if q.TracesMode == "traceId" {
		f, err := d.traceFrame(ctx, q.TraceID)
		if err != nil {
			return nil, err
		}
		if f == nil {
			return nil, &apiError{Status: http.StatusNotFound, Message: "trace " + q.TraceID + " not found"}
		}
		return data.Frames{f}, nil
	}
	expr := q.Expr
	if expr == "" {
		expr = "{}"
	}
	var res struct {
		Traces []struct {
			TraceID         string `json:"traceID"`
			RootServiceName string `json:"rootServiceName"`
			RootTraceName   string `json:"rootTraceName"`
			StartTimeUnixNs string `json:"startTimeUnixNano"`
			DurationMs      *int64 `json:"durationMs"`
		} `json:"traces"`
	}
	params := url.Values{"q": {expr}, "limit": {strconv.Itoa(q.Limit)},
		"start": {strconv.FormatInt(tr.From.Unix(), 10)}, "end": {strconv.FormatInt(tr.To.Unix()+1, 10)}}
	if err := d.api.getJSON(ctx, "/api/search", params, &res); err != nil {
		return nil, err
	}
	n := len(res.Traces)
	ids, services, names := make([]string, n), make([]string, n), make([]string, n)
	starts := make([]time.Time, n)
	durations := make([]*float64, n)
	for i, t := range res.Traces {
		// Tempo's search trims the ID's leading zeros; the full 32 digits
		// are what logs and exemplars carry, so links and joins match.
		ids[i], services[i], names[i] = padTraceID(t.TraceID), t.RootServiceName, t.RootTraceName
		ns, err := strconv.ParseInt(t.StartTimeUnixNs, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("malformed startTimeUnixNano %q in the search answer", t.StartTimeUnixNs)
		}
		starts[i] = time.Unix(0, ns).UTC()
		if t.DurationMs != nil { // Tempo leaves it out for traces under 1 ms
			v := float64(*t.DurationMs)
			durations[i] = &v
		}
	}
	dur := data.NewField("duration", nil, durations)
	dur.Config = &data.FieldConfig{Unit: "ms"}
	f := data.NewFrame("Traces",
		withLinks(data.NewField("traceID", nil, ids), d.traceLink(), d.correlateLink(), d.traceLogsLink()),
		data.NewField("startTime", nil, starts),
		withLinks(data.NewField("rootServiceName", nil, services), d.redLinks()...),
		data.NewField("rootTraceName", nil, names),
		dur,
	)
	return data.Frames{f.SetMeta(&data.FrameMeta{
		PreferredVisualization: data.VisTypeTable,
		ExecutedQueryString:    "TraceQL: " + expr,
	})}, nil
}

// padTraceID restores the leading zeros Tempo's search trims from a
// 128-bit trace ID.
func padTraceID(id string) string {
	if len(id) < 32 {
		return strings.Repeat("0", 32-len(id)) + id
	}
	return id
}

// traceFrame reads a trace by ID (Tempo's API, as OTLP protobuf) as the
// frame Grafana's trace view draws, the fields its Tempo datasource
// writes: one row per span. It is nil when no span of the trace is stored.
func (d *Datasource) traceFrame(ctx context.Context, traceID string) (*data.Frame, error) {
	body, err := d.api.do(ctx, http.MethodGet, "/api/traces/"+url.PathEscape(traceID), nil, "application/protobuf")
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Tempo's Trace message ({batches}) is OTLP's TracesData on the wire.
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
	if err != nil {
		return nil, fmt.Errorf("decoding trace %s: %w", traceID, err)
	}
	var (
		traceIDs, spanIDs, parentIDs, names, services, kinds, statusMsgs []string
		scopeNames, scopeVersions, traceStates                           []string
		statusCodes                                                      []int64
		serviceTags, logs, refs, tags                                    []json.RawMessage
		starts, durations                                                []float64
	)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		service := "unknown_service"
		if v, ok := res.Get("service.name"); ok {
			service = v.AsString()
		}
		resTags := keyValues(res)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				traceIDs = append(traceIDs, s.TraceID().String())
				spanIDs = append(spanIDs, s.SpanID().String())
				parentIDs = append(parentIDs, s.ParentSpanID().String())
				names = append(names, s.Name())
				services = append(services, service)
				kinds = append(kinds, strings.ToLower(s.Kind().String()))
				statusCodes = append(statusCodes, int64(s.Status().Code()))
				statusMsgs = append(statusMsgs, s.Status().Message())
				scopeNames = append(scopeNames, ss.Scope().Name())
				scopeVersions = append(scopeVersions, ss.Scope().Version())
				traceStates = append(traceStates, s.TraceState().AsRaw())
				serviceTags = append(serviceTags, resTags)
				starts = append(starts, float64(s.StartTimestamp())/1e6)
				durations = append(durations, float64(s.EndTimestamp()-s.StartTimestamp())/1e6)
				logs = append(logs, spanEvents(s.Events()))
				refs = append(refs, spanLinks(s.Links()))
				tags = append(tags, keyValues(s.Attributes()))
			}
		}
	}
	if len(spanIDs) == 0 {
		return nil, nil
	}
	f := data.NewFrame("Trace",
		withLinks(data.NewField("traceID", nil, traceIDs), d.correlateLink(), d.traceLogsLink()),
		withLinks(data.NewField("spanID", nil, spanIDs), d.spanLogsLink()),
		data.NewField("parentSpanID", nil, parentIDs),
		data.NewField("operationName", nil, names),
		withLinks(data.NewField("serviceName", nil, services), d.redLinks()...),
		data.NewField("kind", nil, kinds),
		data.NewField("statusCode", nil, statusCodes),
		data.NewField("statusMessage", nil, statusMsgs),
		data.NewField("instrumentationLibraryName", nil, scopeNames),
		data.NewField("instrumentationLibraryVersion", nil, scopeVersions),
		data.NewField("traceState", nil, traceStates),
		data.NewField("serviceTags", nil, serviceTags),
		data.NewField("startTime", nil, starts),
		data.NewField("duration", nil, durations),
		data.NewField("logs", nil, logs),
		data.NewField("references", nil, refs),
		data.NewField("tags", nil, tags),
	)
	return f.SetMeta(&data.FrameMeta{PreferredVisualization: data.VisTypeTrace}), nil
}

// keyValue is how the trace view reads tags: [{"key":..., "value":...}].
type keyValue struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

func keyValues(m pcommon.Map) json.RawMessage {
	kvs := make([]keyValue, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		kvs = append(kvs, keyValue{k, v.AsRaw()})
		return true
	})
	b, _ := json.Marshal(kvs)
	return b
}

// spanEvents are a span's events as the trace view's span logs.
func spanEvents(evs ptrace.SpanEventSlice) json.RawMessage {
	type event struct {
		Timestamp float64         `json:"timestamp"` // ms
		Name      string          `json:"name,omitempty"`
		Fields    json.RawMessage `json:"fields"`
	}
	out := make([]event, 0, evs.Len())
	for i := 0; i < evs.Len(); i++ {
		e := evs.At(i)
		out = append(out, event{float64(e.Timestamp()) / 1e6, e.Name(), keyValues(e.Attributes())})
	}
	b, _ := json.Marshal(out)
	return b
}

// spanLinks are a span's links as the trace view's references.
func spanLinks(ls ptrace.SpanLinkSlice) json.RawMessage {
	type ref struct {
		TraceID string          `json:"traceID"`
		SpanID  string          `json:"spanID"`
		Tags    json.RawMessage `json:"tags"`
	}
	out := make([]ref, 0, ls.Len())
	for i := 0; i < ls.Len(); i++ {
		l := ls.At(i)
		out = append(out, ref{l.TraceID().String(), l.SpanID().String(), keyValues(l.Attributes())})
	}
	b, _ := json.Marshal(out)
	return b
}

package tempoapi

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/record"
)

// rootSpanNotYetReceived is what Tempo's search combiner puts in place of
// an empty root service name (pkg/search/util.go).
const rootSpanNotYetReceived = "<root span not yet received>"

// searchResponse is tempopb.SearchResponse as gogo jsonpb writes it (zero
// fields left out, 64-bit integers as strings), except that traces is
// always written, [] when empty, which jsonpb leaves out: the same to
// clients that decode it, safer for those that iterate it.
type searchResponse struct {
	Traces  []traceSearchMetadata `json:"traces"`
	Metrics searchMetrics         `json:"metrics"`
}

type traceSearchMetadata struct {
	TraceID           string     `json:"traceID,omitempty"`
	RootServiceName   string     `json:"rootServiceName,omitempty"`
	RootTraceName     string     `json:"rootTraceName,omitempty"`
	StartTimeUnixNano uint64     `json:"startTimeUnixNano,omitempty,string"`
	DurationMs        uint32     `json:"durationMs,omitempty"`
	SpanSet           *spanSet   `json:"spanSet,omitempty"` // deprecated by Tempo, still read by older Grafanas
	SpanSets          []*spanSet `json:"spanSets,omitempty"`
}

type spanSet struct {
	Spans      []searchSpan   `json:"spans,omitempty"`
	Matched    uint32         `json:"matched,omitempty"`
	Attributes []jsonKeyValue `json:"attributes,omitempty"`
}

type searchSpan struct {
	SpanID            string         `json:"spanID,omitempty"`
	Name              string         `json:"name,omitempty"`
	StartTimeUnixNano uint64         `json:"startTimeUnixNano,omitempty,string"`
	DurationNanos     uint64         `json:"durationNanos,omitempty,string"`
	Attributes        []jsonKeyValue `json:"attributes,omitempty"`
}

type searchMetrics struct {
	InspectedTraces uint32 `json:"inspectedTraces,omitempty"`
	InspectedBytes  uint64 `json:"inspectedBytes,omitempty,string"`
	TotalBlocks     uint32 `json:"totalBlocks,omitempty"`
	CompletedJobs   uint32 `json:"completedJobs,omitempty"`
	TotalJobs       uint32 `json:"totalJobs,omitempty"`
	TotalBlockBytes uint64 `json:"totalBlockBytes,omitempty,string"`
	InspectedSpans  uint64 `json:"inspectedSpans,omitempty,string"`
	BackendReads    uint64 `json:"backendReads,omitempty,string"`
}

// search serves /api/search: a TraceQL query (q) or a legacy tag search
// (tags, minDuration, maxDuration) over [start, end] (unix seconds; the
// last Options.DefaultRange when both are absent). As in Tempo,
// minDuration and maxDuration apply to tag searches only; a TraceQL query
// says its durations itself.
func (a *API) search(w http.ResponseWriter, r *http.Request) {
	req, reason, err := a.parseSearch(r.URL.Query())
	if err != nil {
		a.badRequest(w, r, reason, err)
		return
	}
	traces, stats, err := a.store.Search(r.Context(), req)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	fields := returnedFields(req.Query)
	resp := searchResponse{
		Traces: make([]traceSearchMetadata, 0, len(traces)),
		Metrics: searchMetrics{
			TotalBlocks:    uint32(stats.Segments),
			CompletedJobs:  1,
			TotalJobs:      1,
			InspectedSpans: uint64(stats.SpansScanned),
			BackendReads:   uint64(stats.BlocksRead),
		},
	}
	for i := range traces {
		resp.Traces = append(resp.Traces, a.traceMetadata(&traces[i], fields))
	}
	writeJSON(w, http.StatusOK, resp)
}

// parseSearch reads a search request with Tempo's rules and messages
// (pkg/api/http.go ParseSearchRequest, modules/frontend search_sharder.go
// and search_handlers.go); reason classifies an error for the metric.
func (a *API) parseSearch(vals url.Values) (req traceql.SearchRequest, reason string, err error) {
	bad := func(err error) (traceql.SearchRequest, string, error) {
		return traceql.SearchRequest{}, reasonParams, err
	}
	var start, end uint64
	if s := vals.Get("start"); s != "" {
		if start, err = strconv.ParseUint(s, 10, 32); err != nil {
			return bad(fmt.Errorf("invalid start: %w", err))
		}
	}
	if s := vals.Get("end"); s != "" {
		if end, err = strconv.ParseUint(s, 10, 32); err != nil {
			return bad(fmt.Errorf("invalid end: %w", err))
		}
	}
	q, tagsParam := vals.Get("q"), vals.Get("tags")
	if q != "" && tagsParam != "" {
		return bad(errors.New("invalid request: can't specify tags and q in the same query"))
	}
	tags, err := parseTags(tagsParam)
	if err != nil {
		return bad(err)
	}
	var minDur, maxDur time.Duration
	if s := vals.Get("minDuration"); s != "" {
		if minDur, err = parseDuration(s); err != nil {
			return bad(fmt.Errorf("invalid minDuration: %w", err))
		}
	}
	if s := vals.Get("maxDuration"); s != "" {
		if maxDur, err = parseDuration(s); err != nil {
			return bad(fmt.Errorf("invalid maxDuration: %w", err))
		}
		if minDur != 0 && minDur > maxDur {
			return bad(errors.New("invalid maxDuration: must be greater than minDuration"))
		}
	}
	req.Limit = a.opts.DefaultLimit
	if s := vals.Get("limit"); s != "" {
		limit, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return bad(fmt.Errorf("invalid limit: %w", err))
		}
		if limit == 0 {
			return bad(errors.New("invalid limit: must be a positive number"))
		}
		if limit > uint64(a.opts.MaxLimit) {
			return bad(fmt.Errorf("limit %d exceeds max limit %d", limit, a.opts.MaxLimit))
		}
		req.Limit = int(limit)
	}
	req.SpansPerSpanSet = a.opts.DefaultSpansPerSpanSet
	if s := vals.Get("spss"); s != "" {
		spss, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return bad(fmt.Errorf("invalid spss: %w", err))
		}
		if spss > uint64(a.opts.MaxSpansPerSpanSet) {
			return bad(fmt.Errorf("spans per span set exceeds %d. received %d", a.opts.MaxSpansPerSpanSet, spss))
		}
		if spss > 0 { // 0 is the default, as in Tempo's engine
			req.SpansPerSpanSet = int(spss)
		}
	}
	if start == 0 && end == 0 {
		now := a.now()
		req.From, req.To = now.Add(-a.opts.DefaultRange).UnixNano(), now.UnixNano()
	} else {
		if end <= start {
			return bad(fmt.Errorf("http parameter start must be before end. received start=%d end=%d", start, end))
		}
		if d := time.Duration(end-start) * time.Second; d > a.opts.MaxSearchDuration {
			return bad(fmt.Errorf("range specified by start and end exceeds %s. received start=%d end=%d", a.opts.MaxSearchDuration, start, end))
		}
		req.From, req.To = int64(start)*int64(time.Second), int64(end)*int64(time.Second)
	}

	if q == "" {
		if q, err = tagsQuery(tags, minDur, maxDur); err != nil {
			return bad(err)
		}
	}
	if len(q) > a.opts.MaxQueryBytes {
		return bad(fmt.Errorf("TraceQL expression exceeds the configured maximum size of %d bytes, reduce the query expression size or contact your system administrator", a.opts.MaxQueryBytes))
	}
	if req.Query, err = traceql.Parse(q); err != nil {
		var unsupported *traceql.UnsupportedError
		if errors.As(err, &unsupported) {
			// Valid TraceQL that Sightline does not evaluate: say so rather
			// than call the query invalid.
			return traceql.SearchRequest{}, reasonUnsupported, err
		}
		return traceql.SearchRequest{}, reasonTraceQL, fmt.Errorf("invalid TraceQL query: %w", err)
	}
	return req, "", nil
}

// parseDuration reads a Go duration (what Tempo accepts: 100ms, 1.5s, 1h)
// or a Prometheus one (1d, 1w).
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err == nil {
		return d, nil
	}
	if pd, perr := model.ParseDuration(s); perr == nil {
		return time.Duration(pd), nil
	}
	return 0, err
}

// traceMetadata is one trace of a search result, as Tempo's
// traceql.asTraceSearchMetadata and search combiner write it.
func (a *API) traceMetadata(t *traceql.TraceSummary, fields []traceql.Field) traceSearchMetadata {
	md := traceSearchMetadata{
		TraceID:           a.searchTraceID(t.TraceID),
		RootServiceName:   t.RootServiceName,
		RootTraceName:     t.RootSpanName,
		StartTimeUnixNano: uint64(max(t.Start, 0)),
		DurationMs:        uint32(min(t.Duration.Milliseconds(), int64(^uint32(0)))),
	}
	if md.RootServiceName == "" {
		md.RootServiceName = rootSpanNotYetReceived
	}
	set := &spanSet{Matched: uint32(t.MatchedCount), Spans: make([]searchSpan, 0, len(t.Matched))}
	for _, s := range t.Matched {
		set.Spans = append(set.Spans, searchSpan{
			SpanID:            hex.EncodeToString(s.SpanID[:]),
			Name:              s.Name,
			StartTimeUnixNano: uint64(max(s.Start, 0)),
			DurationNanos:     uint64(s.Duration()),
			Attributes:        matchedAttributes(s, fields),
		})
	}
	// Tempo fills both: spanSet for older Grafanas, spanSets for newer.
	md.SpanSet, md.SpanSets = set, []*spanSet{set}
	return md
}

// searchTraceID is a trace ID as Tempo's search results have it
// (util.TraceIDToHexString): hex with leading zeros trimmed, unless
// Options.PadTraceIDs.
func (a *API) searchTraceID(id [16]byte) string {
	s := hex.EncodeToString(id[:])
	if a.opts.PadTraceIDs {
		return s
	}
	return strings.TrimLeft(s, "0")
}

// returnedFields are the fields a search returns for its matched spans, as
// Tempo does: those the query tests, then those it selects with
// | select(...).
func returnedFields(q *traceql.Query) []traceql.Field {
	var out []traceql.Field
	for _, c := range q.Conditions() {
		out = append(out, c.Field)
	}
	return append(out, q.Selected()...)
}

// matchedAttributes are the values of the fields the query tested or
// selected, as Tempo returns them for matched spans: it fetches only
// those. Like Tempo's, the list leaves out the name, durations and
// trace-level intrinsics, which have their own places in the result, and
// fields the span does not have, and is keyed by attribute name without
// scope.
func matchedAttributes(s *record.Span, fields []traceql.Field) []jsonKeyValue {
	var out []jsonKeyValue
	seen := map[traceql.Field]bool{}
	for _, f := range fields {
		if seen[f] {
			continue
		}
		seen[f] = true
		switch f.Intrinsic {
		case traceql.IntrinsicStatus:
			out = append(out, stringKV("status", record.StatusName(s.StatusCode)))
			continue
		case traceql.IntrinsicKind:
			out = append(out, stringKV("kind", record.KindName(s.Kind)))
			continue
		case traceql.IntrinsicStatusMessage:
			out = append(out, stringKV("statusMessage", s.StatusMessage))
			continue
		case traceql.IntrinsicNone:
		default:
			continue
		}
		var kv *record.KV
		if f.Scope != traceql.ScopeResource {
			kv = findKV(s.Attributes, f.Name)
		}
		if kv == nil && f.Scope != traceql.ScopeSpan {
			kv = findKV(s.Resource, f.Name)
		}
		if kv != nil && !hasKey(out, f.Name) { // .a tested and span.a selected: once
			out = append(out, jsonKeyValue{Key: f.Name, Value: kvJSONValue(*kv)})
		}
	}
	return out
}

func hasKey(kvs []jsonKeyValue, key string) bool {
	for _, kv := range kvs {
		if kv.Key == key {
			return true
		}
	}
	return false
}

func findKV(kvs []record.KV, key string) *record.KV {
	for i := range kvs {
		if kvs[i].Key == key {
			return &kvs[i]
		}
	}
	return nil
}

func stringKV(key, value string) jsonKeyValue {
	return jsonKeyValue{Key: key, Value: jsonAnyValue{StringValue: &value}}
}

// kvJSONValue is a stored value as TraceQL sees it: strings, ints, floats
// and booleans typed, anything else as its text.
func kvJSONValue(kv record.KV) jsonAnyValue {
	switch kv.Type {
	case record.TypeInt:
		if i, err := strconv.ParseInt(kv.Value, 10, 64); err == nil {
			return jsonAnyValue{IntValue: &i}
		}
	case record.TypeDouble:
		if f, err := strconv.ParseFloat(kv.Value, 64); err == nil {
			d := jsonDouble(f)
			return jsonAnyValue{DoubleValue: &d}
		}
	case record.TypeBool:
		if b, err := strconv.ParseBool(kv.Value); err == nil {
			return jsonAnyValue{BoolValue: &b}
		}
	}
	v := kv.Value
	return jsonAnyValue{StringValue: &v}
}

// Package tempoapi serves traces over Grafana Tempo's HTTP API, so that
// Grafana's built-in Tempo datasource (and Tempo's own clients) work against
// Sightline unchanged: trace by ID (/api/traces/<id>, /api/v2/traces/<id>,
// in JSON or protobuf), TraceQL and tag search (/api/search), tag names and
// values (/api/search/tags, /api/v2/search/tags, /api/search/tag/<tag>/values,
// /api/v2/search/tag/<tag>/values), TraceQL metrics
// (/api/metrics/query_range and /api/metrics/query, JSON or protobuf: what
// Explore's "Metrics" query type and the Traces Drilldown app ask for),
// /api/echo and /api/status/buildinfo. Response shapes follow Tempo's (grafana/tempo pkg/tempopb/tempo.proto
// marshalled by gogo jsonpb, as modules/frontend does), down to base64 span
// IDs in trace JSON and hex trace IDs in search results.
//
// Entry points:
//
//   - New builds the API over a Store; NewStore makes one of the trace store
//     (storage/tracestore) and the TraceQL engine (query/traceql.Search).
//     Handler serves it.
//   - ToTraces converts stored spans back into OTLP ptrace.Traces, grouped by
//     resource and scope; other packages use it to export traces.
//
// TraceQL is parsed and evaluated by query/traceql (metrics queries by
// traceql.Metrics, which streams over the spans the store fetches); Tempo's legacy tag
// search (the tags logfmt parameter) is translated into an equivalent
// TraceQL query. Tag names and values come from the store's tag index,
// or, when a request's q narrows them (traceql.ParseTagFilter), from the
// spans the filter matches (traceql.MatchSpans).
package tempoapi

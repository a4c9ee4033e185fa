// Package tracesexporter is the sightline_traces collector exporter: it
// writes the spans of the traces pipeline into the trace store
// (storage/tracestore), keeping every OTLP span field, and hands each
// stored request to the span-metrics generator (ingest/generator) so
// that span metrics and the service graph are derived at ingest, as
// Tempo's metrics-generator does.
//
// Spans with an all-zero trace or span ID are refused and counted; the
// rest of the request is stored and the sender gets InvalidArgument (HTTP
// 400) naming what was refused (OTLP partial success). When the store is
// behind, the whole request is refused with ResourceExhausted (HTTP 429)
// for the sender to retry.
package tracesexporter

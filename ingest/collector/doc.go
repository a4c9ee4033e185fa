// Package collector embeds the OpenTelemetry Collector (otelcol) as Sightline's
// ingest tier: the upstream OTLP receiver (gRPC and HTTP, protobuf and JSON),
// the memory_limiter processor, the deltatocumulative processor for metrics,
// and Sightline's exporters. New builds the collector configuration from
// Options and runs it; a user's own collector configuration file can be merged
// on top to add receivers or processors.
//
// There is no batch processor: it acknowledges data before the exporter has
// written it, which would break Sightline's promise that an acknowledged write
// survives kill -9. OTLP senders batch already, and the exporters append each
// request in one TSDB/WAL transaction.
package collector

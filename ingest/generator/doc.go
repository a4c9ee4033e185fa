// Package generator derives metrics from spans, as Grafana Tempo's
// metrics-generator does: span metrics (request rate, errors and duration
// per operation) and the service graph (requests between services),
// written into Sightline's metrics store so that Grafana's Tempo data source draws its service graph and "RED"
// table from them, and PromQL alerts written for Tempo work unchanged.
//
// The entry points are New, which takes the store as an Appendable
// (*tsdbstore.Store), Generator.Consume, called on the trace ingest path
// with every accepted request, and Start/Stop, which run the flush loop.
//
// # Tempo compatibility
//
// Series names, labels and defaults are those of Tempo's metrics-generator
// (grafana/tempo, modules/generator/processor/spanmetrics and
// servicegraphs), which Grafana queries by name
// (public/app/plugins/datasource/tempo/graphTransform.ts):
//
//   - traces_spanmetrics_calls_total, traces_spanmetrics_size_total and the
//     classic histogram traces_spanmetrics_latency_{bucket,sum,count} (seconds,
//     buckets 2ms…16.384s), labelled service, span_name, span_kind
//     (SPAN_KIND_SERVER…) and status_code (STATUS_CODE_UNSET/OK/ERROR);
//     status_message is not a label, as by default in Tempo, and a resource
//     without service.name has no service label.
//   - traces_service_graph_request_total, traces_service_graph_request_failed_total
//     (from the first failure on) and the histograms
//     traces_service_graph_request_{server,client}_seconds (buckets
//     0.1s…12.8s), labelled client, server and, for messaging, database and
//     virtual-node edges, connection_type.
//
// A service graph edge pairs a CLIENT (or PRODUCER) span with the SERVER (or
// CONSUMER) span whose parent is that client span, in the same trace; either
// may come first, in another request, up to ServiceGraphWait apart. Until
// then the edge waits in a bounded per-tenant store. An edge fails when
// either span has status ERROR. As in Tempo, a client span with database
// attributes is a complete edge to the database, and an edge whose other
// span never came may name a virtual node: "user" (or the peer attribute)
// as the caller of a root server span, the peer.service or db attributes as
// the callee of a client span.
//
// Exemplars carry trace_id and span_id (lowercase hex), the labels
// Prometheus' OTLP translator gives exemplars, on calls_total and on each
// histogram bucket: the latest span of each per flush.
//
// # Cumulative state
//
// Values are cumulative counters held in memory and appended whole at each
// flush, as Tempo's generator remote-writes them. They start from 0 when
// the process starts: a restart is a counter reset, which rate() and
// increase() handle, so nothing needs to be persisted or read back from the
// store, and the store's own WAL keeps what was already appended. A series'
// first sample is preceded by a 0 at the previous flush so that the spans of
// its first interval are not lost to rate().
package generator

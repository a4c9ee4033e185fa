// Package query is the root of Sightline's query languages and HTTP query
// APIs, one pair per signal: promapi (the Prometheus HTTP API over the
// metrics store) with mql (MetricsQL on the PromQL engine) and shard (a
// query's aggregations evaluated on every core); logsapi (the
// native log API and Loki's read API) with logql (LogQL); tempoapi (the
// Tempo HTTP API) with traceql (TraceQL); and correlate, which joins the
// three by trace ID. What writes data in lives in ingest/.
package query

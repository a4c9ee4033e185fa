// Package query is the root of Sightline's query languages and HTTP query
// APIs: mql (MetricsQL on the PromQL engine), promapi (the Prometheus HTTP
// API over the metrics store), logql (LogQL), logsapi (the native log API
// and the Loki HTTP API) and traceql (TraceQL, for the trace store's Tempo
// API).
package query

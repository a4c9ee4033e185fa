// Package logsapi serves logs over HTTP: Sightline's native log API
// (/api/v1/logs/search, /api/v1/logs/trace/<id>, /api/v1/logs/histogram) and
// the Loki HTTP API (/loki/api/v1/...: push, query, query_range, labels,
// label values, series, index/stats, detected_fields, tail) so Grafana's
// built-in Loki datasource, logcli, Promtail, Alloy and Fluent Bit work
// against Sightline unchanged. LogQL is evaluated by package logql.
package logsapi

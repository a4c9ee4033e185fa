// Package logsapi serves logs over HTTP: Sightline's native log API
// (/api/v1/logs/search, /api/v1/logs/trace/<id>, /api/v1/logs/histogram) and
// the Loki HTTP API's read side (/loki/api/v1/...: query, query_range,
// labels, label values, series, index/stats, detected_fields, tail) so
// Grafana's built-in Loki datasource and logcli work against Sightline
// unchanged. LogQL is evaluated by package logql; Loki's push API is
// received by package ingest/lokipush.
package logsapi

// Package promapi serves the Prometheus HTTP API (/api/v1/...) over the
// metrics store, so Grafana's built-in Prometheus datasource, promtool and
// every Prometheus API client work against Sightline unchanged.
//
// The API is Prometheus' own (web/api/v1), not a re-implementation: query,
// query_range, series, labels, label values, query_exemplars, format_query,
// parse_query and the status endpoints keep Prometheus' exact JSON shapes
// and error bodies (remote_write is received by package ingest/remotewrite). Sightline adds what its
// storage knows differently from a scraping Prometheus: /api/v1/metadata
// comes from the metadata seen at ingest, and every query goes through the
// MetricsQL layer (package mql) before the PromQL engine, whose results are
// bounded in bytes (-query.max-response-bytes, responsesize.go) before they
// are encoded.
package promapi

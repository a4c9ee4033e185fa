// Command sightline is the Sightline server: one binary that receives OTLP
// through an embedded OpenTelemetry Collector (:4317 gRPC, :4318 HTTP), stores
// metrics in Prometheus TSDB under ./data, and serves the Prometheus HTTP API,
// remote_write, /metrics, health and pprof on one HTTP port (:9750).
//
// main composes the libraries (storage, query, collector, exporters): it
// parses flags and the optional YAML config file, starts the parts in order
// (storage, HTTP, collector) and stops them in reverse.
package main

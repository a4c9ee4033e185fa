// Command sightline is the Sightline server: one binary that receives OTLP
// through an embedded OpenTelemetry Collector (:4317 gRPC, :4318 HTTP), keeps
// metrics in Prometheus TSDB and logs in its log store under ./data, evaluates
// alert rules with a built-in Alertmanager, and serves the Prometheus, Loki
// and Alertmanager APIs, remote_write, Loki push, /metrics, health and pprof
// on one HTTP port (:9750).
//
// main composes the libraries (storage, query, alerting, collector,
// exporters): it parses flags and the optional YAML config file, starts the
// parts in order (stores, query engine, Alertmanager, rules, collector, HTTP
// port) and stops them in reverse, receivers first so that nothing is
// acknowledged that cannot be stored.
package main

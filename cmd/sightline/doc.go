// Command sightline is the Sightline server: one binary that receives OTLP
// metrics, logs and traces through an embedded OpenTelemetry Collector
// (:4317 gRPC, :4318 HTTP), Prometheus remote_write and Loki push; keeps
// metrics in Prometheus TSDB, logs in its log store and traces in its trace
// store under ./data; evaluates alert rules with a built-in Alertmanager;
// and serves the Prometheus, Loki, Tempo and Alertmanager APIs, the
// correlate call, /metrics, health and pprof on one HTTP port (:9750).
//
// main wires the components (ingest, storage, query, alerting; the README's
// "Layout" maps them): each declares its own settings as flags
// (Options.RegisterFlags), which config.go gathers with the server's own and
// with the optional YAML file of -config.file. run starts the parts in order
// (stores, query engine, Alertmanager and rules, collector, HTTP port) and
// stops them in reverse, receivers first so that nothing is acknowledged
// that cannot be stored.
package main

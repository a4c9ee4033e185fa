// Package plugin is the backend of Sightline's Grafana datasource: one
// datasource for metrics, logs, traces and their correlation by trace ID.
//
// It answers Grafana's plugin calls by calling Sightline's public HTTP API
// (the Prometheus, Loki, Tempo, native log and correlate endpoints) with the
// datasource's tenant (X-Scope-OrgID) and credentials, and turns the answers
// into data frames that follow Grafana's data plane contracts:
//
//   - QueryData: the query types of Query (metrics, logs, logsVolume, traces,
//     correlate); the frames carry data links between the signals, so a log
//     line opens its trace, a span its logs, an exemplar its trace and a
//     service its RED metrics, all in this same datasource.
//   - CheckHealth: Sightline's version and what each signal holds.
//   - CallResource: autocomplete lists (resources.go).
//   - RunStream: live tail of a log query (stream.go).
//
// The plugin keeps no state besides its HTTP client: every tenant boundary is
// Sightline's, enforced by the X-Scope-OrgID the datasource's settings name.
package plugin

// Package exporters holds Sightline's OpenTelemetry Collector exporter
// components, one subpackage per signal, and what they share: the tenant
// of a request (X-Scope-OrgID metadata) and partial-success errors. Each is
// an ordinary collector component (factory.go, config.go) that writes what
// the embedded collector received into Sightline's stores. Their factories
// take the stores, which live in the Sightline process, so they run in the
// collector that Sightline embeds (package ingest/collector), not in a
// collector build of one's own; a user's collector sends to Sightline over
// OTLP instead.
package exporters

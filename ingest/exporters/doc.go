// Package exporters holds Sightline's OpenTelemetry Collector exporter
// components, one subpackage per signal. Each is an ordinary collector
// component (factory.go, config.go) that writes what the collector received
// into Sightline's storage, so it can also run inside a user's own collector
// build.
package exporters

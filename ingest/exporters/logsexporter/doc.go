// Package logsexporter is the collector exporter that writes OTLP logs into
// Sightline's log store (package logstore), keeping every field of every
// record. Like the metrics exporter it is synchronous: a request is
// acknowledged once its records are in the log WAL. Records the store
// refuses (over the size limit) are reported in an InvalidArgument error
// while the rest are kept.
package logsexporter

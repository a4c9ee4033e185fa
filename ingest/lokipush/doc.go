// Package lokipush receives Loki's push API (POST /loki/api/v1/push:
// snappy protobuf, or JSON, optionally gzipped) into the log store, so
// that Promtail, Grafana Alloy and the Docker driver can send logs to
// Sightline unchanged. Stream labels that are Sightline's index labels
// (service_name, k8s_pod_name, ...) become the OTLP resource attributes
// they stand for, a level label the severity, and structured metadata
// the record's attributes (trace_id and span_id its trace context).
package lokipush

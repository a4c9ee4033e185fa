// Package query is the root of Sightline's query languages and HTTP query
// APIs: mql (MetricsQL on the PromQL engine) and promapi (the Prometheus HTTP
// API over the metrics store).
package query

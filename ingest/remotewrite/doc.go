// Package remotewrite receives Prometheus remote_write (1.0 and 2.0) on
// POST /api/v1/write into the metrics store, with Prometheus' own write
// handler (storage/remote): the same validation, error bodies and
// out-of-order handling a Prometheus server with
// --web.enable-remote-write-receiver has. Sightline adds a body-size limit
// (413 naming it) and answers 415 for a body that says it is not protobuf.
package remotewrite

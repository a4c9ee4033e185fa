// Package remotewrite receives Prometheus remote_write (1.0 and 2.0) on
// POST /api/v1/write into the metrics store, answering as a Prometheus
// server with --web.enable-remote-write-receiver does: the same
// validation, status codes, error bodies and out-of-order handling.
//
// Remote_write 1.0, what Prometheus and agents send by default, is read by
// this package's own decoder (fastv1.go), which appends known series by
// their cached head reference without building their labels; a test sends
// the same requests here and to Prometheus' handler and compares answers
// and stores. Remote_write 2.0, and any body that decoder does not read
// exactly as Prometheus would, go to Prometheus' own handler
// (storage/remote). Sightline adds a body-size limit (413 naming it),
// answers 415 for a body that says it is not protobuf, and refuses
// exemplars too far in the future as it refuses samples.
package remotewrite

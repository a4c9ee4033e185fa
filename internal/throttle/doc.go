// Package throttle logs bad-input events at a bounded rate: a flood of bad
// requests must not become a flood of log lines. Every event is still counted
// in a metric by its caller; the log line only shows an example.
package throttle

// Package correlate serves GET /api/v1/correlate/<trace_id>: one trace ID,
// the correlation ID every request carries, opens in one answer the trace
// (its spans, services, root, duration and errors), every log record that
// carries the trace ID (each with its span ID), and the exemplars in the
// metrics store that point at it (series, timestamp, value). Each part is
// read from its store's trace-ID index, with no time range; the answer
// links back to the Tempo and log APIs for the full data.
package correlate

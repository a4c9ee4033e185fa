// Package logstore is Sightline's log store: OTLP log records with every
// field kept, per tenant under <dir>/tenants/<tenant>/logs.
//
// Writes go to the WAL (package wal) in one write per request and into an
// in-memory head; Append returns only then, so acknowledged records survive
// kill -9. A head is cut when it is large or old enough and flushed in the
// background into an immutable columnar segment (package segment) with a
// trace-ID index, per-block word filters, per-row stream and size columns
// and the segment's Loki streams. Segments are merged in the background
// (Merge copies the blocks that do not overlap in time as they are
// stored); merges into large segments also build a bleve full-text index
// with one document per 4 blocks. Retention drops whole hour partitions by
// age and by size.
//
// A record's Loki stream (its index attributes, severity and detected
// level, which may come from its line: DetectedLevel) is worked out once,
// at ingest; records read back get it from their block's stream column.
//
// Reads: Search (bleve query-string syntax, exact per record), ByTrace (an
// index hit in every segment, no time range needed), Histogram, and for the
// Loki API Fetch (stream matchers and line filters pushed down, streamed in
// time order, stopping when the caller has enough), Count (volume queries
// from columns), Labels, LabelValues, Series and Stats.
package logstore

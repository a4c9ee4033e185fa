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
// Reads go through one streaming read, Fetch: stream matchers, line
// filters and native full-text queries (bleve query-string syntax, exact
// per record) pushed down to the choice of blocks (stream lists, word
// filters, full-text indexes), records merged across heads and blocks in
// time order, newest or oldest first, and the read stopping when the caller
// has enough. LogQL log queries, the native Search (a Fetch up to a limit)
// and Histogram use it. Beside it: ByTrace (a trace ID's rows from the
// trace indexes, no time range needed), Count (volume queries from the
// stream and size columns, no record decoded), Labels, LabelValues, Series
// and Stats.
package logstore

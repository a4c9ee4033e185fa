// Package tracestore stores spans on the segment machinery shared with the
// log store (storage/segstore): a request is acknowledged once it is in the
// WAL, heads are flushed into hour-partitioned segments of zstd-compressed
// columns, and retention drops whole partitions.
//
// A segment keeps the spans of one trace together (in a flushed segment,
// traces in the order their first span started, a trace's spans by start
// time; a merge copies its sources' blocks one after the other), so
// reading a trace reads one block or two, and its trace-ID index (mmap'd, behind a
// Bloom filter) makes Trace an index hit in every segment with no time
// range: spans of one trace that arrive minutes apart, and so land in
// different segments, still come back as one trace.
//
// Entry points: Open, Store.Append, Store.Trace, Store.Fetch (the spans a
// TraceQL search may match, for the engine in query/traceql, which this
// package does not import), Store.Tags and Store.TagValues. Spans and the
// fetch types are package record's. The segment format is in
// docs/format/segment.md.
package tracestore

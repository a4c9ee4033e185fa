// Package segstore is the per-tenant write path and life cycle shared by the
// log and trace stores: a WAL (storage/wal) that acknowledges writes, an
// in-memory head that queries read until it is cut, a flush loop that
// writes cut heads into immutable segments (storage/segment), a merge loop
// that combines a partition's segments into larger ones (leveled, one merge
// at a time, crash-safe through the merged segment's lineage), backpressure
// when flushing falls behind (by rows and by bytes), a WAL sync loop (the
// fsync policy), and retention of whole partitions. No lock that queries
// take is held across disk I/O.
//
// A store supplies its own head type, segment format and merge through
// Signal; Store[H] does the rest. Open lays each tenant out under
// <dir>/tenants/<tenant>/<name>/{wal,segments}.
package segstore

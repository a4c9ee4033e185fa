// Package segstore is the per-tenant write path and life cycle shared by the
// log and trace stores: a WAL (storage/wal) that acknowledges writes, an
// in-memory head that queries read until it is cut, a flush loop that
// writes cut heads into immutable segments (storage/segment), backpressure
// when flushing falls behind, and retention of whole partitions.
//
// A store supplies its own head type and segment format through Signal;
// Store[H] does the rest. Open lays each tenant out under
// <dir>/tenants/<tenant>/<name>/{wal,segments}.
package segstore

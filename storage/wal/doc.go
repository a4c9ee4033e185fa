// Package wal is the append-only write-ahead log shared by Sightline's log
// and trace stores. A WAL is a directory of numbered files; each Append
// writes a batch of opaque records, each framed with its length and a
// CRC-32C, in one write(2), so once Append returns the batch survives a
// kill -9 of the process (it is in the kernel's page cache; Sync makes it
// survive a power loss as well).
//
// Replay reads every record back in order and cuts a torn last frame (a
// write interrupted by a crash) instead of failing. Cut starts a new file so
// that everything before it can be deleted with Remove once the caller has
// made it durable elsewhere (flushed to an immutable segment).
//
// On-disk format: see docs/format/wal.md.
package wal

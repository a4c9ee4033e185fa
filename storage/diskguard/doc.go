// Package diskguard stops writes before the disk is full. A Guard watches
// the free space of the data directory's file system; below a minimum
// (-storage.min-free-disk-space, like VictoriaMetrics'
// -storage.minFreeDiskSpaceBytes) the stores refuse appends with
// ErrDiskFull, which the receivers answer 503 / Unavailable naming the
// reason, while reads go on; writes resume by themselves when space comes
// back. The margin keeps the TSDB, the WALs and segment flushes and merges
// from ever meeting ENOSPC in the middle of a write.
package diskguard

// Package segment is the immutable, columnar, compressed segment format and
// the time-partitioned set of segments shared by Sightline's log and trace
// stores.
//
// A segment is a directory holding rows cut into blocks of at most
// BlockRows rows; each block stores each of its columns (opaque bytes,
// encoded by the store with the helpers in colenc.go) compressed with zstd,
// so a query decompresses only the blocks and columns it reads. Beside the
// data, a segment keeps a trace-ID index (sorted trace ID → row, read
// through mmap) and a Bloom filter of its trace IDs, so that finding a trace
// across every segment costs a few memory probes per segment and no scan.
//
// Segments live in hour partitions (<dir>/<YYYYMMDDHH>/<segment>/); Set
// lists the segments overlapping a time range and applies retention by age
// and by size, dropping whole partitions, oldest first.
//
// On-disk format: see docs/format/segment.md.
package segment

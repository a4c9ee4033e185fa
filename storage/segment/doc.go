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
// A store may give each block a token filter (a Bloom filter over 64-bit
// hashes of its choosing, Writer.AddBlock's tokens), so that a search skips
// blocks; Writer.CopyBlock moves a block from one segment to another as it
// is stored, which is what makes merges cheap.
//
// Segments live in hour partitions (<dir>/<YYYYMMDDHH>/<segment>/); Set
// lists the segments overlapping a time range, plans merges (PlanMerge,
// leveled per partition), swaps merged segments in for their sources
// (Replace; a merged segment names its sources, so a crash never doubles
// rows), and applies retention by age and by size, dropping whole
// partitions, oldest first. Data files are opened on demand through a
// process-wide cache of MaxOpenDataFiles, so open descriptors stay bounded
// however many segments there are.
//
// On-disk format: see docs/format/segment.md.
package segment

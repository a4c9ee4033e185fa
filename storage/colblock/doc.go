// Package colblock is the long-term half of the metrics store: Prometheus
// TSDB blocks whose float samples are stored as columnar chunks (a column of
// timestamps, delta-of-delta coded, and a column of values as decimal
// mantissas with a common exponent, delta or delta-of-delta coded, both
// bit-packed with a base and a shift, zstd over the whole where it helps),
// losslessly, instead of Gorilla XOR chunks; whose native histograms are
// columns too (HistogramChunk); whose index has packed postings lists; and
// which keep their exemplars (read from the WAL when the head is compacted;
// ExemplarQuerier). HeadExemplars keeps on disk, until their block is
// written, the head's exemplars that the ring has overwritten. The format
// is in docs/format/metrics-blocks.md.
//
// The TSDB keeps its head, WAL, compaction plan, retention and label index;
// the package plugs into four of its hooks (Configure sets them):
//
//   - NewCompactorFunc: a tsdb.Compactor that writes the head's blocks and
//     merged blocks with columnar chunks and packed postings (Compactor),
//     and that, once a block of the head is written, takes the pages of the
//     head's chunk files it read out of the process' RSS (release_linux.go);
//   - Readers.BlockQuerier and Readers.BlockChunkQuerier: block queriers
//     whose chunk reader decodes them (Pool knows the encoding), sharing
//     each block's mmapped chunk files among queries, and whose index
//     selects a query shard's series from the shards of the block's series,
//     found once per block (shardhash.go), and reads series with the
//     block's symbols, read once per block (symbols.go); a block, or the
//     head, without deletions is read through the package's own series
//     set, whose iterators hand over a columnar chunk's floats a run at a
//     time and reuse a chunk's iterator for the next, and which, for a
//     caller that reads each series once (ReadOnce), reuses one series,
//     its chunks' list and its labels' memory (series.go);
//   - PostingsDecoderFor: packed postings for the blocks that have them.
//
// Options says how the compactor writes; two of them are shared state:
// a CompactionLimit makes the TSDBs of a store take turns to compact, and
// a TSDB's WALExemplars spares it the read of its WAL for exemplars at
// every head compaction while it has none.
//
// A fifth, BlocksToDelete, is set apart, by the store that opens the TSDB
// (Retention needs the opened TSDB): the size retention with the exemplar
// files counted.
//
// What it is not: a query engine (the PromQL engine reads blocks through
// storage.Querier) nor a head (recent samples are in Prometheus' head).
package colblock

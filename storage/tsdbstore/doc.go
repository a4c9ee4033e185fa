// Package tsdbstore is Sightline's metrics store: one Prometheus TSDB per
// tenant under <dir>/tenants/<tenant>/metrics, with WAL, exemplar storage,
// native histograms, an out-of-order window and retention by time and size.
// Its blocks are columnar (package colblock: the TSDB's compactor and block
// querier hooks), and keep their exemplars.
//
// Store implements the Prometheus storage interfaces (storage.Appendable,
// storage.SampleAndChunkQueryable, storage.ExemplarQueryable) and routes every
// call to the TSDB of the tenant found in the call's context, so the PromQL
// engine and the Prometheus HTTP API work on it unchanged. It also keeps the
// metric metadata (type, help, unit) that OTLP and remote_write carry, for
// /api/v1/metadata.
//
// Each tenant's TSDB has a series cache (SeriesRefs, seriesrefs.go) that
// ingest paths share across requests, as Prometheus' scrape cache is shared
// across scrapes. The TSDB runs without isolation, as Mimir's ingesters
// run it: every sample comes pushed, in batches its sender cuts, so there
// is no scrape for a query to see whole (openTSDB says what it saves).
//
// A query reads the blocks that lie before the head and do not overlap one
// after the other (timeorder.go), where the TSDB's Querier merges every
// block's samples of a series through a heap.
//
// Three things Prometheus' TSDB does not do by itself: a commit starts a
// write of the head's full chunks to its chunk files, in the background,
// when the data has moved on 15 minutes (fullchunks.go), not only once a
// minute of wall-clock time, so a sender catching up on hours of data
// does not keep them all on the heap;
// a tenant's queries
// read within its fetch limits (series and chunk bytes, fetchlimit.go), and
// a tenant whose WAL failed to write (a full disk) takes no more appends
// until its TSDB has been closed and opened again (reopen.go), so that the
// torn record the failed write left is cut at replay while it is the last
// one, not with every acknowledged record after it.
package tsdbstore

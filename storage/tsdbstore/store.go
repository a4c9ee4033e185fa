package tsdbstore

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/compression"

	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/storage/colblock"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// Options configure every tenant's TSDB.
type Options struct {
	// Retention drops blocks older than this. 0 keeps data forever.
	Retention time.Duration
	// MaxBytes bounds the size of a tenant's blocks, WAL and head chunks;
	// the oldest blocks go first. 0 means no limit.
	MaxBytes int64
	// OutOfOrderWindow accepts samples up to this much older than the newest
	// one of their series; OTLP senders batch and retry, so some lateness is
	// normal.
	OutOfOrderWindow time.Duration
	// MaxExemplars is the size of each tenant's circular exemplar buffer.
	MaxExemplars int64
	// WALCompression is how WAL records are compressed: snappy or zstd
	// (Prometheus' --storage.tsdb.wal-compression-type). A WAL written
	// with one is read with either.
	WALCompression string
	// CompactionConcurrency is how many tenants' compactions run at once
	// (colblock.CompactionLimit); the others wait their turn.
	CompactionConcurrency int
	// Guard, if not nil, is asked before every append; an error refuses
	// it (diskguard: not enough free disk space). Not a flag.
	Guard interface{ Err() error }
	// Limiter, if not nil, takes every commit's samples from the tenant's
	// allowance, or refuses the commit, bounds the tenant's active series
	// and what one query may read (limits). Not a flag.
	Limiter Limiter
}

// DefaultOptions are the embedded defaults of `sightline` with no flags.
func DefaultOptions() Options {
	return Options{
		Retention:        15 * 24 * time.Hour,
		OutOfOrderWindow: 30 * time.Minute,
		MaxExemplars:     100_000,
		WALCompression:   compression.Snappy,
		// One: on two cores, a compaction leaves the other to ingest,
		// as Mimir's default.
		CompactionConcurrency: 1,
	}
}

// Limiter is what the store asks of a tenant's limits.
type Limiter interface {
	// Ingest takes items from the tenant's allowance, or refuses them.
	Ingest(tenant string, items, bytes int) error
	// MaxSeries admits the tenant, or refuses it (too many tenants), and
	// returns the active series it may have; 0 for no limit.
	MaxSeries(tenant string) (int, error)
	// FetchLimits returns the series and compressed chunk bytes one query
	// of the tenant may read; 0 for no limit.
	FetchLimits(tenant string) (maxSeries int, maxChunkBytes int64)
	// Refused counts a query stopped by the limit named reason.
	Refused(reason string)
}

// RegisterFlags declares the options as flags, with their current values
// as defaults.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	flagext.Duration(fs, &o.Retention, "metrics.retention", "Drop metric blocks older than this (e.g. 15d); 0 keeps everything.")
	flagext.Bytes(fs, &o.MaxBytes, "metrics.retention-size", "Per-tenant size limit of the metrics store (e.g. 50GB); oldest blocks go first; 0 for none.")
	flagext.Duration(fs, &o.OutOfOrderWindow, "metrics.out-of-order-window", "Accept samples up to this much older than the newest of their series.")
	fs.Int64Var(&o.MaxExemplars, "metrics.max-exemplars", o.MaxExemplars, "Exemplars kept per tenant (circular buffer, which starts at 1024 and grows as the tenant sends exemplars); 0 disables exemplar storage.")
	fs.StringVar(&o.WALCompression, "metrics.wal-compression", o.WALCompression, "Compression of the metrics WAL: snappy or zstd.")
	fs.IntVar(&o.CompactionConcurrency, "metrics.compaction-concurrency", o.CompactionConcurrency, "Tenants whose head is written as a block, or whose blocks are merged, at once; the others wait their turn (sightline_metrics_compactions_waiting).")
}

// Store holds one TSDB per tenant. It is safe for concurrent use.
type Store struct {
	dir    string
	opts   Options
	logger *slog.Logger
	reg    prometheus.Registerer
	meta   *metadataIndex
	stats  *appendStats
	// readers are the chunk readers of every tenant's blocks.
	readers *colblock.Readers
	// compactions are the turns the tenants' compactions take.
	compactions *colblock.CompactionLimit

	mu     sync.RWMutex
	dbs    map[string]*tenantDB // guarded by mu; a tenant's DB once opened
	closed bool                 // guarded by mu

	stop    chan struct{}  // closed by Close: reopens stop retrying
	reopens sync.WaitGroup // reopen goroutines
}

// ErrClosed is returned by calls on a closed Store.
var ErrClosed = errors.New("metrics store is closed")

var (
	_ storage.Appendable              = (*Store)(nil)
	_ storage.SampleAndChunkQueryable = (*Store)(nil)
	_ storage.ExemplarQueryable       = (*Store)(nil)
)

// Open opens the store under dir and every tenant TSDB already there, so that
// WAL replay and retention happen at start-up rather than at first use.
func Open(dir string, logger *slog.Logger, reg prometheus.Registerer, opts Options) (*Store, error) {
	if opts.WALCompression != compression.Snappy && opts.WALCompression != compression.Zstd {
		return nil, fmt.Errorf("metrics WAL compression %q: want snappy or zstd", opts.WALCompression)
	}
	stats, err := newAppendStats(reg)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts, logger: logger, reg: reg, meta: newMetadataIndex(), stats: stats, readers: colblock.NewReaders(),
		compactions: colblock.NewCompactionLimit(opts.CompactionConcurrency, reg), dbs: map[string]*tenantDB{}, stop: make(chan struct{})}
	entries, err := os.ReadDir(filepath.Join(dir, "tenants"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || tenant.Validate(e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(s.tenantDir(e.Name())); err != nil {
			continue // a tenant with logs or traces only
		}
		if _, err := s.tenant(e.Name()); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) tenantDir(id string) string {
	return filepath.Join(s.dir, "tenants", id, "metrics")
}

// tenant returns the TSDB of tenant id, opening (and creating) it on first
// use.
func (s *Store) tenant(id string) (*tenantDB, error) {
	s.mu.RLock()
	t, ok := s.dbs[id]
	closed := s.closed
	s.mu.RUnlock()
	if ok {
		return t, nil
	}
	if closed {
		return nil, ErrClosed
	}
	if err := tenant.Validate(id); err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if t, ok := s.dbs[id]; ok {
		return t, nil
	}
	opened, err := s.openTSDB(id)
	if err != nil {
		return nil, err
	}
	t = &tenantDB{openedTSDB: opened}
	s.dbs[id] = t
	return t, nil
}

// walSegmentSize is the size of a WAL segment file. After each head
// compaction TSDB checkpoints and deletes the lower two thirds of the WAL's
// segments but the last, so a WAL of few segments is cut coarsely: with
// Prometheus' 128 MiB, a tenant writing 65 MB of WAL an hour (the
// benchmark's 100k series at 60 s over OTLP) kept all of it until it had
// four segments, seven hours, where three hours are needed; after the
// benchmark's ingest, 226 MB of WAL were on disk beside the block and the
// head's chunks that hold the same samples. Smaller segments are cut
// closer to what the head still needs, at any rate of ingest; each costs
// a file and an fsync when full.
const walSegmentSize = 32 << 20

// headChunksWriteBuffer is the buffer of the head's chunk files. TSDB's
// default, 4 MiB, is held by every tenant once its first chunk is full,
// whatever its size; a series fills a chunk of some 150 bytes every 120
// samples, so 100k series scraped every 15 s fill this one twice a
// minute. Mimir's documentation suggests lowering it for many tenants.
const headChunksWriteBuffer = 256 << 10

// openTSDB opens the TSDB of tenant id, and the exemplar files of its head.
func (s *Store) openTSDB(id string) (openedTSDB, error) {
	o := tsdb.DefaultOptions()
	o.RetentionDuration = s.opts.Retention.Milliseconds()
	o.MaxBlockDuration = maxBlockDuration(s.opts.Retention).Milliseconds()
	o.MaxBytes = s.opts.MaxBytes
	o.OutOfOrderTimeWindow = s.opts.OutOfOrderWindow.Milliseconds()
	o.EnableExemplarStorage = s.opts.MaxExemplars > 0
	o.MaxExemplars = s.opts.MaxExemplars
	o.WALCompression = s.opts.WALCompression
	o.WALSegmentSize = walSegmentSize
	o.HeadChunksWriteBufferSize = headChunksWriteBuffer
	// The head keeps each series' shard hash, for queries split into
	// shards (package shard).
	o.EnableSharding = true
	// Isolation hides from queries the samples of appends not yet
	// committed, so that a query sees a scrape whole or not at all.
	// Sightline scrapes nothing: its samples come in pushed batches that
	// senders cut where they like, and a query may fall between two of a
	// sender's batches anyway. Off, as Mimir's ingesters run TSDB, it
	// saves a ring of append IDs per series (8.5 MB of the 100k-series
	// benchmark's live heap) and their bookkeeping at every commit.
	o.IsolationDisabled = true
	// The head and WAL are Prometheus'; blocks are columnar, and their
	// exemplar files count in the size retention.
	co := colblock.DefaultOptions()
	co.Limit = s.compactions
	co.WALExemplars = &colblock.WALExemplars{}
	colblock.Configure(o, s.readers, co)
	retention := colblock.NewRetention(o.MaxBytes)
	o.BlocksToDelete = retention.BlocksToDelete
	// Each tenant's TSDB registers the same metric names; a tenant label
	// keeps them apart.
	reg := &unregisteringRegistry{Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"tenant": id}, s.reg)}
	logger := s.logger.With("tenant", id)
	db, err := tsdb.Open(s.tenantDir(id), withoutCompactionToggles(logger), reg, o, nil)
	if err != nil {
		reg.unregisterAll()
		return openedTSDB{}, fmt.Errorf("open metrics TSDB of tenant %q: %w", id, err)
	}
	retention.Attach(db)
	refs := newSeriesRefs(time.Now())
	if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sightline_metrics_series_cache_entries",
		Help: "Series that the ingest paths' cache of the tenant's TSDB remembers; an entry unused for 10 to 20 minutes is dropped.",
	}, func() float64 { return float64(refs.Len()) })); err != nil {
		reg.unregisterAll()
		return openedTSDB{}, errors.Join(fmt.Errorf("register the series cache metric of tenant %q: %w", id, err), db.Close())
	}
	var ex *colblock.HeadExemplars // none without exemplar storage
	var ring *exemplarRing
	if o.EnableExemplarStorage {
		if ring, err = newExemplarRing(db, o.MaxExemplars, o.OutOfOrderTimeWindow); err == nil {
			ex, err = colblock.OpenHeadExemplars(db, logger)
		}
		if err != nil {
			reg.unregisterAll()
			return openedTSDB{}, errors.Join(fmt.Errorf("open the exemplars of tenant %q: %w", id, err), db.Close())
		}
	}
	return openedTSDB{db: db, reg: reg, refs: refs, exemplars: ex, walExemplars: co.WALExemplars, chunks: newFullChunks(db), ring: ring}, nil
}

// maxBlockDuration is the longest block the compactor builds out of the
// head's 2-hour blocks, as Prometheus sets it (its
// --storage.tsdb.max-block-duration): a tenth of the retention, at most 31
// days. TSDB's own default is 2 hours, which never merges blocks: a 15-day
// retention would keep ~180 blocks whose index is written for every series
// every 2 hours, and a 15-day query would open all of them.
func maxBlockDuration(retention time.Duration) time.Duration {
	const minBlock, maxBlock = 2 * time.Hour, 31 * 24 * time.Hour
	d := maxBlock
	if retention > 0 && retention/10 < d {
		d = retention / 10
	}
	return max(d, minBlock)
}

// Existing calls f with the TSDB of tenant id and returns true, or returns
// false if the tenant has none: reads never create one. The TSDB is not
// reopened while f runs.
func (s *Store) Existing(id string, f func(*tsdb.DB)) bool {
	return s.existing(id, func(t *tenantDB) { f(t.db) })
}

// existing calls f with the tenant's open TSDB, its mu held for reading.
func (s *Store) existing(id string, f func(*tenantDB)) bool {
	s.mu.RLock()
	t := s.dbs[id]
	s.mu.RUnlock()
	if t == nil {
		return false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.db == nil {
		return false
	}
	f(t)
	return true
}

// Tenants lists the tenants that have a metrics TSDB.
func (s *Store) Tenants() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, 0, len(s.dbs))
	for id := range s.dbs {
		ids = append(ids, id)
	}
	return ids
}

// TenantStats is what one tenant holds in the metrics store, for the
// status API: its head's series, its persisted blocks, and the samples it
// appended since start (from which a caller derives its ingest rate).
type TenantStats struct {
	HeadSeries      uint64 `json:"headSeries"`
	Blocks          int    `json:"blocks"`
	BlockBytes      int64  `json:"blockBytes"`
	SamplesAppended int64  `json:"samplesAppendedTotal"`
}

// Stats returns tenant id's figures; zero for a tenant that has written
// nothing (a read opens no TSDB).
func (s *Store) Stats(id string) TenantStats {
	var st TenantStats
	s.mu.RLock()
	t := s.dbs[id]
	s.mu.RUnlock()
	if t == nil {
		return st
	}
	st.SamplesAppended = t.appended.Load()
	s.Existing(id, func(db *tsdb.DB) {
		st.HeadSeries = db.Head().NumSeries()
		for _, b := range db.Blocks() {
			st.Blocks++
			st.BlockBytes += b.Size()
		}
	})
	return st
}

// closePatience is how long Close waits for a tenant's queries to end.
const closePatience = 10 * time.Second

// Close closes every tenant TSDB; the WAL has everything appended so far.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	s.reopens.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for id, t := range s.dbs {
		// Queries still running after the HTTP server's shutdown get a
		// while to end; then the TSDB is closed under them, as before
		// reopens existed, rather than stopping the shutdown.
		locked := lockWithin(&t.mu, closePatience)
		if err := t.close(); err != nil {
			errs = append(errs, fmt.Errorf("close TSDB of tenant %q: %w", id, err))
		}
		if locked {
			t.mu.Unlock()
		}
	}
	s.dbs = map[string]*tenantDB{}
	return errors.Join(errs...)
}

// Appender returns an appender into the TSDB of the context's tenant. It
// counts appended and rejected samples; rejected ones still return their
// error, and the caller decides what a rejection means for its protocol.
// It is always an Appender (series cache, refusals).
func (s *Store) Appender(ctx context.Context) storage.Appender {
	if s.opts.Guard != nil {
		if err := s.opts.Guard.Err(); err != nil {
			return errAppender{err: err}
		}
	}
	id := tenant.FromContext(ctx)
	maxSeries := 0
	if s.opts.Limiter != nil {
		// Before the TSDB is opened: a tenant refused opens none.
		var err error
		if maxSeries, err = s.opts.Limiter.MaxSeries(id); err != nil {
			return errAppender{err: err}
		}
	}
	t, err := s.tenant(id)
	if err != nil {
		return errAppender{err: err}
	}
	t.mu.RLock() // until Commit or Rollback
	if t.walFailed.Load() || t.db == nil {
		t.mu.RUnlock()
		s.startReopen(id, t) // after a failed reopen at start-up, say
		return errAppender{err: fmt.Errorf("tenant %q: %w", id, ErrReopening)}
	}
	now := time.Now()
	t.refs.Tick(now)
	return &countingAppender{Appender: t.db.Appender(ctx), stats: s.stats, maxTime: timestamp.FromTime(now.Add(maxAhead)),
		refs: t.refs, walExemplars: t.walExemplars, ring: t.ring, chunks: t.chunks, tenant: id, limiter: s.opts.Limiter, head: t.db.Head(), maxSeries: maxSeries, appended: &t.appended,
		release:    t.mu.RUnlock,
		walFailure: func(err error) { s.walWriteFailed(id, t, err) }}
}

// Querier returns a querier that reads the TSDB of each call's tenant.
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{perTenant[storage.Querier]{
		s: s,
		open: func(id string, db *tsdb.DB) (storage.Querier, error) {
			return s.querier(id, db, mint, maxt)
		},
		empty: storage.NoopQuerier(),
	}}, nil
}

// querier is the querier of one query of tenant id: within its fetch
// limits, if it has any.
func (s *Store) querier(id string, db *tsdb.DB, mint, maxt int64) (storage.Querier, error) {
	var maxSeries int
	var maxBytes int64
	if s.opts.Limiter != nil {
		maxSeries, maxBytes = s.opts.Limiter.FetchLimits(id)
	}
	var limit *fetchLimit
	if maxSeries > 0 || maxBytes > 0 {
		limit = &fetchLimit{maxSeries: maxSeries, maxBytes: maxBytes, refused: s.opts.Limiter.Refused, series: map[uint64]struct{}{}}
	}
	q, err := querierInTimeOrder(db, s.queryParts(db, limit), mint, maxt)
	if err != nil || limit == nil {
		return q, err
	}
	return seriesCountingQuerier{Querier: q, limit: limit}, nil
}

// queryParts opens the parts of a query of db, counting the bytes of the
// chunks they read against limit, unless it is nil (Store.querier counts
// the series). The TSDB's sample Querier hides the chunks, so within
// limits the rest reads through its ChunkQuerier, which shows them.
func (s *Store) queryParts(db *tsdb.DB, limit *fetchLimit) queryParts {
	if limit == nil {
		return queryParts{
			block: func(b *tsdb.Block, mint, maxt int64) (storage.Querier, error) {
				return s.readers.BlockQuerier(b, mint, maxt)
			},
			rest: db.Querier,
		}
	}
	return queryParts{
		block: func(b *tsdb.Block, mint, maxt int64) (storage.Querier, error) {
			return s.readers.CountingBlockQuerier(b, mint, maxt, limit.addChunkBytes)
		},
		rest: func(mint, maxt int64) (storage.Querier, error) {
			cq, err := db.ChunkQuerier(mint, maxt)
			if err != nil {
				return nil, err
			}
			return chunkLimitedQuerier{ChunkQuerier: cq, limit: limit}, nil
		},
	}
}

// ChunkQuerier is Querier for remote read.
func (s *Store) ChunkQuerier(mint, maxt int64) (storage.ChunkQuerier, error) {
	return &chunkQuerier{perTenant[storage.ChunkQuerier]{
		s: s,
		open: func(_ string, db *tsdb.DB) (storage.ChunkQuerier, error) {
			return db.ChunkQuerier(mint, maxt)
		},
		empty: storage.NoopChunkedQuerier(),
	}}, nil
}

// ExemplarQuerier returns the exemplar querier of the context's tenant.
func (s *Store) ExemplarQuerier(ctx context.Context) (storage.ExemplarQuerier, error) {
	var q storage.ExemplarQuerier = noExemplars{}
	var err error
	// The ring's exemplars are in memory and the blocks' in files read
	// by path: the querier reads them even if the TSDB is reopened, or a
	// block deleted (it then has none), meanwhile.
	s.existing(tenant.FromContext(ctx), func(t *tenantDB) {
		if q, err = t.db.ExemplarQuerier(ctx); err == nil {
			q = colblock.ExemplarQuerier(q, t.exemplars, t.db.Blocks())
		}
	})
	return q, err
}

type noExemplars struct{}

func (noExemplars) Select(int64, int64, ...[]*labels.Matcher) ([]exemplar.QueryResult, error) {
	return nil, nil
}

// perTenant opens the per-tenant querier of each call lazily: the storage
// interfaces pass the context (and so the tenant) only to Select and the
// label calls, not to Querier. Series sets read from the opened queriers
// until Close, so they are kept until then.
type perTenant[Q io.Closer] struct {
	s     *Store
	open  func(tenant string, db *tsdb.DB) (Q, error)
	empty Q

	mu       sync.Mutex
	opened   map[string]Q // guarded by mu
	releases []func()     // guarded by mu; of the tenants' TSDBs, at Close
}

func (p *perTenant[Q]) get(ctx context.Context) (Q, error) {
	id := tenant.FromContext(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if q, ok := p.opened[id]; ok {
		return q, nil
	}
	p.s.mu.RLock()
	t := p.s.dbs[id]
	p.s.mu.RUnlock()
	if t == nil {
		return p.empty, nil
	}
	t.mu.RLock() // until Close: the TSDB is not reopened under a query
	if t.db == nil {
		t.mu.RUnlock()
		return p.empty, fmt.Errorf("tenant %q: %w", id, ErrReopening)
	}
	q, err := p.open(id, t.db)
	if err != nil {
		t.mu.RUnlock()
		return q, err
	}
	if p.opened == nil {
		p.opened = map[string]Q{}
	}
	p.opened[id] = q
	p.releases = append(p.releases, t.mu.RUnlock)
	return q, nil
}

func (p *perTenant[Q]) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, q := range p.opened {
		errs = append(errs, q.Close())
	}
	for _, release := range p.releases {
		release()
	}
	p.opened, p.releases = nil, nil
	return errors.Join(errs...)
}

type querier struct{ perTenant[storage.Querier] }

// Select reads whole chunks for a query with hints (the engine's, whose
// windows the hints bound: it reads only what lies in them), samples
// beyond the hints' range included. Trimmed to the range, every chunk that
// crosses its start or end is read through an iterator that checks each
// sample against it, and within fetch limits re-encoded without the
// samples beyond it: 9% of the CPU of a day-long rate() over a week of
// blocks, whose columnar chunks span up to a day, and a third of a
// one-hour query's within limits. The parts of a query never overlap
// (querierInTimeOrder: a block's samples lie in its range, the head's
// chunks in 2-hour ranges after the blocks before it), and the TSDB's own
// Querier merges what overlaps sample by sample.
func (q *querier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	tq, err := q.get(ctx)
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	if hints != nil {
		h := *hints
		h.DisableTrimming = true
		hints = &h
	}
	return tq.Select(ctx, sortSeries, hints, ms...)
}

func (q *querier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotationsT, error) {
	tq, err := q.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	return tq.LabelValues(ctx, name, hints, ms...)
}

func (q *querier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotationsT, error) {
	tq, err := q.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	return tq.LabelNames(ctx, hints, ms...)
}

type chunkQuerier struct {
	perTenant[storage.ChunkQuerier]
}

func (q *chunkQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.ChunkSeriesSet {
	tq, err := q.get(ctx)
	if err != nil {
		return storage.ErrChunkSeriesSet(err)
	}
	return tq.Select(ctx, sortSeries, hints, ms...)
}

func (q *chunkQuerier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotationsT, error) {
	tq, err := q.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	return tq.LabelValues(ctx, name, hints, ms...)
}

func (q *chunkQuerier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotationsT, error) {
	tq, err := q.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	return tq.LabelNames(ctx, hints, ms...)
}

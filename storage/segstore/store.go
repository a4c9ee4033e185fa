package segstore

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/storage/segment"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/wal"
)

// Head is the in-memory part of a tenant's store. Rows added to it are never
// changed, so a reader may keep what it took under the tenant's read lock
// while appends go on.
type Head interface {
	// Rows is the number of rows in the head.
	Rows() int
	// MinT is the time of its oldest row (nanoseconds): it names the
	// partition of the segment the head is flushed into.
	MinT() int64
}

// Signal is what a store of one kind of row supplies to Store.
type Signal[H Head] interface {
	// NewHead returns an empty head.
	NewHead() H
	// Replay adds the rows of one WAL record, as written by Append, to h.
	Replay(h H, rec []byte) error
	// OpenSegment attaches the signal's own state to a segment found on
	// disk and returns the WAL sequence number recorded in it by
	// WriteSegment.
	OpenSegment(r *segment.Reader) (walSeq int, err error)
	// WriteHead writes the rows of a cut head into w, recording walSeq in
	// it so that OpenSegment can return it. Store finishes (or aborts) w
	// and then calls OpenSegment on the result.
	WriteHead(w *segment.Writer, h H, walSeq int) error
	// Merge writes the rows of sources, segments of one partition, into w
	// as one segment, recording the highest WAL sequence number of the
	// sources like WriteHead. It reads the sources
	// block by block, so its memory does not grow with their size, and
	// stops with ctx's error when ctx is done.
	Merge(ctx context.Context, w *segment.Writer, sources []*segment.Reader) error
}

// Options configure a Store.
type Options struct {
	// Retention drops partitions whose rows are all older; 0 keeps all.
	Retention time.Duration
	// MaxBytes bounds each tenant's segments; the oldest partitions go
	// first. 0 means no limit.
	MaxBytes int64
	// HeadMaxRows, HeadMaxBytes (of WAL records) and HeadMaxAge decide
	// when the head is cut and flushed.
	HeadMaxRows  int
	HeadMaxBytes int64
	HeadMaxAge   time.Duration
	// MaxPendingRows bounds the rows in memory that wait for a flush (the
	// head and the heads being flushed): above it Append refuses with
	// ErrBackpressure until flushing catches up, instead of growing until
	// the process runs out of memory. 0 means no bound.
	MaxPendingRows int
	// MaxPendingBytes bounds the same by the bytes of their WAL records
	// (rows in memory take about two to three times as much): large
	// records fill memory long before their count does. 0 means no bound.
	MaxPendingBytes int64
	// MergeFanIn and MergeMaxRows are the merge policy (segment.MergePolicy):
	// FanIn segments of a partition below MaxRows rows are merged into one.
	// 0 turns merging off.
	MergeFanIn   int
	MergeMaxRows int
	// WALSyncInterval is how often the WAL is fsynced. 0 fsyncs every
	// append before it is acknowledged. A killed process loses nothing
	// either way (written data is in the page cache); a machine that loses
	// power loses at most the last interval of acknowledged rows.
	WALSyncInterval time.Duration
	// Guard, if not nil, is asked before every append; an error refuses
	// it (diskguard: not enough free disk space). Not a flag.
	Guard interface{ Err() error }
	// Limiter, if not nil, takes every append's rows and bytes from the
	// tenant's allowance, or refuses it (limits). Not a flag.
	Limiter interface {
		Ingest(tenant string, items, bytes int) error
	}
}

// DefaultOptions are the embedded defaults of the log and trace stores.
func DefaultOptions() Options {
	return Options{
		Retention:       7 * 24 * time.Hour,
		HeadMaxRows:     250_000,
		HeadMaxBytes:    64 << 20,
		HeadMaxAge:      2 * time.Minute,
		MaxPendingRows:  1_000_000,
		MaxPendingBytes: 256 << 20,
		MergeFanIn:      8,
		MergeMaxRows:    10_000_000,
		WALSyncInterval: time.Second,
	}
}

// RegisterFlags declares the options that a user sets as flags named
// <signal>.<setting>, with their current values as defaults; rows names
// the rows of the signal (records, spans).
func (o *Options) RegisterFlags(fs *flag.FlagSet, signal, rows string) {
	flagext.Duration(fs, &o.Retention, signal+".retention", "Drop "+signal+" partitions older than this (e.g. 7d); 0 keeps everything.")
	flagext.Bytes(fs, &o.MaxBytes, signal+".retention-size", "Per-tenant size limit of the "+signal+" store (e.g. 50GB); oldest partitions go first; 0 for none.")
	fs.IntVar(&o.HeadMaxRows, signal+".head.max-"+rows, o.HeadMaxRows, "The "+rows+" held in memory (and in the WAL) before they are flushed into a segment.")
	flagext.Duration(fs, &o.HeadMaxAge, signal+".head.max-age", "Longest time "+rows+" wait in memory before they are flushed into a segment.")
	flagext.Duration(fs, &o.WALSyncInterval, signal+".wal.sync-interval", "How often the "+signal+" WAL is fsynced; a power loss loses at most this much of what was acknowledged (a killed process loses nothing). 0 fsyncs every request before acknowledging it.")
	fs.IntVar(&o.MergeMaxRows, signal+".merge.max-"+rows, o.MergeMaxRows, "Segments are merged in the background until they hold this many "+rows+".")
}

// ErrBackpressure is returned by Append while too many rows wait to be
// flushed; the sender should retry later (HTTP 429, gRPC ResourceExhausted).
var ErrBackpressure = errors.New("store is behind with flushing; retry later")

// Store is the store of one signal for every tenant. It is safe for
// concurrent use.
type Store[H Head] struct {
	dir    string
	name   string
	sig    Signal[H]
	opts   Options
	logger *slog.Logger

	flushes     prometheus.Counter
	flushDur    prometheus.Histogram
	merges      prometheus.Counter
	mergeFails  prometheus.Counter
	mergeDur    prometheus.Histogram
	mergedBytes prometheus.Counter

	mu      sync.RWMutex
	tenants map[string]*Tenant[H] // guarded by mu
	closed  bool                  // guarded by mu

	kick      chan struct{}
	mergeKick chan struct{}
	stop      chan struct{}
	ctx       context.Context // done when the store closes: ends a merge
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	mergeMu   sync.Mutex // one merge at a time per store: two cores
}

// Tenant is one tenant's WAL, head and segments.
type Tenant[H Head] struct {
	ID  string
	wal *wal.WAL
	set *segment.Set

	// cutMu is held for reading by appends across their WAL write and
	// head update, and for writing by a cut, so that a cut never separates
	// rows from their WAL file. Queries take only mu, which no one holds
	// across disk I/O.
	cutMu     sync.RWMutex
	mu        sync.RWMutex
	head      H         // guarded by mu
	headBytes int64     // guarded by mu: WAL bytes of the head's rows
	created   time.Time // guarded by mu: when head was started
	flushing  []cutHead[H]

	flushMu sync.Mutex // one flush at a time, in cut order

	appended atomic.Int64 // rows appended since start, for the status API
}

// cutHead is a head cut from the WAL at walSeq, being written to a segment.
type cutHead[H Head] struct {
	head   H
	bytes  int64
	walSeq int // the WAL files below it hold only this head's rows (and older ones)
}

// Open opens the store of signal name (logs, traces) under dir (the data
// dir) and every tenant's data there: segments are opened and the WAL
// replayed into the head. Its self-metrics are named
// sightline_<name>_{segments_flushed_total,flush_duration_seconds,segment_bytes,wal_bytes,
// parts,merges_total,merge_failures_total,merge_duration_seconds,merged_bytes_total}.
func Open[H Head](dir, name string, sig Signal[H], opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Store[H], error) {
	s := &Store[H]{dir: dir, name: name, sig: sig, opts: opts, logger: logger, tenants: map[string]*Tenant[H]{},
		kick: make(chan struct{}, 1), mergeKick: make(chan struct{}, 1), stop: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.flushes = prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_" + name + "_segments_flushed_total", Help: "Heads flushed into segments."})
	s.flushDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sightline_" + name + "_flush_duration_seconds", Help: "Time to write a segment and its indexes.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 10)})
	segBytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sightline_" + name + "_segment_bytes", Help: "Bytes of segments on disk, all tenants."}, func() float64 {
		var n int64
		for _, t := range s.Tenants() {
			_, _, b := t.set.Stats()
			n += b
		}
		return float64(n)
	})
	walBytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sightline_" + name + "_wal_bytes", Help: "Bytes of the WAL, all tenants."}, func() float64 {
		var n int64
		for _, t := range s.Tenants() {
			n += t.wal.Size()
		}
		return float64(n)
	})
	s.merges = prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_" + name + "_merges_total", Help: "Merges of segments into larger ones."})
	s.mergeFails = prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_" + name + "_merge_failures_total", Help: "Merges that failed (their sources stay)."})
	s.mergeDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sightline_" + name + "_merge_duration_seconds", Help: "Time to merge segments into one.", Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 12)})
	s.mergedBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_" + name + "_merged_bytes_total", Help: "Bytes of segments written by merges."})
	parts := &partsCollector[H]{s: s, desc: prometheus.NewDesc("sightline_"+name+"_parts", "Segments on disk by merge level (0: flushed heads), all tenants.", []string{"level"}, nil)}
	for _, c := range []prometheus.Collector{s.flushes, s.flushDur, segBytes, walBytes, s.merges, s.mergeFails, s.mergeDur, s.mergedBytes, parts} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register %s store metrics: %w", name, err)
		}
	}

	entries, err := os.ReadDir(filepath.Join(dir, "tenants"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, "tenants", e.Name(), name)); err != nil || tenant.Validate(e.Name()) != nil {
			continue
		}
		if _, err := s.tenant(e.Name()); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.wg.Add(3)
	go s.flushLoop()
	go s.mergeLoop()
	go s.syncLoop()
	return s, nil
}

// partsCollector reports the segments per merge level.
type partsCollector[H Head] struct {
	s    *Store[H]
	desc *prometheus.Desc
}

func (c *partsCollector[H]) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *partsCollector[H]) Collect(ch chan<- prometheus.Metric) {
	levels := map[int]int{}
	for _, t := range c.s.Tenants() {
		for l, n := range t.set.Levels() {
			levels[l] += n
		}
	}
	for l, n := range levels {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), strconv.Itoa(l))
	}
}

// Tenants returns every tenant that has data.
func (s *Store[H]) Tenants() []*Tenant[H] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Tenant[H], 0, len(s.tenants))
	for _, t := range s.tenants {
		out = append(out, t)
	}
	return out
}

// TenantStats is what one tenant holds in a store, for the status API.
type TenantStats struct {
	Rows     int64 `json:"rows"`     // in segments and in heads not yet flushed
	HeadRows int   `json:"headRows"` // waiting for a flush
	Parts    int   `json:"parts"`    // segments on disk
	Bytes    int64 `json:"bytes"`    // of the segments on disk
	WALBytes int64 `json:"walBytes"`
	// Appended counts the rows appended since start: two readings give
	// the tenant's ingest rate.
	Appended int64 `json:"appendedTotal"`
}

// Stats returns tenant id's figures; zero for a tenant with no data here
// (it creates nothing).
func (s *Store[H]) Stats(id string) TenantStats {
	t := s.Tenant(id)
	if t == nil {
		return TenantStats{}
	}
	parts, rows, bytes := t.set.Stats()
	t.mu.RLock()
	head, _ := t.pendingLocked()
	t.mu.RUnlock()
	return TenantStats{Rows: int64(rows) + int64(head), HeadRows: head, Parts: parts, Bytes: bytes, WALBytes: t.wal.Size(), Appended: t.appended.Load()}
}

// Tenant returns a tenant's store, or nil if it has none: reads create
// nothing.
func (s *Store[H]) Tenant(id string) *Tenant[H] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tenants[id]
}

func (s *Store[H]) tenant(id string) (*Tenant[H], error) {
	if t := s.Tenant(id); t != nil {
		return t, nil
	}
	if err := tenant.Validate(id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("%s store is closed", s.name)
	}
	if t := s.tenants[id]; t != nil {
		return t, nil
	}
	t, err := s.openTenant(id)
	if err != nil {
		return nil, err
	}
	s.tenants[id] = t
	return t, nil
}

func (s *Store[H]) openTenant(id string) (*Tenant[H], error) {
	base := filepath.Join(s.dir, "tenants", id, s.name)
	maxSeq := 0
	set, err := segment.OpenSet(filepath.Join(base, "segments"), func(r *segment.Reader) error {
		seq, err := s.sig.OpenSegment(r)
		maxSeq = max(maxSeq, seq)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open %s segments of tenant %q: %w", s.name, id, err)
	}
	walDir := filepath.Join(base, "wal")
	w, err := wal.Open(walDir)
	if err != nil {
		set.Close()
		return nil, err
	}
	// Files a segment already holds (a crash between its flush and the WAL
	// clean-up) must not be replayed twice.
	if err := w.Remove(maxSeq); err != nil {
		set.Close()
		return nil, err
	}
	t := &Tenant[H]{ID: id, wal: w, set: set, head: s.sig.NewHead(), created: time.Now()}
	err = wal.Replay(walDir, func(rec []byte) error {
		t.headBytes += int64(len(rec))
		return s.sig.Replay(t.head, rec)
	})
	if err != nil {
		set.Close()
		w.Close()
		return nil, fmt.Errorf("replay %s WAL of tenant %q: %w", s.name, id, err)
	}
	return t, nil
}

// Append writes rec (rows rows, encoded as Replay reads them) to the WAL of
// tenant id and then calls add to put the same rows into the head, both
// under the tenant's lock so that a cut never separates rows from their
// WAL file. It returns once the record is in the WAL (and fsynced, with a
// WALSyncInterval of 0), or ErrBackpressure. A failed WAL write fails the
// append and leaves nothing of it in the head.
func (s *Store[H]) Append(id string, rec []byte, rows int, add func(H)) error {
	if s.opts.Guard != nil {
		if err := s.opts.Guard.Err(); err != nil {
			return err
		}
	}
	if s.opts.Limiter != nil {
		if err := s.opts.Limiter.Ingest(id, rows, len(rec)); err != nil {
			return err
		}
	}
	t, err := s.tenant(id)
	if err != nil {
		return err
	}
	t.cutMu.RLock()
	defer t.cutMu.RUnlock()
	t.mu.RLock()
	pending, pendingBytes := t.pendingLocked()
	t.mu.RUnlock()
	if pending > 0 && (s.opts.MaxPendingRows > 0 && pending+rows > s.opts.MaxPendingRows ||
		s.opts.MaxPendingBytes > 0 && pendingBytes+int64(len(rec)) > s.opts.MaxPendingBytes) {
		s.Kick()
		return ErrBackpressure
	}
	if err := t.wal.Append(rec); err != nil {
		return err
	}
	if s.opts.WALSyncInterval == 0 {
		if err := t.wal.Sync(); err != nil {
			return err
		}
	}
	t.mu.Lock()
	add(t.head)
	t.headBytes += int64(len(rec))
	t.appended.Add(int64(rows))
	full := s.full(t)
	t.mu.Unlock()
	if full {
		s.Kick()
	}
	return nil
}

// Kick asks the flush loop to look at the heads now.
func (s *Store[H]) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// pendingLocked counts the rows, and their WAL bytes, waiting for a
// flush; t.mu is held.
func (t *Tenant[H]) pendingLocked() (rows int, bytes int64) {
	rows, bytes = t.head.Rows(), t.headBytes
	for _, c := range t.flushing {
		rows += c.head.Rows()
		bytes += c.bytes
	}
	return rows, bytes
}

// full reports whether t's head is due for a cut by its size; t.mu is held.
func (s *Store[H]) full(t *Tenant[H]) bool {
	return t.head.Rows() >= s.opts.HeadMaxRows || s.opts.HeadMaxBytes > 0 && t.headBytes >= s.opts.HeadMaxBytes
}

// Snapshot is what one query reads of a tenant: take is called, under the
// tenant's read lock, with each head that is not yet in a segment (the ones
// being flushed first, the current head last), and the segments
// overlapping [from, to] are acquired under the same lock, so that a flush
// finishing meanwhile neither hides nor doubles rows. The caller must
// Release each returned segment.
func (t *Tenant[H]) Snapshot(from, to int64, take func(H)) []*segment.Reader {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, c := range t.flushing {
		take(c.head)
	}
	take(t.head)
	return t.set.Acquire(from, to)
}

// Segments returns the tenant's segment set.
func (t *Tenant[H]) Segments() *segment.Set { return t.set }

func (s *Store[H]) flushLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	retain := time.NewTicker(time.Minute)
	defer retain.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.kick:
		case <-retain.C:
			s.ApplyRetention()
			continue
		}
		now := time.Now()
		for _, t := range s.Tenants() {
			t.mu.RLock()
			n, created, full := t.head.Rows(), t.created, s.full(t)
			t.mu.RUnlock()
			if full || (n > 0 && now.Sub(created) >= s.opts.HeadMaxAge) {
				if err := s.flushTenant(t); err != nil {
					s.logger.Error("flushing head failed; its rows stay in the WAL and the head", "store", s.name, "tenant", t.ID, "err", err)
				}
			}
		}
	}
}

// Flush cuts every tenant's head and writes it to a segment now.
func (s *Store[H]) Flush() error {
	var errs []error
	for _, t := range s.Tenants() {
		errs = append(errs, s.flushTenant(t))
	}
	return errors.Join(errs...)
}

// flushTenant writes heads that failed to flush before (oldest first, so
// that WAL files are only removed once everything before them is in a
// segment), then cuts the current head and writes it.
func (s *Store[H]) flushTenant(t *Tenant[H]) error {
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	t.mu.RLock()
	pending := append([]cutHead[H](nil), t.flushing...)
	t.mu.RUnlock()
	for _, c := range pending {
		if err := s.flushHead(t, c); err != nil {
			return err
		}
	}

	// The cut waits for appends in flight, so that every row of the cut
	// head is in a WAL file below seq and no later row is.
	t.cutMu.Lock()
	t.mu.RLock()
	empty := t.head.Rows() == 0
	t.mu.RUnlock()
	if empty {
		t.cutMu.Unlock()
		return nil
	}
	seq, err := t.wal.Cut()
	if err != nil {
		t.cutMu.Unlock()
		return err
	}
	t.mu.Lock()
	c := cutHead[H]{head: t.head, bytes: t.headBytes, walSeq: seq}
	t.head, t.headBytes, t.created = s.sig.NewHead(), 0, time.Now()
	t.flushing = append(t.flushing, c)
	t.mu.Unlock()
	t.cutMu.Unlock()
	// The WAL file just cut is synced (and closed) here, with no lock that
	// appends wait for held.
	if err := t.wal.Sync(); err != nil {
		return err
	}
	return s.flushHead(t, c)
}

// writeSegment writes one segment with write and opens it, ready to add to
// the tenant's set.
func (s *Store[H]) writeSegment(t *Tenant[H], minT int64, lin segment.Lineage, write func(*segment.Writer) error) (*segment.Reader, error) {
	w, err := t.set.NewWriter(minT, lin)
	if err != nil {
		return nil, err
	}
	if err := write(w); err != nil {
		w.Abort()
		return nil, err
	}
	r, err := w.Finish()
	if err != nil {
		return nil, err
	}
	if _, err := s.sig.OpenSegment(r); err != nil {
		r.Drop()
		return nil, err
	}
	return r, nil
}

// flushHead writes a cut head into a segment. Until it succeeds the head
// stays readable in t.flushing and its rows stay in the WAL.
func (s *Store[H]) flushHead(t *Tenant[H], c cutHead[H]) error {
	start := time.Now()
	r, err := s.writeSegment(t, c.head.MinT(), segment.Lineage{}, func(w *segment.Writer) error {
		return s.sig.WriteHead(w, c.head, c.walSeq)
	})
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.set.Add(r)
	for i, f := range t.flushing {
		if f.walSeq == c.walSeq {
			t.flushing = append(t.flushing[:i], t.flushing[i+1:]...)
			break
		}
	}
	t.mu.Unlock()
	s.flushes.Inc()
	s.flushDur.Observe(time.Since(start).Seconds())
	select {
	case s.mergeKick <- struct{}{}:
	default:
	}
	return t.wal.Remove(c.walSeq)
}

func (s *Store[H]) mergeLoop() {
	defer s.wg.Done()
	// Partitions turn cold by the clock, with no flush to say so.
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.mergeKick:
		}
		if err := s.Compact(); err != nil && s.ctx.Err() == nil {
			s.logger.Error("merging segments failed; the sources stay", "store", s.name, "err", err)
		}
	}
}

// Compact merges segments, for every tenant, until the merge policy asks
// for no more. Appends, flushes and queries go on meanwhile.
func (s *Store[H]) Compact() error {
	if s.opts.MergeFanIn <= 0 {
		return nil
	}
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	var errs []error
	for _, t := range s.Tenants() {
		for s.ctx.Err() == nil {
			// Late rows still reach a partition for about a head age after
			// its hour; after that it is merged down as far as it goes.
			p := segment.MergePolicy{FanIn: s.opts.MergeFanIn, MaxRows: s.opts.MergeMaxRows,
				ColdBefore: time.Now().Add(-s.opts.HeadMaxAge - time.Minute).UnixNano()}
			srcs := t.set.PlanMerge(p)
			if srcs == nil {
				break
			}
			err := s.merge(t, srcs)
			for _, r := range srcs {
				r.Release()
			}
			if err != nil {
				s.mergeFails.Inc()
				errs = append(errs, fmt.Errorf("tenant %q: %w", t.ID, err))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// merge writes srcs into one segment and swaps it in for them.
func (s *Store[H]) merge(t *Tenant[H], srcs []*segment.Reader) error {
	start := time.Now()
	lin := segment.Lineage{}
	minT := srcs[0].MinT
	for _, r := range srcs {
		lin.Level = max(lin.Level, r.Level+1)
		lin.Sources = append(lin.Sources, r.Name())
		minT = min(minT, r.MinT)
	}
	merged, err := s.writeSegment(t, minT, lin, func(w *segment.Writer) error {
		return s.sig.Merge(s.ctx, w, srcs)
	})
	if err != nil {
		return err
	}
	if !t.set.Replace(srcs, merged) {
		merged.Drop() // retention took a source meanwhile
		return nil
	}
	s.merges.Inc()
	s.mergeDur.Observe(time.Since(start).Seconds())
	s.mergedBytes.Add(float64(merged.Bytes))
	return nil
}

func (s *Store[H]) syncLoop() {
	defer s.wg.Done()
	if s.opts.WALSyncInterval <= 0 {
		return
	}
	tick := time.NewTicker(s.opts.WALSyncInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		for _, t := range s.Tenants() {
			if err := t.wal.Sync(); err != nil {
				s.logger.Error("syncing the WAL failed", "store", s.name, "tenant", t.ID, "err", err)
			}
		}
	}
}

// ApplyRetention drops partitions past the retention period or the size
// limit, for every tenant.
func (s *Store[H]) ApplyRetention() {
	cutoff := int64(0)
	if s.opts.Retention > 0 {
		cutoff = time.Now().Add(-s.opts.Retention).UnixNano()
	}
	for _, t := range s.Tenants() {
		if n := t.set.Retain(cutoff, s.opts.MaxBytes); n > 0 {
			s.logger.Info("retention dropped segments", "store", s.name, "tenant", t.ID, "segments", n)
		}
	}
}

// Close flushes nothing (the WAL has everything) and closes the store.
func (s *Store[H]) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	close(s.stop)
	s.wg.Wait()
	var errs []error
	for _, t := range s.Tenants() {
		t.flushMu.Lock()
		errs = append(errs, t.wal.Close())
		t.set.Close()
		t.flushMu.Unlock()
	}
	return errors.Join(errs...)
}

package segstore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	// WriteSegment writes a cut head into a new segment of set, recording
	// walSeq in it so that OpenSegment can return it, and returns the
	// segment ready to read (with the signal's state attached).
	WriteSegment(set *segment.Set, h H, walSeq int) (*segment.Reader, error)
}

// Options configure a Store.
type Options struct {
	// Retention drops partitions whose rows are all older; 0 keeps all.
	Retention time.Duration
	// MaxBytes bounds each tenant's segments; the oldest partitions go
	// first. 0 means no limit.
	MaxBytes int64
	// HeadMaxRows and HeadMaxAge decide when the head is cut and flushed.
	HeadMaxRows int
	HeadMaxAge  time.Duration
	// MaxPendingRows bounds the rows in memory that wait for a flush (the
	// head and the heads being flushed): above it Append refuses with
	// ErrBackpressure until flushing catches up, instead of growing until
	// the process runs out of memory. 0 means no bound.
	MaxPendingRows int
}

// DefaultOptions are the embedded defaults of the log and trace stores.
func DefaultOptions() Options {
	return Options{
		Retention:      7 * 24 * time.Hour,
		HeadMaxRows:    250_000,
		HeadMaxAge:     2 * time.Minute,
		MaxPendingRows: 1_000_000,
	}
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

	flushes  prometheus.Counter
	flushDur prometheus.Histogram

	mu      sync.RWMutex
	tenants map[string]*Tenant[H] // guarded by mu
	closed  bool                  // guarded by mu

	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
}

// Tenant is one tenant's WAL, head and segments.
type Tenant[H Head] struct {
	ID  string
	wal *wal.WAL
	set *segment.Set

	mu       sync.RWMutex
	head     H         // guarded by mu
	created  time.Time // guarded by mu: when head was started
	flushing []cutHead[H]

	flushMu sync.Mutex // one flush at a time, in cut order
}

// cutHead is a head cut from the WAL at walSeq, being written to a segment.
type cutHead[H Head] struct {
	head   H
	walSeq int // the WAL files below it hold only this head's rows (and older ones)
}

// Open opens the store of signal name (logs, traces) under dir (the data
// dir) and every tenant's data there: segments are opened and the WAL
// replayed into the head. Its self-metrics are named
// sightline_<name>_{segments_flushed_total,flush_duration_seconds,segment_bytes,wal_bytes}.
func Open[H Head](dir, name string, sig Signal[H], opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Store[H], error) {
	s := &Store[H]{dir: dir, name: name, sig: sig, opts: opts, logger: logger, tenants: map[string]*Tenant[H]{},
		kick: make(chan struct{}, 1), stop: make(chan struct{})}
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
	for _, c := range []prometheus.Collector{s.flushes, s.flushDur, segBytes, walBytes} {
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
	s.wg.Add(1)
	go s.flushLoop()
	return s, nil
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
	err = wal.Replay(walDir, func(rec []byte) error { return s.sig.Replay(t.head, rec) })
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
// WAL file. It returns once the record is in the WAL, or ErrBackpressure.
func (s *Store[H]) Append(id string, rec []byte, rows int, add func(H)) error {
	t, err := s.tenant(id)
	if err != nil {
		return err
	}
	t.mu.Lock()
	if pending := t.pendingLocked(); s.opts.MaxPendingRows > 0 && pending+rows > s.opts.MaxPendingRows && pending > 0 {
		t.mu.Unlock()
		s.Kick()
		return ErrBackpressure
	}
	if err := t.wal.Append(rec); err != nil {
		t.mu.Unlock()
		return err
	}
	add(t.head)
	full := t.head.Rows() >= s.opts.HeadMaxRows
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

// pendingLocked counts the rows waiting for a flush; t.mu is held.
func (t *Tenant[H]) pendingLocked() int {
	n := t.head.Rows()
	for _, c := range t.flushing {
		n += c.head.Rows()
	}
	return n
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
			n, created := t.head.Rows(), t.created
			t.mu.RUnlock()
			if n >= s.opts.HeadMaxRows || (n > 0 && now.Sub(created) >= s.opts.HeadMaxAge) {
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

	t.mu.Lock()
	if t.head.Rows() == 0 {
		t.mu.Unlock()
		return nil
	}
	seq, err := t.wal.Cut()
	if err != nil {
		t.mu.Unlock()
		return err
	}
	c := cutHead[H]{head: t.head, walSeq: seq}
	t.head, t.created = s.sig.NewHead(), time.Now()
	t.flushing = append(t.flushing, c)
	t.mu.Unlock()
	return s.flushHead(t, c)
}

// flushHead writes a cut head into a segment. Until it succeeds the head
// stays readable in t.flushing and its rows stay in the WAL.
func (s *Store[H]) flushHead(t *Tenant[H], c cutHead[H]) error {
	start := time.Now()
	r, err := s.sig.WriteSegment(t.set, c.head, c.walSeq)
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
	return t.wal.Remove(c.walSeq)
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

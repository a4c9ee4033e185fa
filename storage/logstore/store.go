package logstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/sightline-dev/sightline/storage/segment"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/wal"
)

// Options configure the log store.
type Options struct {
	// Retention drops partitions whose records are all older; 0 keeps all.
	Retention time.Duration
	// MaxBytes bounds each tenant's segments; the oldest partitions go
	// first. 0 means no limit.
	MaxBytes int64
	// MaxRecordBytes rejects larger records (counted, reported).
	MaxRecordBytes int
	// HeadMaxRecords and HeadMaxAge decide when the head is cut and
	// flushed into a segment.
	HeadMaxRecords int
	HeadMaxAge     time.Duration
	// MaxScanRecords stops a query that would read more records, with an
	// error that says so.
	MaxScanRecords int
	// MaxPendingRecords bounds the records in memory that wait for a flush
	// (the head and the heads being flushed): above it Append refuses with
	// ErrBackpressure until flushing catches up, instead of growing until
	// the process runs out of memory.
	MaxPendingRecords int
}

// DefaultOptions are the embedded defaults.
func DefaultOptions() Options {
	return Options{
		Retention:         7 * 24 * time.Hour,
		MaxRecordBytes:    256 << 10,
		HeadMaxRecords:    250_000,
		HeadMaxAge:        2 * time.Minute,
		MaxScanRecords:    20_000_000,
		MaxPendingRecords: 1_000_000,
	}
}

// Rejection reasons (label reason of sightline_logs_records_rejected_total).
const (
	ReasonTooLarge     = "too_large"
	ReasonInvalidUTF8  = "invalid_utf8_repaired" // repaired and stored, counted
	ReasonBackpressure = "backpressure"          // refused for now, to be retried
)

// ErrBackpressure is returned by Append while too many records wait to be
// flushed; the sender should retry later (HTTP 429, gRPC ResourceExhausted).
var ErrBackpressure = errors.New("log store is behind with flushing; retry later")

// ErrTooMuchData is returned by a query that would read more than
// MaxScanRecords records.
var ErrTooMuchData = errors.New("query would read too much data")

// Store is the log store of every tenant. It is safe for concurrent use.
type Store struct {
	dir    string
	opts   Options
	logger *slog.Logger
	im     *mapping.IndexMappingImpl
	m      *storeMetrics

	mu      sync.RWMutex
	tenants map[string]*tenantStore // guarded by mu
	closed  bool                    // guarded by mu

	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
}

type storeMetrics struct {
	appended prometheus.Counter
	rejected *prometheus.CounterVec
	flushes  prometheus.Counter
	flushDur prometheus.Histogram
}

// tenantStore is one tenant's WAL, head and segments.
type tenantStore struct {
	id  string
	wal *wal.WAL
	set *segment.Set

	mu       sync.RWMutex
	head     *head   // guarded by mu
	flushing []*head // guarded by mu: cut, being written to segments

	flushMu sync.Mutex // one flush at a time, in cut order
}

// logMeta is a log segment's own metadata (logmeta.json).
type logMeta struct {
	// WALSeq: the segment holds every record of the WAL files below it.
	WALSeq  int            `json:"walSeq"`
	Streams []*streamStats `json:"streams"`
	// BlocksPerDoc is how many blocks one full-text document covers.
	BlocksPerDoc int `json:"blocksPerDoc"`
}

// segExtra is what a log segment carries besides its rows.
type segExtra struct {
	index bleve.Index
	meta  logMeta
}

func (e *segExtra) Close() error { return e.index.Close() }

// Open opens the log store under dir (the data dir) and every tenant's logs
// there: segments are opened and the WAL replayed into the head.
func Open(dir string, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	im, err := newIndexMapping()
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts, logger: logger, im: im, tenants: map[string]*tenantStore{},
		kick: make(chan struct{}, 1), stop: make(chan struct{})}
	s.m = &storeMetrics{
		appended: prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_logs_records_appended_total", Help: "Log records written to the log store."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_logs_records_rejected_total", Help: "Log records refused (or repaired) by the log store, by reason."}, []string{"reason"}),
		flushes:  prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_logs_segments_flushed_total", Help: "Heads flushed into segments."}),
		flushDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sightline_logs_flush_duration_seconds", Help: "Time to write a segment and its indexes.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 10)}),
	}
	for _, r := range []string{ReasonTooLarge, ReasonInvalidUTF8, ReasonBackpressure} {
		s.m.rejected.WithLabelValues(r)
	}
	stats := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sightline_logs_segment_bytes", Help: "Bytes of log segments on disk, all tenants."}, func() float64 {
		var n int64
		for _, t := range s.snapshotTenants() {
			_, _, b := t.set.Stats()
			n += b
		}
		return float64(n)
	})
	walBytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sightline_logs_wal_bytes", Help: "Bytes of the log WAL, all tenants."}, func() float64 {
		var n int64
		for _, t := range s.snapshotTenants() {
			n += t.wal.Size()
		}
		return float64(n)
	})
	for _, c := range []prometheus.Collector{s.m.appended, s.m.rejected, s.m.flushes, s.m.flushDur, stats, walBytes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register log store metrics: %w", err)
		}
	}

	entries, err := os.ReadDir(filepath.Join(dir, "tenants"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, "tenants", e.Name(), "logs")); err != nil || tenant.Validate(e.Name()) != nil {
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

func (s *Store) snapshotTenants() []*tenantStore {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*tenantStore, 0, len(s.tenants))
	for _, t := range s.tenants {
		out = append(out, t)
	}
	return out
}

// existing returns a tenant's store if it has one; reads create nothing.
func (s *Store) existing(id string) *tenantStore {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tenants[id]
}

func (s *Store) tenant(id string) (*tenantStore, error) {
	if t := s.existing(id); t != nil {
		return t, nil
	}
	if err := tenant.Validate(id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("log store is closed")
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

func (s *Store) openTenant(id string) (*tenantStore, error) {
	base := filepath.Join(s.dir, "tenants", id, "logs")
	maxSeq := 0
	set, err := segment.OpenSet(filepath.Join(base, "segments"), func(r *segment.Reader) error {
		x, err := openExtra(r.Dir())
		if err != nil {
			return err
		}
		r.SetExtra(x)
		maxSeq = max(maxSeq, x.meta.WALSeq)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open log segments of tenant %q: %w", id, err)
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
	t := &tenantStore{id: id, wal: w, set: set, head: newHead(time.Now().UnixNano())}
	cache := streamCache{}
	err = wal.Replay(walDir, func(rec []byte) error {
		d := segment.Dec{B: rec}
		for len(d.B) > 0 {
			r := &Record{}
			r.decode(&d)
			if d.Err != nil {
				return fmt.Errorf("replay log WAL of tenant %q: %w", id, d.Err)
			}
			sk := streamOf(r, cache)
			t.head.add(r, sk.labels, sk.key)
		}
		return nil
	})
	if err != nil {
		set.Close()
		w.Close()
		return nil, err
	}
	return t, nil
}

func openExtra(dir string) (*segExtra, error) {
	b, err := os.ReadFile(filepath.Join(dir, "logmeta.json"))
	if err != nil {
		return nil, fmt.Errorf("open log segment %s: %w", dir, err)
	}
	x := &segExtra{}
	if err := json.Unmarshal(b, &x.meta); err != nil {
		return nil, fmt.Errorf("open log segment %s: logmeta.json: %w", dir, err)
	}
	for _, st := range x.meta.Streams {
		st.Labels = labels.FromMap(st.LabelsM)
	}
	if x.meta.BlocksPerDoc <= 0 {
		return nil, fmt.Errorf("open log segment %s: logmeta.json: blocksPerDoc %d", dir, x.meta.BlocksPerDoc)
	}
	if x.index, err = openIndex(dir); err != nil {
		return nil, fmt.Errorf("open full-text index of %s: %w", dir, err)
	}
	return x, nil
}

type streamKey struct {
	labels labels.Labels
	key    string
}

// streamCache remembers stream labels per resource and severity. Records
// of one request (or one block) share their resource's attribute slice,
// so its first element's address identifies the resource without building
// a key from its attributes for every record.
type streamCache map[streamCacheKey]streamKey

type streamCacheKey struct {
	resource *KV // &Resource[0], nil for no attributes
	sevText  string
	sevNum   int32
}

// streamOf computes a record's stream labels, once per distinct resource
// and severity in cache.
func streamOf(r *Record, cache streamCache) streamKey {
	ck := streamCacheKey{sevText: r.SeverityText, sevNum: r.SeverityNumber}
	if len(r.Resource) > 0 {
		ck.resource = &r.Resource[0]
	}
	if sk, ok := cache[ck]; ok {
		return sk
	}
	ls := StreamLabels(r)
	sk := streamKey{labels: ls, key: ls.String()}
	cache[ck] = sk
	return sk
}

// AppendResult tells what Append did with a request.
type AppendResult struct {
	Accepted int
	// Rejected counts refused records by reason.
	Rejected map[string]int
	// Repaired counts records whose invalid UTF-8 was replaced.
	Repaired int
}

// Append stores records for the tenant of ctx. It returns once they are in
// the WAL. Records over the size limit are refused and reported in the
// result; the others are stored.
func (s *Store) Append(ctx context.Context, recs []*Record) (AppendResult, error) {
	res := AppendResult{Rejected: map[string]int{}}
	t, err := s.tenant(tenant.FromContext(ctx))
	if err != nil {
		return res, err
	}
	var enc segment.Enc
	kept := recs[:0:0]
	now := time.Now().UnixNano()
	for _, r := range recs {
		if r.Size() > s.opts.MaxRecordBytes {
			res.Rejected[ReasonTooLarge]++
			s.m.rejected.WithLabelValues(ReasonTooLarge).Inc()
			continue
		}
		if r.Repair() {
			res.Repaired++
			s.m.rejected.WithLabelValues(ReasonInvalidUTF8).Inc()
		}
		if r.ObservedTimestamp == 0 {
			r.ObservedTimestamp = now
		}
		if r.Timestamp == 0 {
			r.Timestamp = r.ObservedTimestamp
		}
		r.encode(&enc)
		kept = append(kept, r)
	}
	if len(kept) == 0 {
		return res, nil
	}
	cache := streamCache{}
	keys := make([]streamKey, len(kept))
	for i, r := range kept {
		keys[i] = streamOf(r, cache)
	}

	t.mu.Lock()
	if s.opts.MaxPendingRecords > 0 && t.pendingLocked()+len(kept) > s.opts.MaxPendingRecords && t.pendingLocked() > 0 {
		t.mu.Unlock()
		s.m.rejected.WithLabelValues(ReasonBackpressure).Add(float64(len(kept)))
		select {
		case s.kick <- struct{}{}:
		default:
		}
		return res, ErrBackpressure
	}
	// The WAL write and the head update happen under one lock so that a
	// cut never separates a record from its WAL file.
	if err := t.wal.Append(enc.B); err != nil {
		t.mu.Unlock()
		return res, err
	}
	for i, r := range kept {
		t.head.add(r, keys[i].labels, keys[i].key)
	}
	full := len(t.head.recs) >= s.opts.HeadMaxRecords
	t.mu.Unlock()

	res.Accepted = len(kept)
	s.m.appended.Add(float64(len(kept)))
	if full {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return res, nil
}

// pendingLocked counts the records waiting for a flush; t.mu is held.
func (t *tenantStore) pendingLocked() int {
	n := len(t.head.recs)
	for _, h := range t.flushing {
		n += len(h.recs)
	}
	return n
}

func (s *Store) flushLoop() {
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
		for _, t := range s.snapshotTenants() {
			t.mu.RLock()
			n, created := len(t.head.recs), t.head.created
			t.mu.RUnlock()
			if n >= s.opts.HeadMaxRecords || (n > 0 && now.Sub(time.Unix(0, created)) >= s.opts.HeadMaxAge) {
				if err := s.flushTenant(t); err != nil {
					s.logger.Error("flushing log head failed; its records stay in the WAL and the head", "tenant", t.id, "err", err)
				}
			}
		}
	}
}

// Flush cuts every tenant's head and writes it to a segment now.
func (s *Store) Flush() error {
	var errs []error
	for _, t := range s.snapshotTenants() {
		errs = append(errs, s.flushTenant(t))
	}
	return errors.Join(errs...)
}

// flushTenant writes heads that failed to flush before (oldest first, so
// that WAL files are only removed once everything before them is in a
// segment), then cuts the current head and writes it.
func (s *Store) flushTenant(t *tenantStore) error {
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	t.mu.RLock()
	pending := append([]*head(nil), t.flushing...)
	t.mu.RUnlock()
	for _, h := range pending {
		if err := s.flushHead(t, h); err != nil {
			return err
		}
	}

	t.mu.Lock()
	if len(t.head.recs) == 0 {
		t.mu.Unlock()
		return nil
	}
	seq, err := t.wal.Cut()
	if err != nil {
		t.mu.Unlock()
		return err
	}
	h := t.head
	h.walSeq = seq
	t.head = newHead(time.Now().UnixNano())
	t.flushing = append(t.flushing, h)
	t.mu.Unlock()
	return s.flushHead(t, h)
}

// flushHead writes a cut head into a segment. Until it succeeds the head
// stays readable in t.flushing and its records stay in the WAL.
func (s *Store) flushHead(t *tenantStore, h *head) error {
	start := time.Now()
	r, err := s.writeSegment(t, h)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.set.Add(r)
	for i, f := range t.flushing {
		if f == h {
			t.flushing = append(t.flushing[:i], t.flushing[i+1:]...)
			break
		}
	}
	t.mu.Unlock()
	s.m.flushes.Inc()
	s.m.flushDur.Observe(time.Since(start).Seconds())
	return t.wal.Remove(h.walSeq)
}

func (s *Store) writeSegment(t *tenantStore, h *head) (*segment.Reader, error) {
	recs := append([]*Record(nil), h.recs...)
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Timestamp < recs[j].Timestamp })
	w, err := t.set.NewWriter(recs[0].Timestamp)
	if err != nil {
		return nil, err
	}
	var blocks [][]*Record
	cache := streamCache{}
	streams := map[string]*streamStats{}
	var order []string
	for b := 0; b*segment.BlockRows < len(recs); b++ {
		blk := recs[b*segment.BlockRows : min((b+1)*segment.BlockRows, len(recs))]
		blocks = append(blocks, blk)
		if err := w.AddBlock(blk[0].Timestamp, blk[len(blk)-1].Timestamp, len(blk), encodeBlock(blk)); err != nil {
			w.Abort()
			return nil, err
		}
		for i, r := range blk {
			if r.HasTrace() {
				w.AddTraceIDs(segment.TraceRow{ID: r.TraceID, Row: uint32(b*segment.BlockRows + i)})
			}
			sk := streamOf(r, cache)
			st := streams[sk.key]
			if st == nil {
				st = &streamStats{Labels: sk.labels, LabelsM: sk.labels.Map(), MinT: r.Timestamp, MaxT: r.Timestamp}
				streams[sk.key] = st
				order = append(order, sk.key)
			}
			if n := len(st.Blocks); n == 0 || st.Blocks[n-1] != b {
				st.Blocks = append(st.Blocks, b)
			}
			st.Entries++
			st.Bytes += int64(len(r.Body))
			st.MinT, st.MaxT = min(st.MinT, r.Timestamp), max(st.MaxT, r.Timestamp)
		}
	}
	if err := buildIndex(filepath.Join(w.Dir(), "fts"), s.im, blocks); err != nil {
		w.Abort()
		return nil, err
	}
	meta := logMeta{WALSeq: h.walSeq, BlocksPerDoc: blocksPerDoc}
	for _, k := range order {
		meta.Streams = append(meta.Streams, streams[k])
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		w.Abort()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(w.Dir(), "logmeta.json"), mb, 0o644); err != nil {
		w.Abort()
		return nil, err
	}
	r, err := w.Finish()
	if err != nil {
		return nil, err
	}
	x, err := openExtra(r.Dir())
	if err != nil {
		r.Release()
		return nil, err
	}
	r.SetExtra(x)
	return r, nil
}

// ApplyRetention drops partitions past the retention period or the size
// limit, for every tenant.
func (s *Store) ApplyRetention() {
	cutoff := int64(0)
	if s.opts.Retention > 0 {
		cutoff = time.Now().Add(-s.opts.Retention).UnixNano()
	}
	for _, t := range s.snapshotTenants() {
		if n := t.set.Retain(cutoff, s.opts.MaxBytes); n > 0 {
			s.logger.Info("log retention dropped segments", "tenant", t.id, "segments", n)
		}
	}
}

// Close flushes nothing (the WAL has everything) and closes the store.
func (s *Store) Close() error {
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
	for _, t := range s.snapshotTenants() {
		t.flushMu.Lock()
		errs = append(errs, t.wal.Close())
		t.set.Close()
		t.flushMu.Unlock()
	}
	return errors.Join(errs...)
}

package tsdbstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/wlog"
	"github.com/sightline-dev/sightline/storage/colblock"
)

// ErrReopening refuses a tenant's appends (and answers its reads, should
// the reopen fail) between a failed write of its WAL and the reopen of its
// TSDB; senders retry.
var ErrReopening = errors.New("the tenant's metrics WAL failed to write; its TSDB is being reopened")

// tenantDB is one tenant's TSDB, which may be reopened.
//
// Why reopen: when a WAL page write fails (ENOSPC) in the middle of a
// record that spans pages, Prometheus' WAL keeps the first part in its page
// and writes it with the next records once it can: a torn record, in front
// of later acknowledged ones. At the next start-up, replay stops at it and
// the repair deletes everything after it. And a commit that failed had
// created its new series in the head all the same, so later samples of
// them are logged without their series record and dropped at replay. So
// after a failed WAL write nothing more is written to that TSDB: it is
// closed and opened again, which replays the WAL, cuts the torn record
// while it is the last one, and forgets the series that never reached the
// WAL, and only then are appends taken again.
type tenantDB struct {
	// mu is held for reading by every user of db (an appender until its
	// Commit or Rollback, a querier until its Close) and for writing by
	// reopen, which replaces the openedTSDB.
	mu         sync.RWMutex
	openedTSDB // guarded by mu

	// walFailed is set by a commit that failed to write the WAL and
	// cleared by the reopen; appends are refused meanwhile.
	walFailed atomic.Bool
	reopening atomic.Bool // a reopen goroutine runs

	// appended counts the samples committed since start, for the
	// tenant's ingest rate on the status API (the TSDB's own counter
	// starts again when it is reopened).
	appended atomic.Int64
}

// openedTSDB is what openTSDB opens for a tenant, and a reopen replaces.
type openedTSDB struct {
	db   *tsdb.DB               // nil while a reopen fails
	reg  *unregisteringRegistry // db's metrics
	refs *SeriesRefs            // the references db gave
	// exemplars are db's head exemplars on disk.
	exemplars *colblock.HeadExemplars
	// walExemplars tells db's compactor whether its WAL may hold
	// exemplars; a commit that wrote some says so.
	walExemplars *colblock.WALExemplars
	// chunks writes db's full head chunks out as commits move it on.
	chunks *fullChunks
	// ring grows db's exemplar ring as exemplars come; nil without one.
	ring *exemplarRing
}

// walWriteFailed marks t's WAL failed and reopens it in the background.
// Callers may hold t.mu for reading: the reopen waits for them.
func (s *Store) walWriteFailed(id string, t *tenantDB, err error) {
	t.walFailed.Store(true)
	s.logger.Error("writing the metrics WAL failed; appends are refused until the tenant's TSDB is reopened", "tenant", id, "err", err)
	s.startReopen(id, t)
}

// startReopen starts the reopen of t, unless one runs or the store is
// closed.
func (s *Store) startReopen(id string, t *tenantDB) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed || !t.reopening.CompareAndSwap(false, true) {
		return
	}
	s.reopens.Add(1)
	go func() {
		defer s.reopens.Done()
		defer t.reopening.Store(false)
		s.reopen(id, t)
	}()
}

// reopenRetry is how long a failed reopen, or one waiting for disk space,
// waits before it tries again.
const reopenRetry = time.Second

// reopen closes and opens the tenant's TSDB once there is disk space for
// it, trying again until it succeeds or the store closes. Until then the
// TSDB stays open for reads.
func (s *Store) reopen(id string, t *tenantDB) {
	retry := time.NewTicker(reopenRetry)
	defer retry.Stop()
	for {
		if s.roomToReopen(id) == nil {
			err := s.reopenOnce(id, t)
			if err == nil {
				s.logger.Info("reopened the tenant's metrics TSDB; appends are taken again", "tenant", id)
				return
			}
			s.logger.Error("reopening the tenant's metrics TSDB failed; trying again", "tenant", id, "err", err)
		}
		select {
		case <-s.stop:
			return
		case <-retry.C:
		}
	}
}

// reopenPatience is how long a reopen waits for a moment when no query
// reads the TSDB before it makes new queries wait for it.
const reopenPatience = 30 * time.Second

// lockWithin locks mu for writing if it can within d, taking only a
// moment when no one holds it, so that readers are not made to wait
// meanwhile, as a waiting Lock would make them.
func lockWithin(mu *sync.RWMutex, d time.Duration) bool {
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(d); ; <-poll.C {
		if mu.TryLock() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// reopenHeadroom is the free space a reopen needs besides a copy of the
// WAL's last segment: a new segment and head chunk file begin.
const reopenHeadroom = 8 << 20

// roomToReopen is nil if the disk guard allows writes and the tenant's
// file system has room for a reopen: the repair of a torn WAL record
// rewrites the segment it is in, the last one, into a new file.
func (s *Store) roomToReopen(id string) error {
	if s.opts.Guard != nil {
		if err := s.opts.Guard.Err(); err != nil {
			return err
		}
	}
	walDir := filepath.Join(s.tenantDir(id), "wal")
	_, last, err := wlog.Segments(walDir)
	if err != nil {
		return err
	}
	need := int64(reopenHeadroom)
	if fi, err := os.Stat(wlog.SegmentName(walDir, last)); err == nil {
		need += fi.Size()
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(walDir, &st); err != nil {
		return err
	}
	if free := int64(st.Bavail) * st.Bsize; free < need {
		return fmt.Errorf("%d bytes free, a reopen needs %d", free, need)
	}
	return nil
}

// close closes db and its head exemplars, if open; t.mu is held.
func (t *tenantDB) close() error {
	if t.db == nil {
		return nil
	}
	t.chunks.wait()
	err := errors.Join(t.exemplars.Close(), t.db.Close())
	t.db, t.exemplars = nil, nil
	return err
}

func (s *Store) reopenOnce(id string, t *tenantDB) error {
	// Queries go on while the reopen waits for a moment without any; if
	// there is none for reopenPatience, new ones wait behind it.
	if !lockWithin(&t.mu, reopenPatience) {
		t.mu.Lock()
	}
	defer t.mu.Unlock()
	if t.db != nil {
		// Close writes what the WAL holds in memory, the torn record
		// too; replay then cuts it, the last record.
		if err := t.close(); err != nil {
			s.logger.Warn("closing the tenant's metrics TSDB to reopen it", "tenant", id, "err", err)
		}
		t.reg.unregisterAll()
		t.reg = nil
	}
	// The series that never reached the WAL are gone, and their
	// references with them: the new TSDB comes with a new cache.
	opened, err := s.openTSDB(id)
	if err != nil {
		return err
	}
	t.openedTSDB = opened
	t.walFailed.Store(false)
	return nil
}

// unregisteringRegistry registers into another registerer and remembers
// what, so that the metrics of a TSDB can be unregistered when it is
// closed to be opened again (tsdb.DB unregisters none of its own, and
// registering them twice panics).
type unregisteringRegistry struct {
	prometheus.Registerer

	mu         sync.Mutex
	collectors []prometheus.Collector // guarded by mu
}

func (r *unregisteringRegistry) Register(c prometheus.Collector) error {
	if err := r.Registerer.Register(c); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, c)
	return nil
}

func (r *unregisteringRegistry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(fmt.Sprintf("BUG: registering a TSDB metric: %v", err))
		}
	}
}

func (r *unregisteringRegistry) unregisterAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.collectors {
		r.Registerer.Unregister(c)
	}
	r.collectors = nil
}

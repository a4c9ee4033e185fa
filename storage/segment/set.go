package segment

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
)

// partitionLayout names an hour partition (UTC).
const partitionLayout = "2006010215"

// Set is the segments of one store of one tenant. It is safe for concurrent
// use.
type Set struct {
	dir string
	enc *zstd.Encoder
	dec *zstd.Decoder
	seq atomic.Uint64

	mu     sync.RWMutex
	segs   []*Reader // guarded by mu; sorted by MinT
	closed bool      // guarded by mu
}

// OpenSet opens the segments under dir, calling open (if not nil) on each so
// its store can attach its own state. Unfinished segments (a crash during a
// flush) are removed: their rows are still in the WAL.
func OpenSet(dir string, open func(*Reader) error) (*Set, error) {
	// Segments are written once, in the background, and read many times:
	// the better level costs ~8% more flush time for ~4% less data.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, err
	}
	s := &Set{dir: dir, enc: enc, dec: dec}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("segments: %w", err)
	}
	parts, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("segments: %w", err)
	}
	for _, p := range parts {
		if !p.IsDir() {
			continue
		}
		pdir := filepath.Join(dir, p.Name())
		entries, err := os.ReadDir(pdir)
		if err != nil {
			return nil, fmt.Errorf("segments: %w", err)
		}
		for _, e := range entries {
			path := filepath.Join(pdir, e.Name())
			if strings.HasSuffix(e.Name(), ".tmp") {
				_ = os.RemoveAll(path)
				continue
			}
			r, err := openReader(path, s)
			if err == nil && open != nil {
				if err = open(r); err != nil {
					r.Release()
				}
			}
			if err != nil {
				s.Close()
				return nil, err
			}
			s.segs = append(s.segs, r)
			if n := seqOf(e.Name()); n >= s.seq.Load() {
				s.seq.Store(n + 1)
			}
		}
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i].MinT < s.segs[j].MinT })
	return s, nil
}

func seqOf(name string) uint64 {
	var n uint64
	_, _ = fmt.Sscanf(name, "%016x", &n)
	return n
}

// NewWriter starts a segment whose rows begin at minT (nanoseconds).
func (s *Set) NewWriter(minT int64) (*Writer, error) {
	part := time.Unix(0, minT).UTC().Format(partitionLayout)
	name := fmt.Sprintf("%016x", s.seq.Add(1)-1)
	w := &Writer{set: s, final: filepath.Join(s.dir, part, name), tmp: filepath.Join(s.dir, part, name+".tmp")}
	if err := os.MkdirAll(w.tmp, 0o755); err != nil {
		return nil, fmt.Errorf("new segment: %w", err)
	}
	f, err := os.Create(w.path("data"))
	if err != nil {
		return nil, fmt.Errorf("new segment: %w", err)
	}
	w.data = f
	return w, nil
}

// Add makes a finished segment visible to Acquire.
func (s *Set) Add(r *Reader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].MinT > r.MinT })
	s.segs = append(s.segs, nil)
	copy(s.segs[i+1:], s.segs[i:])
	s.segs[i] = r
}

// Acquire returns the segments overlapping [from, to] (nanoseconds), sorted
// by MinT; the caller must Release each.
func (s *Set) Acquire(from, to int64) []*Reader {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Reader
	for _, r := range s.segs {
		if r.MaxT >= from && r.MinT <= to {
			r.refs.Add(1)
			out = append(out, r)
		}
	}
	return out
}

// Stats are the set's totals.
func (s *Set) Stats() (segments, rows int, bytes int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.segs {
		rows += r.Rows
		bytes += r.Bytes
	}
	return len(s.segs), rows, bytes
}

// Retain drops whole hour partitions: those whose every segment ended
// before cutoff (nanoseconds; 0 for no age limit), then the oldest ones
// while the set is larger than maxBytes (0 for no size limit). It returns
// the number of segments dropped.
func (s *Set) Retain(cutoff, maxBytes int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	type partition struct {
		name string
		maxT int64
		size int64
		segs []*Reader
	}
	byName := map[string]*partition{}
	var parts []*partition
	var total int64
	for _, r := range s.segs {
		name := filepath.Base(filepath.Dir(r.dir))
		p := byName[name]
		if p == nil {
			p = &partition{name: name}
			byName[name] = p
			parts = append(parts, p)
		}
		p.maxT = max(p.maxT, r.MaxT)
		p.size += r.Bytes
		p.segs = append(p.segs, r)
		total += r.Bytes
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].name < parts[j].name })
	drop := map[*Reader]bool{}
	for _, p := range parts {
		if (cutoff > 0 && p.maxT < cutoff) || (maxBytes > 0 && total > maxBytes) {
			for _, r := range p.segs {
				drop[r] = true
			}
			total -= p.size
		}
	}
	if len(drop) == 0 {
		return 0
	}
	kept := s.segs[:0]
	for _, r := range s.segs {
		if drop[r] {
			r.dropped.Store(true)
			r.Release() // the Set's own reference; files go with the last user
			continue
		}
		kept = append(kept, r)
	}
	s.segs = kept
	return len(drop)
}

// Close releases every segment.
func (s *Set) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for _, r := range s.segs {
		r.Release()
	}
	s.segs = nil
	s.enc.Close()
	s.dec.Close()
}

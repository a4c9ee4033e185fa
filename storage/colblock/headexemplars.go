package colblock

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// HeadExemplars keeps on disk the exemplars of a TSDB's head, newer than
// its blocks: the exemplar ring (-metrics.max-exemplars) holds the last
// 100,000 or so, which a service exporting an exemplar per histogram bucket
// a minute turns over in minutes, and a block gets its exemplars only when
// it is written, up to three hours later. Between the two, the exemplars
// are only in the WAL.
//
// So HeadExemplars reads the WAL as it grows, as Prometheus' remote-write
// watcher does, and writes the exemplars newer than the blocks into
// exemplar files (the blocks' format) in <tsdb>/exemplars-head. A query
// catches it up first, at most every catchUpEvery; the ring has the
// newest exemplars. The first catch-up after a start reads the whole WAL
// (0.2 s for 60 MB; BenchmarkWALExemplars).
//
// Bounds: a file holds at most maxFileExemplars, which is all a catch-up
// or a merge holds in memory. Files whose exemplars are all in blocks are
// deleted, and beyond maxHeadFiles the newest small ones are merged: the
// files are at most maxHeadFiles plus the head's exemplars /
// maxFileExemplars.
type HeadExemplars struct {
	db     *tsdb.DB
	dir    string
	walDir string
	logger *slog.Logger

	maxFileExemplars int // maxFileExemplars; tests set fewer

	mu    sync.RWMutex // held for writing by catch-ups, for reading by queries
	next  time.Time    // the earliest next catch-up
	files []headFile   // by position
	pos   walPos       // what the WAL has been read up to
	// cur reads the segment pos.seg, open between catch-ups: it reads the
	// records written meanwhile.
	cur     *wlog.LiveReader
	curFile io.Closer
}

// walPos is a position in the WAL: a segment and the records read of it.
type walPos struct {
	seg     int
	records int
}

// headFile is an exemplars file of HeadExemplars, named
// <segment>_<records>_<mint>_<maxt>_<n>.slex: the WAL position it was read
// up to, its exemplars' time range and their number.
type headFile struct {
	name       string
	end        walPos
	mint, maxt int64
	n          int
}

func (f headFile) fileName() string {
	return fmt.Sprintf("%08d_%d_%d_%d_%d.slex", f.end.seg, f.end.records, f.mint, f.maxt, f.n)
}

const (
	headExemplarsDir = "exemplars-head"
	catchUpEvery     = 15 * time.Second
	maxHeadFiles     = 8
	maxFileExemplars = 100_000 // ~20 MB in memory
)

// OpenHeadExemplars returns the HeadExemplars of db, resuming from the
// files a previous process left.
func OpenHeadExemplars(db *tsdb.DB, logger *slog.Logger) (*HeadExemplars, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &HeadExemplars{db: db, dir: filepath.Join(db.Dir(), headExemplarsDir), walDir: filepath.Join(db.Dir(), "wal"), logger: logger, maxFileExemplars: maxFileExemplars}
	if err := os.MkdirAll(h.dir, 0o777); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(h.dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		var f headFile
		if _, err := fmt.Sscanf(e.Name(), "%d_%d_%d_%d_%d.slex", &f.end.seg, &f.end.records, &f.mint, &f.maxt, &f.n); err != nil || !strings.HasSuffix(e.Name(), ".slex") {
			// A file being written when the process stopped.
			if err := os.Remove(filepath.Join(h.dir, e.Name())); err != nil {
				return nil, err
			}
			continue
		}
		f.name = e.Name()
		h.files = append(h.files, f)
	}
	slices.SortFunc(h.files, func(a, b headFile) int { return cmpPos(a.end, b.end) })
	if len(h.files) > 0 {
		h.pos = h.files[len(h.files)-1].end
	}
	return h, nil
}

func cmpPos(a, b walPos) int {
	if a.seg != b.seg {
		return a.seg - b.seg
	}
	return a.records - b.records
}

// Close closes the segment being read. A nil HeadExemplars (a TSDB
// without exemplars) has none.
func (h *HeadExemplars) Close() error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closeSegment()
}

func (h *HeadExemplars) closeSegment() error {
	var err error
	if h.curFile != nil {
		err = h.curFile.Close()
	}
	h.cur, h.curFile = nil, nil
	return err
}

// blocksMaxt is the end of the newest block: exemplars before it are in
// blocks.
func (h *HeadExemplars) blocksMaxt() int64 {
	maxt := int64(math.MinInt64)
	for _, b := range h.db.Blocks() {
		maxt = max(maxt, b.Meta().MaxTime)
	}
	return maxt
}

// catchUp reads the WAL written since the last catch-up, if that was
// catchUpEvery ago, and writes its exemplars newer than the blocks into a
// file.
func (h *HeadExemplars) catchUp(now time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Before(h.next) {
		return nil
	}
	h.next = now.Add(catchUpEvery)
	blocksMaxt := h.blocksMaxt()
	if err := h.dropCovered(blocksMaxt); err != nil {
		return err
	}
	first, last, err := wlog.Segments(h.walDir)
	if err != nil {
		return err
	}
	if first < 0 {
		return nil // no WAL yet
	}
	set := exemplarSet{}
	f := headFile{mint: math.MaxInt64, maxt: math.MinInt64}
	flush := func() error {
		if len(set) == 0 {
			return nil
		}
		f.end = h.pos
		if err := h.write(f, set); err != nil {
			return err
		}
		set, f = exemplarSet{}, headFile{mint: math.MaxInt64, maxt: math.MinInt64}
		return nil
	}
	head, err := h.db.Head().Index()
	if err != nil {
		return err
	}
	defer head.Close()
	var lb labels.ScratchBuilder
	dec := record.NewDecoder(nil, h.logger)
	var re []record.RefExemplar
	if h.pos.seg < first {
		// Truncated after its blocks were written, or never read: what
		// it held is older than the blocks, or in the ring.
		if err := h.closeSegment(); err != nil {
			return err
		}
		h.pos = walPos{seg: first}
	}
	for h.pos.seg <= last {
		if h.cur == nil {
			err := h.openSegment()
			if errors.Is(err, fs.ErrNotExist) {
				// Truncated meanwhile: its exemplars are in a block.
				h.pos = walPos{seg: h.pos.seg + 1}
				continue
			}
			if err != nil {
				return errors.Join(err, flush())
			}
		}
		for h.cur.Next() {
			rec := h.cur.Record()
			h.pos.records++
			if dec.Type(rec) != record.Exemplars {
				continue
			}
			if re, err = dec.Exemplars(rec, re[:0]); err != nil {
				// What was read before the bad record is kept: the
				// position is past it.
				return errors.Join(fmt.Errorf("WAL segment %d: %w", h.pos.seg, err), flush())
			}
			for _, e := range re {
				// A series the head no longer has was compacted into
				// a block with its exemplars.
				if e.T < blocksMaxt || head.Series(storage.SeriesRef(e.Ref), &lb, nil) != nil {
					continue
				}
				set.add(lb.Labels(), exemplar.Exemplar{Labels: e.Labels.Copy(), Value: e.V, Ts: e.T, HasTs: true})
				f.mint, f.maxt, f.n = min(f.mint, e.T), max(f.maxt, e.T), f.n+1
			}
			// A record is whole in a file, so that the file's end is
			// a record's.
			if f.n >= h.maxFileExemplars {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := h.cur.Err(); err != nil && !errors.Is(err, io.EOF) {
			h.logger.Warn("reading exemplars from the WAL", "segment", h.pos.seg, "err", err)
		}
		if h.pos.seg == last {
			break // still written: read on next time
		}
		if err := h.closeSegment(); err != nil {
			return errors.Join(err, flush())
		}
		h.pos = walPos{seg: h.pos.seg + 1}
	}
	if err := flush(); err != nil {
		return err
	}
	if len(h.files) > maxHeadFiles {
		return h.merge()
	}
	return nil
}

// openSegment opens segment pos.seg and skips the records already read.
func (h *HeadExemplars) openSegment() error {
	seg, err := wlog.OpenReadSegment(wlog.SegmentName(h.walDir, h.pos.seg))
	if err != nil {
		return err
	}
	h.cur, h.curFile = wlog.NewLiveReader(h.logger, nil, seg), seg
	for i := 0; i < h.pos.records; i++ {
		if !h.cur.Next() {
			// Fewer records than were read: a torn tail, rewritten.
			h.pos.records = i
			break
		}
	}
	return nil
}

// write writes the exemplars of set as the file f, atomically.
func (h *HeadExemplars) write(f headFile, set exemplarSet) error {
	f.name = f.fileName()
	tmp := filepath.Join(h.dir, f.name+".tmp")
	if err := writeExemplarsFile(tmp, set); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	if err := os.Rename(tmp, filepath.Join(h.dir, f.name)); err != nil {
		return err
	}
	h.files = append(h.files, f)
	return nil
}

// dropCovered deletes the files whose exemplars are all in blocks.
func (h *HeadExemplars) dropCovered(blocksMaxt int64) error {
	kept := h.files[:0]
	var errs []error
	for _, f := range h.files {
		if f.maxt < blocksMaxt {
			if err := os.Remove(filepath.Join(h.dir, f.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		kept = append(kept, f)
	}
	h.files = kept
	return errors.Join(errs...)
}

// merge writes the exemplars of the newest files into one, as many as
// hold maxFileExemplars together.
func (h *HeadExemplars) merge() error {
	i, n := len(h.files), 0
	for i > 0 && n+h.files[i-1].n <= h.maxFileExemplars {
		i--
		n += h.files[i].n
	}
	if len(h.files)-i < 2 {
		return nil // the newest are large: they stay as they are
	}
	set := exemplarSet{}
	m := headFile{mint: math.MaxInt64, maxt: math.MinInt64}
	for _, f := range h.files[i:] {
		if err := readExemplarsFile(filepath.Join(h.dir, f.name), math.MinInt64, math.MaxInt64, keepAll, set); err != nil {
			return err
		}
		m.mint, m.maxt, m.end, m.n = min(m.mint, f.mint), max(m.maxt, f.maxt), f.end, m.n+f.n
	}
	merged := slices.Clone(h.files[i:])
	h.files = h.files[:i]
	if err := h.write(m, set); err != nil {
		h.files = append(h.files, merged...)
		return err
	}
	var errs []error
	for _, f := range merged {
		if err := os.Remove(filepath.Join(h.dir, f.name)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// read adds to into the exemplars of the files within [mint, maxt] of the
// series keep accepts.
func (h *HeadExemplars) read(mint, maxt int64, keep func(labels.Labels) bool, into exemplarSet) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, f := range h.files {
		if f.maxt < mint || f.mint > maxt {
			continue
		}
		if err := readExemplarsFile(filepath.Join(h.dir, f.name), mint, maxt, keep, into); err != nil {
			return err
		}
	}
	return nil
}

// Files is the number of exemplar files kept.
func (h *HeadExemplars) Files() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.files)
}

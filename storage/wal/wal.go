package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// frameHeader is the length (uint32) and CRC-32C (uint32) of a record.
const frameHeader = 8

// MaxRecordSize bounds one record; a larger length read back is corruption.
const MaxRecordSize = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by calls on a closed WAL.
var ErrClosed = errors.New("wal: closed")

// WAL is an append-only log of records. It is safe for concurrent use.
type WAL struct {
	dir string

	mu   sync.Mutex
	f    *os.File // guarded by mu; the file being appended to
	seq  int      // guarded by mu; its sequence number
	end  int64    // guarded by mu; f's length after its last whole frame
	torn bool     // guarded by mu; f may end in a partial frame
	// retired are files Cut moved on from, to be synced and closed by the
	// next Sync: Cut runs while appends wait, and must not fsync.
	retired []*os.File // guarded by mu
	size    int64      // guarded by mu; bytes of all files
	buf     []byte     // guarded by mu; frame scratch
	closed  bool       // guarded by mu
}

// Open opens (creating if needed) the WAL in dir for appending. Existing
// files are kept for Replay; appends go to a new file.
func Open(dir string) (*WAL, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	seqs, err := list(dir)
	if err != nil {
		return nil, err
	}
	w := &WAL{dir: dir}
	next := 0
	if len(seqs) > 0 {
		next = seqs[len(seqs)-1] + 1
	}
	if err := w.openFile(next); err != nil {
		return nil, err
	}
	for _, s := range seqs {
		if fi, err := os.Stat(w.path(s)); err == nil {
			w.size += fi.Size()
		}
	}
	return w, nil
}

func (w *WAL) path(seq int) string {
	return filepath.Join(w.dir, fmt.Sprintf("%08d", seq))
}

func list(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	var seqs []int
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && !strings.HasPrefix(e.Name(), "-") {
			seqs = append(seqs, n)
		}
	}
	sort.Ints(seqs)
	return seqs, nil
}

func (w *WAL) openFile(seq int) error {
	f, err := os.OpenFile(w.path(seq), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	w.f, w.seq, w.end, w.torn = f, seq, 0, false
	return nil
}

// Append writes records as one batch; when it returns nil they survive a
// crash of the process (and, after Sync, of the machine). When the write
// fails (a full disk, an I/O error) none of the batch counts: a partial
// frame is cut off, or if that fails the WAL moves on to a new file, so
// that later appends never sit behind a torn frame, which replay would
// take for the end of the file.
func (w *WAL) Append(records ...[]byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.torn {
		if err := w.rotate(); err != nil {
			return fmt.Errorf("wal: %w", err)
		}
	}
	w.buf = w.buf[:0]
	for _, r := range records {
		if len(r) > MaxRecordSize {
			return fmt.Errorf("wal: record of %d bytes is over the limit of %d", len(r), MaxRecordSize)
		}
		var h [frameHeader]byte
		binary.LittleEndian.PutUint32(h[:4], uint32(len(r)))
		binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(r, castagnoli))
		w.buf = append(w.buf, h[:]...)
		w.buf = append(w.buf, r...)
	}
	n, err := w.f.Write(w.buf)
	if err != nil {
		if n > 0 {
			if terr := w.f.Truncate(w.end); terr != nil {
				w.torn = true
				w.size += int64(n)
			}
		}
		return fmt.Errorf("wal: append: %w", err)
	}
	w.end += int64(n)
	w.size += int64(n)
	return nil
}

// rotate leaves a file that may end in a torn frame for a new one; replay
// cuts the torn frame and goes on with the next file.
func (w *WAL) rotate() error {
	old := w.f
	if err := w.openFile(w.seq + 1); err != nil {
		return err
	}
	w.retired = append(w.retired, old)
	return nil
}

// Sync flushes what was appended to stable storage, and closes the files
// Cut moved on from. It holds no lock across the fsync, so appends go on
// meanwhile.
func (w *WAL) Sync() error {
	w.mu.Lock()
	f, closed, retired := w.f, w.closed, w.retired
	w.retired = nil
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	var errs []error
	for _, r := range retired {
		errs = append(errs, r.Sync(), r.Close())
	}
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		errs = append(errs, err)
	}
	// A file closed meanwhile was synced by Close before closing.
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wal: sync: %w", err)
	}
	return nil
}

// Cut closes the current file and starts a new one. It returns the new
// file's sequence number: every record appended before Cut lives in files
// below it.
func (w *WAL) Cut() (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	old := w.f
	if err := w.openFile(w.seq + 1); err != nil {
		return 0, err
	}
	w.retired = append(w.retired, old)
	return w.seq, nil
}

// Remove deletes the files below sequence number before.
func (w *WAL) Remove(before int) error {
	seqs, err := list(w.dir)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range seqs {
		if s >= before || s == w.seq {
			continue
		}
		fi, statErr := os.Stat(w.path(s))
		if err := os.Remove(w.path(s)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("wal: %w", err)
		}
		if statErr == nil {
			w.size -= fi.Size()
		}
	}
	return nil
}

// Size is the total size of the WAL's files.
func (w *WAL) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

// Close closes the WAL.
func (w *WAL) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	for _, f := range append(w.retired, w.f) {
		errs = append(errs, f.Sync(), f.Close())
	}
	w.retired = nil
	return errors.Join(errs...)
}

// Replay calls fn with every record of the files in dir, oldest first. A
// torn or corrupt frame ends its file: the rest of that file is cut off
// (it was never acknowledged) and replay goes on with the next file.
func Replay(dir string, fn func(rec []byte) error) error {
	seqs, err := list(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, s := range seqs {
		if err := replayFile(filepath.Join(dir, fmt.Sprintf("%08d", s)), fn); err != nil {
			return err
		}
	}
	return nil
}

func replayFile(path string, fn func([]byte) error) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var rec []byte
	for {
		var h [frameHeader]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return truncateTorn(f, off)
		}
		n := binary.LittleEndian.Uint32(h[:4])
		if n > MaxRecordSize {
			return truncateTorn(f, off)
		}
		if cap(rec) < int(n) {
			rec = make([]byte, n)
		}
		rec = rec[:n]
		if _, err := io.ReadFull(r, rec); err != nil {
			return truncateTorn(f, off)
		}
		if crc32.Checksum(rec, castagnoli) != binary.LittleEndian.Uint32(h[4:]) {
			return truncateTorn(f, off)
		}
		if err := fn(rec); err != nil {
			return err
		}
		off += frameHeader + int64(n)
	}
}

// truncateTorn cuts a file at the last whole frame.
func truncateTorn(f *os.File, off int64) error {
	if err := f.Truncate(off); err != nil {
		return fmt.Errorf("wal: cut torn frame of %s: %w", f.Name(), err)
	}
	return nil
}

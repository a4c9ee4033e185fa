package segment

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func write(t *testing.T, s *Set, minT int64, rows int, traces map[[16]byte][]uint32) *Reader {
	t.Helper()
	w, err := s.NewWriter(minT, Lineage{})
	require.NoError(t, err)
	for b := 0; b*BlockRows < rows; b++ {
		n := min(BlockRows, rows-b*BlockRows)
		var e Enc
		for i := 0; i < n; i++ {
			e.Varint(minT + int64(b*BlockRows+i))
		}
		require.NoError(t, w.AddBlock(minT+int64(b*BlockRows), minT+int64(b*BlockRows+n-1), n, Columns{"ts": e.B}, nil))
	}
	for id, rs := range traces {
		for _, r := range rs {
			w.AddTraceIDs(TraceRow{ID: id, Row: r})
		}
	}
	r, err := w.Finish()
	require.NoError(t, err)
	s.Add(r)
	return r
}

func TestWriteReadLookup(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSet(dir, nil)
	require.NoError(t, err)
	var id, other [16]byte
	_, _ = rand.Read(id[:])
	_, _ = rand.Read(other[:])
	base := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC).UnixNano()
	r := write(t, s, base, 1300, map[[16]byte][]uint32{id: {5, 1299}, other: {7}})
	require.Len(t, r.Blocks, 3)
	cols, err := r.ReadBlock(2, "ts")
	require.NoError(t, err)
	d := Dec{B: cols["ts"]}
	require.Equal(t, base+1024, d.Varint())
	require.Equal(t, []uint32{5, 1299}, r.LookupTrace(id))
	var missing [16]byte
	missing[0] = 1
	require.Empty(t, r.LookupTrace(missing))
	s.Close()

	// Reopened, with a leftover unfinished segment that must go.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "2026010203", "00000000000000ff.tmp"), 0o755))
	s, err = OpenSet(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	segs := s.Acquire(base, base+2000)
	require.Len(t, segs, 1)
	require.Equal(t, []uint32{7}, segs[0].LookupTrace(other))
	segs[0].Release()
	_, err = os.Stat(filepath.Join(dir, "2026010203", "00000000000000ff.tmp"))
	require.True(t, os.IsNotExist(err))
}

func TestRetainDropsWholePartitions(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSet(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	h := time.Hour.Nanoseconds()
	base := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC).UnixNano()
	write(t, s, base, 10, nil)
	write(t, s, base+10, 10, nil)
	write(t, s, base+h, 10, nil)
	newest := write(t, s, base+2*h, 10, nil)

	// A query holds the oldest segment while retention runs.
	held := s.Acquire(base, base+20)
	require.Len(t, held, 2)

	require.Equal(t, 2, s.Retain(base+h, 0), "the first hour's two segments")
	n, _, _ := s.Stats()
	require.Equal(t, 2, n)
	_, err = os.Stat(held[0].Dir())
	require.NoError(t, err, "files stay while a query uses them")
	for _, r := range held {
		r.Release()
	}
	_, err = os.Stat(filepath.Join(dir, time.Unix(0, base).UTC().Format(partitionLayout)))
	require.True(t, os.IsNotExist(err), "the partition directory is gone")

	// By size: keep only what fits, the newest.
	require.Equal(t, 1, s.Retain(0, newest.Bytes))
	segs := s.Acquire(0, base+3*h)
	require.Len(t, segs, 1)
	require.Equal(t, newest.Dir(), segs[0].Dir())
	segs[0].Release()
}

func TestCorruptTraceIndexIsRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSet(dir, nil)
	require.NoError(t, err)
	var id [16]byte
	id[0] = 9
	r := write(t, s, time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC).UnixNano(), 10, map[[16]byte][]uint32{id: {1, 2, 3}})
	path := filepath.Join(r.Dir(), "traces")
	s.Close()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b[:len(b)-1], 0o644))
	_, err = OpenSet(dir, nil)
	require.ErrorIs(t, err, ErrCorrupt)
}

// Every open segment keeps its blocks' metadata in memory: it must stay
// small, or memory grows with the data kept faster than it should.
func TestBlockMetaMemory(t *testing.T) {
	names := []string{"time", "observed", "severity", "body", "tracedict", "trace", "resdict", "resource", "scopedict", "scope", "attrs"}
	const blocks = 20000
	var m Meta
	for b := range blocks {
		bm := BlockMeta{MinT: int64(b), MaxT: int64(b), Rows: 512}
		for i, n := range names {
			require.NoError(t, bm.addColumn(n, ColumnRef{Off: int64(b*1000 + i), Len: 100}))
		}
		m.Blocks = append(m.Blocks, bm)
	}
	js, err := json.Marshal(m)
	require.NoError(t, err)
	m = Meta{}
	runtime.GC()
	runtime.GC() // and what encoding/json's pools kept over the first
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var back Meta
	require.NoError(t, json.Unmarshal(js, &back))
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(js)
	perBlock := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / blocks
	t.Logf("heap per block of %d columns: %d bytes", len(names), perBlock)
	require.Less(t, perBlock, int64(300))
	ref, ok := back.Blocks[123].Column("body")
	require.True(t, ok)
	require.Equal(t, ColumnRef{Off: 123003, Len: 100}, ref)
	_, ok = back.Blocks[123].Column("nosuch")
	require.False(t, ok)
}

// However many segments there are, the data files held open stay under
// MaxOpenDataFiles, and every block still reads back.
func TestOpenDataFilesBounded(t *testing.T) {
	defer func(n int) { MaxOpenDataFiles = n }(MaxOpenDataFiles)
	MaxOpenDataFiles = 4
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd here")
		}
		return len(entries)
	}
	before := fds()
	s, err := OpenSet(t.TempDir(), nil)
	require.NoError(t, err)
	defer s.Close()
	base := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC).UnixNano()
	for i := range 40 {
		write(t, s, base+int64(i*1000), 600, nil)
	}
	segs := s.Acquire(base, base+100_000)
	require.Len(t, segs, 40)
	for round := range 2 {
		for i, r := range segs {
			for b := range r.Blocks {
				cols, err := r.ReadBlock(b, "ts")
				require.NoError(t, err)
				d := Dec{B: cols["ts"]}
				require.Equal(t, base+int64(i*1000+b*BlockRows), d.Varint(), "round %d segment %d block %d", round, i, b)
			}
		}
		require.LessOrEqual(t, dataFiles.open(), 4)
		require.LessOrEqual(t, fds()-before, 4, "40 segments, at most 4 data files open")
	}
	for _, r := range segs {
		r.Release()
	}
}

// A segment's mmapped files are checked once when it opens, so lookups
// can slice them without checks: whatever bytes a corrupt file holds, the
// check refuses them or every lookup stays in bounds.
func FuzzSegmentIndexes(f *testing.F) {
	ok := encodeFilters([]bloom{newBloom(3), newBloom(100)})
	f.Add(ok, 2, []byte{})
	f.Add(ok[:9], 2, []byte{1, 0, 0, 0})
	f.Add([]byte{}, 0, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, filters []byte, blocks int, traces []byte) {
		if blocks < 0 || blocks > 1<<16 {
			return
		}
		r := &Reader{filters: filters, traces: traces, bloom: newBloom(1)}
		r.Blocks = make([]BlockMeta, blocks)
		if checkFilters(filters, blocks) == nil {
			for b := range blocks {
				r.BlockFilter(b).MayContain(uint64(b) * 0x9e3779b97f4a7c15)
			}
		}
		if checkTraceIndex(traces) == nil {
			var id [16]byte
			if len(traces) >= 20 {
				copy(id[:], traces[4:20])
			}
			r.bloom = bloom{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
			r.LookupTrace(id)
		}
	})
}

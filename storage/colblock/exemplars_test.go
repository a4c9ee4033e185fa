package colblock

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/stretchr/testify/require"
)

func TestExemplarsFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	set := exemplarSet{}
	a := labels.FromStrings("__name__", "a", "job", "x")
	b := labels.FromStrings("__name__", "b")
	e := func(ts int64, v float64, trace string) exemplar.Exemplar {
		return exemplar.Exemplar{Labels: labels.FromStrings("trace_id", trace), Value: v, Ts: ts, HasTs: true}
	}
	set.add(b, e(5, 1.5, "t1"))
	set.add(a, e(9, 2, "t2"))
	set.add(a, e(3, 1, "t3"))
	set.add(a, e(3, 1, "t3")) // a repeat
	require.NoError(t, writeExemplars(dir, set))

	got := exemplarSet{}
	require.NoError(t, readExemplars(dir, 0, 100, keepAll, got))
	s := got.sorted()
	require.Len(t, s, 2)
	require.Equal(t, a, s[0].labels)
	require.Equal(t, []exemplar.Exemplar{e(3, 1, "t3"), e(9, 2, "t2")}, s[0].exemplars)
	require.Equal(t, []exemplar.Exemplar{e(5, 1.5, "t1")}, s[1].exemplars)

	got = exemplarSet{}
	require.NoError(t, readExemplars(dir, 4, 100, func(ls labels.Labels) bool { return ls.Get("__name__") == "a" }, got))
	s = got.sorted()
	require.Len(t, s, 1)
	require.Equal(t, []exemplar.Exemplar{e(9, 2, "t2")}, s[0].exemplars)

	// No file, no exemplars; a block without any writes none.
	require.NoError(t, readExemplars(t.TempDir(), 0, 100, keepAll, exemplarSet{}))
	empty := t.TempDir()
	require.NoError(t, writeExemplars(empty, exemplarSet{}))
	_, err := os.Stat(filepath.Join(empty, exemplarsFile))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func FuzzReadExemplars(f *testing.F) {
	dir := f.TempDir()
	set := exemplarSet{}
	set.add(labels.FromStrings("a", "b"), exemplar.Exemplar{Labels: labels.FromStrings("trace_id", "x"), Value: 1, Ts: 2})
	if err := writeExemplars(dir, set); err != nil {
		f.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, exemplarsFile))
	if err != nil {
		f.Fatal(err)
	}
	plain, err := zstdExemplarsDec.DecodeAll(raw[len(exemplarsMagic):], nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		file := zstdEnc.EncodeAll(b, slices.Clone(exemplarsMagic))
		if err := os.WriteFile(filepath.Join(dir, exemplarsFile), file, 0o644); err != nil {
			t.Fatal(err)
		}
		_ = readExemplars(dir, 0, 1<<62, keepAll, exemplarSet{})
	})
}

// A head compaction reads the WAL for exemplars until a read finds none,
// then not until a commit wrote some; the block of that commit's time then
// has them.
func TestWALExemplarsReadOnlyWhenThere(t *testing.T) {
	w := &WALExemplars{}
	o := options(false)
	o.EnableExemplarStorage, o.MaxExemplars = true, 10
	co := DefaultOptions()
	co.WALExemplars = w
	Configure(o, NewReaders(), co)
	db, err := tsdb.Open(t.TempDir(), nil, nil, o, nil)
	require.NoError(t, err)
	defer db.Close()
	db.DisableCompactions()
	ls := labels.FromStrings("__name__", "requests_total")
	fill := func(from, to int64, exemplarAt int64) {
		for ts := from; ts < to; ts += step {
			app := db.Appender(context.Background())
			ref, err := app.Append(0, ls, ts, float64(ts))
			require.NoError(t, err)
			if ts == exemplarAt {
				_, err = app.AppendExemplar(ref, ls, exemplar.Exemplar{Labels: labels.FromStrings("trace_id", "e1"), Value: 1, Ts: ts, HasTs: true})
				require.NoError(t, err)
			}
			require.NoError(t, app.Commit())
			if ts == exemplarAt {
				w.Committed()
			}
		}
	}
	fill(day0, day0+4*hour, -1)
	require.NoError(t, db.Compact(context.Background()))
	require.EqualValues(t, 1, w.reads.Load(), "the first head compaction reads the WAL")
	fill(day0+4*hour, day0+6*hour, -1)
	require.NoError(t, db.Compact(context.Background()))
	require.Len(t, db.Blocks(), 2)
	require.EqualValues(t, 1, w.reads.Load(), "the WAL was read again with no exemplar in it")

	// Two head blocks, [4h, 6h) and [6h, 8h), the second with the
	// exemplar: both compactions read the WAL, which has it.
	fill(day0+6*hour, day0+10*hour, day0+6*hour+step)
	require.NoError(t, db.Compact(context.Background()))
	require.EqualValues(t, 3, w.reads.Load())
	blocks := db.Blocks()
	last := blocks[len(blocks)-1].Meta()
	require.Equal(t, day0+8*hour, last.MaxTime)
	got := exemplarSet{}
	require.NoError(t, readExemplars(blocks[len(blocks)-1].Dir(), last.MinTime, last.MaxTime-1, keepAll, got))
	require.Len(t, got, 1, "the exemplar is not in its block")
}

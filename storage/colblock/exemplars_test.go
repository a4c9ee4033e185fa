package colblock

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
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

// Every kind of exemplar label and value reads back as written: IDs in
// lowercase hex go to bytes, anything else stays a string; values from a
// small set and values that all differ; times out of step.
func TestExemplarsFileKeepsEveryExemplar(t *testing.T) {
	for _, distinct := range []bool{false, true} {
		set := exemplarSet{}
		rnd := rand.New(rand.NewPCG(1, 2))
		values := []string{"", "0", "00", "0a", "0A", "abc", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "ff00ff00ff00ff00ff", "not hex", "é"}
		ts := int64(-5000)
		for i := range 2000 {
			ls := labels.FromStrings("__name__", "rpc_bucket", "le", fmt.Sprint(i%7))
			v := float64(i % 3)
			if distinct {
				v = rnd.NormFloat64()
			}
			ts += rnd.Int64N(120000) - 1000
			var el labels.Labels
			switch i % 4 {
			case 0:
				el = labels.FromStrings("span_id", values[rnd.IntN(len(values))], "trace_id", values[rnd.IntN(len(values))])
			case 1:
				el = labels.FromStrings("trace_id", fmt.Sprintf("%032x", rnd.Uint64()))
			case 2:
				el = labels.EmptyLabels()
			case 3:
				el = labels.FromStrings("a", values[rnd.IntN(len(values))], "user", "u"+fmt.Sprint(i))
			}
			set.add(ls, exemplar.Exemplar{Labels: el, Value: v, Ts: ts, HasTs: true})
		}
		want := set.sorted()
		dir := t.TempDir()
		require.NoError(t, writeExemplars(dir, set))
		got := exemplarSet{}
		require.NoError(t, readExemplars(dir, math.MinInt64, math.MaxInt64, keepAll, got))
		require.Equal(t, want, got.sorted(), "distinct values: %v", distinct)
	}
}

// A block written before the columns (version 1) still has its exemplars.
func TestExemplarsFileVersion1(t *testing.T) {
	ls := labels.FromStrings("__name__", "a")
	e := exemplar.Exemplar{Labels: labels.FromStrings("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), Value: 0.25, Ts: 1700000000000, HasTs: true}
	// Version 1's layout, as its writer made it.
	b := binary.AppendUvarint(nil, 1)
	b = appendLabels(b, ls)
	b = binary.AppendUvarint(b, 1)
	b = binary.AppendVarint(b, e.Ts)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(e.Value))
	b = appendLabels(b, e.Labels)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, exemplarsFile), zstdEnc.EncodeAll(b, slices.Clone(exemplarsMagicV1)), 0o644))
	got := exemplarSet{}
	require.NoError(t, readExemplars(dir, 0, math.MaxInt64, keepAll, got))
	require.Equal(t, []*seriesExemplars{{labels: ls, exemplars: []exemplar.Exemplar{e}}}, got.sorted())
}

func FuzzReadExemplars(f *testing.F) {
	dir := f.TempDir()
	set := exemplarSet{}
	set.add(labels.FromStrings("a", "b"), exemplar.Exemplar{Labels: labels.FromStrings("trace_id", "x"), Value: 1, Ts: 2})
	set.add(labels.FromStrings("a", "b"), exemplar.Exemplar{Labels: labels.FromStrings("span_id", "00f067aa0ba902b7"), Value: 1, Ts: 3})
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
		for _, magic := range [][]byte{exemplarsMagic, exemplarsMagicV1} {
			file := zstdEnc.EncodeAll(b, slices.Clone(magic))
			if err := os.WriteFile(filepath.Join(dir, exemplarsFile), file, 0o644); err != nil {
				t.Fatal(err)
			}
			_ = readExemplars(dir, 0, 1<<62, keepAll, exemplarSet{})
		}
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

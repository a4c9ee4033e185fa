package colblock

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
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

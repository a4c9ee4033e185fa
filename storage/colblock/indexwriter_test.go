package colblock

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/index"
	"github.com/stretchr/testify/require"
)

// indexWriter writes the bytes that Prometheus' index.Writer writes for
// the same series: none; one; many, with label values shared, unique and
// empty-named, symbols of every length; series without chunks and with
// many. The same writer (and its pooled buffers) is used again and again.
func TestIndexWriterWritesPrometheusBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	for _, n := range []int{0, 1, 2, 17, 300, 5000, 40} {
		sets := randomSeries(r, n)
		var syms []string
		for _, s := range sets {
			s.lset.Range(func(l labels.Label) { syms = append(syms, l.Name, l.Value) })
		}
		slices.Sort(syms)
		syms = slices.Compact(syms)

		want := filepath.Join(dir, fmt.Sprintf("want-%d", n))
		pw, err := index.NewWriterWithEncoder(context.Background(), want, EncodePostings)
		require.NoError(t, err)
		for _, s := range syms {
			require.NoError(t, pw.AddSymbol(s))
		}
		for i, s := range sets {
			require.NoError(t, pw.AddSeries(storage.SeriesRef(i), s.lset, s.chks...))
		}
		require.NoError(t, pw.Close())

		got := filepath.Join(dir, fmt.Sprintf("got-%d", n))
		w, err := newIndexWriter(got)
		require.NoError(t, err)
		require.NoError(t, w.AddSymbols(index.NewStringListIter(syms)))
		for _, s := range sets {
			require.NoError(t, w.AddSeries(s.lset, s.chks...))
		}
		require.NoError(t, w.Finish())
		require.NoError(t, w.Close())

		wb, err := os.ReadFile(want)
		require.NoError(t, err)
		gb, err := os.ReadFile(got)
		require.NoError(t, err)
		require.Equal(t, len(wb), len(gb), "%d series: index sizes", n)
		for i := range wb {
			require.Equal(t, wb[i], gb[i], "%d series: first difference at byte %d of %d", n, i, len(wb))
		}
	}
}

type testSeries struct {
	lset labels.Labels
	chks []chunks.Meta
}

// randomSeries returns n series in order, with chunk references that grow
// across them as a chunk writer's do.
func randomSeries(r *rand.Rand, n int) []testSeries {
	seen := map[string]bool{}
	var out []testSeries
	for len(out) < n {
		b := labels.NewScratchBuilder(8)
		b.Add("__name__", fmt.Sprintf("metric_%d", r.IntN(1+n/50)))
		for k := range r.IntN(6) {
			v := fmt.Sprint(r.IntN(1 + k*k*40))
			if r.IntN(20) == 0 {
				v = string(make([]byte, r.IntN(300))) + v // a long value
			}
			b.Add(fmt.Sprintf("l%d", k), v)
		}
		if r.IntN(10) == 0 {
			b.Add("id", fmt.Sprint(r.Int64()))
		}
		b.Sort()
		lset := b.Labels()
		if seen[lset.String()] {
			continue
		}
		seen[lset.String()] = true
		out = append(out, testSeries{lset: lset})
	}
	slices.SortFunc(out, func(a, b testSeries) int { return labels.Compare(a.lset, b.lset) })
	ref := chunks.ChunkRef(8)
	for i := range out {
		maxt := int64(r.IntN(1000)) - 500
		for range r.IntN(5) {
			mint := maxt + 1 + int64(r.IntN(100_000))
			maxt = mint + int64(r.IntN(7_200_000))
			ref += chunks.ChunkRef(1 + r.IntN(5000))
			out[i].chks = append(out[i].chks, chunks.Meta{MinTime: mint, MaxTime: maxt, Ref: ref})
		}
	}
	return out
}

// A writer's buffers go back to the pool for the next block, but not
// those that a very large block grew: the pool would hold them while
// blocks keep coming. (sync.Pool gives back what it was given last on the
// same processor, so a buffer put back is seen.)
func TestIndexWriterPoolsNoLargeBuffers(t *testing.T) {
	w, err := newIndexWriter(filepath.Join(t.TempDir(), "index"))
	require.NoError(t, err)
	w.all = make([]uint32, 0, 1<<20+1)
	bufs := w.indexBufs
	require.NoError(t, w.Close())
	got := indexBufPool.Get().(*indexBufs)
	require.NotSame(t, bufs, got, "the buffers of a block of a million series pooled")
	indexBufPool.Put(got)
}

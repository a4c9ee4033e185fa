package colblock

import (
	"context"
	"testing"
	"weak"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/index"
	"github.com/stretchr/testify/require"
)

// Every series of a block reads the same, labels and chunk metas, through
// the symbol table Readers keeps as through Prometheus' index reader; the
// test data's blocks have more symbols than the 32 between two of the
// offsets Prometheus keeps, so symbols are found past those offsets.
func TestSeriesFromSymbolTableLikePrometheus(t *testing.T) {
	db := openDB(t, t.TempDir(), true)
	t.Cleanup(func() { db.Close() })
	appendTestData(t, db, day0, 7)
	require.NoError(t, db.Compact(context.Background()))
	require.NotEmpty(t, db.Blocks())

	rs := NewReaders()
	for _, b := range db.Blocks() {
		theirs, err := b.Index()
		require.NoError(t, err)
		ours, err := columnarBlock{Block: b, readers: rs}.Index()
		require.NoError(t, err)
		t.Cleanup(func() { theirs.Close(); ours.Close() }) // before the db's: a block waits for its readers
		name, value := index.AllPostingsKey()
		p, err := theirs.Postings(context.Background(), name, value)
		require.NoError(t, err)
		refs, err := index.ExpandPostings(p)
		require.NoError(t, err)
		require.NotEmpty(t, refs)
		var (
			bt, bo  labels.ScratchBuilder
			ct, co  []chunks.Meta
			symbols = map[string]bool{}
		)
		for _, ref := range refs {
			require.NoError(t, theirs.Series(ref, &bt, &ct))
			require.NoError(t, ours.Series(ref, &bo, &co))
			require.Equal(t, bt.Labels().String(), bo.Labels().String())
			require.Equal(t, ct, co)
			bo.Labels().Range(func(l labels.Label) { symbols[l.Name], symbols[l.Value] = true, true })
		}
		st := rs.m[weak.Make(b)]
		require.NotNil(t, st.symbols.index, "the series were read through the symbol table")
		require.Greater(t, len(st.symbols.syms), 32)
		last := st.symbols.syms[len(st.symbols.syms)-1]
		require.True(t, symbols[last], "the last symbol, %q, is some series' label", last)
	}
}

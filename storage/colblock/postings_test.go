package colblock

import (
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/encoding"
	"github.com/prometheus/prometheus/tsdb/index"
	"github.com/stretchr/testify/require"
)

// Packed postings give what Prometheus' list postings give, through Next
// and through any sequence of Seeks, for lists of every group count.
func TestPostingsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{0, 1, 2, 127, 128, 129, 256, 1000, 100_000} {
		refs := make([]uint32, 0, n)
		ref := uint32(r.IntN(1000))
		for range n {
			refs = append(refs, ref)
			ref += 1 + uint32(r.IntN(7))
			if r.IntN(50) == 0 {
				ref += uint32(r.IntN(1 << 20)) // another job's series
			}
		}
		var e encoding.Encbuf
		require.NoError(t, EncodePostings(&e, refs))
		if n >= 1000 {
			require.Less(t, e.Len(), n, "a dense list takes under a byte a reference")
		}
		series := make([]storage.SeriesRef, n)
		for i, ref := range refs {
			series[i] = storage.SeriesRef(ref)
		}
		decode := func() index.Postings {
			got, p, err := DecodePostings(encoding.Decbuf{B: e.Get()})
			require.NoError(t, err)
			require.Equal(t, n, got)
			return p
		}
		all, err := index.ExpandPostings(decode())
		require.NoError(t, err)
		require.Equal(t, len(series), len(all))
		if n > 0 {
			require.Equal(t, series, all)
		}
		for range 20 {
			p, want := decode(), index.NewListPostings(series)
			x := storage.SeriesRef(1) // Seek(0) before Next is a quirk of list postings: true, at 0
			for {
				x += storage.SeriesRef(r.IntN(1 << uint(r.IntN(22))))
				ok := want.Seek(x)
				require.Equal(t, ok, p.Seek(x), "seek %d", x)
				if !ok {
					break
				}
				require.Equal(t, want.At(), p.At())
				if r.IntN(2) == 0 {
					ok := want.Next()
					require.Equal(t, ok, p.Next())
					if !ok {
						break
					}
					require.Equal(t, want.At(), p.At())
				}
			}
			require.NoError(t, p.Err())
		}
	}
	var e encoding.Encbuf
	require.Error(t, EncodePostings(&e, []uint32{5, 5}))
}

func FuzzDecodePostings(f *testing.F) {
	var e encoding.Encbuf
	refs := make([]uint32, 300)
	for i := range refs {
		refs[i] = uint32(i * 3)
	}
	_ = EncodePostings(&e, refs)
	f.Add(e.Get(), uint32(100))
	f.Add([]byte{2, 7}, uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, seek uint32) {
		_, p, err := DecodePostings(encoding.Decbuf{B: b})
		if err != nil {
			return
		}
		prev := storage.SeriesRef(0)
		for i := 0; p.Next(); i++ {
			if i > 0 && p.At() <= prev {
				t.Fatalf("postings not increasing: %d after %d", p.At(), prev)
			}
			prev = p.At()
		}
		_, p, _ = DecodePostings(encoding.Decbuf{B: b})
		if p.Seek(storage.SeriesRef(seek)) && p.At() < storage.SeriesRef(seek) {
			t.Fatalf("seek %d stood on %d", seek, p.At())
		}
	})
}

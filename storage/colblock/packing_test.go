package colblock

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/segment"
)

func TestPackedRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	f := func(us []uint64) {
		t.Helper()
		requireReadsBack(t, appendPacked(nil, us), us)
	}
	f([]uint64{})
	f([]uint64{0, 0, 0})
	f([]uint64{1<<64 - 1, 0, 1<<64 - 1})
	f([]uint64{1 << 63, 1<<63 - 1, 0})
	// A base, a shift, and outliers below the base or off the shift.
	for _, n := range []int{1, 2, 9, 64, 500} {
		us := make([]uint64, n)
		for i := range us {
			us[i] = uint64(1000 + r.IntN(100))
			if i%3 == 0 {
				us[i] = uint64(-int64(r.IntN(128)) * 4096)
			}
			if i%41 == 7 {
				us[i] = uint64(r.IntN(5))
			}
		}
		f(us)
	}
	for _, width := range []int{1, 3, 7, 8, 13, 31, 32, 33, 52, 63, 64} {
		for _, n := range []int{1, 2, 7, 8, 9, 63, 64, 65, 500} {
			us := make([]uint64, n)
			for i := range us {
				us[i] = r.Uint64() >> (64 - width)
				if i%37 == 5 { // outliers
					us[i] = r.Uint64()
				}
			}
			f(us)
		}
	}
}

// What the base and the shift are for: integers far from 0, and integers
// that share low zero bits, take the bits of their spread only.
func TestPackedBaseAndShift(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	incs := make([]uint64, 512)  // a counter's increments: 1000–1127
	pages := make([]uint64, 512) // a gauge's deltas: ±127 pages of 4 KiB
	for i := range incs {
		incs[i] = uint64(1000 + r.IntN(128))
		pages[i] = uint64((r.Int64N(255) - 127) * 4096)
	}
	require.LessOrEqual(t, len(appendPacked(nil, incs)), 512*7/8+8) // 7 bits each, not 11
	require.LessOrEqual(t, len(appendPacked(nil, pages)), 512+8)    // 8 bits each, not 21
	requireReadsBack(t, appendPacked(nil, pages), pages)
}

// Slots bunched around their mean (a counter's increments) are smaller
// with their top bits Huffman-coded, and come back.
func TestPackedEntropyCoded(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, w := range []int{3, 6, 12, 20} {
		us := make([]uint64, 1000)
		for i := range us {
			us[i] = uint64(int64(r.NormFloat64()*float64(int64(1)<<w)/7) + 5000)
		}
		b := appendPacked(nil, us)
		require.NotZero(t, b[1]&flagEntropy, "width %d", w)
		plan := planPacked(us)
		require.Less(t, len(b), plan.bits/8, "width %d", w)
		requireReadsBack(t, b, us)
	}
}

// requireReadsBack: b, a packed column, reads back as us and nothing more.
func requireReadsBack(t *testing.T, b []byte, us []uint64) {
	t.Helper()
	got := make([]uint64, len(us))
	d := &segment.Dec{B: b}
	readPacked(d, got, false)
	require.NoError(t, d.Err)
	require.Empty(t, d.B)
	require.Equal(t, us, got)
}

func FuzzPacked(f *testing.F) {
	f.Add(appendPacked(nil, []uint64{1, 2, 3, 100000, 5}), 5, false)
	bell := make([]uint64, 300) // entropy-coded
	for i := range bell {
		bell[i] = uint64(100 + i*i%17 + i%3)
	}
	f.Add(appendPacked(nil, bell), len(bell), false)
	f.Fuzz(func(t *testing.T, b []byte, n int, plain bool) {
		if n < 0 || n > 4096 {
			return
		}
		readPacked(&segment.Dec{B: b}, make([]uint64, n), plain)
	})
}

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
		b := appendPacked(nil, us)
		got := make([]uint64, len(us))
		rd := &segment.Dec{B: b}
		readPacked(rd, got)
		require.NoError(t, rd.Err)
		require.Empty(t, rd.B)
		require.Equal(t, us, got)
	}
	f([]uint64{})
	f([]uint64{0, 0, 0})
	f([]uint64{1<<64 - 1, 0, 1<<64 - 1})
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

func FuzzPacked(f *testing.F) {
	f.Add(appendPacked(nil, []uint64{1, 2, 3, 100000, 5}), 5)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > 4096 {
			return
		}
		readPacked(&segment.Dec{B: b}, make([]uint64, n))
	})
}

package colblock

import (
	"encoding/binary"
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

// A column's widths, gathered in one pass, give the base and the bits that
// set the shift that a second pass over the integers that fit gives,
// whenever they all fit; and the encoder's three integer columns, planned
// in one loop, are the deltas, deltas of deltas and values, each planned
// as if alone, the smallest chosen (with its first value, which all but a
// plain column keep apart).
func TestWidthsPlanLikeSecondPass(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var e encoder
	fit := 0
	for k := range 2000 {
		ms := make([]int64, 1+r.IntN(300))
		m := int64(r.IntN(1000))
		for i := range ms {
			switch k % 4 {
			case 0: // a counter
				m += int64(r.IntN(50) * 64)
			case 1: // a gauge within a range, and an outlier now and then
				m = int64(r.IntN(100))
				if r.IntN(40) == 0 {
					m = r.Int64()
				}
			case 2: // a counter that resets
				m += int64(r.IntN(9))
				if r.IntN(60) == 0 {
					m = 0
				}
			default: // anything
				m = int64(r.Uint64())
			}
			ms[i] = m
		}
		mode, column, plan := e.planInts(ms)
		ds, dds, ps := make([]uint64, 0, len(ms)), make([]uint64, 0, len(ms)), make([]uint64, 0, len(ms))
		for i, m := range ms {
			ps = append(ps, uint64(m))
			if i > 0 {
				ds = append(ds, uint64(m-ms[i-1]))
				dds = append(dds, uint64(m-ms[i-1]))
			}
			if i > 1 {
				dds[i-1] -= uint64(ms[i-1] - ms[i-2])
			}
		}
		require.Equal(t, map[byte][]uint64{valuesDelta: ds, valuesDeltaDoD: dds, valuesPlain: ps}[mode], column, "column %d", k)
		require.Equal(t, planPacked(column), plan, "column %d", k)
		m0 := 8 * len(binary.AppendVarint(nil, ms[0])) // what all but a plain column take too
		cost := plan.bits
		if mode != valuesPlain {
			cost += m0
		}
		require.LessOrEqual(t, cost, planPacked(ds).bits+m0, "column %d", k)
		require.LessOrEqual(t, cost, planPacked(dds).bits+m0, "column %d", k)
		require.LessOrEqual(t, cost, planPacked(ps).bits, "column %d", k)
		for _, us := range [][]uint64{ds, dds, ps} {
			if len(us) == 0 {
				continue
			}
			var w widths
			w.start(us[0])
			for _, u := range us {
				w.add(u)
			}
			if w0, _ := bestWidth(&w.cnt, len(us)); allFit(&w.cnt, w0) {
				fit++
				least, differ := fitting(us, w0)
				require.Equal(t, least, w.min, "column %d", k)
				require.Equal(t, differ, w.differ, "column %d", k)
			}
		}
	}
	require.Greater(t, fit, 1000)
}

package colblock

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
)

// roundTrip encodes ts, vs and checks that the chunk gives them back bit
// for bit, through Next and through Seek.
func roundTrip(t *testing.T, ts []int64, vs []float64) []byte {
	t.Helper()
	b := Encode(nil, ts, vs)
	c := NewChunk(b, ts[0], ts[len(ts)-1])
	require.Equal(t, len(ts), c.NumSamples())
	it := c.Iterator(nil)
	for i := range ts {
		require.Equal(t, chunkenc.ValFloat, it.Next(), "%v", it.Err())
		gt, gv := it.At()
		require.Equal(t, ts[i], gt)
		require.Equal(t, math.Float64bits(vs[i]), math.Float64bits(gv), "value %d: %v, got %v", i, vs[i], gv)
	}
	require.Equal(t, chunkenc.ValNone, it.Next())
	require.NoError(t, it.Err())
	it = c.Iterator(it)
	mid := len(ts) / 2
	require.Equal(t, chunkenc.ValFloat, it.Seek(ts[mid]-1+1))
	require.Equal(t, ts[mid], it.AtT())
	require.Equal(t, chunkenc.ValNone, it.Seek(ts[len(ts)-1]+1))
	return b
}

func timestamps(n int, start, step int64, jitter int64, r *rand.Rand) []int64 {
	ts := make([]int64, n)
	t := start
	for i := range ts {
		ts[i] = t
		t += step
		if jitter > 0 {
			t += r.Int64N(jitter)
		}
	}
	return ts
}

func TestChunkRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 500
	ts := timestamps(n, 1_700_000_000_000, 15_000, 0, r)
	cpu := 0.0
	cases := map[string]func(i int) float64{
		"counter":        func(i int) float64 { return float64(i * 17) },
		"decimal gauge":  func(i int) float64 { return float64(r.IntN(100000)) / 100 },
		"random floats":  func(int) float64 { return r.Float64() },
		"tiny":           func(i int) float64 { return float64(i) * 1e-300 },
		"huge":           func(i int) float64 { return float64(i) * 1e300 },
		"mixed exponent": func(i int) float64 { return []float64{1e-10, 1e10, 3.5}[i%3] },
		"constant":       func(int) float64 { return 42 },
		"zeros":          func(int) float64 { return 0 },
		"negative zero":  func(int) float64 { return math.Copysign(0, -1) },
		"stale markers": func(i int) float64 {
			if i%50 == 49 {
				return math.Float64frombits(value.StaleNaN)
			}
			return float64(i)
		},
		"special":  func(i int) float64 { return []float64{math.Inf(1), math.Inf(-1), math.NaN(), 1}[i%4] },
		"big ints": func(i int) float64 { return float64(1<<60 + i*1024) },
		"float counter": func(i int) float64 { // mode 3
			cpu += 0.05 + 0.2*r.Float64()
			return cpu
		},
		"in flight":               func(int) float64 { return float64(r.IntN(6)) }, // mode 4
		"falling negative floats": func(i int) float64 { cpu -= r.Float64(); return cpu },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			vs := make([]float64, n)
			for i := range vs {
				vs[i] = f(i)
			}
			roundTrip(t, ts, vs)
		})
	}
	t.Run("one sample", func(t *testing.T) { roundTrip(t, []int64{5}, []float64{0.1}) })
	t.Run("jittered timestamps", func(t *testing.T) {
		ts := timestamps(n, -1000, 1000, 37, r)
		vs := make([]float64, n)
		roundTrip(t, ts, vs)
	})
}

// A regular counter of a 15 s scrape must take well under the ~1.3
// bytes/sample of Prometheus' XOR chunks.
// TestIteratorsShareNoColumns checks the pooling of decoded columns: an
// iterator that ran out gives its columns back, stays at its end, and an
// iterator that takes them over reads its own chunk; and reading a chunk
// with a new iterator, as the querier does for every series, no longer
// allocates its columns.
func TestIteratorsShareNoColumns(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ts := timestamps(1000, 1_700_000_000_000, 15_000, 0, r)
	chunkOf := func(mul float64) *Chunk {
		vs := make([]float64, len(ts))
		for i := range vs {
			vs[i] = mul * float64(i)
		}
		return NewChunk(Encode(nil, ts, vs), ts[0], ts[len(ts)-1])
	}
	a, b := chunkOf(1), chunkOf(3)
	ita := a.Iterator(nil)
	for ita.Next() != chunkenc.ValNone {
	}
	itb := b.Iterator(nil) // may take over ita's columns
	require.Equal(t, chunkenc.ValNone, ita.Next())
	require.Equal(t, chunkenc.ValNone, ita.Seek(ts[0]))
	itc := a.Iterator(nil)
	require.Equal(t, chunkenc.ValFloat, itc.Seek(ts[10]))
	for i := range ts {
		require.Equal(t, chunkenc.ValFloat, itb.Next())
		gt, gv := itb.At()
		require.Equal(t, ts[i], gt)
		require.Equal(t, 3*float64(i), gv)
	}
	_, v := itc.At()
	require.Equal(t, 10.0, v)
	require.Equal(t, chunkenc.ValNone, itc.Seek(ts[len(ts)-1]+1))

	allocs := testing.AllocsPerRun(100, func() {
		it := b.Iterator(nil)
		for it.Next() != chunkenc.ValNone {
		}
	})
	// The iterator itself; a garbage collection that empties the pool
	// during the run costs the columns once.
	require.LessOrEqual(t, allocs, 2.0)
}

func TestChunkSizeRegularCounter(t *testing.T) {
	n := 480
	ts := timestamps(n, 1_700_000_000_000, 15_000, 0, nil)
	vs := make([]float64, n)
	for i := range vs {
		vs[i] = float64(i * 3)
	}
	b := roundTrip(t, ts, vs)
	require.Less(t, float64(len(b))/float64(n), 0.3)
}

// Any bytes, with any times from a meta, decode or give an error.
func FuzzChunkDecode(f *testing.F) {
	f.Add(Encode(nil, []int64{1, 2, 3}, []float64{1, 2.5, math.NaN()}), int64(1), int64(3))
	f.Add(Encode(nil, []int64{1, 2, 4}, []float64{1, 2.5, math.NaN()}), int64(1), int64(4))
	f.Add(Encode(nil, timestamps(300, 0, 10, 0, nil), make([]float64, 300)), int64(0), int64(2990))
	f.Add([]byte{0, 2, 1}, int64(0), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, mint, maxt int64) {
		c := NewChunk(b, mint, maxt)
		it := c.Iterator(nil)
		n := 0
		for it.Next() == chunkenc.ValFloat {
			it.At()
			n++
		}
		if it.Err() == nil && n != c.NumSamples() {
			t.Fatalf("decoded %d samples of a chunk that says %d", n, c.NumSamples())
		}
		it.Seek(math.MaxInt64)
	})
}

// Any samples come back bit for bit.
func FuzzChunkRoundTrip(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, int64(1000), uint8(3))
	f.Fuzz(func(t *testing.T, raw []byte, step int64, shape uint8) {
		n := len(raw) / 8
		if n == 0 || step <= 0 || step > 1<<40 {
			return
		}
		ts := make([]int64, n)
		vs := make([]float64, n)
		for i := range n {
			bits := binary.LittleEndian.Uint64(raw[i*8:])
			ts[i] = int64(i) * step
			if shape&1 != 0 {
				ts[i] += int64(bits % uint64(step)) // jitter below the step keeps them increasing
				if i > 0 && ts[i] <= ts[i-1] {
					ts[i] = ts[i-1] + 1
				}
			}
			switch shape >> 1 % 3 {
			case 0:
				vs[i] = math.Float64frombits(bits)
			case 1:
				vs[i] = float64(int64(bits)>>40) / 100
			default:
				vs[i] = float64(bits >> 50)
			}
		}
		roundTrip(t, ts, vs)
	})
}

// Chunks of the earlier formats still decode: testdata/chunks-v1.json
// holds chunks written before packed columns had a base and a shift
// (flags bit 1 clear), chunks-v2.json the same samples written before the
// first and last timestamps were left to the meta (bit 2 clear), each
// beside Prometheus' XOR chunk of the same samples. They decode with any
// times, which they do not read.
func TestChunksOfEarlierFormatsDecode(t *testing.T) {
	for file, flags := range map[string]byte{"testdata/chunks-v1.json": 0, "testdata/chunks-v2.json": flagBase} {
		t.Run(file, func(t *testing.T) { testChunksDecode(t, file, flags) })
	}
}

func testChunksDecode(t *testing.T, file string, flags byte) {
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var golden []struct{ Columnar, XOR []byte }
	require.NoError(t, json.Unmarshal(b, &golden))
	require.NotEmpty(t, golden)
	for i, g := range golden {
		require.Equal(t, flags, g.Columnar[0]&^flagZstd, "chunk %d", i)
		want, err := chunkenc.FromData(chunkenc.EncXOR, g.XOR)
		require.NoError(t, err)
		wit, git := want.Iterator(nil), NewChunk(g.Columnar, -1, -1).Iterator(nil)
		n := 0
		for wit.Next() == chunkenc.ValFloat {
			require.Equal(t, chunkenc.ValFloat, git.Next(), "chunk %d: %v", i, git.Err())
			wt, wv := wit.At()
			gt, gv := git.At()
			require.Equal(t, wt, gt)
			require.Equal(t, math.Float64bits(wv), math.Float64bits(gv))
			n++
		}
		require.Equal(t, chunkenc.ValNone, git.Next())
		require.NoError(t, git.Err())
		require.Equal(t, want.NumSamples(), n)
	}
}

// A chunk's first and last timestamps come from its meta, and evenly
// spaced timestamps take no bytes at all: the chunk is read with its
// meta's times, and wrong times or none make it corrupt, not wrong.
func TestChunkTimesFromMeta(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	vs := make([]float64, 200)
	for i := range vs {
		vs[i] = float64(i * 7)
	}
	even := timestamps(len(vs), 1_700_000_000_000, 60_000, 0, r)
	jittered := timestamps(len(vs), 1_700_000_000_000, 60_000, 3, r)
	be, bj := roundTrip(t, even, vs), roundTrip(t, jittered, vs)
	require.NotZero(t, be[0]&flagRegular)
	require.Zero(t, bj[0]&flagRegular)
	// The even chunk's timestamps: not even the first and the step.
	require.Less(t, len(be), len(bj)-8)
	roundTrip(t, even[:1], vs[:1])
	roundTrip(t, []int64{5, 1 << 40}, vs[:2])

	for name, b := range map[string][]byte{"even": be, "jittered": bj} {
		ts := even
		if name == "jittered" {
			ts = jittered
		}
		t.Run(name, func(t *testing.T) { requireTimesChecked(t, EncColumnar, b, ts[0], ts[len(ts)-1]) })
	}
}

// requireTimesChecked checks that the chunk of encoding enc and bytes b,
// whose samples are from first to last, is corrupt when read with other
// times, and cannot be read without times.
func requireTimesChecked(t *testing.T, enc chunkenc.Encoding, b []byte, first, last int64) {
	t.Helper()
	for _, times := range [][2]int64{{first, last + 1}, {first + 1, last}, {last, first}} {
		c, err := Pool.Get(enc, b)
		require.NoError(t, err)
		c.(interface{ setTimes(mint, maxt int64) }).setTimes(times[0], times[1])
		it := c.Iterator(nil)
		require.Equal(t, chunkenc.ValNone, it.Next(), "read with times %v", times)
		require.ErrorIs(t, it.Err(), errCorrupt)
	}
	c, err := Pool.Get(enc, b)
	require.NoError(t, err)
	it := c.Iterator(nil)
	require.Equal(t, chunkenc.ValNone, it.Next())
	require.ErrorIs(t, it.Err(), errNoTimes)
}

// fromDecimals gives each value fromDecimal's bits, at every exponent a
// column may have and for mantissas on either side of its fast path's
// bound.
func TestFromDecimalsLikeFromDecimal(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	ms := []uint64{0, 1, 1<<53 - 1, 1 << 53, 1<<53 + 1, 1<<63 - 1}
	for _, m := range ms[:len(ms):len(ms)] {
		ms = append(ms, uint64(-int64(m)))
	}
	for range 1000 {
		ms = append(ms, rnd.Uint64()>>rnd.IntN(64), uint64(-int64(rnd.Uint64()>>rnd.IntN(64))))
	}
	vs := make([]float64, len(ms))
	for exp := -40; exp <= 40; exp++ {
		fromDecimals(vs, ms, exp)
		for i, m := range ms {
			require.Equal(t, math.Float64bits(fromDecimal(int64(m), exp)), math.Float64bits(vs[i]), "%d × 10^%d", int64(m), exp)
		}
	}
}

// fewDecimals finds the decimal that strconv's shortest digits give, or
// decides as toDecimal would on them (15 digits or more are kept as bits),
// for decimals of every length and scale, sums that are not decimals
// (0.1 × 3), random floats, and values on either side of 1e14.
func TestFewDecimalsLikeStrconv(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	vs := []float64{0.07, 0.1 * 3, 1e13 + 0.5, 99999999999999.9, 9999999999999.9, 1.5e-25, 5e-324,
		math.SmallestNonzeroFloat64 * 3, 123.456, -0.001, 1e-22, 1.1e-22, 0.5}
	for range 200_000 {
		m := rnd.Int64N(1 << uint(1+rnd.IntN(53)))
		if rnd.IntN(2) == 0 {
			m = -m
		}
		k := rnd.IntN(len(pow10))
		vs = append(vs, float64(m)/pow10[k], float64(m)*0.1, rnd.NormFloat64()*math.Pow(10, float64(rnd.IntN(40)-20)))
	}
	var e encoder
	decided := 0
	for _, v := range vs {
		m, exp, ok, done := fewDecimals(v)
		if !done {
			continue
		}
		decided++
		require.NotEqual(t, v, math.Trunc(v), "decided an integer, %v", v)
		wm, wexp, wok := e.formattedDecimal(v)
		require.True(t, wok, "%v", v)
		for wm%10 == 0 {
			wm /= 10
			wexp++
		}
		if wm >= 1e14 || wm <= -1e14 {
			require.False(t, ok, "%v: %d × 10^%d, strconv's takes 15 digits or more", v, m, exp)
			continue
		}
		require.True(t, ok, "%v: strconv's is %d × 10^%d", v, wm, wexp)
		require.Equal(t, [2]int64{wm, int64(wexp)}, [2]int64{m, int64(exp)}, "%v", v)
	}
	require.Greater(t, decided, len(vs)/2, "fewDecimals decides most values")
}

// integers converts a column of integers as decimals does, for columns
// of counters, of multiples of powers of ten, of zeros, with negatives,
// near 1e14, and declines columns with a fraction, -0, NaN or a larger
// value, which decimals then converts.
func TestIntegersLikeDecimals(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var a, b encoder
	taken := 0
	for k := range 5000 {
		n := 1 + r.IntN(600)
		vs := make([]float64, n)
		scale := float64(pow10i[r.IntN(len(pow10i))])
		for i := range vs {
			switch k % 5 {
			case 0:
				vs[i] = float64(i*7+r.IntN(5)) * scale
			case 1:
				vs[i] = float64(r.IntN(3)) * scale // zeros among them
			case 2:
				vs[i] = -float64(r.Int64N(1e14) / int64(scale) * int64(scale))
			case 3:
				vs[i] = 0
			default:
				vs[i] = float64(r.Int64N(2e14) - 1e14)
			}
		}
		if r.IntN(4) == 0 { // one value integers declines
			vs[r.IntN(n)] = []float64{0.5, math.Copysign(0, -1), math.NaN(), 1e14, -1e14, math.Inf(1), 123.25}[r.IntN(7)]
		}
		a.mantissas = growInt64(a.mantissas, n)
		exp, ok := a.integers(vs)
		b.mantissas = growInt64(b.mantissas, n)
		wexp, wok := b.decimals(vs)
		if !ok {
			continue
		}
		taken++
		require.True(t, wok, "column %d", k)
		require.Empty(t, b.raw, "column %d: decimals keeps values as bits that integers converts", k)
		require.Equal(t, wexp, exp, "column %d", k)
		require.Equal(t, b.mantissas, a.mantissas, "column %d", k)
	}
	require.Greater(t, taken, 3000)
}

// TestPlanOfOneIntegerLikeEach: planInts' short cut for a column of one
// integer throughout chooses what planning all three columns would, so
// chunks are as small, and as a reader expects them, either way.
func TestPlanOfOneIntegerLikeEach(t *testing.T) {
	for _, m := range []int64{0, 1, -1, 127, -300, 1 << 40, math.MaxInt64, math.MinInt64} {
		for _, n := range []int{2, 3, 120, 512} {
			ms := make([]int64, n)
			for i := range ms {
				ms[i] = m
			}
			var fast, each encoder
			mode, column, plan := fast.planInts(ms)
			wantMode, wantColumn, wantPlan := each.planEach(ms, make([]uint64, n))
			require.Equal(t, wantMode, mode, "%d × %d", n, m)
			require.Equal(t, wantColumn, column, "%d × %d", n, m)
			require.Equal(t, wantPlan, plan, "%d × %d", n, m)
		}
	}
}

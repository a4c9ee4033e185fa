package colblock

import (
	"encoding/binary"
	"math"
	"strconv"
	"sync"
)

// maxChunkSamples bounds what a chunk may claim to hold, so that a corrupt
// header cannot make the decoder allocate without bound. The compactor cuts
// chunks far shorter (Options.SamplesPerChunk).
const maxChunkSamples = 1 << 16

// encoder holds an Encode call's buffers.
type encoder struct {
	payload   []byte
	zbuf      []byte
	mantissas []int64
	exps      []int16
	ok        []bool
	raw       []int // indices of the values kept as bits
	digits    []byte
	us, us2   []uint64
	us3       []uint64
	ints      []int64   // a histogram chunk's integer column
	floats    []float64 // a histogram chunk's sums
	vbuf      [binary.MaxVarintLen64]byte
}

var encoderPool = sync.Pool{New: func() any { return &encoder{} }}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// toDecimal sets e.mantissas to the values of vs as integers m with one
// common exponent exp, v = m × 10^exp, where m converts back to v's bits
// through fromDecimal's fast path: |m| < 2^53 and |exp| ≤ 22, so that a
// value decodes in one multiplication or division. Those that do not (NaN
// and stale markers, ±Inf, -0, values of 15 digits or more, values whose
// exponent lies too far from the others') are listed in e.raw, to be kept
// as bits, and repeat the previous mantissa, so that their deltas are 0.
// If more than a quarter are, it returns false: the chunk is better kept
// as XORed bits.
func (e *encoder) toDecimal(vs []float64) (exp int, ok bool) {
	e.mantissas = growInt64(e.mantissas, len(vs))
	e.raw = e.raw[:0]
	if exp, ok := e.integers(vs); ok {
		return exp, true
	}
	return e.decimals(vs)
}

// decimals is toDecimal for any column: each value's shortest decimal,
// then one exponent for all.
func (e *encoder) decimals(vs []float64) (exp int, ok bool) {
	n := len(vs)
	if cap(e.exps) < n {
		e.exps, e.ok = make([]int16, n), make([]bool, n)
	}
	e.exps, e.ok, e.raw = e.exps[:n], e.ok[:n], e.raw[:0]
	minExp := math.MaxInt16
	long := 0
	for i, v := range vs {
		m, x, ok := e.shortestDecimal(v)
		// Values of 15 digits or more (random floats) take as many bits
		// as XOR does: a chunk with many is XORed without going on.
		ok = ok && m < 1e14 && m > -1e14
		e.mantissas[i], e.exps[i], e.ok[i] = m, int16(x), ok
		if !ok {
			if long++; long > n/4 {
				return 0, false
			}
		} else if m != 0 {
			minExp = min(minExp, x)
		}
	}
	switch {
	case minExp == math.MaxInt16:
		minExp = 0 // all zeros, or none converts
	case minExp < -(len(pow10)-1) || minExp > len(pow10)-1:
		return 0, false
	}
	prev := int64(0)
	for i, m := range e.mantissas {
		ok := e.ok[i]
		for k := int(e.exps[i]) - minExp; ok && m != 0 && k > 0; k-- {
			m *= 10
			ok = m < 1<<53 && m > -(1<<53)
		}
		if ok && math.Float64bits(fromDecimal(m, minExp)) != math.Float64bits(vs[i]) {
			ok = false
		}
		if !ok {
			e.raw = append(e.raw, i)
			if len(e.raw) > n/4 {
				return 0, false
			}
			m = prev
		}
		e.mantissas[i], prev = m, m
	}
	return minExp, true
}

// pow10i holds the powers of ten that a mantissa below 1e14 may be
// divided by.
var pow10i = [...]int64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13}

// integers sets e.mantissas as the rest of toDecimal would for a column
// of integers below 1e14 (counters, and the buckets of histograms): each
// value divided by the greatest power of ten that divides every one of
// them but zeros. It returns false for any other column, having decided
// nothing: a value that is not an integer, is that large, or is -0.
// Shortest decimals of integers cost divisions for every value, and were
// most of converting a counter's column.
func (e *encoder) integers(vs []float64) (exp int, ok bool) {
	p := -1 // the exponent, unknown until a value other than 0
	for i, v := range vs {
		if v != math.Trunc(v) || v >= 1e14 || v <= -1e14 || v == 0 && math.Signbit(v) {
			return 0, false
		}
		m := int64(v)
		e.mantissas[i] = m
		if m == 0 || p == 0 {
			continue
		}
		if p < 0 {
			p = len(pow10i) - 1
		}
		for m%pow10i[p] != 0 {
			p--
		}
	}
	if p <= 0 {
		return 0, true
	}
	for i := range e.mantissas {
		e.mantissas[i] /= pow10i[p]
	}
	return p, true
}

// shortestDecimal returns the shortest decimal m × 10^exp that parses back
// to v, without trailing zeros in m.
func (e *encoder) shortestDecimal(v float64) (m int64, exp int, ok bool) {
	if v == 0 {
		return 0, 0, !math.Signbit(v)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, 0, false
	}
	if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
		m = int64(v)
	} else if fm, fexp, fok, decided := fewDecimals(v); decided {
		return fm, fexp, fok
	} else if m, exp, ok = e.formattedDecimal(v); !ok {
		return 0, 0, false
	}
	for m%10 == 0 {
		m /= 10
		exp++
	}
	return m, exp, exp >= math.MinInt16/2 && exp <= math.MaxInt16/2
}

// formattedDecimal returns the shortest decimal m × 10^exp that parses
// back to v, a finite value other than 0, from strconv's digits.
func (e *encoder) formattedDecimal(v float64) (m int64, exp int, ok bool) {
	// strconv gives the shortest digits that round-trip, as "-d.dddde±xx".
	e.digits = strconv.AppendFloat(e.digits[:0], v, 'e', -1, 64)
	s := e.digits
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	i := 0
	for ; i < len(s) && s[i] != 'e'; i++ {
		if s[i] == '.' {
			continue
		}
		m = m*10 + int64(s[i]-'0')
		if s[i] != '.' && i > 0 {
			exp--
		}
	}
	x, err := strconv.Atoi(string(s[i+1:]))
	if err != nil {
		return 0, 0, false
	}
	exp += x
	if neg {
		m = -m
	}
	return m, exp, true
}

// fewDecimals returns v as m × 10^-k for the smallest k that parses back
// to v, the shortest decimal that strconv would give, found without
// formatting: strconv was most of encoding a gauge of decimals. For each k
// the integer nearest to v × 10^k is the only one that can parse back (v's
// rounding interval, scaled by 10^k, is narrower than 1 while |v| × 10^k <
// 1e14), and m / 10^k parses back exactly when fromDecimal's one division
// gives v. It has decided, with ok false, when the decimal would take 15
// digits or more (toDecimal keeps those as bits), and has not decided for
// integers or values too small for the powers of ten that float64 holds
// exactly.
func fewDecimals(v float64) (m int64, exp int, ok, decided bool) {
	if v == math.Trunc(v) {
		return 0, 0, false, false
	}
	for k := 1; k < len(pow10); k++ {
		s := v * pow10[k]
		if s >= 1e14 || s <= -1e14 {
			return 0, 0, false, true
		}
		if r := math.Round(s); r/pow10[k] == v {
			return int64(r), -k, true, true
		}
	}
	return 0, 0, false, false
}

// fromDecimals sets vs[i] to fromDecimal(int64(ms[i]), exp), with the
// exponent's case chosen once for the column: fromDecimal's switch per
// value was a quarter of decoding value columns in a day-long query's
// profile.
func fromDecimals(vs []float64, ms []uint64, exp int) {
	const exact = 1 << 53 // the mantissas that fromDecimal's fast path takes
	switch {
	case exp >= 0 && exp < len(pow10):
		p := pow10[exp]
		for i, u := range ms {
			if m := int64(u); m > -exact && m < exact {
				vs[i] = float64(m) * p
			} else {
				vs[i] = fromDecimal(m, exp)
			}
		}
	case exp < 0 && -exp < len(pow10):
		p := pow10[-exp]
		for i, u := range ms {
			if m := int64(u); m > -exact && m < exact {
				vs[i] = float64(m) / p
			} else {
				vs[i] = fromDecimal(m, exp)
			}
		}
	default:
		for i, u := range ms {
			vs[i] = fromDecimal(int64(u), exp)
		}
	}
}

// fromDecimal returns the float64 nearest to m × 10^exp. Where m and 10^|exp|
// are both exact in float64 one multiplication or division rounds correctly
// (Clinger's fast path); otherwise strconv does.
func fromDecimal(m int64, exp int) float64 {
	if m == 0 {
		return 0
	}
	if m > -(1<<53) && m < 1<<53 {
		switch {
		case exp == 0:
			return float64(m)
		case exp > 0 && exp < len(pow10):
			return float64(m) * pow10[exp]
		case exp < 0 && -exp < len(pow10):
			return float64(m) / pow10[-exp]
		}
	}
	var buf [48]byte
	b := strconv.AppendInt(buf[:0], m, 10)
	b = append(b, 'e')
	b = strconv.AppendInt(b, int64(exp), 10)
	f, _ := strconv.ParseFloat(string(b), 64) // ±Inf for out-of-range: never round-trips, so never written
	return f
}

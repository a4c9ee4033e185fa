package record

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/segment"
)

// The attribute encoding is stored by both stores: these bytes must not
// change (docs/format/segment.md, "kvs").
func TestKVsEncoding(t *testing.T) {
	kvs := []KV{{Key: "a", Value: "x", Type: TypeString}, {Key: "n", Value: "12", Type: TypeInt}}
	var e segment.Enc
	EncodeKVs(&e, kvs)
	require.Equal(t, []byte{2, 1, 'a', 1, 1, 'x', 1, 'n', 2, 2, '1', '2'}, e.B)
	d := segment.Dec{B: e.B}
	require.Equal(t, kvs, DecodeKVs(&d))
	require.NoError(t, d.Err)
	require.Empty(t, d.B)

	d = segment.Dec{B: []byte{9, 0}} // more attributes than bytes
	require.Nil(t, DecodeKVs(&d))
	require.ErrorIs(t, d.Err, segment.ErrCorrupt)
}

func TestRepair(t *testing.T) {
	s := Span{Name: "ok", Attributes: []KV{{Key: "k\xff", Value: "v", Type: TypeString}, {Key: "b", Value: "\xff", Type: TypeBytes}}}
	require.True(t, s.Repair(nil))
	require.Equal(t, "k\uFFFD", s.Attributes[0].Key)
	require.Equal(t, "\xff", s.Attributes[1].Value, "bytes are base64 text, left alone")
	require.False(t, s.Repair(nil))
}

func TestParseTraceID(t *testing.T) {
	id, err := ParseTraceID("0102030405060708090a0b0c0d0e0f10")
	require.NoError(t, err)
	require.Equal(t, [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, id)
	for _, bad := range []string{"", "0102030405060708090a0b0c0d0e0f1011", "0102030405060708090a0b0c0d0e0fxx", "00000000000000000000000000000000", "0"} {
		_, err := ParseTraceID(bad)
		require.Error(t, err, bad)
	}
	// Shorter IDs are left-padded, as Tempo reads them: a 64-bit ID, and
	// an odd number of digits.
	id, err = ParseTraceID("D269B633813FC60C")
	require.NoError(t, err)
	require.Equal(t, [16]byte{8: 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}, id)
	id, err = ParseTraceID("abc")
	require.NoError(t, err)
	require.Equal(t, [16]byte{14: 0x0a, 15: 0xbc}, id)
}

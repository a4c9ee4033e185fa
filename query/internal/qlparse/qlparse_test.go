package qlparse

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestParseError(t *testing.T) {
	require.EqualError(t, &ParseError{Msg: "boom"}, "parse error : boom")
	require.EqualError(t, &ParseError{Msg: "boom", Line: 2, Col: 3}, "parse error at line 2, col 3: boom")
	require.EqualError(t, Unexpected("a b", 2, "IDENTIFIER", ""), "parse error at line 1, col 3: syntax error: unexpected IDENTIFIER")
	require.EqualError(t, Unexpected("a b", 3, "$end", ", or }"), "parse error at line 1, col 4: syntax error: unexpected $end, expecting , or }")
	require.EqualError(t, Errorf("x", 0, "100%% %s", "sure"), "parse error at line 1, col 1: 100% sure")
}

func TestPosition(t *testing.T) {
	f := func(in string, pos, line, col int) {
		t.Helper()
		l, c := Position(in, pos)
		require.Equal(t, [2]int{line, col}, [2]int{l, c}, "%q at %d", in, pos)
	}
	f("", 0, 1, 1)
	f("abc", 2, 1, 3)
	f("abc", 10, 1, 4)
	f("ab\ncd", 3, 2, 1)
	f("ab\ncd", 4, 2, 2)
	f("a\n\nb", 3, 3, 1)
	f("é=x", 2, 1, 2) // columns count runes
}

func TestScanString(t *testing.T) {
	f := func(in, want string, wantEnd int, wantErr string) {
		t.Helper()
		s, end, err := ScanString(in, 1)
		if wantErr != "" {
			require.NotNil(t, err, in)
			require.Equal(t, wantErr, err.Error(), in)
			return
		}
		require.Nil(t, err, in)
		require.Equal(t, want, s, in)
		require.Equal(t, wantEnd, end, in)
	}
	f(` "a\tb" x`, "a\tb", 7, "")
	f(" `a\\tb\nc` x", "a\\tb\nc", 9, "")
	f(` "a\"b"`, `a"b`, 7, "")
	f(` ""`, "", 3, "")
	f(` "abc`, "", 0, "parse error at line 1, col 2: literal not terminated")
	f(" \"ab\nc\"", "", 0, "parse error at line 1, col 2: literal not terminated")
	f(` "ab\`, "", 0, "parse error at line 1, col 2: literal not terminated")
	f(" `abc", "", 0, "parse error at line 1, col 2: literal not terminated")
	f(` "\q"`, "", 0, `parse error at line 1, col 2: invalid string literal "\q": invalid syntax`)
	f(" \"\xff\"", "", 0, "parse error at line 1, col 2: invalid UTF-8 rune")
}

func TestScanNumber(t *testing.T) {
	f := func(in string, wantEnd int, wantFloat bool) {
		t.Helper()
		end, isFloat := ScanNumber(in, 0)
		require.Equal(t, wantEnd, end, in)
		require.Equal(t, wantFloat, isFloat, in)
	}
	f("42", 2, false)
	f("42ms", 2, false)
	f("1.5s", 3, true)
	f("1.", 2, true)
	f(".5", 2, true)
	f("1e3", 3, true)
	f("1E-3x", 4, true)
	f("1e+", 1, false)
	f("1e", 1, false)
	f("1ex", 1, false)
	f("1.5e3.2", 5, true)
}

func FuzzScan(f *testing.F) {
	for _, s := range []string{`"a\"b"`, "`x`", `"\xff"`, "\"\xff\"", "1.5e-3ms", ".5", `"ab\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if in == "" {
			return
		}
		end, _ := ScanNumber(in, 0)
		require.True(t, end >= 0 && end <= len(in))
		if in[0] != '"' && in[0] != '`' {
			return
		}
		_, end, err := ScanString(in, 0)
		if err != nil {
			line, col := Position(in, 0)
			require.Equal(t, [2]int{1, 1}, [2]int{line, col})
			return
		}
		require.True(t, end >= 2 && end <= len(in))
		require.Equal(t, in[0], in[end-1])
		require.True(t, utf8.ValidString(in[:end]))
	})
}

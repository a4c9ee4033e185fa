package wal

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func replayAll(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	require.NoError(t, Replay(dir, func(r []byte) error { got = append(got, string(r)); return nil }))
	return got
}

func TestAppendReplayCutRemove(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir)
	require.NoError(t, err)
	require.NoError(t, w.Append([]byte("a"), []byte("b")))
	seq, err := w.Cut()
	require.NoError(t, err)
	require.NoError(t, w.Append([]byte("c")))
	require.Equal(t, []string{"a", "b", "c"}, replayAll(t, dir))

	require.NoError(t, w.Remove(seq))
	require.Equal(t, []string{"c"}, replayAll(t, dir))
	require.NoError(t, w.Close())

	// Reopening appends to a new file after the old ones.
	w, err = Open(dir)
	require.NoError(t, err)
	require.NoError(t, w.Append([]byte("d")))
	require.NoError(t, w.Close())
	require.Equal(t, []string{"c", "d"}, replayAll(t, dir))
}

func TestTornTailIsCut(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir)
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, w.Append([]byte(fmt.Sprintf("record-%d", i))))
	}
	require.NoError(t, w.Close())
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	require.Len(t, files, 1)
	fi, _ := os.Stat(files[0])
	// A crash in the middle of the last write.
	require.NoError(t, os.Truncate(files[0], fi.Size()-3))
	require.Equal(t, []string{"record-0", "record-1"}, replayAll(t, dir))
	// The torn frame was cut: appends after reopening are read back.
	w, err = Open(dir)
	require.NoError(t, err)
	require.NoError(t, w.Append([]byte("after")))
	require.NoError(t, w.Close())
	require.Equal(t, []string{"record-0", "record-1", "after"}, replayAll(t, dir))
}

func TestCorruptFrame(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir)
	require.NoError(t, err)
	require.NoError(t, w.Append([]byte("good"), []byte("flipped")))
	require.NoError(t, w.Close())
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	b, _ := os.ReadFile(files[0])
	b[len(b)-1] ^= 0xff
	require.NoError(t, os.WriteFile(files[0], b, 0o644))
	require.Equal(t, []string{"good"}, replayAll(t, dir))
}

func FuzzReplay(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{5, 0, 0, 0, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000"), b, 0o644))
		require.NoError(t, Replay(dir, func([]byte) error { return nil }))
	})
}

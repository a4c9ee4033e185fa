package wal

import (
	"bytes"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// A write that fails half-way (here: the file size limit, as a full disk
// would) fails that append and leaves no torn frame in front of the
// appends after it.
func TestFailedWriteLeavesNothingTorn(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, w.Append([]byte("before")))

	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim))
	small := lim
	small.Cur = uint64(w.Size()) + 100 // room for part of the next frame
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small))
	err = w.Append(bytes.Repeat([]byte("x"), 4096))
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
	require.Error(t, err, "the write over the limit fails")

	require.NoError(t, w.Append([]byte("after")))
	require.Equal(t, []string{"before", "after"}, replayAll(t, dir), "the failed batch is gone, the next one kept")
}

package segment

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestBlockPipelineKeepsOrder: blocks encoded on several goroutines, some
// slower than others, are written in the order they were added, each with
// its own columns and filter, and the encoders' state is per goroutine.
func TestBlockPipelineKeepsOrder(t *testing.T) {
	s, err := OpenSet(t.TempDir(), nil)
	require.NoError(t, err)
	defer s.Close()
	base := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC).UnixNano()
	w, err := s.NewWriter(base, Lineage{})
	require.NoError(t, err)
	type state struct{ buf Enc } // reused by its goroutine, as stores' encoders are
	p := NewBlockPipeline[state](w)
	const blocks = 50
	for b := range blocks {
		require.NoError(t, p.Add(func(st *state) BlockData {
			if b%7 == 0 {
				runtime.Gosched() // let later blocks finish first
			}
			st.buf.B = st.buf.B[:0]
			for i := range 10 {
				st.buf.Varint(int64(b*10 + i))
			}
			return BlockData{MinT: base + int64(b), MaxT: base + int64(b), Rows: 10, Cols: Columns{"v": st.buf.B}, Tokens: []uint64{uint64(b) * 0x9e3779b97f4a7c15}}
		}))
	}
	require.NoError(t, p.Wait())
	p.Close()
	r, err := w.Finish()
	require.NoError(t, err)
	defer r.Release()
	require.Len(t, r.Blocks, blocks)
	for b := range blocks {
		require.Equal(t, base+int64(b), r.Blocks[b].MinT)
		cols, err := r.ReadBlock(b, "v")
		require.NoError(t, err)
		d := Dec{B: cols["v"]}
		for i := range 10 {
			require.Equal(t, int64(b*10+i), d.Varint(), "block %d row %d", b, i)
		}
		require.True(t, r.BlockFilter(b).MayContain(uint64(b)*0x9e3779b97f4a7c15), "block %d has its own filter", b)
	}
}

// TestBlockPipelineError: a block that cannot be prepared fails Add or
// Wait, and Close after it stops every goroutine.
func TestBlockPipelineError(t *testing.T) {
	s, err := OpenSet(t.TempDir(), nil)
	require.NoError(t, err)
	defer s.Close()
	w, err := s.NewWriter(time.Now().UnixNano(), Lineage{})
	require.NoError(t, err)
	defer w.Abort()
	p := NewBlockPipeline[struct{}](w)
	err = p.Add(func(*struct{}) BlockData { return BlockData{Rows: BlockRows + 1} })
	if err == nil {
		err = p.Wait()
	}
	require.Error(t, err)
	require.Contains(t, err.Error(), "more than")
	p.Close()
	p.Close() // twice is allowed
}

// TestMain fails the package's tests if a goroutine outlives them: a
// pipeline's workers must stop with Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package colblock

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/stretchr/testify/require"
)

// chunkWriter writes the segment files that Prometheus' chunks.Writer
// writes for the same series' chunks, with the same references: in one
// segment, and cut into many where segments are small, with chunks larger
// than a segment among them.
func TestChunkWriterWritesPrometheusBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, segSize := range []int64{chunks.DefaultChunkSegmentSize, 64 << 10, 3000, 100} {
		var series [][]chunks.Meta
		for range 300 {
			var chks []chunks.Meta
			for range r.IntN(6) {
				xor := chunkenc.NewXORChunk()
				app, _ := xor.Appender()
				for i := range r.IntN(400) {
					app.Append(int64(i)*15_000, float64(r.IntN(1000)))
				}
				chks = append(chks, chunks.Meta{Chunk: xor})
			}
			if r.IntN(20) == 0 {
				chks = append(chks, chunks.Meta{Chunk: NewChunk(Encode(nil, []int64{1, 2}, []float64{0.5, 1}), 1, 2)})
			}
			series = append(series, chks)
		}
		dir := t.TempDir()
		want, got := filepath.Join(dir, "want"), filepath.Join(dir, "got")
		pw, err := chunks.NewWriter(want, chunks.WithSegmentSize(segSize))
		require.NoError(t, err)
		w, err := newChunkWriter(got, segSize)
		require.NoError(t, err)
		for _, chks := range series {
			if len(chks) == 0 {
				continue
			}
			mine := append([]chunks.Meta(nil), chks...)
			require.NoError(t, pw.WriteChunks(chks...))
			require.NoError(t, w.WriteChunks(mine...))
			for i := range chks {
				require.Equal(t, chks[i].Ref, mine[i].Ref, "segment size %d: reference of a chunk", segSize)
			}
		}
		require.NoError(t, pw.Close())
		require.NoError(t, w.Finish())
		require.NoError(t, w.Close())

		files, err := os.ReadDir(want)
		require.NoError(t, err)
		gotFiles, err := os.ReadDir(got)
		require.NoError(t, err)
		require.Len(t, gotFiles, len(files), "segment size %d: segments", segSize)
		if segSize == 100 {
			require.Greater(t, len(files), 100, "every chunk in a segment of its own")
		}
		for _, f := range files {
			wb, err := os.ReadFile(filepath.Join(want, f.Name()))
			require.NoError(t, err)
			gb, err := os.ReadFile(filepath.Join(got, f.Name()))
			require.NoError(t, err)
			require.Equal(t, wb, gb, fmt.Sprintf("segment size %d: segment %s", segSize, f.Name()))
		}
	}
}

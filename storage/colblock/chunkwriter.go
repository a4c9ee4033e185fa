package colblock

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/fileutil"
)

// chunkWriter writes a block's chunks into segment files in Prometheus'
// format, the bytes that chunks.Writer writes, cut into segments where it
// cuts them. Prometheus' writer allocates an 8 MiB buffer for every block;
// this one takes a smaller one from a pool.
type chunkWriter struct {
	dir         string
	segmentSize int64
	w           *bufio.Writer // nil until the first segment
	f           *os.File
	seq         int   // the current segment's index, from 0
	n           int64 // bytes in the current segment
	buf         [max(segmentHeaderSize, binary.MaxVarintLen32+1)]byte
}

var chunkBufPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 256<<10) }}

const (
	chunksFormat      = 1 // the version of Prometheus' chunk segments written
	segmentHeaderSize = chunks.SegmentHeaderSize
	// maxChunkOverhead is what a chunk takes in a segment beyond its
	// bytes, as chunks.Writer counts it to cut segments: the largest
	// length field, the encoding and the CRC.
	maxChunkOverhead = chunks.MaxChunkLengthFieldSize + chunks.ChunkEncodingSize + crc32.Size
)

// newChunkWriter creates the directory dir, for segments of at most
// segmentSize bytes (a segment holds one chunk at least, whatever its
// size).
func newChunkWriter(dir string, segmentSize int64) (*chunkWriter, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	return &chunkWriter{dir: dir, segmentSize: segmentSize, seq: -1}, nil
}

// WriteChunks writes a series' chunks and sets their references. It cuts
// a new segment before a chunk that would take the current one beyond its
// size, counting the chunks from the series' first as chunks.Writer does.
func (w *chunkWriter) WriteChunks(chks ...chunks.Meta) error {
	if w.w == nil {
		if err := w.cut(); err != nil {
			return err
		}
	}
	end := w.n // where the series' chunks would end, as chunks.Writer predicts it
	held := w.n > segmentHeaderSize
	for i := range chks {
		c := &chks[i]
		b := c.Chunk.Bytes()
		if end += int64(maxChunkOverhead + len(b)); end > w.segmentSize && held {
			if err := w.cut(); err != nil {
				return err
			}
			end = segmentHeaderSize + int64(maxChunkOverhead+len(b))
		}
		held = true
		c.Ref = chunks.ChunkRef(chunks.NewBlockChunkRef(uint64(w.seq), uint64(w.n)))
		n := binary.PutUvarint(w.buf[:], uint64(len(b)))
		w.buf[n] = byte(c.Chunk.Encoding())
		crc := crc32.Update(crc32.Update(0, castagnoli, w.buf[n:n+1]), castagnoli, b)
		w.w.Write(w.buf[:n+1]) // errors stay in w.w: Flush returns them
		w.w.Write(b)
		w.w.Write(binary.BigEndian.AppendUint32(w.buf[:0], crc))
		w.n += int64(n + 1 + len(b) + crc32.Size)
	}
	return nil
}

// cut ends the current segment, if any, and starts the next.
func (w *chunkWriter) cut() error {
	if err := w.finishSegment(); err != nil {
		return err
	}
	w.seq++
	f, err := os.Create(filepath.Join(w.dir, fmt.Sprintf("%0.6d", w.seq+1)))
	if err != nil {
		return err
	}
	if w.w == nil {
		w.w = chunkBufPool.Get().(*bufio.Writer)
	}
	w.f = f
	w.w.Reset(f)
	hdr := w.buf[:segmentHeaderSize]
	clear(hdr)
	binary.BigEndian.PutUint32(hdr, chunks.MagicChunks)
	hdr[4] = chunksFormat
	w.w.Write(hdr)
	w.n = segmentHeaderSize
	return nil
}

// finishSegment flushes, syncs and closes the current segment.
func (w *chunkWriter) finishSegment() error {
	if w.f == nil {
		return nil
	}
	err := w.w.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	err = errors.Join(err, w.f.Close())
	w.f = nil
	return err
}

// Finish writes out the last segment and syncs the directory.
func (w *chunkWriter) Finish() error {
	if err := w.finishSegment(); err != nil {
		return err
	}
	df, err := fileutil.OpenDir(w.dir)
	if err != nil {
		return err
	}
	return errors.Join(df.Sync(), df.Close())
}

// Close closes what Finish has not, and returns the buffer to its pool.
func (w *chunkWriter) Close() error {
	var err error
	if w.f != nil {
		err = w.f.Close()
		w.f = nil
	}
	if w.w != nil {
		w.w.Reset(nil)
		chunkBufPool.Put(w.w)
		w.w = nil
	}
	return err
}

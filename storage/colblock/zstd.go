package colblock

import "github.com/klauspost/compress/zstd"

// zstd encoders and a decoder for the process, all safe for concurrent
// use: chunks are compressed at the fastest level (they are many and
// small), exemplar files better (one per block). No checksum in chunks:
// their record has a CRC.
var (
	zstdFast, _ = zstd.NewWriter(nil, zstd.WithEncoderCRC(false), zstd.WithEncoderLevel(zstd.SpeedFastest))
	zstdEnc, _  = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	// A chunk decodes to a few hundred kB at most (maxChunkSamples);
	// a block's exemplars, up to 1 GiB (16M exemplars or so).
	zstdDec, _          = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(16<<20))
	zstdExemplarsDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))
)

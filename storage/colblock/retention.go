package colblock

import (
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/fileutil"
)

// Retention is the tsdb.Options.BlocksToDelete of a TSDB with columnar
// blocks. Prometheus' size retention counts a block's chunks, index,
// tombstones and meta.json, and the head's WAL and chunk files, but not
// the exemplars file of a columnar block nor the head's exemplar files:
// with an exemplar on every histogram point those are a third of the
// bytes, and the store would outgrow its limit by as much. Retention
// deletes what Prometheus' own time and size retention delete (and
// Prometheus counts those in its metrics), then the oldest blocks until
// the total with the exemplar files is within the limit.
type Retention struct {
	maxBytes int64
	db       atomic.Pointer[tsdb.DB]
}

// NewRetention returns the retention of a TSDB whose size limit is
// maxBytes (0 for none), the same as its tsdb.Options.MaxBytes.
func NewRetention(maxBytes int64) *Retention {
	return &Retention{maxBytes: maxBytes}
}

// Attach gives r the TSDB it works for, once tsdb.Open has returned. The
// TSDB reloads its blocks while it opens, before that: that reload deletes
// nothing, and the one the TSDB makes every minute applies the retention.
func (r *Retention) Attach(db *tsdb.DB) { r.db.Store(db) }

// BlocksToDelete is a tsdb.BlocksToDeleteFunc.
func (r *Retention) BlocksToDelete(blocks []*tsdb.Block) map[ulid.ULID]struct{} {
	db := r.db.Load()
	if db == nil {
		return nil
	}
	deletable := tsdb.DefaultBlocksToDelete(db)(blocks)
	if r.maxBytes <= 0 || len(blocks) == 0 {
		return deletable
	}
	if deletable == nil {
		deletable = map[ulid.ULID]struct{}{}
	}
	// Newest first, so that the oldest go, as in Prometheus.
	slices.SortFunc(blocks, func(a, b *tsdb.Block) int { return cmpInt(b.Meta().MaxTime, a.Meta().MaxTime) })
	headExemplars, _ := fileutil.DirSize(filepath.Join(db.Dir(), headExemplarsDir)) // 0 if there is none
	size := db.Head().Size() + headExemplars
	for i, b := range blocks {
		size += b.Size() + fileSize(filepath.Join(b.Dir(), exemplarsFile))
		if size > r.maxBytes {
			for _, b := range blocks[i:] {
				deletable[b.Meta().ULID] = struct{}{}
			}
			break
		}
	}
	return deletable
}

// fileSize is the size of the file at path; 0 if there is none.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

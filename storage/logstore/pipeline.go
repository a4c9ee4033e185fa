package logstore

import (
	"runtime"
	"sync"

	"github.com/sightline-dev/sightline/storage/segment"
)

// blockPipeline encodes a part's blocks (columns, token hashes, zstd) on
// as many goroutines as there are CPUs and hands them to the segment
// writer in order. The encoding is most of a flush's CPU; done on one
// goroutine, the flush fell behind ingest on two cores and appends were
// refused with backpressure while a CPU was idle.
type blockPipeline struct {
	w       *segment.Writer
	jobs    chan blockJob
	pending []chan prepared // in block order
	max     int             // blocks in flight before add waits
	workers sync.WaitGroup
	closed  bool
}

type blockJob struct {
	blk  []*Record
	ids  []int // the records' stream numbers in the segment
	done chan prepared
}

type prepared struct {
	pb  segment.PreparedBlock
	err error
}

func newBlockPipeline(w *segment.Writer) *blockPipeline {
	n := runtime.GOMAXPROCS(0)
	p := &blockPipeline{w: w, jobs: make(chan blockJob, n), max: 2 * n}
	for range n {
		p.workers.Add(1)
		go func() {
			defer p.workers.Done()
			var enc blockEncoder // its columns are valid until its next encode
			var hasher tokenHasher
			for j := range p.jobs {
				cols := enc.encode(j.blk)
				cols[colStream], cols[colSize] = encodeCountColumns(j.blk, j.ids)
				pb, err := w.Prepare(j.blk[0].Timestamp, j.blk[len(j.blk)-1].Timestamp, len(j.blk), cols, hasher.hashes(j.blk))
				j.done <- prepared{pb, err}
			}
		}()
	}
	return p
}

// add queues a block (which the pipeline keeps until it is written) and
// writes the blocks before it that are ready.
func (p *blockPipeline) add(blk []*Record, ids []int) error {
	done := make(chan prepared, 1) // the worker never waits on it
	p.jobs <- blockJob{blk: blk, ids: ids, done: done}
	p.pending = append(p.pending, done)
	for len(p.pending) > 0 {
		if len(p.pending) <= p.max {
			select {
			case r := <-p.pending[0]:
				if err := p.write(r); err != nil {
					return err
				}
				continue
			default:
				return nil
			}
		}
		if err := p.write(<-p.pending[0]); err != nil {
			return err
		}
	}
	return nil
}

func (p *blockPipeline) write(r prepared) error {
	p.pending = p.pending[1:]
	if r.err != nil {
		return r.err
	}
	return p.w.AddPrepared(r.pb)
}

// wait writes every queued block.
func (p *blockPipeline) wait() error {
	for len(p.pending) > 0 {
		if err := p.write(<-p.pending[0]); err != nil {
			return err
		}
	}
	return nil
}

// close stops the workers; blocks not yet written are dropped (the part is
// finished or abandoned).
func (p *blockPipeline) close() {
	if !p.closed {
		p.closed = true
		close(p.jobs)
		p.workers.Wait()
	}
}

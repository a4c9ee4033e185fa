package segment

import (
	"runtime"
	"sync"
)

// BlockData is a block as a store encodes it, for Writer.Prepare.
type BlockData struct {
	MinT, MaxT int64
	Rows       int
	Cols       Columns
	Tokens     []uint64
}

// BlockPipeline encodes a segment's blocks (the store's columns and token
// hashes, then zstd) on one goroutine per CPU and hands them to the Writer
// in order. Encoding is most of a flush's CPU; done on one goroutine, a
// flush fell behind ingest on two cores, and appends were refused with
// backpressure while a CPU was idle. Each goroutine has its own S, the
// store's encoder state.
type BlockPipeline[S any] struct {
	w       *Writer
	jobs    chan pipelineJob[S]
	pending []chan prepared // in block order
	max     int             // blocks in flight before Add waits
	workers sync.WaitGroup
	closed  bool
}

type pipelineJob[S any] struct {
	encode func(*S) BlockData
	done   chan prepared
}

type prepared struct {
	pb  PreparedBlock
	err error
}

// NewBlockPipeline starts a pipeline that writes into w.
func NewBlockPipeline[S any](w *Writer) *BlockPipeline[S] {
	n := runtime.GOMAXPROCS(0)
	p := &BlockPipeline[S]{w: w, jobs: make(chan pipelineJob[S], n), max: 2 * n}
	for range n {
		p.workers.Add(1)
		go func() {
			defer p.workers.Done()
			var state S
			for j := range p.jobs {
				d := j.encode(&state)
				pb, err := w.Prepare(d.MinT, d.MaxT, d.Rows, d.Cols, d.Tokens)
				j.done <- prepared{pb, err}
			}
		}()
	}
	return p
}

// Add queues the next block, which encode makes with a goroutine's state
// (the columns it returns may be reused once Prepare has compressed them),
// and writes the blocks before it that are ready. What encode reads must
// not change until the block is written.
func (p *BlockPipeline[S]) Add(encode func(*S) BlockData) error {
	done := make(chan prepared, 1) // the worker never waits on it
	p.jobs <- pipelineJob[S]{encode: encode, done: done}
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

func (p *BlockPipeline[S]) write(r prepared) error {
	p.pending = p.pending[1:]
	if r.err != nil {
		return r.err
	}
	return p.w.AddPrepared(r.pb)
}

// Wait writes every queued block.
func (p *BlockPipeline[S]) Wait() error {
	for len(p.pending) > 0 {
		if err := p.write(<-p.pending[0]); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the workers; blocks not yet written are dropped (the segment
// is finished or abandoned). It may be called more than once.
func (p *BlockPipeline[S]) Close() {
	if !p.closed {
		p.closed = true
		close(p.jobs)
		p.workers.Wait()
	}
}

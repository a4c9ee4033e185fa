package segment

import "container/heap"

// Next yields the rows of one sorted source, one at a time; ok is false
// once the source is exhausted.
type Next[T any] func() (row T, ok bool, err error)

// MergeSorted calls emit with the rows of every source in the order of less
// (each source already in that order); rows that compare equal come in
// source order. It holds one row per source, so merging parts needs memory
// for what the sources hold open (a block each), not for the parts.
func MergeSorted[T any](sources []Next[T], less func(a, b T) bool, emit func(T) error) error {
	h := &mergeHeap[T]{less: less}
	for i, next := range sources {
		row, ok, err := next()
		if err != nil {
			return err
		}
		if ok {
			h.items = append(h.items, mergeItem[T]{row: row, src: i})
		}
	}
	heap.Init(h)
	for len(h.items) > 0 {
		top := &h.items[0]
		if err := emit(top.row); err != nil {
			return err
		}
		row, ok, err := sources[top.src]()
		if err != nil {
			return err
		}
		if ok {
			top.row = row
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

type mergeItem[T any] struct {
	row T
	src int
}

type mergeHeap[T any] struct {
	items []mergeItem[T]
	less  func(a, b T) bool
}

func (h *mergeHeap[T]) Len() int { return len(h.items) }
func (h *mergeHeap[T]) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if h.less(a.row, b.row) {
		return true
	}
	if h.less(b.row, a.row) {
		return false
	}
	return a.src < b.src
}
func (h *mergeHeap[T]) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *mergeHeap[T]) Push(x any)    { h.items = append(h.items, x.(mergeItem[T])) }
func (h *mergeHeap[T]) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// ScanRows reads a segment's rows block by block, in order: read decodes
// block b. Only the current block is held.
func ScanRows[T any](r *Reader, read func(r *Reader, b int) ([]T, error)) Next[*T] {
	b, i := -1, 0
	var rows []T
	return func() (*T, bool, error) {
		for i >= len(rows) {
			b++
			if b >= len(r.Blocks) {
				return nil, false, nil
			}
			var err error
			if rows, err = read(r, b); err != nil {
				return nil, false, err
			}
			i = 0
		}
		i++
		return &rows[i-1], true, nil
	}
}

// BlockCutter cuts rows, added in segment order, into blocks of BlockRows,
// handing each to Write: a segment is written a block at a time.
type BlockCutter[T any] struct {
	Write func(block []T, index int) error
	rows  []T
	// Blocks and Rows count what was added.
	Blocks, Rows int
}

// Add adds a row, writing the block it fills.
func (c *BlockCutter[T]) Add(row T) error {
	c.rows = append(c.rows, row)
	c.Rows++
	if len(c.rows) == BlockRows {
		return c.Flush()
	}
	return nil
}

// Flush writes the rows added since the last block, if any.
func (c *BlockCutter[T]) Flush() error {
	if len(c.rows) == 0 {
		return nil
	}
	blk := c.rows
	c.rows = make([]T, 0, BlockRows) // Write may keep blk
	c.Blocks++
	return c.Write(blk, c.Blocks-1)
}

package segment

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

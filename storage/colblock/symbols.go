package colblock

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"strings"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/encoding"
	"github.com/prometheus/prometheus/tsdb/fileutil"
	"github.com/prometheus/prometheus/tsdb/index"
)

// symbolTable is every symbol of a block's index, in order, for reading
// its series. A series names its labels by their symbols' numbers, and
// Prometheus' index reader finds a symbol by walking the table from the
// nearest of every 32nd (on average 16 strings decoded for each label
// value): on a day-long histogram_quantile over the week-long benchmark's
// blocks that was 9% of the query's CPU. The table is read once per block,
// and kept while the block is open, with the index file mmapped again to
// read the series from: the bytes of the symbols and 16 a symbol.
type symbolTable struct {
	once  sync.Once
	index *fileutil.MmapFile // nil when the table is not used
	syms  []string
	dec   index.Decoder // of series, looking up syms; made once, as it allocates
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// load reads the symbols of the index of ir, whose file is in dir, once.
// It returns false for an index it does not read this way: format v1,
// which Prometheus wrote before 2.0 and whose series name symbols by
// offset, or one it could not map or read, whose errors Prometheus'
// reader then tells.
func (t *symbolTable) load(ir tsdb.IndexReader, dir string) bool {
	t.once.Do(func() {
		f, err := fileutil.OpenMmapFile(filepath.Join(dir, "index"))
		if err != nil {
			return
		}
		if b := f.Bytes(); len(b) < index.HeaderLen || binary.BigEndian.Uint32(b) != index.MagicIndex || b[4] != index.FormatV2 {
			_ = f.Close()
			return
		}
		var syms []string
		it := ir.Symbols()
		for it.Next() {
			syms = append(syms, strings.Clone(it.At())) // At's string is Prometheus' mapping of the file
		}
		if it.Err() != nil {
			_ = f.Close()
			return
		}
		t.index, t.syms = f, syms
		t.dec = index.Decoder{LookupSymbol: t.lookup}
	})
	return t.index != nil
}

// series reads the labels and chunk metas of series ref as Prometheus'
// index reader does (index.Reader.Series), its symbols from the table.
func (t *symbolTable) series(ref storage.SeriesRef, b *labels.ScratchBuilder, chks *[]chunks.Meta) error {
	d := encoding.NewDecbufUvarintAt(byteSlice(t.index.Bytes()), int(ref*seriesAlign), castagnoli)
	if d.Err() != nil {
		return d.Err()
	}
	if err := t.dec.Series(d.Get(), b, chks); err != nil {
		return fmt.Errorf("read series: %w", err)
	}
	return nil
}

func (t *symbolTable) lookup(_ context.Context, o uint32) (string, error) {
	if int(o) >= len(t.syms) {
		return "", fmt.Errorf("unknown symbol offset %d", o)
	}
	return t.syms[o], nil
}

// close unmaps the index file, once the block is garbage.
func (t *symbolTable) close() error {
	if t.index == nil {
		return nil
	}
	return t.index.Close()
}

// byteSlice is a []byte as Prometheus' decoders read it.
type byteSlice []byte

func (b byteSlice) Len() int                    { return len(b) }
func (b byteSlice) Range(start, end int) []byte { return b[start:end] }

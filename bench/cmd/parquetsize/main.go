// Command parquetsize writes the float samples of each block of a stopped
// Sightline's metrics TSDB as Parquet files, in the two layouts a Parquet
// engine reads time series from, and prints their size beside the block's
// own: the measurement behind the choice of container in
// docs/format/metrics-blocks.md.
//
//   - long: a row per sample (series, timestamp, value), sorted by series and
//     time; the series column dictionary-encoded, timestamps delta-encoded,
//     values byte-stream-split, all zstd-compressed;
//   - lists: a row per series, with the series' timestamps and values as
//     lists encoded the same way.
//
// Usage: parquetsize -dir <data.dir>/tenants/<tenant>/metrics
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/sightline-dev/sightline/storage/colblock"
)

type sampleRow struct {
	Series string  `parquet:"series,dict"`
	T      int64   `parquet:"t,delta"`
	V      float64 `parquet:"v,split"`
}

type seriesRow struct {
	Series string    `parquet:"series,dict"`
	T      []int64   `parquet:"t,list" parquet-element:",delta"`
	V      []float64 `parquet:"v,list" parquet-element:",split"`
}

func main() {
	dir := flag.String("dir", "", "A tenant's metrics directory (<data.dir>/tenants/<tenant>/metrics) of a stopped Sightline; it is opened, so give a copy.")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "parquetsize:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = math.MaxInt64 / 2
	rs := colblock.NewReaders()
	colblock.Configure(opts, rs, colblock.DefaultOptions())
	db, err := tsdb.Open(dir, slog.New(slog.DiscardHandler), nil, opts, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Println("| block | hours | samples | block bytes/sample | parquet long | parquet lists |")
	fmt.Println("|---|---|---|---|---|---|")
	var tot [4]float64
	for _, b := range db.Blocks() {
		m := b.Meta()
		q, err := rs.BlockQuerier(b, m.MinTime, m.MaxTime-1)
		if err != nil {
			return err
		}
		long, lists, n, err := write(q)
		q.Close()
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		size := blockSize(filepath.Join(dir, m.ULID.String()))
		fmt.Printf("| %s | %.0f | %d | %.3f | %.3f | %.3f |\n", m.ULID, float64(m.MaxTime-m.MinTime)/3.6e6, n,
			float64(size)/float64(n), float64(long)/float64(n), float64(lists)/float64(n))
		tot[0] += float64(n)
		tot[1] += float64(size)
		tot[2] += float64(long)
		tot[3] += float64(lists)
	}
	fmt.Printf("| all | | %.0f | %.3f | %.3f | %.3f |\n", tot[0], tot[1]/tot[0], tot[2]/tot[0], tot[3]/tot[0])
	return nil
}

// write writes the float samples q selects as both Parquet layouts and
// returns their sizes in bytes and the number of samples.
func write(q storage.Querier) (long, lists, n int64, err error) {
	var lw, sw counter
	longW := parquet.NewGenericWriter[sampleRow](&lw, parquet.Compression(&zstd.Codec{}))
	listW := parquet.NewGenericWriter[seriesRow](&sw, parquet.Compression(&zstd.Codec{}))
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	var it chunkenc.Iterator
	var rows []sampleRow
	for ss.Next() {
		s := ss.At()
		name := s.Labels().String()
		row := seriesRow{Series: name}
		rows = rows[:0]
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				continue // native histograms are not compared here
			}
			t, v := it.At()
			rows = append(rows, sampleRow{Series: name, T: t, V: v})
			row.T, row.V = append(row.T, t), append(row.V, v)
		}
		if err := it.Err(); err != nil {
			return 0, 0, 0, err
		}
		if len(rows) == 0 {
			continue
		}
		n += int64(len(rows))
		if _, err := longW.Write(rows); err != nil {
			return 0, 0, 0, err
		}
		if _, err := listW.Write([]seriesRow{row}); err != nil {
			return 0, 0, 0, err
		}
	}
	if err := ss.Err(); err != nil {
		return 0, 0, 0, err
	}
	if err := longW.Close(); err != nil {
		return 0, 0, 0, err
	}
	if err := listW.Close(); err != nil {
		return 0, 0, 0, err
	}
	return lw.n, sw.n, n, nil
}

// counter is an io.Writer that keeps only the count of bytes.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*counter)(nil)

// blockSize is the size of a block's files: chunks, index, meta, exemplars.
func blockSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

package colblock

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/stretchr/testify/require"
)

// BenchmarkWALExemplars is what a head compaction adds to find its block's
// exemplars: a scan of the whole WAL (3 hours of 5,000 series at 15 s, an
// exemplar every tenth sample), of which only series and exemplar records
// are decoded.
func BenchmarkWALExemplars(b *testing.B) {
	dir := b.TempDir()
	o := options(false)
	o.EnableExemplarStorage, o.MaxExemplars = true, 1000
	db, err := tsdb.Open(dir, nil, nil, o, nil)
	require.NoError(b, err)
	defer db.Close()
	const series = 5000
	for i := range 3 * int(hour/step) {
		app := db.Appender(context.Background())
		for s := range series {
			ls := labels.FromStrings("__name__", "requests_total", "instance", fmt.Sprint(s))
			ref, err := app.Append(0, ls, day0+int64(i)*step, float64(i))
			require.NoError(b, err)
			if (i+s)%10 == 0 {
				_, err = app.AppendExemplar(ref, ls, exemplar.Exemplar{Labels: labels.FromStrings("trace_id", fmt.Sprintf("%032x", i*series+s)),
					Value: float64(i), Ts: day0 + int64(i)*step, HasTs: true})
				require.NoError(b, err)
			}
		}
		require.NoError(b, app.Commit())
	}
	walBytes := int64(0)
	require.NoError(b, filepath.Walk(filepath.Join(dir, "wal"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			walBytes += fi.Size()
		}
		return err
	}))
	b.SetBytes(walBytes)
	b.ResetTimer()
	for b.Loop() {
		set := exemplarSet{}
		_, err := walExemplars(nil, filepath.Join(dir, "wal"), day0, day0+2*hour, set)
		require.NoError(b, err)
		require.Len(b, set, series)
	}
}

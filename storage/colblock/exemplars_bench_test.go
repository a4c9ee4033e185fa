package colblock

import (
	"context"
	"fmt"
	"math/rand/v2"
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

// BenchmarkExemplarsFile writes and reads a block's exemplars as
// `make bench-metrics-long`'s -otlp-exemplars load makes them: one a
// minute on a bucket of each classic histogram, with random trace and span
// IDs and a bucket's bound as value. It reports the file's bytes per
// exemplar: 24 of each are the IDs' random bytes.
func BenchmarkExemplarsFile(b *testing.B) {
	set := benchExemplars()
	path := filepath.Join(b.TempDir(), exemplarsFile)
	for b.Loop() {
		require.NoError(b, writeExemplarsFile(path, set))
		got := exemplarSet{}
		require.NoError(b, readExemplarsFile(path, day0, day0+8*24*hour, keepAll, got))
	}
	fi, err := os.Stat(path)
	require.NoError(b, err)
	b.ReportMetric(float64(fi.Size())/benchExemplarsN, "B/exemplar")
}

const benchExemplarsN = 200000

func benchExemplars() exemplarSet {
	rnd := rand.New(rand.NewPCG(3, 4))
	set := exemplarSet{}
	bounds := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	for i := range benchExemplarsN {
		h := i % 250 // 50 instances × 5 histograms
		v := bounds[(i/250+h)%len(bounds)] * 0.9
		le := bounds[(i/250+h)%len(bounds)]
		ls := labels.FromStrings("__name__", "http_request_duration_seconds_bucket", "instance", fmt.Sprint(h/5), "le", fmt.Sprint(le), "route", fmt.Sprint(h%5))
		set.add(ls, exemplar.Exemplar{
			Labels: labels.FromStrings("span_id", fmt.Sprintf("%016x", rnd.Uint64()), "trace_id", fmt.Sprintf("%016x%016x", rnd.Uint64(), rnd.Uint64())),
			Value:  v, Ts: day0 + int64(i/250)*60000 + int64(h)*97, HasTs: true,
		})
	}
	return set
}

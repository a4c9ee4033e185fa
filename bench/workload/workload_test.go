package workload

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	prw "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type sample struct {
	t int64
	v float64
}

// collect is a CombinedAppender that keeps what the translator produces.
type collect struct {
	floats     map[string]sample
	histograms int
}

func (c *collect) AppendSample(ls labels.Labels, _ prw.Metadata, _, t int64, v float64, _ []exemplar.Exemplar) error {
	c.floats[ls.String()] = sample{t, v}
	return nil
}

func (c *collect) AppendHistogram(ls labels.Labels, _ prw.Metadata, _, _ int64, h *histogram.Histogram, _ []exemplar.Exemplar) error {
	if ls.Get("__name__") != "rpc_duration_seconds" {
		return fmt.Errorf("unexpected native histogram %s", ls)
	}
	if err := h.Validate(); err != nil {
		return err
	}
	c.histograms++
	return nil
}

// The OTLP requests must translate, with the settings Sightline uses, to
// exactly the remote_write series and values: that is what makes the
// peers' data identical to Sightline's.
func TestOTLPMatchesRemoteWrite(t *testing.T) {
	o := DefaultOptions()
	o.Series = 1000
	o.Intervals = 3
	o.InstancesPerRequest = 3
	o.Shards = 2
	o.ChurnPercent = 50
	o.ChurnEvery = 2
	o.End = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	d, err := Generate(o)
	require.NoError(t, err)
	require.Len(t, d.Shards, 2)
	require.EqualValues(t, 1000*3, d.Samples)
	require.EqualValues(t, 1000*3+10*5*3, d.OTLPSamples)
	require.Greater(t, d.SeriesTotal, 1000, "churn adds series")

	for _, shard := range d.Shards {
		last := -1
		for _, req := range shard {
			require.GreaterOrEqual(t, req.Interval, last, "requests of a shard are in interval order")
			last = req.Interval

			raw, err := snappy.Decode(nil, req.RW)
			require.NoError(t, err)
			var wr prompb.WriteRequest
			require.NoError(t, wr.Unmarshal(raw))
			want := map[string]sample{}
			for _, ts := range wr.Timeseries {
				b := labels.NewScratchBuilder(len(ts.Labels))
				for _, l := range ts.Labels {
					b.Add(l.Name, l.Value)
				}
				require.Len(t, ts.Samples, 1)
				ls := b.Labels()
				tsMs := ts.Samples[0].Timestamp
				require.GreaterOrEqual(t, tsMs, d.First.UnixMilli())
				require.Less(t, tsMs, d.Last.UnixMilli())
				want[ls.String()] = sample{tsMs, ts.Samples[0].Value}
			}
			require.Len(t, want, req.Samples)

			er := pmetricotlp.NewExportRequest()
			require.NoError(t, er.UnmarshalProto(req.OTLP))
			got := &collect{floats: map[string]sample{}}
			_, err = prw.NewPrometheusConverter(got).FromMetrics(context.Background(), er.Metrics(), prw.Settings{AddMetricSuffixes: true, LookbackDelta: 5 * time.Minute})
			require.NoError(t, err)
			require.Equal(t, want, got.floats)
			require.Equal(t, req.ExtraOTLPSamples, got.histograms)
		}
	}
}

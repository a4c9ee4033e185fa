package workload

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// SeriesPerInstance is the number of remote_write series one simulated
// instance exposes (see the series table in the package's generator).
const SeriesPerInstance = 100

// Options describe the load.
type Options struct {
	// Series is the number of active series. It is rounded up to whole
	// instances of SeriesPerInstance series.
	Series int
	// Interval is the simulated scrape interval: each active series gets one
	// sample per interval and timestamps advance by it.
	Interval time.Duration
	// Intervals is the number of samples each active series gets; the data
	// spans Intervals*Interval.
	Intervals int
	// End is the nominal time of the last interval. Samples of interval k
	// are at End-(Intervals-1-k)*Interval plus a fixed per-instance offset
	// below Interval, as real scrapes are spread over the interval.
	End time.Time
	// Jobs is the number of distinct job label values.
	Jobs int
	// ChurnPercent of the instances are replaced every ChurnEvery intervals
	// (at staggered times): they get a new instance label and their counters
	// restart from zero, as after a redeploy.
	ChurnPercent int
	ChurnEvery   int
	// InstancesPerRequest is the batch size of one request, in instances.
	InstancesPerRequest int
	// Shards is the number of independent, in-order request streams.
	Shards int
	// ExpHistograms adds an OTLP exponential histogram per instance and route
	// (rpc_duration_seconds, a native histogram once stored). OTLP only.
	ExpHistograms bool
	// Seed makes the values reproducible.
	Seed uint64
	// Exemplars puts an exemplar on every OTLP histogram data point (the
	// trace of one request of that route in that interval, as an SDK's
	// trace-based exemplar filter keeps them): what storing them costs.
	// OTLP only.
	Exemplars bool
	// RemoteWriteOnly leaves the OTLP encoding out, for a run with no OTLP
	// target: a day of 100k series would not fit in memory with both.
	RemoteWriteOnly bool
}

// DefaultOptions: 100k active series at a 60 s interval for 3.5 h, which is
// ~21M samples per system; see bench/README.md for why these values.
func DefaultOptions() Options {
	return Options{
		Series:              100_000,
		Interval:            60 * time.Second,
		Intervals:           210,
		Jobs:                10,
		ChurnPercent:        10,
		ChurnEvery:          60,
		InstancesPerRequest: 20,
		Shards:              8,
		ExpHistograms:       true,
		Seed:                1,
	}
}

// Validate checks the options.
func (o Options) Validate() error {
	switch {
	case o.Series <= 0:
		return errors.New("series must be positive")
	case o.Interval < time.Second:
		return errors.New("interval must be at least 1s")
	case o.Intervals <= 0:
		return errors.New("intervals must be positive")
	case o.End.IsZero():
		return errors.New("end time not set")
	case o.Jobs <= 0:
		return errors.New("jobs must be positive")
	case o.ChurnPercent < 0 || o.ChurnPercent > 100:
		return errors.New("churn percent must be within 0..100")
	case o.ChurnPercent > 0 && o.ChurnEvery <= 0:
		return errors.New("churn needs a positive churn interval")
	case o.InstancesPerRequest <= 0:
		return errors.New("instances per request must be positive")
	case o.Shards <= 0:
		return errors.New("shards must be positive")
	}
	return nil
}

// Instances is the number of simulated instances.
func (o Options) Instances() int {
	return (o.Series + SeriesPerInstance - 1) / SeriesPerInstance
}

// Start is the nominal time of the first interval.
func (o Options) Start() time.Time {
	return o.End.Add(-time.Duration(o.Intervals-1) * o.Interval)
}

// Request is one pre-encoded request of a shard, in both wire formats.
type Request struct {
	// Interval is the index of the interval whose samples it carries.
	Interval int
	// Samples is the number of Prometheus samples in RW, and also the
	// number the OTLP request translates to, not counting ExtraOTLPSamples.
	Samples int
	// ExtraOTLPSamples are the native-histogram samples of the exponential
	// histograms in OTLP (one per data point); RW has none.
	ExtraOTLPSamples int
	// RW is a snappy-compressed prompb.WriteRequest.
	RW []byte
	// OTLP is a protobuf ExportMetricsServiceRequest.
	OTLP []byte
}

// Dataset is the whole load, generated once and replayed to every system.
type Dataset struct {
	Options Options
	// Shards are the request streams, each in send order.
	Shards [][]Request
	// First and Last bound every sample timestamp: First <= t < Last.
	First, Last time.Time
	// SeriesTotal counts every series that ever existed, churned ones too.
	SeriesTotal int
	// Samples is the total of Request.Samples; OTLPSamples adds the extra
	// OTLP samples.
	Samples, OTLPSamples int64
	// RWBytes and OTLPBytes are the encoded sizes.
	RWBytes, OTLPBytes int64
}

// Requests is the number of requests of each format.
func (d *Dataset) Requests() int {
	n := 0
	for _, s := range d.Shards {
		n += len(s)
	}
	return n
}

// Generate builds the dataset, using up to GOMAXPROCS goroutines.
func Generate(o Options) (*Dataset, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	// Instances go to shards in groups of InstancesPerRequest, round-robin,
	// so every shard has about the same number of series.
	nInst := o.Instances()
	groups := (nInst + o.InstancesPerRequest - 1) / o.InstancesPerRequest
	shards := o.Shards
	if shards > groups {
		shards = groups
	}
	shardGroups := make([][][]int, shards)
	for g := range groups {
		var ids []int
		for i := g * o.InstancesPerRequest; i < (g+1)*o.InstancesPerRequest && i < nInst; i++ {
			ids = append(ids, i)
		}
		shardGroups[g%shards] = append(shardGroups[g%shards], ids)
	}

	d := &Dataset{
		Options: o,
		Shards:  make([][]Request, shards),
		First:   o.Start(),
		Last:    o.End.Add(o.Interval),
	}
	type result struct {
		series               int
		samples, otlpSamples int64
		rwBytes, otlpBytes   int64
		err                  error
	}
	results := make([]result, shards)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for s := range shards {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			g := newShardGen(o, shardGroups[s])
			reqs := make([]Request, 0, o.Intervals*len(shardGroups[s]))
			r := &results[s]
			for k := range o.Intervals {
				for gi := range shardGroups[s] {
					req, err := g.request(k, gi)
					if err != nil {
						r.err = err
						return
					}
					reqs = append(reqs, req)
					r.samples += int64(req.Samples)
					r.otlpSamples += int64(req.Samples + req.ExtraOTLPSamples)
					r.rwBytes += int64(len(req.RW))
					r.otlpBytes += int64(len(req.OTLP))
				}
			}
			r.series = g.seriesTotal()
			d.Shards[s] = reqs
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			return nil, fmt.Errorf("workload: %w", r.err)
		}
		d.SeriesTotal += r.series
		d.Samples += r.samples
		d.OTLPSamples += r.otlpSamples
		d.RWBytes += r.rwBytes
		d.OTLPBytes += r.otlpBytes
	}
	return d, nil
}

package generator

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/flagext"
)

// Options configure a Generator. The defaults are those of Tempo's
// metrics-generator, so that series look the same as Tempo's.
type Options struct {
	// FlushInterval is how often the cumulative values are appended to the
	// store. Tempo's collection_interval is 15s.
	FlushInterval time.Duration
	// LatencyBuckets are the upper bounds, in seconds, of
	// traces_spanmetrics_latency_bucket, without +Inf, strictly increasing.
	// Tempo's span-metrics default is 2ms·2^n, n=0..13 (up to 16.384s).
	LatencyBuckets []float64
	// ServiceGraphLatencyBuckets are the upper bounds, in seconds, of
	// traces_service_graph_request_{server,client}_seconds_bucket. Tempo's
	// service-graphs default is 0.1s·2^n, n=0..7 (up to 12.8s), coarser than
	// the span-metrics one.
	ServiceGraphLatencyBuckets []float64
	// ServiceGraphWait is how long one side of a client/server span pair waits
	// for the other before the unpaired edge expires (Tempo's wait, 10s).
	ServiceGraphWait time.Duration
	// ServiceGraphMaxItems bounds the unpaired edges held per tenant (Tempo's
	// max_items, 10000); spans that would add one more are dropped and counted.
	ServiceGraphMaxItems int
	// MaxSeries bounds the active series generated per tenant, counted as
	// Prometheus series (a histogram counts its buckets, _sum and _count);
	// spans that would create a series beyond it are dropped and counted.
	// 0 means no bound.
	MaxSeries int
	// StaleSeriesTimeout removes a series that no span has updated for this
	// long, which frees its place under MaxSeries (Tempo's stale_duration,
	// 15m). Should it come back, it restarts from 0, which rate() reads as a
	// counter reset. 0 keeps series until the process ends.
	StaleSeriesTimeout time.Duration
}

// DefaultOptions returns Tempo's metrics-generator defaults, with a bound of
// 100000 series per tenant.
func DefaultOptions() Options {
	return Options{
		FlushInterval:              15 * time.Second,
		LatencyBuckets:             prometheus.ExponentialBuckets(0.002, 2, 14),
		ServiceGraphLatencyBuckets: prometheus.ExponentialBuckets(0.1, 2, 8),
		ServiceGraphWait:           10 * time.Second,
		ServiceGraphMaxItems:       10_000,
		MaxSeries:                  100_000,
		StaleSeriesTimeout:         15 * time.Minute,
	}
}

// RegisterFlags declares the options a user sets as flags, with their
// current values as defaults.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	flagext.Duration(fs, &o.FlushInterval, "spanmetrics.flush-interval", "How often span metrics and service-graph series are written to the metrics store.")
}

// Validate reports the first option that cannot work.
func (o Options) Validate() error {
	if o.FlushInterval <= 0 {
		return fmt.Errorf("flush interval must be positive, got %s", o.FlushInterval)
	}
	if err := validateBuckets(o.LatencyBuckets); err != nil {
		return fmt.Errorf("latency buckets: %w", err)
	}
	if err := validateBuckets(o.ServiceGraphLatencyBuckets); err != nil {
		return fmt.Errorf("service graph latency buckets: %w", err)
	}
	if o.ServiceGraphWait <= 0 {
		return fmt.Errorf("service graph wait must be positive, got %s", o.ServiceGraphWait)
	}
	if o.ServiceGraphMaxItems <= 0 {
		return fmt.Errorf("service graph max items must be positive, got %d", o.ServiceGraphMaxItems)
	}
	if o.MaxSeries < 0 {
		return fmt.Errorf("max series must not be negative, got %d", o.MaxSeries)
	}
	if o.StaleSeriesTimeout < 0 {
		return fmt.Errorf("stale series timeout must not be negative, got %s", o.StaleSeriesTimeout)
	}
	return nil
}

func validateBuckets(b []float64) error {
	if len(b) == 0 {
		return errors.New("none given")
	}
	for i, v := range b {
		// +Inf is always added; taking it here too would make two le="+Inf" series.
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("bound %d is %v", i, v)
		}
		if i > 0 && v <= b[i-1] {
			return fmt.Errorf("bounds must be strictly increasing: %v after %v", v, b[i-1])
		}
	}
	return nil
}

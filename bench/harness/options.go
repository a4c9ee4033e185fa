package harness

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sightline-dev/sightline/bench/workload"
)

// Target names: a system and the protocol it is fed with.
const (
	TargetSightlineOTLP   = "sightline-otlp"
	TargetSightlineRW     = "sightline-rw"
	TargetPrometheus      = "prometheus"
	TargetVictoriaMetrics = "victoriametrics"
	// TargetVictoriaMetricsOTLP is VictoriaMetrics fed the OTLP requests
	// over HTTP: the same bytes as sightline-otlp, native histograms too.
	// It is skipped when the VictoriaMetrics binary has no OTLP ingest
	// (Debian's 1.79 has none; make bench-deps builds a newer one).
	TargetVictoriaMetricsOTLP = "victoriametrics-otlp"
)

// isOTLP says whether target is fed the OTLP requests.
func isOTLP(target string) bool {
	return target == TargetSightlineOTLP || target == TargetVictoriaMetricsOTLP
}

// AllTargets returns every target, in the order they run in each repeat.
func AllTargets() []string {
	return []string{TargetSightlineOTLP, TargetSightlineRW, TargetPrometheus, TargetVictoriaMetrics, TargetVictoriaMetricsOTLP}
}

// Options configure a benchmark run.
type Options struct {
	// Workload is the load; its End is set by Run when zero.
	Workload workload.Options
	// Targets to run, a subset of AllTargets.
	Targets []string
	// SightlineBin is the sightline binary (required for Sightline targets).
	SightlineBin string
	// PrometheusBin and VictoriaMetricsBin are the peers' binaries; empty
	// means look them up in PATH. A peer that cannot be found is skipped
	// and the report says so.
	PrometheusBin, VictoriaMetricsBin string
	// Repeats is how many times every target is run from an empty data
	// directory; the report gives the median and the spread.
	Repeats int
	// Window is how many intervals a sender may run ahead of the slowest
	// one. It keeps every system's head within its append window: Prometheus'
	// TSDB refuses samples older than an hour behind its newest one.
	Window int
	// Retention is given to every system.
	Retention time.Duration
	// IngestTimeout bounds one ingest phase; what is not sent by then is
	// reported as not sent.
	IngestTimeout time.Duration
	// QueryWarmup and QueryRuns are how often each query runs before and
	// while latency is measured; OTLPQueryRuns is the count for the
	// sightline-otlp target, whose queries check results more than speed.
	QueryWarmup, QueryRuns, OTLPQueryRuns int
	// QueryTimeout bounds one query.
	QueryTimeout time.Duration
	// ReadyTimeout bounds a system's start-up and StopTimeout its shutdown.
	ReadyTimeout, StopTimeout time.Duration
	// WorkDir holds the data directories; each is removed after its run
	// unless KeepData.
	WorkDir string
	// KeepData keeps each run's data directory, for inspecting what a
	// system wrote (promtool, VictoriaMetrics' metrics).
	KeepData bool
	// OutDir and Name: the report is OutDir/Name.md, plots OutDir/Name-*.png.
	OutDir, Name string
	// ProfileTarget, if set, is a Sightline target whose ingest is profiled
	// (CPU for ProfileSeconds from the start of ingest, then allocations) in
	// the last repeat.
	ProfileTarget  string
	ProfileSeconds int
	// Command is the command line shown in the report to reproduce the run.
	Command string
	// Logger gets progress messages.
	Logger *slog.Logger `json:"-"`
}

// DefaultOptions are the defaults of `make bench`.
func DefaultOptions() Options {
	return Options{
		Workload:       workload.DefaultOptions(),
		Targets:        AllTargets(),
		Repeats:        3,
		Window:         5,
		Retention:      15 * 24 * time.Hour,
		IngestTimeout:  5 * time.Minute,
		QueryWarmup:    1,
		QueryRuns:      5,
		OTLPQueryRuns:  1,
		QueryTimeout:   2 * time.Minute,
		ReadyTimeout:   2 * time.Minute,
		StopTimeout:    3 * time.Minute,
		Name:           "latest",
		ProfileTarget:  TargetSightlineOTLP,
		ProfileSeconds: 20,
		Logger:         slog.New(slog.DiscardHandler),
	}
}

// Validate checks the options that do not depend on the machine.
func (o Options) Validate() error {
	if len(o.Targets) == 0 {
		return errors.New("no targets")
	}
	for _, t := range o.Targets {
		if !slices.Contains(AllTargets(), t) {
			return fmt.Errorf("unknown target %q (known: %v)", t, AllTargets())
		}
	}
	switch {
	case o.Repeats <= 0:
		return errors.New("repeats must be positive")
	case o.Window <= 0:
		return errors.New("window must be positive")
	case o.QueryRuns <= 0 || o.OTLPQueryRuns <= 0 || o.QueryWarmup < 0:
		return errors.New("query runs must be positive and warm-up not negative")
	case o.OutDir == "" || o.Name == "":
		return errors.New("output directory and name are required")
	case o.WorkDir == "":
		return errors.New("work directory is required")
	case o.IngestTimeout <= 0 || o.QueryTimeout <= 0 || o.ReadyTimeout <= 0 || o.StopTimeout <= 0:
		return errors.New("timeouts must be positive")
	case o.Logger == nil:
		return errors.New("logger is required")
	}
	if o.ProfileTarget != "" && o.ProfileTarget != TargetSightlineOTLP && o.ProfileTarget != TargetSightlineRW {
		return fmt.Errorf("profile target %q is not a Sightline target", o.ProfileTarget)
	}
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sightline-dev/sightline/bench/harness"
)

func main() {
	o := harness.DefaultOptions()
	w := &o.Workload
	fs := flag.NewFlagSet("slbench", flag.ContinueOnError)
	fs.StringVar(&o.SightlineBin, "sightline", "../bin/sightline", "Sightline binary (`make build` makes bin/sightline at the repository root).")
	fs.StringVar(&o.PrometheusBin, "prometheus", "", "Prometheus binary; empty: `prometheus` in PATH. Skipped when missing.")
	fs.StringVar(&o.VictoriaMetricsBin, "victoria-metrics", "", "VictoriaMetrics binary; empty: `victoria-metrics` in PATH. Skipped when missing.")
	targets := fs.String("targets", strings.Join(o.Targets, ","), "Comma-separated targets to run.")
	fs.IntVar(&w.Series, "series", w.Series, "Active series (rounded up to whole instances of 100 series).")
	fs.DurationVar(&w.Interval, "interval", w.Interval, "Simulated scrape interval: one sample per series per interval.")
	fs.IntVar(&w.Intervals, "intervals", w.Intervals, "Samples per series; the data spans intervals*interval, ending at least 5m before the start of the run, 1h30m into a 2-hour block range.")
	fs.IntVar(&w.ChurnPercent, "churn-percent", w.ChurnPercent, "Percent of instances replaced (new instance label) every -churn-every intervals.")
	fs.IntVar(&w.ChurnEvery, "churn-every", w.ChurnEvery, "Churn period in intervals.")
	fs.IntVar(&w.Shards, "senders", w.Shards, "Concurrent senders (each owns a fixed share of the series).")
	fs.IntVar(&w.InstancesPerRequest, "instances-per-request", w.InstancesPerRequest, "Instances (100 series each) per request.")
	fs.BoolVar(&w.ExpHistograms, "otlp-exp-histograms", w.ExpHistograms, "Add OTLP exponential histograms (Sightline OTLP only).")
	fs.BoolVar(&w.Exemplars, "otlp-exemplars", w.Exemplars, "Put an exemplar on every OTLP histogram data point (OTLP only).")
	fs.IntVar(&o.Repeats, "repeats", o.Repeats, "Runs of every target; the report gives median and min-max.")
	fs.IntVar(&o.QueryRuns, "query-runs", o.QueryRuns, "Measured runs of every query per target and repeat.")
	fs.IntVar(&o.QueryWarmup, "query-warmup", o.QueryWarmup, "Unmeasured warm-up runs of every query.")
	fs.DurationVar(&o.Retention, "retention", o.Retention, "Retention given to every system.")
	fs.DurationVar(&o.IngestTimeout, "ingest-timeout", o.IngestTimeout, "Upper bound of one ingest phase.")
	fs.StringVar(&o.ProfileTarget, "profile", o.ProfileTarget, "Sightline target whose ingest is profiled in the last repeat; empty for none.")
	fs.IntVar(&o.ProfileSeconds, "profile-seconds", o.ProfileSeconds, "Length of the CPU profile, from the start of ingest.")
	fs.StringVar(&o.OutDir, "out", "results", "Directory of the report and plots.")
	fs.StringVar(&o.Name, "name", o.Name, "Report name: <out>/<name>.md and <out>/<name>-*.png.")
	fs.StringVar(&o.WorkDir, "work", "", "Scratch directory for data directories (default: a new temporary directory).")
	fs.BoolVar(&o.KeepData, "keep", false, "Keep each run's data directory under -work (with -work).")
	render := fs.String("render", "", "Render the report again from a saved <name>.json into -out/-name, without running anything.")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		os.Exit(2)
	}
	o.Targets = strings.Split(*targets, ",")
	o.Command = "cd bench && go run ./cmd/slbench " + strings.Join(os.Args[1:], " ")
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	if *render != "" {
		r, err := harness.LoadJSON[harness.Report](*render)
		if err == nil {
			_, err = harness.WriteReport(r, o.OutDir, o.Name)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "slbench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "slbench:", err)
		os.Exit(1)
	}
}

func run(o harness.Options) error {
	if o.WorkDir == "" {
		dir, err := os.MkdirTemp("", "slbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.WorkDir = dir
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	r, err := harness.Run(ctx, o)
	if err != nil && r == nil {
		return err
	}
	files, werr := harness.WriteReport(r, o.OutDir, o.Name)
	if werr != nil {
		return werr
	}
	for _, f := range files {
		fmt.Println(filepath.Clean(f))
	}
	fmt.Fprintf(os.Stderr, "slbench: done in %s\n", time.Since(start).Round(time.Second))
	return err
}

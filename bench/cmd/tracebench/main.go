package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/sightline-dev/sightline/bench/harness"
)

func main() {
	o := harness.DefaultTraceOptions()
	so := harness.DefaultTraceSoakOptions()
	fs := flag.NewFlagSet("tracebench", flag.ContinueOnError)
	out := fs.String("out", "results", "Directory for the report.")
	name := fs.String("name", "traces", "Report name: <out>/<name>.md and <out>/<name>.json.")
	work := fs.String("work", "", "Scratch directory for the data directories (default: a new temporary directory, removed at the end).")
	render := fs.String("render", "", "Render the report again from a saved <name>.json into -out/-name, without running anything (with -soak: a soak report).")
	repeats := fs.Int("repeats", 1, "Run the benchmark (not -soak) this many times, each on fresh data directories: the report is the run with the median ingest rate, with each key figure's median and min–max over the runs and Sightline ÷ Jaeger ratios.")
	fs.StringVar(&o.Sightline, "sightline", "../bin/sightline", "Sightline binary (`make build` makes bin/sightline at the repository root).")
	fs.IntVar(&o.Spans, "spans", o.Spans, "Spans of the realistic run (ingest, disk, queries).")
	fs.IntVar(&o.TelemetrygenSpans, "telemetrygen-spans", o.TelemetrygenSpans, "Spans of the telemetrygen-shaped run (bytes per span); 0 skips it.")
	fs.IntVar(&o.Senders, "senders", o.Senders, "Concurrent OTLP/gRPC senders.")
	fs.IntVar(&o.SpansPerRequest, "batch", o.SpansPerRequest, "Spans per OTLP request at most (whole traces).")
	fs.DurationVar(&o.MaxIngest, "max-ingest", o.MaxIngest, "Longest ingest phase.")
	fs.IntVar(&o.TraceLookups, "lookups", o.TraceLookups, "Trace-by-ID lookups to measure, each for a different sent trace.")
	fs.IntVar(&o.CorrelateLookups, "correlate-lookups", o.CorrelateLookups, "Correlate calls to measure, for other sent traces.")
	fs.IntVar(&o.SearchRuns, "search-runs", o.SearchRuns, "Runs of the TraceQL search.")
	fs.StringVar(&o.SearchService, "search-service", o.SearchService, "Service of the TraceQL searches `{ resource.service.name = \"<svc>\" }` and `{ resource.service.name = \"<svc>\" && status = error }`.")
	fs.IntVar(&o.SearchLimit, "search-limit", o.SearchLimit, "Limit (traces) of the searches.")
	fs.StringVar(&o.Jaeger, "jaeger", o.Jaeger, "Jaeger v2 binary: run the realistic load and the equivalent queries against it after Sightline and report both side by side (make bench-deps installs it in bin/peers; empty or missing: skipped).")
	fs.DurationVar(&o.HeadMaxAge, "head-max-age", o.HeadMaxAge, "Passed to Sightline as -traces.head.max-age.")
	fs.IntVar(&o.HeadMaxSpans, "head-max-spans", o.HeadMaxSpans, "Passed to Sightline as -traces.head.max-spans; 0 keeps its default.")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "Seed of the load and of the choice of looked-up traces.")

	// The soak.
	soak := fs.Bool("soak", false, "Run the soak instead: a steady load for -soak-duration to Sightline, then to Jaeger if -jaeger is set, sampling parts, open files, RSS, goroutines, bytes on disk and a fixed query's latency; writes <name>.md, .json and a PNG per measure.")
	fs.DurationVar(&so.Duration, "soak-duration", so.Duration, "Length of each system's steady load.")
	fs.IntVar(&so.Rate, "soak-rate", so.Rate, "Spans per second of the steady load.")
	fs.IntVar(&so.Senders, "soak-senders", so.Senders, "Senders of the steady load, each sending one request per tick.")
	fs.IntVar(&so.SpansPerRequest, "soak-batch", so.SpansPerRequest, "Spans per request of the steady load.")
	fs.DurationVar(&so.HeadMaxAge, "soak-head-max-age", so.HeadMaxAge, "Passed to Sightline as -traces.head.max-age in the soak.")
	fs.DurationVar(&so.SampleEvery, "soak-sample-every", so.SampleEvery, "Sampling interval of the soak.")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if *repeats > 1 && *soak {
		fmt.Fprintln(os.Stderr, "tracebench: -repeats is for the benchmark, not -soak")
		os.Exit(2)
	}
	o.Command = "cd bench && go run ./cmd/tracebench " + strings.Join(os.Args[1:], " ")
	if o.Jaeger != "" {
		if _, err := os.Stat(o.Jaeger); err != nil {
			fmt.Fprintf(os.Stderr, "tracebench: no Jaeger at %s (make bench-deps installs it); running Sightline alone\n", o.Jaeger)
			o.Jaeger = ""
		}
	}
	so.Sightline, so.Jaeger, so.SearchService, so.Seed, so.Command = o.Sightline, o.Jaeger, o.SearchService, o.Seed, o.Command

	err := func() error {
		switch {
		case *render != "" && *soak:
			r, err := harness.LoadJSON[harness.TraceSoakReport](*render)
			if err == nil {
				_, err = harness.WriteTraceSoakReport(r, *out, *name)
			}
			return err
		case *render != "":
			runs, err := harness.LoadRepeats[harness.TraceReport](*render)
			if err == nil {
				_, err = harness.WriteTraceReport(runs, *out, *name)
			}
			return err
		}
		return harness.Command("tracebench", *work, func(ctx context.Context, work string, logf func(string, ...any)) ([]string, error) {
			if *soak {
				so.WorkDir = work
				r, err := harness.RunTraceSoak(ctx, so, logf)
				if err != nil {
					return nil, err
				}
				return harness.WriteTraceSoakReport(r, *out, *name)
			}
			runs, err := harness.RunRepeats(ctx, work, *repeats, logf, func(ctx context.Context, work string) (*harness.TraceReport, error) {
				o.WorkDir = work
				return harness.RunTraces(ctx, o, logf)
			})
			if err != nil {
				return nil, err
			}
			return harness.WriteTraceReport(runs, *out, *name)
		})
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracebench:", err)
		os.Exit(1)
	}
}

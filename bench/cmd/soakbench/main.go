// Command soakbench runs the soak (issue 16): Sightline under a steady load
// of logs, traces and metrics at once for a set time, with heads flushed
// often, sampling parts, bytes on disk, open files, goroutines, memory and
// one fixed query per signal; it writes <out>/<name>.md, .json and plots.
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
	o := harness.DefaultSoakOptions()
	fs := flag.NewFlagSet("soakbench", flag.ContinueOnError)
	fs.StringVar(&o.Sightline, "sightline", "../bin/sightline", "Sightline binary.")
	out := fs.String("out", "results", "Directory of the report.")
	name := fs.String("name", "soak", "Report name: <out>/<name>.md.")
	work := fs.String("work", "", "Work directory for the data (default: a temporary one, removed after).")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "How long the load runs.")
	fs.DurationVar(&o.SampleEvery, "sample-every", o.SampleEvery, "How often the server is sampled.")
	fs.IntVar(&o.LogRate, "log-rate", o.LogRate, "Log records sent per second.")
	fs.IntVar(&o.SpanRate, "span-rate", o.SpanRate, "Spans sent per second.")
	fs.IntVar(&o.MetricSeries, "series", o.MetricSeries, "Active metric series (remote_write).")
	fs.DurationVar(&o.MetricInterval, "interval", o.MetricInterval, "Sample interval of each series.")
	fs.DurationVar(&o.HeadMaxAge, "head-max-age", o.HeadMaxAge, "Passed to Sightline as -logs.head.max-age and -traces.head.max-age.")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		os.Exit(2)
	}
	o.Command = "cd bench && go run ./cmd/soakbench " + strings.Join(os.Args[1:], " ")
	if err := run(o, *work, *out, *name); err != nil {
		fmt.Fprintln(os.Stderr, "soakbench:", err)
		os.Exit(1)
	}
}

func run(o harness.SoakOptions, work, out, name string) error {
	return harness.Command("soakbench", work, func(ctx context.Context, work string, logf func(string, ...any)) ([]string, error) {
		o.WorkDir = work
		r, err := harness.RunSoak(ctx, o, logf)
		if err != nil {
			return nil, err
		}
		return harness.WriteSoakReport(r, out, name)
	})
}

package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/sightline-dev/sightline/bench/harness"
)

func main() {
	o, lo := harness.DefaultLogOptions(), harness.DefaultLongrunOptions()
	fs := flag.NewFlagSet("logbench", flag.ContinueOnError)
	out := fs.String("out", "results", "Directory for the report.")
	name := fs.String("name", "", "Report name: <out>/<name>.md (default logs, or logs-longrun with -longrun).")
	work := fs.String("work", "", "Scratch directory for the data directories (default: a new temporary directory, removed at the end).")
	longrun := fs.Bool("longrun", false, "Run the long run instead: a simulated week at a steady rate, watching parts, open files and RSS.")
	render := fs.String("render", "", "Render a report again from its saved <name>.json (the benchmark's, or a long run's) into -out/-name, without running anything.")
	repeats := fs.Int("repeats", 1, "Run the benchmark (not -longrun) this many times, each on fresh data directories: the report is the run with the median ingest rate, with each key figure's median and min–max over the runs and Sightline ÷ VictoriaLogs ratios.")
	bin := fs.String("sightline", "../bin/sightline", "Sightline binary (`make build` makes bin/sightline at the repository root).")

	// Both modes; 0 keeps the mode's default.
	senders := fs.Int("senders", 0, fmt.Sprintf("Concurrent OTLP/gRPC senders (0: %d, or %d with -longrun).", o.Senders, lo.Senders))
	headAge := fs.Duration("head-max-age", 0, fmt.Sprintf("Passed to Sightline as -logs.head.max-age (0: %s, or %s with -longrun).", o.HeadMaxAge, lo.HeadMaxAge))
	maxIngest := fs.Duration("max-ingest", 0, fmt.Sprintf("Longest ingest phase (0: %s, or %s with -longrun).", o.MaxIngest, lo.MaxIngest))
	fs.IntVar(&o.RecordsPerRequest, "batch", o.RecordsPerRequest, "Records per OTLP request.")
	fs.IntVar(&o.TraceLookups, "trace-lookups", o.TraceLookups, "Trace-ID lookups to measure.")
	fs.IntVar(&o.SearchRuns, "search-runs", o.SearchRuns, "Runs of each word search.")
	fs.IntVar(&o.LogQLRuns, "logql-runs", o.LogQLRuns, "Runs of the limit=100 LogQL query over the whole store.")
	volumeRuns := fs.Int("volume-runs", 0, fmt.Sprintf("Runs of each log volume query (0: %d, or %d with -longrun).", o.VolumeRuns, lo.VolumeRuns))

	// The 10M benchmark.
	fs.IntVar(&o.Records, "records", o.Records, "Log records to send.")
	words := fs.String("words", strings.Join(o.Words, ","), "Comma-separated words to search for.")
	fs.StringVar(&o.VictoriaLogs, "victorialogs", o.VictoriaLogs, "VictoriaLogs binary: run the same load and the equivalent LogsQL queries against it after Sightline and report both side by side (make bench-deps installs it in bin/peers; empty or missing: skipped).")
	fs.BoolVar(&o.TLS, "tls", o.TLS, "Run Sightline with TLS on every port and a basic-auth user, and every client with them, to measure their cost.")
	fs.IntVar(&o.RestartRecords, "restart-records", o.RestartRecords, "Records in the head at the kill -9 of the restart test (at most -records and the store's 1M unflushed records); 0 skips it.")

	// The long run.
	fs.IntVar(&lo.Days, "days", lo.Days, "Long run: simulated days.")
	fs.IntVar(&lo.RecordsPerHour, "records-per-hour", lo.RecordsPerHour, "Long run: records per simulated hour.")
	fs.IntVar(&lo.Rate, "rate", lo.Rate, "Long run: records sent per second (wall clock).")
	fs.IntVar(&lo.HeadMaxRecords, "head-max-records", lo.HeadMaxRecords, "Long run: passed to Sightline as -logs.head.max-records (0: its default).")
	fs.DurationVar(&lo.SampleEvery, "sample-every", lo.SampleEvery, "Long run: how often parts, open files and RSS are read.")
	fs.DurationVar(&lo.SettleTimeout, "settle-timeout", lo.SettleTimeout, "Long run: longest wait for the merges to finish after the last send.")
	fs.StringVar(&lo.Word, "word", lo.Word, "Long run: the word searched for over the last simulated hour.")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if *repeats > 1 && *longrun {
		fmt.Fprintln(os.Stderr, "logbench: -repeats is for the benchmark, not -longrun")
		os.Exit(2)
	}
	command := "cd bench && go run ./cmd/logbench " + strings.Join(os.Args[1:], " ")
	if o.VictoriaLogs != "" {
		if _, err := os.Stat(o.VictoriaLogs); err != nil {
			fmt.Fprintf(os.Stderr, "logbench: no VictoriaLogs at %s (make bench-deps installs it); running Sightline alone\n", o.VictoriaLogs)
			o.VictoriaLogs = ""
		}
	}
	o.Words = strings.Split(*words, ",")
	o.Sightline, lo.Sightline = *bin, *bin
	o.Command, lo.Command = command, command
	o.Senders, lo.Senders = cmp.Or(*senders, o.Senders), cmp.Or(*senders, lo.Senders)
	o.HeadMaxAge, lo.HeadMaxAge = cmp.Or(*headAge, o.HeadMaxAge), cmp.Or(*headAge, lo.HeadMaxAge)
	o.MaxIngest, lo.MaxIngest = cmp.Or(*maxIngest, o.MaxIngest), cmp.Or(*maxIngest, lo.MaxIngest)
	lo.RecordsPerRequest, lo.TraceLookups, lo.SearchRuns = o.RecordsPerRequest, o.TraceLookups, o.SearchRuns
	o.VolumeRuns, lo.VolumeRuns = cmp.Or(*volumeRuns, o.VolumeRuns), cmp.Or(*volumeRuns, lo.VolumeRuns)
	lo.LogQLRuns = o.LogQLRuns

	if *render != "" {
		var err error
		if harness.IsRepeats(*render) {
			var runs []*harness.LogReport
			if runs, err = harness.LoadRepeats[harness.LogReport](*render); err == nil {
				_, err = harness.WriteLogReport(runs, *out, cmp.Or(*name, "logs"))
			}
		} else {
			var r *harness.LongrunReport
			if r, err = harness.LoadJSON[harness.LongrunReport](*render); err == nil {
				_, err = harness.WriteLongrunReport(r, *out, cmp.Or(*name, "logs-longrun"))
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "logbench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o, lo, *longrun, *repeats, *work, *out, *name); err != nil {
		fmt.Fprintln(os.Stderr, "logbench:", err)
		os.Exit(1)
	}
}

func run(o harness.LogOptions, lo harness.LongrunOptions, longrun bool, repeats int, work, out, name string) error {
	return harness.Command("logbench", work, func(ctx context.Context, work string, logf func(string, ...any)) ([]string, error) {
		o.WorkDir, lo.WorkDir = work, work
		if longrun {
			r, err := harness.RunLogsLongrun(ctx, lo, logf)
			if err != nil {
				return nil, err
			}
			return harness.WriteLongrunReport(r, out, cmp.Or(name, "logs-longrun"))
		}
		runs, err := harness.RunRepeats(ctx, work, repeats, logf, func(ctx context.Context, work string) (*harness.LogReport, error) {
			o.WorkDir = work
			return harness.RunLogs(ctx, o, logf)
		})
		if err != nil {
			return nil, err
		}
		return harness.WriteLogReport(runs, out, cmp.Or(name, "logs"))
	})
}

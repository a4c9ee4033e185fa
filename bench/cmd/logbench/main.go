package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/sightline-dev/sightline/bench/harness"
)

func main() {
	o := harness.DefaultLogOptions()
	out := flag.String("out", "bench/results", "directory for the report")
	name := flag.String("name", "logs", "report name")
	words := flag.String("words", strings.Join(o.Words, ","), "comma-separated words to search for")
	flag.StringVar(&o.Sightline, "sightline", "bin/sightline", "sightline binary")
	flag.IntVar(&o.Records, "records", o.Records, "log records to send")
	flag.IntVar(&o.Senders, "senders", o.Senders, "concurrent OTLP/gRPC senders")
	flag.IntVar(&o.RecordsPerRequest, "batch", o.RecordsPerRequest, "records per OTLP request")
	flag.DurationVar(&o.MaxIngest, "max-ingest", o.MaxIngest, "longest ingest phase")
	flag.IntVar(&o.TraceLookups, "trace-lookups", o.TraceLookups, "trace-ID lookups to measure")
	flag.IntVar(&o.SearchRuns, "search-runs", o.SearchRuns, "runs of each word search")
	flag.Parse()
	o.Words = strings.Split(*words, ",")
	work, err := os.MkdirTemp("", "logbench")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer os.RemoveAll(work)
	o.WorkDir = work
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+f+"\n", a...) }
	r, err := harness.RunLogs(ctx, o, logf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "logbench:", err)
		os.Exit(1)
	}
	path, err := harness.WriteLogReport(r, *out, *name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "logbench:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

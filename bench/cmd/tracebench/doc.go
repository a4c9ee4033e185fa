// Command tracebench runs the trace benchmark of package harness against a
// sightline binary and writes <out>/<name>.md and <out>/<name>.json: OTLP
// span ingest rate with span metrics on, bytes per span on disk (also in
// telemetrygen's shape), trace-by-ID and correlate latencies over every
// stored span, and TraceQL searches; with -jaeger, the realistic load and
// the equivalent lookups and searches against Jaeger v2 too, side by side.
// -repeats N runs it N times on fresh data directories: <name>.json keeps
// every run, <name>.md is the run with the median ingest rate plus each key
// figure's median and min–max over the runs, and <name>-ratios.png and
// <name>-latency.png plot Sightline and Jaeger on the same axes.
//
// With -soak it runs the trace soak instead: a steady load for
// -soak-duration to Sightline (then Jaeger), sampled every
// -soak-sample-every, written as <name>.md, .json and a PNG per measure.
//
// `make bench-traces` builds bin/sightline and runs it with the defaults
// (10 million spans, then 2 million in telemetrygen's shape), `make
// bench-traces-soak` the soak (an hour per system);
// `cd bench && go run ./cmd/tracebench -h` lists the flags.
package main

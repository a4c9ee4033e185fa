// Command logbench runs the log benchmarks of package harness against a
// sightline binary.
//
// By default (make bench-logs) it writes bench/results/<name>.md: OTLP log
// ingest rate, on-disk size against raw OTLP-JSON, trace-ID lookup and
// single-word search latencies over the stored records, Grafana's LogQL
// queries (limit=100 over the whole store, the log volume query over 1 h
// and 24 h), the log store's parts and merges, open files and RSS, and a
// restart after kill -9 with a full head; with -victorialogs, the same
// load and queries against VictoriaLogs, side by side. -repeats N runs it
// N times on fresh data directories: <name>.json keeps every run, <name>.md
// is the run with the median ingest rate plus each key figure's median and
// min–max over the runs, and <name>-ratios.png and <name>-latency.png plot
// Sightline and VictoriaLogs on the same axes.
//
// With -longrun (make bench-logs-longrun) it sends a simulated week of
// records at a steady rate to a Sightline that flushes every second,
// samples parts, open files and RSS, and writes <name>.md, <name>.json and
// two plots. `cd bench && go run ./cmd/logbench -h` lists the flags.
package main

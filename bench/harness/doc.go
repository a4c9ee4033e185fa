// Package harness runs Sightline side by side with Prometheus and
// VictoriaMetrics on identical data and reports how each does.
//
// Run starts each system itself on loopback ports with its own empty data
// directory and the same retention, replays the pre-encoded load of package
// workload to it with several concurrent senders (OTLP gRPC for the
// sightline-otlp target, remote_write for the others), and measures:
//
//   - ingest: samples per second, with every request's outcome and the
//     system's own count of accepted and refused samples;
//   - resources: CPU seconds and peak RSS (VmHWM) of the server process,
//     read from /proc;
//   - storage: bytes per sample on disk once the system has been stopped
//     cleanly (and, for VictoriaMetrics, flushed and merged first), and for
//     the TSDB-based systems bytes per sample in compacted blocks alone;
//   - queries: p50/p90/p99 latency of a fixed query set (QuerySet), each
//     query warmed up and then run several times, with each system's result
//     compared against a reference system's.
//
// Everything is repeated Options.Repeats times; Report holds every run and
// WriteReport writes the Markdown report and the PNG plots.
//
// RunLogs and RunTraces are the log and trace benchmarks, against Sightline
// and a peer (VictoriaLogs, Jaeger) when one is given: OTLP ingest, size on
// disk once flushed, and lookup and search latencies. RunRepeats runs one
// of them several times on fresh data; WriteLogReport and WriteTraceReport
// write the report of the median run with each key figure's median and
// spread over the runs, the Sightline ÷ peer ratios and their plots.
// RunLogsLongrun sends a simulated week of logs at a steady rate and
// samples the log store's parts, the open files and the RSS over it;
// WriteLongrunReport writes its report.
//
// Every load and poll loop here is bounded by a count and a deadline and
// talks to 127.0.0.1 only.
package harness

// Package workload generates the benchmark's metric load: a fleet of
// simulated service instances, each exposing the same 100 series (request
// counters by route and code, a classic latency histogram, CPU, memory,
// goroutines, in-flight requests and queue lengths), scraped every Interval
// in simulated ("fast-forward") time that ends a few minutes before now.
//
// Generate encodes every request once, before anything is measured, in both
// wire formats: Prometheus remote_write 1.0 (protobuf + snappy) and OTLP
// (ExportMetricsServiceRequest protobuf, built with pdata). The two carry the
// same samples: the OTLP metric names, units and attributes are chosen so
// that Prometheus' OTLP translator (the one Sightline embeds) yields exactly
// the remote_write series. The OTLP requests may additionally carry one
// exponential histogram per instance and route, which Sightline stores as
// native histograms; peers, which get remote_write only, never see them.
//
// Pre-encoding keeps the load generator's CPU use during the measured phase
// to copying bytes onto sockets, which matters on a 2-core machine where the
// generator and the server share the CPUs.
//
// Series are split into Shards; each shard is an ordered list of requests
// (interval by interval) meant for one sender, so every series' samples
// arrive in timestamp order whatever the number of senders.
//
// LogGenerator and TraceGenerator build OTLP log and trace requests on the
// fly, deterministically from a seed, for the log and trace benchmarks.
// TraceGenerator has two shapes: realistic traces of 3–10 spans through a
// shop of twelve services (CLIENT→SERVER pairs, database and internal
// spans, a few percent of errors), and what `telemetrygen traces` sends.
// Each keeps a uniform sample of the traces it handed out, for lookups.
package workload

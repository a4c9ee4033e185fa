// Package metricsexporter is the collector exporter that writes OTLP metrics
// into Sightline's metrics store (package tsdbstore).
//
// Translation is Prometheus' own OTLP translator
// (storage/remote/otlptranslator/prometheusremotewrite), the code behind
// Prometheus' OTLP endpoint: metric and label names are normalised with unit
// and type suffixes, resource attributes become target_info with job and
// instance, exponential histograms become native histograms and exemplars keep
// trace_id and span_id. Delta temporality is turned into cumulative upstream,
// by the deltatocumulative processor in Sightline's pipeline.
//
// The translator hands each sample to seriesAppender, which finds the series
// in the tenant's long-lived series cache (tsdbstore.SeriesRefs) rather than
// in a map made for each request, as Prometheus' own appender does, and
// refuses a second value of a series within one millisecond of one request,
// which the head would drop without a word.
//
// A series sent before skips the translator (fastpath.go): gauges,
// cumulative sums and explicit-bucket histograms are also cached under an
// ID hashed from the resource, scope, metric and data point they came
// from, learnt by checking the translator's own output, and a metric whose
// series all have known IDs is appended from the cache. A test sends the
// same requests through both paths and compares the stores.
//
// The exporter is synchronous: a request is acknowledged only once its
// samples are in the TSDB WAL. Samples the TSDB refuses (out of order, too
// old, duplicate) are counted and reported in an InvalidArgument (HTTP 400)
// error, which senders do not retry, while the rest of the request is kept; that is OTLP's partial
// success, told through the only channel a collector exporter has.
package metricsexporter

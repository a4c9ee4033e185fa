package plugin

import (
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// The links between signals. Each is a query of this same datasource, so
// they need no configuration: Grafana interpolates ${__value.raw} (the
// clicked value) and ${__data.fields.<name>} (another column of the same
// row) and opens the query in Explore. In the trace view, Grafana offers the
// links of every field of the trace frame on each span.

// traceLink opens the trace whose ID is the value.
func (d *Datasource) traceLink() data.DataLink {
	return d.link("Trace", Query{QueryType: TypeTraces, TracesMode: "traceId", TraceID: "${__value.raw}"})
}

// correlateLink opens the trace whose ID is the value with its logs and
// exemplars.
func (d *Datasource) correlateLink() data.DataLink {
	return d.link("Trace, logs and exemplars", Query{QueryType: TypeCorrelate, TraceID: "${__value.raw}"})
}

// spanLogsLink opens the log lines of the span whose ID is the value (of a
// trace frame, whose traceID column names the trace), from the trace-ID
// index with no time range.
func (d *Datasource) spanLogsLink() data.DataLink {
	return d.link("Logs of this span", Query{QueryType: TypeLogs, LogsMode: "trace", TraceID: "${__data.fields.traceID}", SpanID: "${__value.raw}"})
}

// traceLogsLink opens every log line of the trace whose ID is the value.
func (d *Datasource) traceLogsLink() data.DataLink {
	return d.link("Logs of this trace", Query{QueryType: TypeLogs, LogsMode: "trace", TraceID: "${__value.raw}"})
}

// redLinks open the RED metrics of the service that is the value, from the
// span metrics Sightline derives from every span (README "Traces").
func (d *Datasource) redLinks() []data.DataLink {
	const svc = `service="${__value.raw}"`
	return []data.DataLink{
		d.link("Request rate", Query{QueryType: TypeMetrics, LegendFormat: "{{span_name}}",
			Expr: fmt.Sprintf(`sum by (span_name) (rate(traces_spanmetrics_calls_total{%s}[$__rate_interval]))`, svc)}),
		d.link("Error rate", Query{QueryType: TypeMetrics, LegendFormat: "{{span_name}}",
			Expr: fmt.Sprintf(`sum by (span_name) (rate(traces_spanmetrics_calls_total{%s, status_code="STATUS_CODE_ERROR"}[$__rate_interval]))`, svc)}),
		d.link("Duration p99", Query{QueryType: TypeMetrics, LegendFormat: "{{span_name}}",
			Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (span_name, le) (rate(traces_spanmetrics_latency_bucket{%s}[$__rate_interval])))`, svc)}),
	}
}

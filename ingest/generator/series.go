package generator

import (
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Metric and label names, exactly as Tempo's metrics-generator writes them
// (modules/generator/processor/spanmetrics and servicegraphs in
// grafana/tempo) and as Grafana's Tempo data source queries them
// (public/app/plugins/datasource/tempo/graphTransform.ts).
const (
	metricCallsTotal = "traces_spanmetrics_calls_total"
	metricLatency    = "traces_spanmetrics_latency"
	metricSizeTotal  = "traces_spanmetrics_size_total"

	metricRequestTotal         = "traces_service_graph_request_total"
	metricRequestFailedTotal   = "traces_service_graph_request_failed_total"
	metricRequestServerSeconds = "traces_service_graph_request_server_seconds"
	metricRequestClientSeconds = "traces_service_graph_request_client_seconds"

	labelService    = "service"
	labelSpanName   = "span_name"
	labelSpanKind   = "span_kind"
	labelStatusCode = "status_code"

	labelClient         = "client"
	labelServer         = "server"
	labelConnectionType = "connection_type"

	// Exemplar labels are those of Prometheus' OTLP translator, which the
	// metrics exporter also keeps, so one exemplar setting in Grafana's
	// Prometheus data source serves both. (Tempo's own default is traceID.)
	labelTraceID = "trace_id"
	labelSpanID  = "span_id"
)

// maxLabelValueLen is Tempo's max_label_value_length default. Longer span
// names are usually URLs with IDs in them; cutting them keeps one series per
// prefix rather than a huge label per request.
const maxLabelValueLen = 2048

// truncateValue cuts s to maxLabelValueLen bytes at a rune boundary, so that
// a valid UTF-8 value stays valid.
func truncateValue(s string) string {
	if len(s) <= maxLabelValueLen {
		return s
	}
	i := maxLabelValueLen
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// spanKindValue is the span_kind label value, the OTLP proto enum name that
// Tempo writes. Unknown values (a newer or broken sender) are folded into
// UNSPECIFIED by normKind, so that one label set is one series.
var spanKindValue = [...]string{
	ptrace.SpanKindUnspecified: "SPAN_KIND_UNSPECIFIED",
	ptrace.SpanKindInternal:    "SPAN_KIND_INTERNAL",
	ptrace.SpanKindServer:      "SPAN_KIND_SERVER",
	ptrace.SpanKindClient:      "SPAN_KIND_CLIENT",
	ptrace.SpanKindProducer:    "SPAN_KIND_PRODUCER",
	ptrace.SpanKindConsumer:    "SPAN_KIND_CONSUMER",
}

func normKind(k ptrace.SpanKind) ptrace.SpanKind {
	if k < 0 || int(k) >= len(spanKindValue) {
		return ptrace.SpanKindUnspecified
	}
	return k
}

var statusCodeValue = [...]string{
	ptrace.StatusCodeUnset: "STATUS_CODE_UNSET",
	ptrace.StatusCodeOk:    "STATUS_CODE_OK",
	ptrace.StatusCodeError: "STATUS_CODE_ERROR",
}

func normStatus(c ptrace.StatusCode) ptrace.StatusCode {
	if c < 0 || int(c) >= len(statusCodeValue) {
		return ptrace.StatusCodeUnset
	}
	return c
}

// durationSeconds is the span's duration; a span that ends before it starts
// counts as 0, as in Tempo.
func durationSeconds(span ptrace.Span) float64 {
	start, end := span.StartTimestamp(), span.EndTimestamp()
	if end <= start {
		return 0
	}
	return float64(end-start) / 1e9
}

// buildLabels makes a label set named name from name/value pairs, leaving out
// empty values: an empty label is no label in Prometheus, and Tempo's label
// builder drops them too (e.g. service for a resource without service.name,
// connection_type for a plain request).
func buildLabels(name string, pairs ...string) labels.Labels {
	b := labels.NewScratchBuilder(1 + len(pairs)/2)
	b.Add(labels.MetricName, name)
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			b.Add(pairs[i], pairs[i+1])
		}
	}
	b.Sort()
	return b.Labels()
}

// histLayout is what every series of one histogram metric shares.
type histLayout struct {
	bounds             []float64 // upper bounds, without +Inf
	le                 []string  // le values, len(bounds)+1, the last "+Inf"
	bucket, count, sum string    // metric names
	seriesPerHist      int64     // buckets (+Inf too), _sum and _count
}

func newHistLayout(name string, bounds []float64) *histLayout {
	h := &histLayout{
		bounds: append([]float64(nil), bounds...),
		bucket: name + "_bucket",
		count:  name + "_count",
		sum:    name + "_sum",
	}
	for _, b := range bounds {
		// Tempo formats le with FormatFloat('f', -1): "0.002", "16.384".
		h.le = append(h.le, strconv.FormatFloat(b, 'f', -1, 64))
	}
	h.le = append(h.le, strconv.FormatFloat(math.Inf(1), 'f', -1, 64)) // "+Inf"
	h.seriesPerHist = int64(len(h.le) + 2)
	return h
}

// exemplarSlot is the latest span seen for a series or bucket, kept as raw
// IDs so that recording one costs a copy and no allocation; the hex labels
// are made at flush.
type exemplarSlot struct {
	traceID pcommon.TraceID
	spanID  pcommon.SpanID
	value   float64
	set     bool
}

func (e exemplarSlot) exemplar(ts int64) exemplar.Exemplar {
	var l labels.Labels
	if e.spanID.IsEmpty() {
		l = labels.FromStrings(labelTraceID, e.traceID.String())
	} else {
		l = labels.FromStrings(labelSpanID, e.spanID.String(), labelTraceID, e.traceID.String())
	}
	return exemplar.Exemplar{Labels: l, Value: e.value, Ts: ts, HasTs: true}
}

// histState is one classic histogram series set. Its guard is that of the
// series holding it.
type histState struct {
	counts []float64 // per bucket, not cumulative: an observation touches one
	sum    float64
	count  float64
	ex     []exemplarSlot // latest observation per bucket, as Tempo keeps them

	bucketL      []labels.Labels
	countL, sumL labels.Labels
}

func newHistState(h *histLayout, pairs ...string) histState {
	s := histState{
		counts:  make([]float64, len(h.le)),
		ex:      make([]exemplarSlot, len(h.le)),
		bucketL: make([]labels.Labels, len(h.le)),
		countL:  buildLabels(h.count, pairs...),
		sumL:    buildLabels(h.sum, pairs...),
	}
	withLE := append(append(make([]string, 0, len(pairs)+2), pairs...), labels.BucketLabel, "")
	for i, le := range h.le {
		withLE[len(withLE)-1] = le
		s.bucketL[i] = buildLabels(h.bucket, withLE...)
	}
	return s
}

func (s *histState) observe(h *histLayout, v float64, traceID pcommon.TraceID, spanID pcommon.SpanID) {
	// SearchFloat64s gives the first bound >= v, which is the bucket that
	// le (less or equal) puts v in; len(bounds) is +Inf.
	i := sort.SearchFloat64s(h.bounds, v)
	s.counts[i]++
	s.count++
	s.sum += v
	s.ex[i] = exemplarSlot{traceID: traceID, spanID: spanID, value: v, set: true}
}

// snapshot appends the histogram's series and clears its pending exemplars.
func (s *histState) snapshot(buf []sample, isNew bool) []sample {
	cum := 0.0
	for i, c := range s.counts {
		cum += c
		buf = append(buf, sample{lset: s.bucketL[i], v: cum, isNew: isNew, ex: s.ex[i]})
		s.ex[i] = exemplarSlot{}
	}
	buf = append(buf,
		sample{lset: s.countL, v: s.count, isNew: isNew},
		sample{lset: s.sumL, v: s.sum, isNew: isNew},
	)
	return buf
}

// sample is one series' value taken at flush, appended outside the locks.
type sample struct {
	lset  labels.Labels
	v     float64
	isNew bool // first append of the series: a 0 goes before it
	ex    exemplarSlot
}

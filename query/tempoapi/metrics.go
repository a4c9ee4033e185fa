package tempoapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/record"
)

// TraceQL metrics: /api/metrics/query_range and /api/metrics/query, with
// Tempo's parameters (pkg/api/http.go ParseQueryRangeRequest and
// ParseQueryInstantRequest), checks (modules/frontend
// metrics_query_validation.go), messages and response shapes
// (tempopb.QueryRangeResponse and QueryInstantResponse, as JSON or, when
// the Accept header asks for application/protobuf, as protobuf).
//
// Grafana's Tempo datasource (grafana-tempo-datasource
// pkg/tempo/traceql_query.go) sends q, start and end in unix seconds, step
// when the query sets one, and exemplars; the Traces Drilldown app sends
// the same through the datasource.

// metricsResponse is tempopb.QueryRangeResponse (and, with Value in place
// of Samples, QueryInstantResponse) as gogo jsonpb writes it.
type metricsResponse struct {
	Series  []metricsSeriesJSON `json:"series"`
	Metrics searchMetrics       `json:"metrics"`
	Status  string              `json:"status,omitempty"` // "PARTIAL"; COMPLETE (0) is left out
	Message string              `json:"message,omitempty"`
}

type metricsSeriesJSON struct {
	Labels    []jsonKeyValue `json:"labels"`
	Samples   []sampleJSON   `json:"samples,omitempty"`
	Exemplars []exemplarJSON `json:"exemplars,omitempty"`
	Value     *jsonDouble    `json:"value,omitempty"` // instant queries
}

type sampleJSON struct {
	TimestampMs int64      `json:"timestampMs,string"`
	Value       jsonDouble `json:"value"`
}

type exemplarJSON struct {
	Labels      []jsonKeyValue `json:"labels"`
	Value       jsonDouble     `json:"value"`
	TimestampMs int64          `json:"timestampMs,string"`
}

// partialMessage says why a result is partial (Tempo's wording for its
// series limit).
func partialMessage(maxSeries int) string {
	return fmt.Sprintf("Response exceeds maximum series limit of %d, a partial response is returned. Warning: the accuracy of each individual value is not guaranteed.", maxSeries)
}

func (a *API) metricsQueryRange(w http.ResponseWriter, r *http.Request) { a.metrics(w, r, false) }

func (a *API) metricsQueryInstant(w http.ResponseWriter, r *http.Request) { a.metrics(w, r, true) }

func (a *API) metrics(w http.ResponseWriter, r *http.Request, instant bool) {
	req, reason, err := a.parseMetrics(r.URL.Query(), instant)
	if err != nil {
		a.badRequest(w, r, reason, err)
		return
	}
	res, err := a.store.Metrics(r.Context(), req)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if wantsProtobuf(r) {
		w.Header().Set("Content-Type", "application/protobuf")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(metricsProto(res, req, instant))
		return
	}
	writeJSON(w, http.StatusOK, metricsJSON(res, req, instant))
}

// parseMetrics reads a metrics request as Tempo does.
func (a *API) parseMetrics(vals url.Values, instant bool) (req traceql.MetricsRequest, reason string, err error) {
	bad := func(reason string, err error) (traceql.MetricsRequest, string, error) {
		return traceql.MetricsRequest{}, reason, err
	}
	q := vals.Get("query")
	if s := vals.Get("q"); s != "" {
		q = s
	}
	if len(q) > a.opts.MaxQueryBytes {
		return bad(reasonParams, fmt.Errorf("query is too large: %d bytes, max %d", len(q), a.opts.MaxQueryBytes))
	}
	start, end, err := metricsBounds(vals, a.now())
	if err != nil {
		return bad(reasonParams, err)
	}
	req.Start, req.End, req.Instant = start.UnixNano(), end.UnixNano(), instant
	if req.Start >= req.End {
		return bad(reasonParams, errors.New("end must be greater than start"))
	}
	if d := end.Sub(start); d > a.opts.MaxMetricsDuration {
		return bad(reasonParams, fmt.Errorf("metrics query time range exceeds the maximum allowed duration of %s", a.opts.MaxMetricsDuration))
	}
	if !instant {
		step, err := metricsStep(vals.Get("step"), start, end)
		if err != nil {
			return bad(reasonParams, err)
		}
		if step <= 0 || (end.Sub(start))/step > time.Duration(a.opts.MaxMetricsIntervals) {
			return bad(reasonParams, fmt.Errorf("step of %s is too small, minimum step for given range is %s",
				step, end.Sub(start)/time.Duration(a.opts.MaxMetricsIntervals)))
		}
		req.Step = int64(step)
	}
	req.Exemplars = a.opts.DefaultExemplars
	if s := vals.Get("exemplars"); s != "" {
		if n, err := strconv.ParseUint(s, 10, 32); err == nil {
			req.Exemplars = int(min(n, uint64(a.opts.MaxExemplars)))
		}
	}
	req.MaxSeries = a.opts.MaxMetricsSeries
	req.MaxSpans = a.opts.MaxMetricsSpans
	parsed, err := traceql.Parse(q)
	if err != nil {
		var ue *traceql.UnsupportedError
		if errors.As(err, &ue) {
			return bad(reasonUnsupported, err)
		}
		return bad(reasonTraceQL, fmt.Errorf("compiling query: %w", err))
	}
	if !parsed.IsMetrics() {
		return bad(reasonTraceQL, traceql.ErrNotMetrics)
	}
	req.Query = parsed
	return req, "", nil
}

// metricsBounds reads start, end and since as Tempo's determineBounds:
// end defaults to now, start to since (default 1h) before the end, or
// before now when the end is in the future.
func metricsBounds(vals url.Values, now time.Time) (start, end time.Time, err error) {
	since := time.Hour
	if s := vals.Get("since"); s != "" {
		d, err := model.ParseDuration(s)
		if err != nil {
			return start, end, fmt.Errorf("could not parse 'since' parameter: %w", err)
		}
		since = time.Duration(d)
	}
	if end, err = parseTimestamp(vals.Get("end"), now); err != nil {
		return start, end, fmt.Errorf("could not parse 'end' parameter: %w", err)
	}
	endOrNow := end
	if end.After(now) {
		endOrNow = now
	}
	if start, err = parseTimestamp(vals.Get("start"), endOrNow.Add(-since)); err != nil {
		return start, end, fmt.Errorf("could not parse 'start' parameter: %w", err)
	}
	return start, end, nil
}

// parseTimestamp reads unix seconds (up to 10 digits), unix nanoseconds,
// fractional unix seconds or RFC 3339, as Tempo does; def when empty.
func parseTimestamp(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if strings.Contains(s, ".") {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			sec, frac := math.Modf(f)
			return time.Unix(int64(sec), int64(math.Round(frac*1000)/1000*float64(time.Second))), nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		return time.Time{}, err
	}
	if len(s) <= 10 {
		return time.Unix(n, 0), nil
	}
	return time.Unix(0, n), nil
}

// metricsStep reads step as seconds ("30", "0.5") or a Go duration ("30s");
// without one, Tempo's default for the range (DefaultQueryRangeStep).
func metricsStep(s string, start, end time.Time) (time.Duration, error) {
	if s == "" {
		return defaultStep(end.Sub(start)), nil
	}
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		ns := f * float64(time.Second)
		if ns > math.MaxInt64 || ns < math.MinInt64 {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		d = time.Duration(ns)
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("cannot parse %q: step must be positive", s)
	}
	return d, nil
}

// defaultStep aims at 240 points (1 h at 15 s), rounded down to a whole
// hour, 5 min, 1 min, 15 s, 5 s or 1 s (to 50 ms under a minute), as
// Tempo's DefaultQueryRangeStep.
func defaultStep(r time.Duration) time.Duration {
	base := r / 240
	if r < time.Minute {
		return max(base/(50*time.Millisecond)*(50*time.Millisecond), 50*time.Millisecond)
	}
	for _, g := range []time.Duration{time.Hour, 5 * time.Minute, time.Minute, 15 * time.Second, 5 * time.Second, time.Second} {
		if base > g {
			return base / g * g
		}
	}
	return time.Second
}

func metricsStats(st record.FetchStats) searchMetrics {
	return searchMetrics{
		TotalBlocks:    uint32(st.Segments),
		CompletedJobs:  1,
		TotalJobs:      1,
		InspectedSpans: uint64(st.SpansScanned),
		BackendReads:   uint64(st.BlocksRead),
	}
}

func valueJSON(v traceql.Value) jsonAnyValue {
	switch v.Type {
	case traceql.TypeString:
		return jsonAnyValue{StringValue: &v.Str}
	case traceql.TypeInt:
		return jsonAnyValue{IntValue: &v.Int}
	case traceql.TypeFloat:
		d := jsonDouble(v.Float)
		return jsonAnyValue{DoubleValue: &d}
	case traceql.TypeBool:
		return jsonAnyValue{BoolValue: &v.Bool}
	}
	return jsonAnyValue{}
}

func labelsJSON(ls []traceql.Label) []jsonKeyValue {
	out := make([]jsonKeyValue, len(ls))
	for i, l := range ls {
		out[i] = jsonKeyValue{Key: l.Key, Value: valueJSON(l.Value)}
	}
	return out
}

func metricsJSON(res *traceql.MetricsResult, req traceql.MetricsRequest, instant bool) metricsResponse {
	out := metricsResponse{Series: make([]metricsSeriesJSON, 0, len(res.Series)), Metrics: metricsStats(res.Stats)}
	if res.Truncated {
		out.Status, out.Message = "PARTIAL", partialMessage(req.MaxSeries)
	}
	for _, s := range res.Series {
		js := metricsSeriesJSON{Labels: labelsJSON(s.Labels)}
		if instant {
			v := jsonDouble(s.Samples[len(s.Samples)-1].Value)
			js.Value = &v
		} else {
			js.Samples = make([]sampleJSON, len(s.Samples))
			for i, p := range s.Samples {
				js.Samples[i] = sampleJSON{TimestampMs: p.TimestampMs, Value: jsonDouble(p.Value)}
			}
			for _, e := range s.Exemplars {
				js.Exemplars = append(js.Exemplars, exemplarJSON{Labels: labelsJSON(e.Labels), Value: jsonDouble(e.Value), TimestampMs: e.TimestampMs})
			}
		}
		out.Series = append(out.Series, js)
	}
	return out
}

// Field numbers of tempopb's QueryRangeResponse, QueryInstantResponse,
// TimeSeries, InstantSeries, Sample, Exemplar and SearchMetrics, and of
// OTLP's KeyValue and AnyValue.
const (
	fResponseSeries  protowire.Number = 1
	fResponseMetrics protowire.Number = 2
	fResponseStatus  protowire.Number = 3
	fResponseMessage protowire.Number = 4

	fSeriesLabels    protowire.Number = 1
	fSeriesSamples   protowire.Number = 2
	fSeriesExemplars protowire.Number = 4
	fInstantValue    protowire.Number = 2

	fSampleValue       protowire.Number = 1
	fSampleTimestampMs protowire.Number = 2

	fExemplarLabels      protowire.Number = 1
	fExemplarValue       protowire.Number = 2
	fExemplarTimestampMs protowire.Number = 3

	fMetricsTotalBlocks    protowire.Number = 3
	fMetricsCompletedJobs  protowire.Number = 4
	fMetricsTotalJobs      protowire.Number = 5
	fMetricsInspectedSpans protowire.Number = 7

	fKVKey   protowire.Number = 1
	fKVValue protowire.Number = 2

	fAnyString protowire.Number = 1
	fAnyBool   protowire.Number = 2
	fAnyInt    protowire.Number = 3
	fAnyDouble protowire.Number = 4
)

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendDouble(b []byte, num protowire.Number, f float64) []byte {
	if f == 0 && !math.Signbit(f) {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(f))
}

func appendLabels(b []byte, num protowire.Number, ls []traceql.Label) []byte {
	for _, l := range ls {
		var kv []byte
		kv = protowire.AppendTag(kv, fKVKey, protowire.BytesType)
		kv = protowire.AppendString(kv, l.Key)
		var av []byte
		switch v := l.Value; v.Type {
		case traceql.TypeString:
			av = protowire.AppendTag(av, fAnyString, protowire.BytesType)
			av = protowire.AppendString(av, v.Str)
		case traceql.TypeBool:
			av = protowire.AppendTag(av, fAnyBool, protowire.VarintType)
			av = protowire.AppendVarint(av, protowire.EncodeBool(v.Bool))
		case traceql.TypeInt:
			av = protowire.AppendTag(av, fAnyInt, protowire.VarintType)
			av = protowire.AppendVarint(av, uint64(v.Int))
		case traceql.TypeFloat:
			av = protowire.AppendTag(av, fAnyDouble, protowire.Fixed64Type)
			av = protowire.AppendFixed64(av, math.Float64bits(v.Float))
		}
		kv = appendMessage(kv, fKVValue, av)
		b = appendMessage(b, num, kv)
	}
	return b
}

func metricsProto(res *traceql.MetricsResult, req traceql.MetricsRequest, instant bool) []byte {
	var b []byte
	for _, s := range res.Series {
		var sb []byte
		sb = appendLabels(sb, fSeriesLabels, s.Labels)
		if instant {
			sb = appendDouble(sb, fInstantValue, s.Samples[len(s.Samples)-1].Value)
		} else {
			for _, p := range s.Samples {
				var pb []byte
				pb = appendDouble(pb, fSampleValue, p.Value)
				pb = appendVarint(pb, fSampleTimestampMs, uint64(p.TimestampMs))
				sb = appendMessage(sb, fSeriesSamples, pb)
			}
			for _, e := range s.Exemplars {
				var eb []byte
				eb = appendLabels(eb, fExemplarLabels, e.Labels)
				eb = appendDouble(eb, fExemplarValue, e.Value)
				eb = appendVarint(eb, fExemplarTimestampMs, uint64(e.TimestampMs))
				sb = appendMessage(sb, fSeriesExemplars, eb)
			}
		}
		b = appendMessage(b, fResponseSeries, sb)
	}
	st := metricsStats(res.Stats)
	var mb []byte
	mb = appendVarint(mb, fMetricsTotalBlocks, uint64(st.TotalBlocks))
	mb = appendVarint(mb, fMetricsCompletedJobs, uint64(st.CompletedJobs))
	mb = appendVarint(mb, fMetricsTotalJobs, uint64(st.TotalJobs))
	mb = appendVarint(mb, fMetricsInspectedSpans, st.InspectedSpans)
	b = appendMessage(b, fResponseMetrics, mb)
	if res.Truncated {
		b = appendVarint(b, fResponseStatus, 1) // PARTIAL
		b = protowire.AppendTag(b, fResponseMessage, protowire.BytesType)
		b = protowire.AppendString(b, partialMessage(req.MaxSeries))
	}
	return b
}

package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// maxPoints bounds the points per series of a range query, as Prometheus
// does (11,000), so a small step over a long range is widened, not refused.
const maxPoints = 11000

// metrics answers a PromQL/MetricsQL query: a range or instant query as
// one time-series frame per series (data plane "timeseries-multi"; an
// instant query's have one point), a table query as one "numeric-long"
// frame of the instant query at the end of the range, a column per label; and
// with exemplars on, a frame named "exemplar" whose trace_id opens the trace.
func (d *Datasource) metrics(ctx context.Context, q Query, dq backend.DataQuery) (data.Frames, error) {
	if q.Expr == "" {
		return nil, nil
	}
	from, to := dq.TimeRange.From, dq.TimeRange.To
	var frames data.Frames
	if q.Instant || q.Format == "table" {
		var res promData
		if err := d.api.getJSON(ctx, "/api/v1/query", url.Values{"query": {q.Expr}, "time": {unixSeconds(to)}}, &res); err != nil {
			return nil, err
		}
		var err error
		if q.Format == "table" {
			var f *data.Frame
			f, err = instantFrame(res, q)
			frames = data.Frames{f}
		} else {
			frames, err = instantFrames(res, q)
		}
		if err != nil {
			return nil, err
		}
	} else {
		step := rangeStep(q, dq)
		// Aligned to the step, as Grafana's Prometheus datasource does, so
		// that a refreshed panel's points do not move.
		start := from.Truncate(step)
		end := to.Truncate(step)
		if end.Before(start) {
			end = start
		}
		var res promData
		params := url.Values{"query": {q.Expr}, "start": {unixSeconds(start)}, "end": {unixSeconds(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
		if err := d.api.getJSON(ctx, "/api/v1/query_range", params, &res); err != nil {
			return nil, err
		}
		var err error
		if frames, err = seriesFrames(res, q, step); err != nil {
			return nil, err
		}
	}
	if q.Exemplars {
		f, err := d.exemplars(ctx, q.Expr, from, to)
		if err != nil {
			return nil, err
		}
		if f != nil {
			frames = append(frames, f)
		}
	}
	return frames, nil
}

// rangeStep is the query's step, or Grafana's interval widened so the
// range holds at most maxDataPoints (and maxPoints) points.
func rangeStep(q Query, dq backend.DataQuery) time.Duration {
	span := dq.TimeRange.To.Sub(dq.TimeRange.From)
	step, _ := parseStep(q.Step) // checked by parseQuery
	if step == 0 {
		step = dq.Interval
		if dq.MaxDataPoints > 0 {
			step = max(step, span/time.Duration(dq.MaxDataPoints))
		}
	}
	step = max(step, span/maxPoints, time.Millisecond)
	// Whole milliseconds, rounded up so the point count stays within bounds.
	return (step + time.Millisecond - 1).Truncate(time.Millisecond)
}

// promData is the data of a Prometheus query answer.
type promData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
	Value  [2]any            `json:"value"`
}

func seriesFrames(res promData, q Query, step time.Duration) (data.Frames, error) {
	if res.ResultType != "matrix" {
		return instantFrames(res, q)
	}
	var series []promSeries
	if err := json.Unmarshal(res.Result, &series); err != nil {
		return nil, fmt.Errorf("decoding a matrix: %w", err)
	}
	frames := make(data.Frames, 0, len(series))
	for _, s := range series {
		times := make([]time.Time, 0, len(s.Values))
		values := make([]float64, 0, len(s.Values))
		for _, p := range s.Values {
			t, v, err := samplePair(p)
			if err != nil {
				return nil, err
			}
			times = append(times, t)
			values = append(values, v)
		}
		frames = append(frames, seriesFrame(s.Metric, q, times, values, step))
	}
	return frames, nil
}

// instantFrames turns an instant answer (vector or scalar) into one
// single-point time-series frame per series, for a time-series panel.
func instantFrames(res promData, q Query) (data.Frames, error) {
	rows, err := instantRows(res)
	if err != nil {
		return nil, err
	}
	frames := make(data.Frames, 0, len(rows))
	for _, r := range rows {
		frames = append(frames, seriesFrame(r.Metric, q, []time.Time{r.t}, []float64{r.v}, 0))
	}
	return frames, nil
}

func seriesFrame(metric map[string]string, q Query, times []time.Time, values []float64, step time.Duration) *data.Frame {
	name := seriesName(metric, q)
	value := data.NewField(data.TimeSeriesValueFieldName, data.Labels(metric), values)
	value.Config = &data.FieldConfig{DisplayNameFromDS: name}
	tf := data.NewField(data.TimeSeriesTimeFieldName, nil, times)
	if step > 0 {
		tf.Config = &data.FieldConfig{Interval: float64(step.Milliseconds())}
	}
	return data.NewFrame(name, tf, value).SetMeta(&data.FrameMeta{
		Type:                data.FrameTypeTimeSeriesMulti,
		TypeVersion:         data.FrameTypeVersion{0, 1},
		ExecutedQueryString: "Expr: " + q.Expr,
	})
}

type instantRow struct {
	Metric map[string]string
	t      time.Time
	v      float64
}

func instantRows(res promData) ([]instantRow, error) {
	switch res.ResultType {
	case "vector":
		var series []promSeries
		if err := json.Unmarshal(res.Result, &series); err != nil {
			return nil, fmt.Errorf("decoding a vector: %w", err)
		}
		rows := make([]instantRow, 0, len(series))
		for _, s := range series {
			if s.Value[0] == nil { // a native histogram sample, which has no float value
				continue
			}
			t, v, err := samplePair(s.Value)
			if err != nil {
				return nil, err
			}
			rows = append(rows, instantRow{s.Metric, t, v})
		}
		return rows, nil
	case "scalar":
		var p [2]any
		if err := json.Unmarshal(res.Result, &p); err != nil {
			return nil, fmt.Errorf("decoding a scalar: %w", err)
		}
		t, v, err := samplePair(p)
		if err != nil {
			return nil, err
		}
		return []instantRow{{map[string]string{}, t, v}}, nil
	case "matrix":
		return nil, fmt.Errorf("the query returns a range vector: an instant query needs an instant vector or scalar")
	default:
		return nil, fmt.Errorf("unsupported result type %q", res.ResultType)
	}
}

// instantFrame is an instant answer as a table: Time, one column per label
// (sorted), Value (data plane "numeric-long").
func instantFrame(res promData, q Query) (*data.Frame, error) {
	rows, err := instantRows(res)
	if err != nil {
		return nil, err
	}
	var names []string
	seen := map[string]bool{}
	for _, r := range rows {
		for k := range r.Metric {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	times := make([]time.Time, len(rows))
	values := make([]float64, len(rows))
	cols := make([][]string, len(names))
	for i, r := range rows {
		times[i], values[i] = r.t, r.v
		for j, n := range names {
			cols[j] = append(cols[j], r.Metric[n])
		}
	}
	f := data.NewFrame("", data.NewField(data.TimeSeriesTimeFieldName, nil, times))
	for j, n := range names {
		f.Fields = append(f.Fields, data.NewField(n, nil, nonNil(cols[j])))
	}
	f.Fields = append(f.Fields, data.NewField(data.TimeSeriesValueFieldName, nil, values))
	return f.SetMeta(&data.FrameMeta{
		Type:                data.FrameTypeNumericLong,
		TypeVersion:         data.FrameTypeVersion{0, 1},
		ExecutedQueryString: "Expr: " + q.Expr,
	}), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// samplePair reads a Prometheus [unix seconds, "value"] pair.
func samplePair(p [2]any) (time.Time, float64, error) {
	ts, ok := p[0].(float64)
	vs, ok2 := p[1].(string)
	if !ok || !ok2 {
		return time.Time{}, 0, fmt.Errorf("malformed sample %v", p)
	}
	v, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("malformed sample value %q", vs)
	}
	sec, frac := math.Modf(ts)
	return time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC(), v, nil
}

var legendRE = regexp.MustCompile(`\{\{\s*(.+?)\s*\}\}`)

// seriesName is the series' display name: the legend format with
// {{label}} replaced, as Grafana's Prometheus datasource does, or else the
// series as metric{label="value", ...}.
func seriesName(metric map[string]string, q Query) string {
	if q.LegendFormat != "" && q.LegendFormat != "__auto" {
		return legendRE.ReplaceAllStringFunc(q.LegendFormat, func(m string) string {
			return metric[legendRE.FindStringSubmatch(m)[1]]
		})
	}
	rest := make(map[string]string, len(metric))
	for k, v := range metric {
		if k != "__name__" {
			rest[k] = v
		}
	}
	name := metric["__name__"]
	if len(rest) == 0 {
		if name == "" {
			return q.Expr
		}
		return name
	}
	return name + selector(rest)
}

func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', 3, 64)
}

// exemplars is the query's exemplars as one frame (Grafana's "exemplar"
// frame, an annotation of the series): Time, Value, then a column per label
// of the exemplars and their series, trace_id opening the trace.
func (d *Datasource) exemplars(ctx context.Context, expr string, from, to time.Time) (*data.Frame, error) {
	var res []struct {
		SeriesLabels map[string]string `json:"seriesLabels"`
		Exemplars    []struct {
			Labels    map[string]string `json:"labels"`
			Value     string            `json:"value"`
			Timestamp float64           `json:"timestamp"`
		} `json:"exemplars"`
	}
	params := url.Values{"query": {expr}, "start": {unixSeconds(from)}, "end": {unixSeconds(to)}}
	if err := d.api.getJSON(ctx, "/api/v1/query_exemplars", params, &res); err != nil {
		return nil, err
	}
	type row struct {
		t      time.Time
		v      float64
		labels map[string]string
	}
	var rows []row
	seen := map[string]bool{}
	var names []string
	for _, s := range res {
		for _, e := range s.Exemplars {
			t, v, err := samplePair([2]any{e.Timestamp, e.Value})
			if err != nil {
				return nil, err
			}
			lbls := make(map[string]string, len(s.SeriesLabels)+len(e.Labels))
			for k, v := range s.SeriesLabels {
				lbls[k] = v
			}
			for k, v := range e.Labels {
				lbls[k] = v
			}
			for k := range lbls {
				if !seen[k] {
					seen[k] = true
					names = append(names, k)
				}
			}
			rows = append(rows, row{t, v, lbls})
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	sort.Strings(names)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].t.Before(rows[j].t) })
	f := data.NewFrame("exemplar",
		data.NewField(data.TimeSeriesTimeFieldName, nil, make([]time.Time, 0, len(rows))),
		data.NewField(data.TimeSeriesValueFieldName, nil, make([]float64, 0, len(rows))))
	for _, n := range names {
		field := data.NewField(n, nil, make([]string, 0, len(rows)))
		if n == "trace_id" || n == "traceID" {
			withLinks(field, d.traceLink())
		}
		f.Fields = append(f.Fields, field)
	}
	for _, r := range rows {
		f.Fields[0].Append(r.t)
		f.Fields[1].Append(r.v)
		for i, n := range names {
			f.Fields[2+i].Append(r.labels[n])
		}
	}
	return f.SetMeta(&data.FrameMeta{DataTopic: data.DataTopicAnnotations}), nil
}

package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// logLine is one log line, whichever API it came from.
type logLine struct {
	t        time.Time
	body     string
	severity string
	labels   map[string]string
	traceID  string
	spanID   string
}

// logs answers a logs query: LogQL through Loki's query_range (a metric
// query gives time series), full-text search through /api/v1/logs/search,
// or a trace's lines through /api/v1/logs/trace/<id>.
func (d *Datasource) logs(ctx context.Context, q Query, tr backend.TimeRange) (data.Frames, error) {
	if q.LogsMode != "trace" && q.Expr == "" {
		return nil, nil
	}
	lines, frames, err := d.fetchLogs(ctx, q, tr.From, tr.To)
	if err != nil || frames != nil {
		return frames, err
	}
	return data.Frames{d.logsFrame(lines, q)}, nil
}

// fetchLogs reads a logs query's lines; a LogQL metric query returns its
// time-series frames instead.
func (d *Datasource) fetchLogs(ctx context.Context, q Query, from, to time.Time) ([]logLine, data.Frames, error) {
	// Native search and Loki's query_range take the same parameters.
	params := url.Values{"query": {q.Expr}, "start": {nanos(from)}, "end": {nanos(to)},
		"limit": {strconv.Itoa(q.Limit)}, "direction": {q.Direction}}
	switch q.LogsMode {
	case "search":
		var res struct {
			Records []nativeRecord `json:"records"`
		}
		if err := d.api.getJSON(ctx, "/api/v1/logs/search", params, &res); err != nil {
			return nil, nil, err
		}
		return nativeLines(res.Records, ""), nil, nil
	case "trace":
		var res struct {
			Records []nativeRecord `json:"records"`
		}
		if err := d.api.getJSON(ctx, "/api/v1/logs/trace/"+url.PathEscape(q.TraceID), nil, &res); err != nil {
			return nil, nil, err
		}
		return nativeLines(res.Records, q.SpanID), nil, nil
	}
	var res promData
	if q.Step != "" {
		params.Set("step", q.Step)
	}
	if err := d.api.getJSON(ctx, "/loki/api/v1/query_range", params, &res); err != nil {
		return nil, nil, err
	}
	if res.ResultType != "streams" {
		frames, err := seriesFrames(res, q, 0)
		return nil, frames, err
	}
	lines, err := lokiLines(res.Result)
	return lines, nil, err
}

// nativeRecord is a record of Sightline's native log API (README "Logs").
type nativeRecord struct {
	Timestamp    time.Time      `json:"timestamp"`
	SeverityText string         `json:"severityText"`
	SeverityNum  int32          `json:"severityNumber"`
	Body         any            `json:"body"`
	TraceID      string         `json:"traceId"`
	SpanID       string         `json:"spanId"`
	Resource     map[string]any `json:"resource"`
	Attributes   map[string]any `json:"attributes"`
	Scope        struct {
		Name string `json:"name"`
	} `json:"scope"`
}

// nativeLines turns native records into lines, keeping only those of
// spanID when it is set. Labels are the resource's and the record's
// attributes (as strings), which Grafana's log details list.
func nativeLines(recs []nativeRecord, spanID string) []logLine {
	lines := make([]logLine, 0, len(recs))
	for _, r := range recs {
		if spanID != "" && !strings.EqualFold(r.SpanID, spanID) {
			continue
		}
		lbls := make(map[string]string, len(r.Resource)+len(r.Attributes)+1)
		for k, v := range r.Resource {
			lbls[k] = stringify(v)
		}
		for k, v := range r.Attributes {
			lbls[k] = stringify(v)
		}
		if r.Scope.Name != "" {
			lbls["scope.name"] = r.Scope.Name
		}
		lines = append(lines, logLine{
			t: r.Timestamp, body: stringify(r.Body), severity: level(r.SeverityText, r.SeverityNum),
			labels: lbls, traceID: r.TraceID, spanID: r.SpanID,
		})
	}
	return lines
}

// lokiLines reads a Loki "streams" result with categorised labels: each
// line's labels are its stream's, its structured metadata and its parsed
// labels together, as Grafana shows them.
func lokiLines(raw json.RawMessage) ([]logLine, error) {
	var streams []struct {
		Stream map[string]string `json:"stream"`
		Values [][]json.RawMessage
	}
	if err := json.Unmarshal(raw, &streams); err != nil {
		return nil, fmt.Errorf("decoding Loki streams: %w", err)
	}
	var lines []logLine
	for _, s := range streams {
		for _, v := range s.Values {
			if len(v) < 2 {
				return nil, fmt.Errorf("malformed Loki entry with %d values", len(v))
			}
			var tsStr, body string
			if json.Unmarshal(v[0], &tsStr) != nil || json.Unmarshal(v[1], &body) != nil {
				return nil, fmt.Errorf("malformed Loki entry %s", v[0])
			}
			ns, err := strconv.ParseInt(tsStr, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("malformed Loki timestamp %q", tsStr)
			}
			lbls := make(map[string]string, len(s.Stream)+4)
			for k, val := range s.Stream {
				lbls[k] = val
			}
			if len(v) > 2 {
				var cat map[string]map[string]string
				if err := json.Unmarshal(v[2], &cat); err != nil {
					return nil, fmt.Errorf("malformed Loki entry metadata: %w", err)
				}
				for _, m := range cat {
					for k, val := range m {
						lbls[k] = val
					}
				}
			}
			sev := lbls["detected_level"]
			if sev == "" {
				sev = lbls["level"]
			}
			lines = append(lines, logLine{
				t: time.Unix(0, ns).UTC(), body: body, severity: sev, labels: lbls,
				traceID: lbls["trace_id"], spanID: lbls["span_id"],
			})
		}
	}
	return lines, nil
}

// logsFrame is lines as a frame of the data plane logs contract
// ("log-lines": timestamp, body, severity, id, labels), plus traceId and
// spanId columns whose links open the line's trace, or its trace with its
// logs and exemplars (correlate). Lines are in the query's direction.
func (d *Datasource) logsFrame(lines []logLine, q Query) *data.Frame {
	sort.SliceStable(lines, func(i, j int) bool {
		if q.Direction == "forward" {
			return lines[i].t.Before(lines[j].t)
		}
		return lines[i].t.After(lines[j].t)
	})
	n := len(lines)
	ts := make([]time.Time, n)
	bodies := make([]string, n)
	sevs := make([]string, n)
	ids := make([]string, n)
	lbls := make([]json.RawMessage, n)
	traceIDs := make([]string, n)
	spanIDs := make([]string, n)
	dup := map[string]int{}
	for i, l := range lines {
		ts[i], bodies[i], sevs[i], traceIDs[i], spanIDs[i] = l.t, l.body, l.severity, l.traceID, l.spanID
		lbls[i], _ = json.Marshal(l.labels)
		ids[i] = lineID(l, lbls[i], dup)
	}
	traceField := withLinks(data.NewField("traceId", nil, traceIDs),
		d.traceLink(), d.correlateLink())
	f := data.NewFrame("logs",
		data.NewField("timestamp", nil, ts),
		data.NewField("body", nil, bodies),
		data.NewField("severity", nil, sevs),
		data.NewField("id", nil, ids),
		data.NewField("labels", nil, lbls),
		traceField,
		data.NewField("spanId", nil, spanIDs),
	)
	return f.SetMeta(&data.FrameMeta{
		Type:                   data.FrameTypeLogLines,
		TypeVersion:            data.FrameTypeVersion{0, 0},
		PreferredVisualization: data.VisTypeLogs,
		ExecutedQueryString:    executed(q),
	})
}

// lineID is a stable, unique ID of a line (Grafana uses it to deduplicate
// lines across refreshes and live tail): its time and a hash of its labels
// and body, with a counter for identical lines.
func lineID(l logLine, labels []byte, dup map[string]int) string {
	h := fnv.New64a()
	h.Write(labels)
	h.Write([]byte(l.body))
	id := strconv.FormatInt(l.t.UnixNano(), 10) + "_" + strconv.FormatUint(h.Sum64(), 16)
	if n := dup[id]; n > 0 {
		dup[id] = n + 1
		return id + "_" + strconv.Itoa(n)
	}
	dup[id] = 1
	return id
}

func executed(q Query) string {
	if q.LogsMode == "trace" {
		return "Logs of trace " + q.TraceID + " " + q.SpanID
	}
	return q.LogsMode + ": " + q.Expr
}

// level is the line's level as Grafana's logs view colours it: the severity
// text in lower case, or the OTLP severity number's range name.
func level(text string, num int32) string {
	if text != "" {
		return strings.ToLower(text)
	}
	switch {
	case num >= 21:
		return "fatal"
	case num >= 17:
		return "error"
	case num >= 13:
		return "warn"
	case num >= 9:
		return "info"
	case num >= 5:
		return "debug"
	case num >= 1:
		return "trace"
	}
	return "unknown"
}

// stringify renders an attribute or body value: strings as they are,
// anything else (numbers, maps, lists) as JSON.
func stringify(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func nanos(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// logsVolume is the number of lines of a logs query over its range, per
// level for LogQL (counted by Sightline from stored columns, as Grafana's
// Loki log volume is), in total for full-text search.
func (d *Datasource) logsVolume(ctx context.Context, q Query, dq backend.DataQuery) (data.Frames, error) {
	if q.Expr == "" || q.LogsMode == "trace" {
		return nil, nil
	}
	step := rangeStep(Query{}, dq)
	step = max(step, time.Second).Round(time.Second)
	from, to := dq.TimeRange.From.Truncate(step), dq.TimeRange.To
	var frames data.Frames
	if q.LogsMode == "search" {
		var res struct {
			Buckets []struct {
				Time  time.Time `json:"time"`
				Count int64     `json:"count"`
			} `json:"buckets"`
		}
		params := url.Values{"query": {q.Expr}, "start": {nanos(from)}, "end": {nanos(to)}, "step": {seconds(step)}}
		if err := d.api.getJSON(ctx, "/api/v1/logs/histogram", params, &res); err != nil {
			return nil, err
		}
		times := make([]time.Time, len(res.Buckets))
		counts := make([]float64, len(res.Buckets))
		for i, b := range res.Buckets {
			times[i], counts[i] = b.Time, float64(b.Count)
		}
		frames = data.Frames{seriesFrame(map[string]string{"level": "logs"}, Query{LegendFormat: "logs"}, times, counts, step)}
	} else {
		expr := fmt.Sprintf("sum by (detected_level) (count_over_time(%s [%s]))", q.Expr, seconds(step))
		var res promData
		params := url.Values{"query": {expr}, "start": {nanos(from)}, "end": {nanos(to)}, "step": {seconds(step)}}
		if err := d.api.getJSON(ctx, "/loki/api/v1/query_range", params, &res); err != nil {
			return nil, err
		}
		var err error
		if frames, err = seriesFrames(res, Query{Expr: expr, LegendFormat: "{{detected_level}}"}, step); err != nil {
			return nil, err
		}
		for _, f := range frames {
			// Grafana's log volume colours series by their "level" label.
			lv := f.Fields[1].Labels["detected_level"]
			f.Fields[1].Labels = data.Labels{"level": lv}
		}
	}
	for _, f := range frames {
		f.Meta.Custom = map[string]any{"logsVolumeType": "FullRange", "sourceQuery": q}
	}
	return frames, nil
}

// seconds renders a whole-second step as LogQL and Loki's step parameter
// read it ("60s").
func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }

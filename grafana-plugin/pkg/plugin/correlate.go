package plugin

import (
	"context"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// correlate answers a correlate query, Sightline's call that opens a
// request everywhere by its trace ID: the trace (a trace frame, when any
// span is stored), its log lines (a logs frame) and the exemplars that
// point at it (a table, each series opening its metric), each read from its
// store's trace-ID index with no time range.
func (d *Datasource) correlate(ctx context.Context, q Query) (data.Frames, error) {
	var res struct {
		Logs      []nativeRecord `json:"logs"`
		Exemplars []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
			Labels       map[string]string `json:"labels"`
			SpanID       string            `json:"spanID"`
			Timestamp    time.Time         `json:"timestamp"`
			Value        float64           `json:"value"`
		} `json:"exemplars"`
	}
	if err := d.api.getJSON(ctx, "/api/v1/correlate/"+url.PathEscape(q.TraceID), nil, &res); err != nil {
		return nil, err
	}
	var frames data.Frames
	trace, err := d.traceFrame(ctx, q.TraceID)
	if err != nil {
		return nil, err
	}
	if trace != nil {
		frames = append(frames, trace)
	}
	frames = append(frames, d.logsFrame(nativeLines(res.Logs, ""), Query{LogsMode: "trace", TraceID: q.TraceID, Direction: "forward"}))

	n := len(res.Exemplars)
	times, values := make([]time.Time, n), make([]float64, n)
	metrics, series, spans := make([]string, n), make([]string, n), make([]string, n)
	for i, e := range res.Exemplars {
		times[i], values[i], spans[i] = e.Timestamp, e.Value, e.SpanID
		metrics[i] = e.SeriesLabels["__name__"]
		series[i] = selector(e.SeriesLabels)
	}
	ex := data.NewFrame("Exemplars",
		data.NewField("timestamp", nil, times),
		data.NewField("metric", nil, metrics),
		// The series as a selector: its link graphs it.
		withLinks(data.NewField("series", nil, series),
			d.link("Graph this series", Query{QueryType: TypeMetrics, Expr: "${__value.raw}", Exemplars: true})),
		data.NewField("value", nil, values),
		data.NewField("spanID", nil, spans),
	)
	frames = append(frames, ex.SetMeta(&data.FrameMeta{PreferredVisualization: data.VisTypeTable}))
	return frames, nil
}

// selector writes labels as a PromQL selector: {__name__="m", a="b"}.
func selector(lbls map[string]string) string {
	names := make([]string, 0, len(lbls))
	for k := range lbls {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "=" + strconv.Quote(lbls[k]) // PromQL strings take Go's escapes
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

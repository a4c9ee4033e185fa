package logsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/sightline-dev/sightline/query/logql"
	"github.com/sightline-dev/sightline/storage/logstore"
)

// errStop ends a fetch early once enough entries were found.
var errStop = errors.New("enough entries")

// fetch adapts the log store to the LogQL engine, oldest first as
// logql.FetchFunc asks: an entry's labels are its stream labels and its
// structured metadata (stream labels win a clash).
func (a *API) fetch(ctx context.Context, matchers []*labels.Matcher, from, to time.Time, fn func(logql.Entry) error) error {
	_, err := a.store.Fetch(ctx, logstore.FetchRequest{Matchers: matchers, From: from.UnixNano(), To: to.UnixNano()}, func(e logstore.Entry) error {
		return fn(logql.Entry{Timestamp: time.Unix(0, e.Timestamp), Line: e.Line, Labels: e.Labels()})
	})
	return err
}

// count adapts the store's Count to the LogQL engine's logql.CountFunc: the
// same entries as fetch, with only what counting them needs.
func (a *API) count(ctx context.Context, matchers []*labels.Matcher, names []string, from, to time.Time, together func(minT, maxT int64) bool, fn func(logql.CountEntry) error) error {
	_, err := a.store.Count(ctx, matchers, names, from.UnixNano(), to.UnixNano(), together, func(key int, lbls labels.Labels, ts int64, size, n int) error {
		return fn(logql.CountEntry{Key: key, Labels: lbls, Timestamp: ts, Size: size, N: n})
	})
	return err
}

// eval evaluates a metric query over the store, counting from the store's
// columns where the query allows it.
func (a *API) eval(ctx context.Context, q *logql.MetricQuery, start, end time.Time, step time.Duration) (promql.Matrix, error) {
	opts := logql.DefaultEvalOptions()
	opts.Count = a.count
	return q.EvalWithOptions(ctx, start, end, step, a.fetch, opts)
}

// logLine is one result of a log query.
type logLine struct {
	ts     int64
	line   string
	lbls   labels.Labels // after the pipeline
	stream labels.Labels // the stream's own labels
	md     labels.Labels // the entry's structured metadata
}

// runLogQuery returns up to limit entries of q in [start, end) in the order
// of the query: the newest first when backward, else the oldest first. The
// store streams them in that order, so reading stops at the limit.
func (a *API) runLogQuery(ctx context.Context, q *logql.LogQuery, start, end time.Time, limit int, backward bool) ([]logLine, error) {
	if limit == 0 && backward {
		// Loki refuses limit=0; Sightline has answered it with no entries
		// backward and the first entry forward. Kept so answers do not change.
		return nil, nil
	}
	var out []logLine
	var size int64
	req := logstore.FetchRequest{Matchers: q.Matchers, From: start.UnixNano() - 1, To: end.UnixNano() - 1, Backward: backward, LineContains: q.LineContains()}
	_, err := a.store.Fetch(ctx, req, func(e logstore.Entry) error {
		line, lbls, keep := q.Process(logql.Entry{Timestamp: time.Unix(0, e.Timestamp), Line: e.Line, Labels: e.Labels()})
		if !keep {
			return nil
		}
		out = append(out, logLine{ts: e.Timestamp, line: line, lbls: lbls, stream: e.Stream, md: e.Metadata})
		if size += int64(len(line)); a.opts.MaxResponseBytes > 0 && size > a.opts.MaxResponseBytes {
			return fmt.Errorf("%w: the lines of this query come to more than -logs.query.max-response-bytes=%d; ask for fewer lines (limit) or a shorter range",
				logstore.ErrTooMuchData, a.opts.MaxResponseBytes)
		}
		if len(out) >= limit {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return out, nil
}

type lokiStream struct {
	Stream map[string]string `json:"stream"`
	Values [][]any           `json:"values"`
}

// streamsResult groups lines into Loki streams, each keeping the order of
// lines (that of the query). With categorized labels
// (Grafana sends X-Loki-Response-Encoding-Flags: categorize-labels) a
// stream is its own labels and each value carries its structured metadata
// and parsed labels; otherwise a stream is every label of the line.
func streamsResult(lines []logLine, categorize bool) []lokiStream {
	byKey := map[string]*lokiStream{}
	var keys []string
	for _, l := range lines {
		group := l.lbls
		if categorize {
			group = l.stream
		}
		k := group.String()
		s := byKey[k]
		if s == nil {
			s = &lokiStream{Stream: group.Map(), Values: [][]any{}}
			byKey[k] = s
			keys = append(keys, k)
		}
		v := []any{strconv.FormatInt(l.ts, 10), l.line}
		if categorize {
			md, parsed := map[string]string{}, map[string]string{}
			l.lbls.Range(func(lb labels.Label) {
				if l.stream.Get(lb.Name) == lb.Value {
					return
				}
				if l.md.Get(lb.Name) == lb.Value {
					md[lb.Name] = lb.Value
				} else {
					parsed[lb.Name] = lb.Value
				}
			})
			cat := map[string]map[string]string{}
			if len(md) > 0 {
				cat["structuredMetadata"] = md
			}
			if len(parsed) > 0 {
				cat["parsed"] = parsed
			}
			if len(cat) > 0 {
				v = append(v, cat)
			}
		}
		s.Values = append(s.Values, v)
	}
	sort.Strings(keys)
	out := make([]lokiStream, 0, len(keys))
	for _, k := range keys {
		out = append(out, *byKey[k])
	}
	return out
}

func lokiStats(lines int, start time.Time) map[string]any {
	exec := time.Since(start).Seconds()
	return map[string]any{
		"summary": map[string]any{
			"bytesProcessedPerSecond": 0, "linesProcessedPerSecond": 0, "totalBytesProcessed": 0,
			"totalLinesProcessed": lines, "execTime": exec, "queueTime": 0, "subqueries": 0,
			"totalEntriesReturned": lines, "splits": 0, "shards": 0, "totalPostFilterLines": lines,
			"totalStructuredMetadataBytesProcessed": 0,
		},
		"querier":  map[string]any{"store": map[string]any{"totalChunksRef": 0, "totalChunksDownloaded": 0}},
		"ingester": map[string]any{"totalReached": 0, "totalChunksMatched": 0, "totalBatches": 0, "totalLinesSent": 0},
		"cache":    map[string]any{},
	}
}

func (a *API) queryRange(w http.ResponseWriter, r *http.Request) {
	a.query(w, r, false)
}

func (a *API) queryInstant(w http.ResponseWriter, r *http.Request) {
	a.query(w, r, true)
}

func (a *API) query(w http.ResponseWriter, r *http.Request, instant bool) {
	began := time.Now()
	bad := func(err error) {
		a.badReq.WithLabelValues("query").Inc()
		lokiError(w, http.StatusBadRequest, err)
	}
	qs := r.FormValue("query")
	var start, end time.Time
	var err error
	if instant {
		if end, err = parseTime(r.FormValue("time"), time.Now()); err != nil {
			bad(fmt.Errorf("invalid time: %w", err))
			return
		}
		start = end
	} else if start, end, err = timeRange(r); err != nil {
		bad(err)
		return
	}
	limit, err := parseInt(r.FormValue("limit"), 100, a.opts.MaxEntries)
	if err != nil {
		bad(fmt.Errorf("invalid limit: %w (max_entries_limit_per_query)", err))
		return
	}
	dir := strings.ToLower(r.FormValue("direction"))
	if dir != "" && dir != "backward" && dir != "forward" {
		bad(fmt.Errorf("invalid direction %q: backward or forward", dir))
		return
	}
	step, err := parseDuration(r.FormValue("step"), defaultStep(start, end))
	if err != nil || (!instant && step <= 0) {
		bad(fmt.Errorf("invalid step %q: a positive duration or number of seconds", r.FormValue("step")))
		return
	}
	if !instant && end.Sub(start)/step > maxPoints {
		bad(errTooManyPoints)
		return
	}

	expr, err := logql.ParseExpr(qs)
	if err != nil {
		if v, ok := a.literalQuery(r.Context(), qs, start, end, step, instant); ok {
			writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"resultType": v.Type(), "result": v, "stats": lokiStats(0, began)}})
			return
		}
		bad(err)
		return
	}
	switch e := expr.(type) {
	case *logql.LogQuery:
		if instant {
			bad(errors.New("log queries are not supported as an instant query type, please change your query to a range query type"))
			return
		}
		lines, err := a.runLogQuery(r.Context(), e, start, end, limit, dir != "forward")
		if err != nil {
			a.lokiQueryError(w, err)
			return
		}
		categorize := strings.Contains(r.Header.Get("X-Loki-Response-Encoding-Flags"), "categorize-labels")
		data := map[string]any{"resultType": "streams", "result": streamsResult(lines, categorize), "stats": lokiStats(len(lines), began)}
		if categorize {
			data["encodingFlags"] = []string{"categorize-labels"}
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": data})
	case *logql.MetricQuery:
		m, err := a.eval(r.Context(), e, start, end, step)
		if err != nil {
			a.lokiQueryError(w, err)
			return
		}
		var result any = m
		resultType := "matrix"
		if instant {
			result, resultType = lastPoints(m), "vector"
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"resultType": resultType, "result": result, "stats": lokiStats(0, began)}})
	default:
		bad(fmt.Errorf("unsupported query %q", qs))
	}
}

func (a *API) lokiQueryError(w http.ResponseWriter, err error) {
	var limitErr *logql.LimitError
	var pipelineErr *logql.PipelineError
	switch {
	case errors.Is(err, logstore.ErrTooMuchData), errors.As(err, &limitErr), errors.As(err, &pipelineErr):
		// The query's fault, not the server's: Loki answers 400 too.
		a.badReq.WithLabelValues("query").Inc()
		lokiError(w, http.StatusBadRequest, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		lokiError(w, http.StatusServiceUnavailable, err)
	default:
		lokiError(w, http.StatusInternalServerError, err)
	}
}

// defaultStep is Loki's: the range over 250 points, at least a second.
func defaultStep(start, end time.Time) time.Duration {
	return max(time.Duration(end.Sub(start).Seconds()/250)*time.Second, time.Second)
}

// literalQuery evaluates queries without any selector, such as the
// vector(1)+vector(1) Grafana uses as a health check, with the PromQL engine:
// on literals LogQL and PromQL agree.
func (a *API) literalQuery(ctx context.Context, qs string, start, end time.Time, step time.Duration, instant bool) (parser.Value, bool) {
	expr, err := parser.ParseExpr(qs)
	if err != nil {
		return nil, false
	}
	hasSelector := false
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n.(type) {
		case *parser.VectorSelector, *parser.MatrixSelector:
			hasSelector = true
		}
		return nil
	})
	if hasSelector {
		return nil, false
	}
	empty := storage.QueryableFunc(func(int64, int64) (storage.Querier, error) { return storage.NoopQuerier(), nil })
	var q promql.Query
	if instant {
		q, err = a.engine.NewInstantQuery(ctx, empty, nil, qs, end)
	} else {
		q, err = a.engine.NewRangeQuery(ctx, empty, nil, qs, start, end, step)
	}
	if err != nil {
		return nil, false
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, false
	}
	return res.Value, true
}

// InstantQuery evaluates a LogQL metric query at t, for the rule engine's
// LogQL groups (as Loki's ruler does).
func (a *API) InstantQuery(ctx context.Context, qs string, t time.Time) (promql.Vector, error) {
	expr, err := logql.ParseExpr(qs)
	if err != nil {
		return nil, err
	}
	mq, ok := expr.(*logql.MetricQuery)
	if !ok {
		return nil, fmt.Errorf("%q is not a LogQL metric query", qs)
	}
	m, err := a.eval(ctx, mq, t, t, 0)
	if err != nil {
		return nil, err
	}
	return lastPoints(m), nil
}

// lastPoints is an instant query's vector: each series' last point.
func lastPoints(m promql.Matrix) promql.Vector {
	vec := promql.Vector{}
	for _, s := range m {
		if n := len(s.Floats); n > 0 {
			vec = append(vec, promql.Sample{Metric: s.Metric, T: s.Floats[n-1].T, F: s.Floats[n-1].F})
		}
	}
	return vec
}

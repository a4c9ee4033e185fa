package correlate

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"golang.org/x/sync/errgroup"

	"github.com/sightline-dev/sightline/query/logsapi"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
)

// Traces reads a trace by ID (*tracestore.Store).
type Traces interface {
	Trace(ctx context.Context, id [16]byte) ([]*record.Span, error)
}

// Logs reads the log records of a trace (*logstore.Store).
type Logs interface {
	ByTrace(ctx context.Context, id [16]byte) ([]*logstore.Record, error)
}

// Exemplars reads the exemplars of the ctx's tenant (*tsdbstore.Store).
type Exemplars interface {
	ExemplarQuerier(ctx context.Context) (storage.ExemplarQuerier, error)
}

// exemplarTraceLabels are the exemplar labels that carry a trace ID: the
// OTLP translator and Tempo's generator write trace_id; client libraries
// also use traceID.
var exemplarTraceLabels = []string{"trace_id", "traceID", "traceId"}

// API is the correlate endpoint.
type API struct {
	traces    Traces
	logs      Logs
	exemplars Exemplars
	logger    *slog.Logger
	duration  prometheus.Histogram
}

// New returns the correlate API over the three stores.
func New(traces Traces, logs Logs, exemplars Exemplars, logger *slog.Logger, reg prometheus.Registerer) *API {
	a := &API{traces: traces, logs: logs, exemplars: exemplars, logger: logger,
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sightline_correlate_duration_seconds", Help: "Time to answer a correlate call.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})}
	reg.MustRegister(a.duration)
	return a
}

// Handler serves GET /api/v1/correlate/{id}.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/correlate/{id}", a.correlate)
	return mux
}

// Answer is the data of a correlate answer.
type Answer struct {
	TraceID   string               `json:"traceID"`
	Trace     *Trace               `json:"trace"` // null when no span of the trace is stored
	Logs      []logsapi.RecordJSON `json:"logs"`
	Exemplars []Exemplar           `json:"exemplars"`
	Links     map[string]string    `json:"links"`
	Stats     map[string]any       `json:"stats"`
}

// Trace summarises a trace and lists its spans.
type Trace struct {
	RootService string    `json:"rootServiceName"` // "" when the root span is not stored (yet)
	RootName    string    `json:"rootSpanName"`
	Start       time.Time `json:"startTime"`
	DurationMs  float64   `json:"durationMs"`
	SpanCount   int       `json:"spanCount"`
	ErrorCount  int       `json:"errorCount"`
	Services    []string  `json:"services"`
	Spans       []Span    `json:"spans"`
}

// Span is one span of the trace, in start order.
type Span struct {
	SpanID        string         `json:"spanID"`
	ParentSpanID  string         `json:"parentSpanID,omitempty"`
	Service       string         `json:"serviceName"`
	Name          string         `json:"name"`
	Kind          string         `json:"kind"`
	Status        string         `json:"status"`
	StatusMessage string         `json:"statusMessage,omitempty"`
	Start         time.Time      `json:"startTime"`
	DurationMs    float64        `json:"durationMs"`
	Attributes    map[string]any `json:"attributes"`
	Resource      map[string]any `json:"resource"`
	// Events and Links are always lists (empty, not null), so a page can
	// iterate them without a check.
	Events   []Event `json:"events"`
	Links    []Link  `json:"links"`
	LogCount int     `json:"logCount"` // log records of this span
}

// Event is a span event: a named moment of the span (an exception, a
// retry), with its attributes.
type Event struct {
	Time       time.Time      `json:"time"`
	Name       string         `json:"name"`
	Attributes map[string]any `json:"attributes"`
}

// Link is a span link: a span of another (or the same) trace that this
// one follows from, as a batch consumer links the requests it serves.
type Link struct {
	TraceID    string         `json:"traceID"`
	SpanID     string         `json:"spanID"`
	Attributes map[string]any `json:"attributes"`
}

// Exemplar is an exemplar that points at the trace.
type Exemplar struct {
	SeriesLabels map[string]string `json:"seriesLabels"`
	Labels       map[string]string `json:"labels"` // the exemplar's own labels (trace_id, span_id)
	SpanID       string            `json:"spanID,omitempty"`
	Timestamp    time.Time         `json:"timestamp"`
	Value        float64           `json:"value"`
}

func (a *API) correlate(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { a.duration.Observe(time.Since(start).Seconds()) }()
	id, err := record.ParseTraceID(strings.ToLower(r.PathValue("id")))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"status": "error", "errorType": "bad_data", "error": err.Error()})
		return
	}
	ans, err := a.Correlate(r.Context(), id)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]string{"status": "error", "errorType": "internal", "error": err.Error()})
		return
	}
	if ans.Trace == nil && len(ans.Logs) == 0 && len(ans.Exemplars) == 0 {
		writeJSON(w, http.StatusNotFound, map[string]any{"status": "error", "errorType": "not_found",
			"error": "trace " + ans.TraceID + " not found: no spans, log records or exemplars carry it"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": ans})
}

// Correlate reads the three stores at once for trace id.
func (a *API) Correlate(ctx context.Context, id [16]byte) (*Answer, error) {
	hexID := hex.EncodeToString(id[:])
	var (
		spans []*record.Span
		recs  []*logstore.Record
		exs   []Exemplar
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { spans, err = a.traces.Trace(gctx, id); return err })
	g.Go(func() (err error) { recs, err = a.logs.ByTrace(gctx, id); return err })
	g.Go(func() (err error) { exs, err = a.findExemplars(gctx, hexID); return err })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	ans := &Answer{
		TraceID:   hexID,
		Logs:      make([]logsapi.RecordJSON, 0, len(recs)),
		Exemplars: exs,
		Links: map[string]string{
			"trace": "/api/traces/" + hexID,
			"logs":  "/api/v1/logs/trace/" + hexID,
		},
		Stats: map[string]any{"spans": len(spans), "logs": len(recs), "exemplars": len(exs)},
	}
	logsPerSpan := map[[8]byte]int{}
	for _, rec := range recs {
		ans.Logs = append(ans.Logs, logsapi.ToJSON(rec))
		logsPerSpan[rec.SpanID]++
	}
	if len(spans) > 0 {
		ans.Trace = summarise(spans, logsPerSpan)
	}
	return ans, nil
}

func summarise(spans []*record.Span, logsPerSpan map[[8]byte]int) *Trace {
	t := &Trace{SpanCount: len(spans), Spans: make([]Span, 0, len(spans))}
	first, last := spans[0].Start, spans[0].End
	services := map[string]bool{}
	for _, sp := range spans {
		first, last = min(first, sp.Start), max(last, sp.End)
		services[sp.Service()] = true
		if sp.StatusCode == record.StatusError {
			t.ErrorCount++
		}
		if sp.IsRoot() {
			t.RootService, t.RootName = sp.Service(), sp.Name
		}
		out := Span{
			SpanID:        hex.EncodeToString(sp.SpanID[:]),
			Service:       sp.Service(),
			Name:          sp.Name,
			Kind:          record.KindName(sp.Kind),
			Status:        record.StatusName(sp.StatusCode),
			StatusMessage: sp.StatusMessage,
			Start:         time.Unix(0, sp.Start).UTC(),
			DurationMs:    float64(sp.Duration()) / float64(time.Millisecond),
			Attributes:    logsapi.KVMap(sp.Attributes),
			Resource:      logsapi.KVMap(sp.Resource),
			Events:        make([]Event, 0, len(sp.Events)),
			Links:         make([]Link, 0, len(sp.Links)),
			LogCount:      logsPerSpan[sp.SpanID],
		}
		for _, e := range sp.Events {
			out.Events = append(out.Events, Event{Time: time.Unix(0, e.Time).UTC(), Name: e.Name, Attributes: logsapi.KVMap(e.Attributes)})
		}
		for _, l := range sp.Links {
			out.Links = append(out.Links, Link{TraceID: hex.EncodeToString(l.TraceID[:]), SpanID: hex.EncodeToString(l.SpanID[:]), Attributes: logsapi.KVMap(l.Attributes)})
		}
		if !sp.IsRoot() {
			out.ParentSpanID = hex.EncodeToString(sp.ParentSpanID[:])
		}
		t.Spans = append(t.Spans, out)
	}
	t.Start = time.Unix(0, first).UTC()
	t.DurationMs = float64(max(last-first, 0)) / float64(time.Millisecond)
	for s := range services {
		t.Services = append(t.Services, s)
	}
	sort.Strings(t.Services)
	return t
}

// findExemplars scans the exemplar storage (a bounded in-memory ring, so a
// full scan is cheap) for exemplars whose trace label is hexID.
func (a *API) findExemplars(ctx context.Context, hexID string) ([]Exemplar, error) {
	q, err := a.exemplars.ExemplarQuerier(ctx)
	if err != nil {
		return nil, err
	}
	res, err := q.Select(math.MinInt64, math.MaxInt64, []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+")})
	if err != nil {
		return nil, err
	}
	out := []Exemplar{}
	for _, qr := range res {
		for _, e := range qr.Exemplars {
			if !hasTrace(e.Labels, hexID) {
				continue
			}
			out = append(out, Exemplar{
				SeriesLabels: qr.SeriesLabels.Map(),
				Labels:       e.Labels.Map(),
				SpanID:       firstOf(e.Labels, "span_id", "spanID", "spanId"),
				Timestamp:    time.UnixMilli(e.Ts).UTC(),
				Value:        e.Value,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Timestamp.Before(out[j].Timestamp) })
	return out, nil
}

func hasTrace(ls labels.Labels, hexID string) bool {
	return strings.EqualFold(firstOf(ls, exemplarTraceLabels...), hexID)
}

func firstOf(ls labels.Labels, names ...string) string {
	for _, n := range names {
		if v := ls.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

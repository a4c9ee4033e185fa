package plugin

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Query types, the queryType of a query (src/types.ts holds the same).
const (
	TypeMetrics    = "metrics"
	TypeLogs       = "logs"
	TypeLogsVolume = "logsVolume" // the log volume Grafana asks for beside a logs query
	TypeTraces     = "traces"
	TypeCorrelate  = "correlate"
)

// Query is one query of a panel or of Explore, as the frontend's query
// editor writes it (src/types.ts, SightlineQuery).
type Query struct {
	QueryType string `json:"queryType,omitempty"`
	// Expr is PromQL/MetricsQL (metrics), LogQL or full-text search (logs,
	// logsVolume) or TraceQL (traces search).
	Expr string `json:"expr,omitempty"`

	// Metrics.
	Instant      bool   `json:"instant,omitempty"`
	Format       string `json:"format,omitempty"` // "time_series" (default) or "table"
	Exemplars    bool   `json:"exemplars,omitempty"`
	Step         string `json:"step,omitempty"` // "" = from Grafana's interval
	LegendFormat string `json:"legendFormat,omitempty"`

	// Logs.
	// LogsMode is "logql" (default), "search" (Sightline's full-text
	// syntax) or "trace": every line of TraceID (and of SpanID, when set),
	// read from the trace-ID index with no time range, as a span's
	// "Logs" link asks.
	LogsMode  string `json:"logsMode,omitempty"`
	Direction string `json:"direction,omitempty"` // "backward" (default) or "forward"
	Limit     int    `json:"limit,omitempty"`

	// Traces and correlate.
	TracesMode string `json:"tracesMode,omitempty"` // "search" (default) or "traceId"
	TraceID    string `json:"traceId,omitempty"`
	SpanID     string `json:"spanId,omitempty"` // logsMode "trace" only
}

// Query limits: the defaults Grafana's Loki and Tempo datasources use, and
// bounds that keep one query's frames within reason.
const (
	defaultLogsLimit   = 1000
	maxLogsLimit       = 10000
	defaultTracesLimit = 20
	maxTracesLimit     = 1000
)

// parseQuery decodes and checks a query's JSON. queryType is Grafana's
// copy of the field (backend.DataQuery.QueryType), used when the JSON has
// none. Every error names the field at fault.
func parseQuery(raw json.RawMessage, queryType string) (Query, error) {
	var q Query
	if err := json.Unmarshal(raw, &q); err != nil {
		return q, fmt.Errorf("invalid query JSON: %w", err)
	}
	if q.QueryType == "" {
		q.QueryType = queryType
	}
	if q.QueryType == "" {
		q.QueryType = TypeMetrics
	}
	q.Expr = strings.TrimSpace(q.Expr)
	q.TraceID = strings.TrimSpace(q.TraceID)
	switch q.QueryType {
	case TypeMetrics:
		if q.Format == "" {
			q.Format = "time_series"
		}
		if q.Format != "time_series" && q.Format != "table" {
			return q, fmt.Errorf("invalid format %q: want time_series or table", q.Format)
		}
		if q.Step != "" {
			if _, err := parseStep(q.Step); err != nil {
				return q, err
			}
		}
	case TypeLogs, TypeLogsVolume:
		if q.LogsMode == "" {
			q.LogsMode = "logql"
		}
		switch {
		case q.LogsMode != "logql" && q.LogsMode != "search" && q.LogsMode != "trace":
			return q, fmt.Errorf("invalid logsMode %q: want logql, search or trace", q.LogsMode)
		case q.LogsMode == "trace" && q.TraceID == "":
			return q, fmt.Errorf("no traceId: logsMode trace needs one")
		}
		if q.Direction == "" {
			q.Direction = "backward"
		}
		if q.Direction != "backward" && q.Direction != "forward" {
			return q, fmt.Errorf("invalid direction %q: want backward or forward", q.Direction)
		}
		if err := clampLimit(&q.Limit, defaultLogsLimit, maxLogsLimit); err != nil {
			return q, err
		}
	case TypeTraces:
		if q.TracesMode == "" {
			q.TracesMode = "search"
		}
		if q.TracesMode != "search" && q.TracesMode != "traceId" {
			return q, fmt.Errorf("invalid tracesMode %q: want search or traceId", q.TracesMode)
		}
		if q.TracesMode == "traceId" && q.TraceID == "" {
			return q, fmt.Errorf("no traceId: a trace-by-ID query needs one")
		}
		if err := clampLimit(&q.Limit, defaultTracesLimit, maxTracesLimit); err != nil {
			return q, err
		}
	case TypeCorrelate:
		if q.TraceID == "" {
			return q, fmt.Errorf("no traceId: a correlate query needs one")
		}
	default:
		return q, fmt.Errorf("unknown queryType %q: want metrics, logs, logsVolume, traces or correlate", q.QueryType)
	}
	return q, nil
}

func clampLimit(limit *int, def, max int) error {
	switch {
	case *limit < 0:
		return fmt.Errorf("invalid limit %d: must not be negative", *limit)
	case *limit == 0:
		*limit = def
	case *limit > max:
		return fmt.Errorf("limit %d is above the plugin's maximum of %d", *limit, max)
	}
	return nil
}

// parseStep reads a step as Prometheus does: a duration ("30s", "1m") or
// seconds ("15", "0.5").
func parseStep(s string) (time.Duration, error) {
	if d, err := model.ParseDuration(s); err == nil && d > 0 && time.Duration(d) < 366*24*time.Hour {
		return time.Duration(d), nil
	}
	// A step of more than a year is no step a graph can use.
	if secs, err := strconv.ParseFloat(s, 64); err == nil && secs > 0 && secs < 366*24*3600 {
		return time.Duration(secs * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("invalid step %q: want a duration such as 30s or a number of seconds", s)
}

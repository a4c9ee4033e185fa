package logsapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/sightline-dev/sightline/query/logql"
	"github.com/sightline-dev/sightline/storage/logstore"
)

// selector parses a stream selector (or a log query, whose selector is
// taken); empty means every stream.
func selector(s string) ([]*labels.Matcher, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	expr, err := logql.ParseExpr(s)
	if err != nil {
		return nil, err
	}
	switch e := expr.(type) {
	case *logql.LogQuery:
		return e.Matchers, nil
	case *logql.MetricQuery:
		if sels := e.Selectors(); len(sels) > 0 {
			return sels[0], nil
		}
	}
	return nil, fmt.Errorf("%q is not a stream selector", s)
}

func (a *API) streams(w http.ResponseWriter, r *http.Request, query string) ([]logstore.StreamInfo, int, bool) {
	start, end, err := timeRange(r)
	if err != nil {
		a.badReq.WithLabelValues("labels").Inc()
		lokiError(w, http.StatusBadRequest, err)
		return nil, 0, false
	}
	ms, err := selector(query)
	if err != nil {
		a.badReq.WithLabelValues("labels").Inc()
		lokiError(w, http.StatusBadRequest, err)
		return nil, 0, false
	}
	sts, chunks, err := a.store.Streams(r.Context(), ms, start.UnixNano(), end.UnixNano())
	if err != nil {
		lokiError(w, http.StatusInternalServerError, err)
		return nil, 0, false
	}
	return sts, chunks, true
}

func (a *API) labelNames(w http.ResponseWriter, r *http.Request) {
	sts, _, ok := a.streams(w, r, r.FormValue("query"))
	if !ok {
		return
	}
	set := map[string]bool{}
	for _, st := range sts {
		st.Labels.Range(func(l labels.Label) { set[l.Name] = true })
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": sortedKeys(set)})
}

func (a *API) labelValues(w http.ResponseWriter, r *http.Request) {
	sts, _, ok := a.streams(w, r, r.FormValue("query"))
	if !ok {
		return
	}
	name := r.PathValue("name")
	set := map[string]bool{}
	for _, st := range sts {
		if v := st.Labels.Get(name); v != "" {
			set[v] = true
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": sortedKeys(set)})
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (a *API) series(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		lokiError(w, http.StatusBadRequest, err)
		return
	}
	queries := r.Form["match[]"]
	if len(queries) == 0 {
		queries = r.Form["match"]
	}
	if len(queries) == 0 {
		queries = []string{""}
	}
	seen := map[string]bool{}
	out := []map[string]string{}
	for _, q := range queries {
		sts, _, ok := a.streams(w, r, q)
		if !ok {
			return
		}
		for _, st := range sts {
			if k := st.Labels.String(); !seen[k] {
				seen[k] = true
				out = append(out, st.Labels.Map())
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": out})
}

func (a *API) indexStats(w http.ResponseWriter, r *http.Request) {
	sts, chunks, ok := a.streams(w, r, r.FormValue("query"))
	if !ok {
		return
	}
	var entries int
	var bytes int64
	for _, st := range sts {
		entries += st.Entries
		bytes += st.Bytes
	}
	writeJSON(w, http.StatusOK, map[string]any{"streams": len(sts), "chunks": chunks, "entries": entries, "bytes": bytes})
}

// logQuery parses the query of the Drilldown endpoints: a log query (a
// stream selector, possibly with a pipeline). An empty one, where
// allowEmpty, is every stream (Grafana leaves it out when nothing is
// selected).
func logQuery(qs string, allowEmpty bool) (*logql.LogQuery, error) {
	if allowEmpty && strings.TrimSpace(qs) == "" {
		return &logql.LogQuery{}, nil
	}
	expr, err := logql.ParseExpr(qs)
	if err != nil {
		return nil, err
	}
	lq, ok := expr.(*logql.LogQuery)
	if !ok {
		return nil, fmt.Errorf("%q is not a log query: a stream selector, possibly with a pipeline", qs)
	}
	return lq, nil
}

// sampleLines are the lines field detection looks at: the newest
// line_limit (by default 1000) of the query in [start, end).
func (a *API) sampleLines(w http.ResponseWriter, r *http.Request, endpoint string) ([]logLine, bool) {
	bad := func(err error) {
		a.badReq.WithLabelValues(endpoint).Inc()
		lokiError(w, http.StatusBadRequest, err)
	}
	lq, err := logQuery(r.FormValue("query"), endpoint != "detected_fields")
	if err != nil {
		bad(err)
		return nil, false
	}
	start, end, err := timeRange(r)
	if err != nil {
		bad(err)
		return nil, false
	}
	limit, err := parseInt(r.FormValue("line_limit"), 1000, a.opts.MaxEntries)
	if err != nil {
		bad(fmt.Errorf("invalid line_limit: %w", err))
		return nil, false
	}
	lines, err := a.runLogQuery(r.Context(), lq, start, end, limit, true)
	if err != nil {
		a.lokiQueryError(w, err)
		return nil, false
	}
	return lines, true
}

// fieldParsers are the parsers field detection tries on each line.
var fieldParsers = func() map[string]*logql.LogQuery {
	parsers := map[string]*logql.LogQuery{}
	for _, p := range []string{"json", "logfmt"} {
		pe, err := logql.ParseExpr(`{detected="fields"} | ` + p + ` | __error__=""`)
		if err != nil {
			panic(err)
		}
		parsers[p] = pe.(*logql.LogQuery)
	}
	return parsers
}()

// eachField calls fn with every field that Loki's field detection finds in
// lines: their structured metadata (with detected_level, which Loki keeps
// there), parser "", and what a JSON or logfmt parse of the line finds,
// with that parser.
func eachField(lines []logLine, fn func(name, value, parser string)) {
	for _, l := range lines {
		l.md.Range(func(lb labels.Label) { fn(lb.Name, lb.Value, "") })
		if lvl := l.stream.Get(logstore.DetectedLevelLabel); lvl != "" && !l.md.Has(logstore.DetectedLevelLabel) {
			fn(logstore.DetectedLevelLabel, lvl, "")
		}
		for name, p := range fieldParsers {
			if !looksLike(name, l.line) {
				continue
			}
			_, got, keep := p.Process(logql.Entry{Timestamp: time.Unix(0, l.ts), Line: l.line})
			if keep {
				got.Range(func(lb labels.Label) { fn(lb.Name, lb.Value, name) })
			}
		}
	}
}

// detectedFields is Loki's field detection for Grafana's log views: the
// structured metadata and the fields a logfmt or JSON parse of a sample of
// the lines finds, with their types and cardinality.
func (a *API) detectedFields(w http.ResponseWriter, r *http.Request) {
	lines, ok := a.sampleLines(w, r, "detected_fields")
	if !ok {
		return
	}
	limit, _ := parseInt(r.FormValue("line_limit"), 1000, a.opts.MaxEntries) // checked by sampleLines
	type field struct {
		values  map[string]bool
		types   map[string]int
		parsers map[string]bool
	}
	fields := map[string]*field{}
	eachField(lines, func(name, value, parser string) {
		f := fields[name]
		if f == nil {
			f = &field{values: map[string]bool{}, types: map[string]int{}, parsers: map[string]bool{}}
			fields[name] = f
		}
		f.values[value] = true
		f.types[valueType(value)]++
		if parser != "" {
			f.parsers[parser] = true
		}
	})
	type out struct {
		Label       string   `json:"label"`
		Type        string   `json:"type"`
		Cardinality int      `json:"cardinality"`
		Parsers     []string `json:"parsers"`
	}
	res := []out{}
	for _, name := range sortedKeysF(fields) {
		f := fields[name]
		t, best := "string", 0
		for typ, n := range f.types {
			if n > best || (n == best && typ < t) {
				t, best = typ, n
			}
		}
		var ps []string
		for p := range f.parsers {
			ps = append(ps, p)
		}
		sort.Strings(ps)
		res = append(res, out{Label: name, Type: t, Cardinality: len(f.values), Parsers: ps})
	}
	writeJSON(w, http.StatusOK, map[string]any{"fields": res, "limit": limit})
}

func sortedKeysF[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func looksLike(parser, line string) bool {
	t := strings.TrimSpace(line)
	if parser == "json" {
		return strings.HasPrefix(t, "{") && json.Valid([]byte(t))
	}
	return strings.Contains(t, "=") && !strings.HasPrefix(t, "{")
}

func valueType(v string) string {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return "int"
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return "float"
	}
	if _, err := strconv.ParseBool(v); err == nil {
		return "boolean"
	}
	if _, err := time.ParseDuration(v); err == nil {
		return "duration"
	}
	return "string"
}

func (a *API) buildInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"version": "3.4.0", "revision": "sightline-" + a.opts.Version, "branch": "sightline", "goVersion": ""})
}

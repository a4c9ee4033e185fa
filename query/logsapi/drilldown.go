package logsapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/sightline-dev/sightline/query/drain"
	"github.com/sightline-dev/sightline/query/logql"
	"github.com/sightline-dev/sightline/storage/logstore"
)

// The endpoints of Grafana's Logs Drilldown app (and the Loki data
// source's field value suggestions): index/volume and index/volume_range,
// detected_labels, detected_field/<name>/values and patterns, answered in
// Loki's shapes.

// maxPoints is Loki's bound on the points of a series; errTooManyPoints
// is its answer past it.
const maxPoints = 11000

var errTooManyPoints = errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try increasing the value of the step parameter")

// volume is Loki's GET /loki/api/v1/index/volume: the bytes of the lines
// of the matching streams in [start, end), by the labels the selector
// names (or targetLabels), as an instant vector at end, largest first, at
// most limit series. aggregateBy=labels sums by label name instead: a
// series {name=""} per label.
func (a *API) volume(w http.ResponseWriter, r *http.Request) { a.volumeQuery(w, r, false) }

// volumeRange is GET /loki/api/v1/index/volume_range: the same per step, a
// matrix whose point at t holds the bytes in (t-step, t].
func (a *API) volumeRange(w http.ResponseWriter, r *http.Request) { a.volumeQuery(w, r, true) }

// volumeParams are the parameters of a volume query.
type volumeParams struct {
	matchers   []*labels.Matcher
	start, end time.Time
	step       time.Duration
	limit      int
	names      []string // sorted, distinct
	byLabels   bool     // aggregateBy=labels
}

func parseVolumeParams(r *http.Request, ranged bool) (volumeParams, error) {
	var p volumeParams
	var err error
	if p.start, p.end, err = timeRange(r); err != nil {
		return p, err
	}
	q, err := logQuery(r.FormValue("query"), false)
	if err != nil || len(q.Stages) > 0 {
		return p, fmt.Errorf("query must be a stream selector such as {service_name=~\".+\"}, not %q", r.FormValue("query"))
	}
	p.matchers = q.Matchers
	if p.limit, err = parseInt(r.FormValue("limit"), 100, math.MaxInt32); err != nil {
		return p, fmt.Errorf("invalid limit: %w", err)
	}
	switch agg := r.FormValue("aggregateBy"); agg {
	case "", "series":
	case "labels":
		p.byLabels = true
	default:
		return p, fmt.Errorf("invalid aggregateBy %q: series or labels", agg)
	}
	for _, n := range strings.Split(r.FormValue("targetLabels"), ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if logstore.LabelName(n) != n {
			return p, fmt.Errorf("invalid label name %q in targetLabels", n)
		}
		p.names = append(p.names, n)
	}
	if len(p.names) == 0 {
		for _, m := range p.matchers {
			p.names = append(p.names, m.Name)
		}
	}
	p.names = slices.Compact(slices.Sorted(slices.Values(p.names)))
	if ranged {
		p.step, err = parseDuration(r.FormValue("step"), defaultStep(p.start, p.end))
		if err != nil || p.step <= 0 {
			return p, fmt.Errorf("invalid step %q: a positive duration or number of seconds", r.FormValue("step"))
		}
		if p.end.Sub(p.start)/p.step > maxPoints {
			return p, errTooManyPoints
		}
	}
	return p, nil
}

func (a *API) volumeQuery(w http.ResponseWriter, r *http.Request, ranged bool) {
	p, err := parseVolumeParams(r, ranged)
	if err != nil {
		a.badReq.WithLabelValues("volume").Inc()
		lokiError(w, http.StatusBadRequest, err)
		return
	}
	// The series a counted line adds its bytes to, by the key Count gives
	// its label set; volumes[i] are series i's bytes by point (0 when
	// instant).
	var series []labels.Labels
	var volumes []map[int64]float64
	seriesOf := map[string]int{}
	index := func(ls labels.Labels) int {
		k := ls.String()
		i, ok := seriesOf[k]
		if !ok {
			i = len(series)
			seriesOf[k] = i
			series = append(series, ls)
			volumes = append(volumes, map[int64]float64{})
		}
		return i
	}
	var byKey [][]int                                    // by Count's key: the series its lines add to
	from, to := p.start.UnixNano()-1, p.end.UnixNano()-1 // [start, end)
	if ranged {
		// As a metric query over [step] ranges: the first point holds
		// (start-step, start], the last (end-step, end].
		from, to = p.start.UnixNano()-int64(p.step), p.end.UnixNano()
		if from > p.start.UnixNano() {
			from = math.MinInt64 // wrapped around
		}
	}
	// point is the point a line at ts adds to: with ranges, the first at
	// or after ts (start + k*step); else the one instant point.
	point := func(ts int64) int64 {
		if !ranged {
			return 0
		}
		d, step := ts-p.start.UnixNano(), int64(p.step)
		k := d / step
		if d > 0 && d%step != 0 {
			k++
		}
		return p.start.UnixNano() + k*step
	}
	together := func(minT, maxT int64) bool { return point(minT) == point(maxT) }
	_, err = a.store.Count(r.Context(), p.matchers, p.names, from, to, together, func(key int, lbls labels.Labels, ts int64, size, _ int) error {
		for key >= len(byKey) {
			byKey = append(byKey, nil)
		}
		if byKey[key] == nil {
			byKey[key] = []int{}
			if p.byLabels {
				lbls.Range(func(l labels.Label) { byKey[key] = append(byKey[key], index(labels.FromStrings(l.Name, ""))) })
			} else if !lbls.IsEmpty() {
				byKey[key] = append(byKey[key], index(lbls))
			}
		}
		pt := point(ts)
		for _, i := range byKey[key] {
			volumes[i][pt] += float64(size)
		}
		return nil
	})
	if err != nil {
		a.lokiQueryError(w, err)
		return
	}
	total := make([]float64, len(series))
	order := make([]int, len(series))
	for i := range series {
		order[i] = i
		for _, v := range volumes[i] {
			total[i] += v
		}
	}
	sort.Slice(order, func(x, y int) bool {
		i, j := order[x], order[y]
		if total[i] != total[j] {
			return total[i] > total[j]
		}
		return labels.Compare(series[i], series[j]) < 0
	})
	if len(order) > p.limit {
		order = order[:p.limit]
	}
	var result any
	resultType := "vector"
	if ranged {
		m := promql.Matrix{}
		for _, i := range order {
			s := promql.Series{Metric: series[i]}
			for _, t := range slices.Sorted(mapKeys(volumes[i])) {
				s.Floats = append(s.Floats, promql.FPoint{T: t / int64(time.Millisecond), F: volumes[i][t]})
			}
			m = append(m, s)
		}
		result, resultType = m, "matrix"
	} else {
		v := promql.Vector{}
		for _, i := range order {
			v = append(v, promql.Sample{Metric: series[i], T: p.end.UnixMilli(), F: total[i]})
		}
		result = v
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"resultType": resultType, "result": result, "stats": lokiStats(0, time.Now())}})
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// detectedLabels is Loki's GET /loki/api/v1/detected_labels: the stream
// labels of the matching streams with their cardinality, from the stream
// lists (no lines are read). As in Loki, a label is left out when all its
// values are IDs (numbers or UUIDs, but for the booleans 0 and 1), unless
// it is cluster, namespace, instance or pod.
func (a *API) detectedLabels(w http.ResponseWriter, r *http.Request) {
	sts, _, ok := a.streams(w, r, r.FormValue("query"))
	if !ok {
		return
	}
	values := map[string]map[string]bool{}
	for _, st := range sts {
		st.Labels.Range(func(l labels.Label) {
			if values[l.Name] == nil {
				values[l.Name] = map[string]bool{}
			}
			values[l.Name][l.Value] = true
		})
	}
	type detected struct {
		Label       string `json:"label"`
		Cardinality int    `json:"cardinality"`
	}
	out := []detected{}
	for _, name := range sortedKeysF(values) {
		if staticLabels[name] || !allIDs(values[name]) {
			out = append(out, detected{Label: name, Cardinality: len(values[name])})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"detectedLabels": out})
}

// staticLabels are kept by detected_labels whatever their values.
var staticLabels = map[string]bool{"cluster": true, "namespace": true, "instance": true, "pod": true}

// allIDs reports whether every value is an ID (a number or a UUID): such a
// label says nothing to break logs down by. One or two values that are all
// 0 or 1 are booleans, not IDs.
func allIDs(values map[string]bool) bool {
	if len(values) <= 2 {
		boolean := true
		for v := range values {
			boolean = boolean && (v == "0" || v == "1")
		}
		if boolean {
			return false
		}
	}
	for v := range values {
		if _, err := strconv.ParseFloat(v, 64); err != nil && !isUUID(v) {
			return false
		}
	}
	return true
}

// isUUID reports whether s is a UUID in one of the forms UUID parsers
// take: 8-4-4-4-12 hex digits, bare, in braces or after urn:uuid:, or 32
// hex digits.
func isUUID(s string) bool {
	switch {
	case len(s) == 45 && strings.EqualFold(s[:9], "urn:uuid:"):
		s = s[9:]
	case len(s) == 38 && s[0] == '{' && s[37] == '}':
		s = s[1:37]
	case len(s) == 32:
		return isHex(s)
	}
	if len(s) != 36 {
		return false
	}
	for _, i := range []int{8, 13, 18, 23} {
		if s[i] != '-' {
			return false
		}
	}
	return isHex(s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:])
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// detectedFieldValues is Loki's GET /loki/api/v1/detected_field/<name>/values:
// the values that field detection (detected_fields) finds for a field in
// the newest line_limit lines of the query, at most limit.
func (a *API) detectedFieldValues(w http.ResponseWriter, r *http.Request) {
	lines, ok := a.sampleLines(w, r, "detected_field_values")
	if !ok {
		return
	}
	limit, err := parseInt(r.FormValue("limit"), 1000, math.MaxInt32)
	if err != nil {
		a.badReq.WithLabelValues("detected_field_values").Inc()
		lokiError(w, http.StatusBadRequest, fmt.Errorf("invalid limit: %w", err))
		return
	}
	name := r.PathValue("name")
	values := map[string]bool{}
	eachField(lines, func(n, v, _ string) {
		if n == name && len(values) < limit {
			values[v] = true
		}
	})
	writeJSON(w, http.StatusOK, map[string]any{"values": sortedKeys(values), "limit": limit})
}

// patternsConfig is Drain's for /patterns: the paper's, bounded to Loki's
// 300 patterns per tree.
var patternsConfig = func() drain.Config {
	c := drain.DefaultConfig()
	c.MaxClusters = 300
	return c
}()

// patternResolution is the finest step of pattern samples (Loki's pattern
// ingester keeps them at 10 s).
const patternResolution = 10 * time.Second

// patterns is Loki's GET /loki/api/v1/patterns: the patterns Drain finds in
// the lines of the query in [start, end), one tree per detected level as
// Loki's pattern ingester keeps them, each with its line count per step
// (samples of [Unix seconds, count]) and its level. Lines are streamed
// from the store, and each tree holds a bounded number of patterns.
func (a *API) patterns(w http.ResponseWriter, r *http.Request) {
	bad := func(err error) {
		a.badReq.WithLabelValues("patterns").Inc()
		lokiError(w, http.StatusBadRequest, err)
	}
	start, end, err := timeRange(r)
	if err != nil {
		bad(err)
		return
	}
	q, err := logQuery(r.FormValue("query"), false)
	if err != nil {
		bad(err)
		return
	}
	step, err := parseDuration(r.FormValue("step"), defaultStep(start, end))
	if err != nil || step <= 0 {
		bad(fmt.Errorf("invalid step %q: a positive duration or number of seconds", r.FormValue("step")))
		return
	}
	step = max(step.Truncate(patternResolution), patternResolution)
	if end.Sub(start)/step > maxPoints {
		bad(errTooManyPoints)
		return
	}
	trees := map[string]*drain.Drain{}
	req := logstore.FetchRequest{Matchers: q.Matchers, From: start.UnixNano() - 1, To: end.UnixNano() - 1, LineContains: q.LineContains(),
		NoMetadata: len(q.Stages) == 0}
	_, err = a.store.Fetch(r.Context(), req, func(e logstore.Entry) error {
		line := e.Line
		if len(q.Stages) > 0 {
			var keep bool
			if line, _, keep = q.Process(logql.Entry{Timestamp: time.Unix(0, e.Timestamp), Line: e.Line, Labels: e.Labels()}); !keep {
				return nil
			}
		}
		level := e.Stream.Get(logstore.DetectedLevelLabel)
		d := trees[level]
		if d == nil {
			d = drain.New(patternsConfig)
			trees[level] = d
		}
		s := int64(step)
		d.Train(line, e.Timestamp-((e.Timestamp%s)+s)%s) // the step the line is in
		return nil
	})
	if err != nil {
		a.lokiQueryError(w, err)
		return
	}
	type pattern struct {
		Pattern string     `json:"pattern"`
		Samples [][2]int64 `json:"samples"`
		Level   string     `json:"level,omitempty"`
		count   int64
	}
	out := []pattern{}
	for level, d := range trees {
		for _, c := range d.Clusters() {
			p := pattern{Pattern: c.Pattern(), Level: level, count: c.Count}
			for _, t := range slices.Sorted(mapKeys(c.Samples)) {
				p.Samples = append(p.Samples, [2]int64{t / int64(time.Second), c.Samples[t]})
			}
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].count != out[j].count {
			return out[i].count > out[j].count
		}
		if out[i].Pattern != out[j].Pattern {
			return out[i].Pattern < out[j].Pattern
		}
		return out[i].Level < out[j].Level
	})
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": out})
}

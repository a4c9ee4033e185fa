package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Query kinds: the Prometheus HTTP API endpoint a query uses.
const (
	QueryInstant     = "instant"      // /api/v1/query at the end of the data
	QueryRange       = "range"        // /api/v1/query_range over Range, every Step
	QueryLabelNames  = "label_names"  // /api/v1/labels over Range
	QueryLabelValues = "label_values" // /api/v1/label/<Expr>/values over Range
	QuerySeries      = "series"       // /api/v1/series?match[]=<Expr> over Range
)

// Query is one entry of the fixed query set.
type Query struct {
	Name  string
	Kind  string
	Expr  string
	Range time.Duration
	Step  time.Duration
	// Times multiplies a target's measured runs of the query (0: by
	// one). The quick queries take a millisecond or less, where a
	// percentile of a few runs is little more than their slowest; more
	// runs of them cost next to nothing.
	Times int
}

// runs is how many measured runs of q a target with runs measured runs
// per query makes.
func (q Query) runs(runs int) int { return runs * max(q.Times, 1) }

// QuerySet is the fixed, documented set of queries every system answers.
// All are evaluated at the end of the data, so every system sees the same
// data whatever the wall clock says.
func QuerySet() []Query {
	const h = time.Hour
	return []Query{
		{Name: "instant_rate_sum_by_job", Kind: QueryInstant,
			Expr: `sum by (job) (rate(http_requests_total[5m]))`},
		{Name: "range1h_rate_sum_by_job_code", Kind: QueryRange, Range: h, Step: time.Minute,
			Expr: `sum by (job, code) (rate(http_requests_total[5m]))`},
		{Name: "range24h_rate_sum_by_job", Kind: QueryRange, Range: 24 * h, Step: 5 * time.Minute,
			Expr: `sum by (job) (rate(http_requests_total[5m]))`},
		{Name: "instant_highcard_sum_by_instance_route", Kind: QueryInstant,
			Expr: `sum by (instance, route) (rate(http_requests_total[5m]))`},
		{Name: "range1h_histogram_quantile_p99", Kind: QueryRange, Range: h, Step: time.Minute,
			Expr: `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`},
		{Name: "range24h_histogram_quantile_p90_by_route", Kind: QueryRange, Range: 24 * h, Step: 5 * time.Minute,
			Expr: `histogram_quantile(0.9, sum by (route, le) (rate(http_request_duration_seconds_bucket[5m])))`},
		// Over the long-retention simulation's week (make
		// bench-metrics-long) these read its longest blocks; over the
		// default 3.5 hours, all the data, as the 24 h ones do.
		{Name: "range7d_rate_sum_by_job", Kind: QueryRange, Range: 7 * 24 * h, Step: h,
			Expr: `sum by (job) (rate(http_requests_total[5m]))`},
		{Name: "range7d_histogram_quantile_p90_by_route", Kind: QueryRange, Range: 7 * 24 * h, Step: h,
			Expr: `histogram_quantile(0.9, sum by (route, le) (rate(http_request_duration_seconds_bucket[5m])))`},
		{Name: "range1h_rate_selective", Kind: QueryRange, Range: h, Step: time.Minute, Times: 4,
			Expr: `rate(http_requests_total{job="svc-03",route="/api/orders"}[5m])`},
		{Name: "instant_max_over_time_1h", Kind: QueryInstant, Times: 4,
			Expr: `max_over_time(process_resident_memory_bytes[1h])`},
		{Name: "label_names_1h", Kind: QueryLabelNames, Range: h, Times: 20},
		{Name: "label_values_instance_1h", Kind: QueryLabelValues, Range: h, Expr: "instance", Times: 20},
		{Name: "series_match_job_1h", Kind: QuerySeries, Range: h, Times: 20,
			Expr: `http_requests_total{job="svc-01"}`},
	}
}

// request builds the query's URL path and parameters at evaluation time at.
func (q Query) request(at time.Time) (string, url.Values) {
	v := url.Values{}
	ts := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	start, end := ts(at.Add(-q.Range)), ts(at)
	switch q.Kind {
	case QueryInstant:
		v.Set("query", q.Expr)
		v.Set("time", end)
		return "/api/v1/query", v
	case QueryRange:
		v.Set("query", q.Expr)
		v.Set("start", start)
		v.Set("end", end)
		v.Set("step", strconv.Itoa(int(q.Step.Seconds())))
		return "/api/v1/query_range", v
	case QueryLabelNames:
		v.Set("start", start)
		v.Set("end", end)
		return "/api/v1/labels", v
	case QueryLabelValues:
		v.Set("start", start)
		v.Set("end", end)
		return "/api/v1/label/" + url.PathEscape(q.Expr) + "/values", v
	case QuerySeries:
		v.Set("match[]", q.Expr)
		v.Set("start", start)
		v.Set("end", end)
		return "/api/v1/series", v
	}
	panic("BUG: unknown query kind " + q.Kind)
}

// Summary condenses a query result so results of different systems can be
// compared: series (or list entries), points, the sum of all finite
// values, and for lists a digest of the sorted entries.
type Summary struct {
	Series int
	Points int
	Sum    float64
	Digest uint64
}

// QueryResult is one query's outcome on one system in one repeat.
type QueryResult struct {
	Name      string
	Latencies []time.Duration // of the measured runs
	Summary   Summary
	Error     string
}

// runQuery runs q once and returns its latency (until the whole body was
// read) and result summary.
func runQuery(ctx context.Context, client *http.Client, base string, q Query, at time.Time) (time.Duration, Summary, error) {
	path, params := q.request(at)
	// GET, because Prometheus serves label values only on GET.
	body, took, err := timedQuery(ctx, client, base+path+"?"+params.Encode())
	if err != nil {
		return took, Summary{}, err
	}
	s, err := summarize(q.Kind, body)
	return took, s, err
}

// timedQuery GETs u and returns the body of a 200 answer and the latency
// until the whole body was read; another status is an error with the
// status and the start of the body, as the system wrote it.
func timedQuery(ctx context.Context, client *http.Client, u string) ([]byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return nil, took, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		if len(body) > 500 {
			body = body[:500]
		}
		return nil, took, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return body, took, nil
}

type apiResponse struct {
	Status string          `json:"status"`
	Data   json.RawMessage `json:"data"`
	Error  string          `json:"error"`
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
	Values [][]any           `json:"values"`
}

func summarize(kind string, body []byte) (Summary, error) {
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return Summary{}, fmt.Errorf("decode response: %w", err)
	}
	if r.Status != "success" {
		return Summary{}, fmt.Errorf("query failed: %s", r.Error)
	}
	var s Summary
	switch kind {
	case QueryInstant, QueryRange:
		var data struct {
			Result []promSeries `json:"result"`
		}
		if err := json.Unmarshal(r.Data, &data); err != nil {
			return s, fmt.Errorf("decode result: %w", err)
		}
		add := func(p []any) {
			s.Points++
			if len(p) == 2 {
				str, _ := p[1].(string)
				if v, err := strconv.ParseFloat(str, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
					s.Sum += v
				}
			}
		}
		for _, ser := range data.Result {
			s.Series++
			if ser.Value != nil {
				add(ser.Value)
			}
			for _, p := range ser.Values {
				add(p)
			}
		}
	case QueryLabelNames, QueryLabelValues:
		var list []string
		if err := json.Unmarshal(r.Data, &list); err != nil {
			return s, fmt.Errorf("decode result: %w", err)
		}
		s.Series = len(list)
		s.Digest = digest(list)
	case QuerySeries:
		var sets []map[string]string
		if err := json.Unmarshal(r.Data, &sets); err != nil {
			return s, fmt.Errorf("decode result: %w", err)
		}
		list := make([]string, 0, len(sets))
		for _, ls := range sets {
			keys := make([]string, 0, len(ls))
			for k := range ls {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var b strings.Builder
			for _, k := range keys {
				fmt.Fprintf(&b, "%s=%q,", k, ls[k])
			}
			list = append(list, b.String())
		}
		s.Series = len(list)
		s.Digest = digest(list)
	}
	return s, nil
}

func digest(list []string) uint64 {
	list = slices.Clone(list)
	sort.Strings(list)
	h := fnv.New64a()
	for _, e := range list {
		h.Write([]byte(e))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// compareSummaries says how got differs from want, or "" if they agree:
// same series and points, sums within 0.1%, same list entries.
func compareSummaries(kind string, got, want Summary) string {
	var diffs []string
	if got.Series != want.Series {
		diffs = append(diffs, fmt.Sprintf("%d series vs %d", got.Series, want.Series))
	}
	switch kind {
	case QueryInstant, QueryRange:
		if got.Points != want.Points {
			diffs = append(diffs, fmt.Sprintf("%d points vs %d", got.Points, want.Points))
		}
		if d := relDiff(got.Sum, want.Sum); d > 1e-3 {
			diffs = append(diffs, fmt.Sprintf("sum of values %+.2f%%", 100*(got.Sum-want.Sum)/math.Abs(want.Sum)))
		}
	default:
		if got.Series == want.Series && got.Digest != want.Digest {
			diffs = append(diffs, "different entries")
		}
	}
	return strings.Join(diffs, ", ")
}

func relDiff(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / math.Max(math.Abs(a), math.Abs(b))
}

// queryLive runs the query set against the live targets, one query at a
// time: each run of a query goes to every target in turn, starting with a
// different one each run, so that a machine whose speed drifts (this one's
// does, by up to a half within the hour) answers every system's run of a
// query at about the same speed. Each target has its own warm-up and
// measured runs. The other targets are paused (SIGSTOP) while one answers,
// so that what a system does after it has answered (the GC of what its
// query allocated, background merges) runs in its own next query, not in
// another system's.
func queryLive(ctx context.Context, o Options, at time.Time, live []*liveTarget) {
	clients := make([]*http.Client, len(live))
	for i := range live {
		clients[i] = newClient(o.QueryTimeout, 1)
		defer clients[i].CloseIdleConnections()
	}
	o.Logger.Info("querying", "targets", len(live))
	for _, q := range QuerySet() {
		res := make([]QueryResult, len(live))
		n := 0
		for i, lt := range live {
			res[i].Name = q.Name
			n = max(n, lt.warmup+q.runs(lt.runs))
		}
		for run := 0; run < n && ctx.Err() == nil; run++ {
			for k := range live {
				i := (run + k) % len(live)
				lt, r := live[i], &res[i]
				if run >= lt.warmup+q.runs(lt.runs) || r.Error != "" {
					continue
				}
				took, s, err := runAlone(live, i, func() (time.Duration, Summary, error) {
					return runQuery(ctx, clients[i], lt.p.url(""), q, at)
				})
				if err != nil {
					r.Error = err.Error()
					continue
				}
				if run >= lt.warmup {
					r.Latencies = append(r.Latencies, took)
					r.Summary = s
				}
			}
		}
		for i, lt := range live {
			lt.run.Queries = append(lt.run.Queries, res[i])
		}
	}
}

// runAlone runs query with every live target but live[i] paused.
func runAlone(live []*liveTarget, i int, query func() (time.Duration, Summary, error)) (time.Duration, Summary, error) {
	for j, lt := range live {
		if j != i {
			lt.pause()
		}
	}
	defer func() {
		for j, lt := range live {
			if j != i {
				lt.resume()
			}
		}
	}()
	return query()
}

// waitIdle waits until the live systems have finished what their ingest
// left them to do, which would otherwise run in some system's queries.
func waitIdle(ctx context.Context, live []*liveTarget, log *slog.Logger) {
	waited, err := waitQuietCPU(ctx, live)
	if err != nil {
		log.Warn("querying although the systems are not idle", "err", err)
		return
	}
	log.Info("systems idle", "waited", waited.Round(time.Second))
}

// waitQuietCPU waits until the systems have finished what their ingest left
// them to do (compactions, merges): until their CPU time together, counted
// in tenths of a second, has not moved for a second; at most a minute. It
// returns how long it waited.
func waitQuietCPU(ctx context.Context, live []*liveTarget) (time.Duration, error) {
	return waitQuiet(ctx, "the systems' CPU time", func() (float64, error) {
		var sum float64
		for _, lt := range live {
			st, err := lt.p.stat()
			if err != nil {
				return 0, err
			}
			sum += st.CPUSeconds
		}
		return math.Floor(10 * sum), nil
	}, time.Second, time.Minute)
}

// percentile is the nearest-rank q-quantile of ds.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

package logsapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/query/logql"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
)

// TestLogQueryLimitDirection: a log query returns the first limit lines of
// the whole answer forward, and the last limit ones newest first backward;
// each stream of the response keeps that order.
func TestLogQueryLimitDirection(t *testing.T) {
	s, err := logstore.Open(t.TempDir(), logstore.DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	defer s.Close()
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	var batches [3][]*logstore.Record
	for i := 0; i < 3000; i++ {
		batches[i%3] = append(batches[i%3], &logstore.Record{
			Timestamp: base.Add(time.Duration(i/2) * time.Millisecond).UnixNano(), // two lines a timestamp
			Body:      fmt.Sprintf("line %d", i), SeverityText: "INFO",
			Resource: []record.KV{{Key: "service.name", Value: []string{"a", "b"}[i/4%2], Type: record.TypeString}},
		})
	}
	for k, b := range batches {
		_, err := s.Append(context.Background(), b)
		require.NoError(t, err)
		if k < 2 { // two segments and the head, overlapping in time
			require.NoError(t, s.Flush())
		}
	}
	a := New(s, nil, DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	expr, err := logql.ParseExpr(`{service_name=~"a|b"} |= "line"`)
	require.NoError(t, err)
	q := expr.(*logql.LogQuery)
	start, end := base, base.Add(time.Second)
	run := func(limit int, backward bool) []logLine {
		lines, err := a.runLogQuery(context.Background(), q, start, end, limit, backward)
		require.NoError(t, err)
		return lines
	}
	all := run(5000, false)
	require.Len(t, all, 2000, "[start, end): one second of the 1.5")
	for i := 1; i < len(all); i++ {
		require.LessOrEqual(t, all[i-1].ts, all[i].ts)
	}
	newest := slices.Clone(all)
	slices.Reverse(newest)
	require.Equal(t, newest, run(5000, true))
	for _, limit := range []int{1, 7, 100} {
		require.Equal(t, all[:limit], run(limit, false))
		require.Equal(t, newest[:limit], run(limit, true))
	}
	// limit=0 answers as it always has (Loki refuses it).
	require.Equal(t, all[:1], run(0, false))
	require.Empty(t, run(0, true))

	for _, backward := range []bool{false, true} {
		for _, st := range streamsResult(run(100, backward), true) {
			ts := func(i int) int64 {
				n, err := strconv.ParseInt(st.Values[i][0].(string), 10, 64)
				require.NoError(t, err)
				return n
			}
			for i := 1; i < len(st.Values); i++ {
				if backward {
					require.GreaterOrEqual(t, ts(i-1), ts(i))
				} else {
					require.LessOrEqual(t, ts(i-1), ts(i))
				}
			}
		}
	}
}

// A log query whose lines come to more than MaxResponseBytes is refused
// with 400 naming the limit, before it holds them all (issue 12: limit=40
// over lines of 1 MiB took the server to 3.7 GiB).
func TestLogQueryResponseBytes(t *testing.T) {
	s, err := logstore.Open(t.TempDir(), logstore.DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	defer s.Close()
	now := time.Now()
	var recs []*logstore.Record
	for i := range 16 {
		recs = append(recs, &logstore.Record{Timestamp: now.Add(-time.Duration(i) * time.Second).UnixNano(), Body: strings.Repeat("x", 100<<10),
			Resource: []record.KV{{Key: "service.name", Value: "big", Type: record.TypeString}}})
	}
	_, err = s.Append(context.Background(), recs)
	require.NoError(t, err)
	opts := DefaultOptions()
	opts.MaxResponseBytes = 1 << 20
	h := New(s, nil, opts, slog.New(slog.DiscardHandler), prometheus.NewRegistry()).Handler()
	get := func(limit int) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/loki/api/v1/query_range?"+url.Values{
			"query": {`{service_name="big"}`}, "limit": {strconv.Itoa(limit)},
			"start": {strconv.FormatInt(now.Add(-time.Minute).UnixNano(), 10)}, "end": {strconv.FormatInt(now.Add(time.Second).UnixNano(), 10)}}.Encode(), nil))
		return rec
	}
	rec := get(40)
	require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "max-response-bytes")
	require.Equal(t, http.StatusOK, get(5).Code)
}

// TestLokiQueryUnwrap: an unwrapped metric query through the Loki API;
// sort_desc orders the instant vector by value; a value that does not
// convert is the query's fault (400, as Loki), until a filter drops it.
func TestLokiQueryUnwrap(t *testing.T) {
	s, err := logstore.Open(t.TempDir(), logstore.DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	defer s.Close()
	now := time.Now().Truncate(time.Second)
	var recs []*logstore.Record
	for i, body := range []string{"path=/a latency=250ms", "path=/b latency=2s", "path=/a latency=750ms", "path=/b latency=oops"} {
		recs = append(recs, &logstore.Record{Timestamp: now.Add(-time.Duration(10+i) * time.Second).UnixNano(), Body: body,
			Resource: []record.KV{{Key: "service.name", Value: "api", Type: record.TypeString}}})
	}
	_, err = s.Append(context.Background(), recs)
	require.NoError(t, err)
	h := New(s, nil, DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry()).Handler()
	query := func(q string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/loki/api/v1/query?"+url.Values{
			"query": {q}, "time": {strconv.FormatInt(now.UnixNano(), 10)}}.Encode(), nil))
		return rec
	}
	rec := query(`sort_desc(sum by (path) (sum_over_time({service_name="api"} | logfmt | unwrap duration(latency) | __error__="" [1m])))`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	body := rec.Body.String()
	require.Regexp(t, `"result":\[\{"metric":\{"path":"/b"\},"value":\[[0-9.]+,"2"\]\},\{"metric":\{"path":"/a"\},"value":\[[0-9.]+,"1"\]\}\]`, body)

	rec = query(`sum by (path) (sum_over_time({service_name="api"} | logfmt | unwrap duration(latency) [1m]))`)
	require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "SampleExtractionErr")
}

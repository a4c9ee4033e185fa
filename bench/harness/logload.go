package harness

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/bench/workload"
)

// This file holds what both log benchmarks (RunLogs, RunLogsLongrun) do:
// send records, remember their timestamps, query them and read the log
// store's self-metrics.

// sentLog remembers the timestamps of every acknowledged record, by
// request: a request's records are 1 ns apart from its first (as
// workload.LogGenerator makes them). It knows how many records any time
// range holds, which is what count queries are checked against. It is safe
// for concurrent use.
type sentLog struct {
	mu      sync.Mutex
	batches []sentBatch
	total   int64
	oldest  int64 // ns; valid when total > 0
	newest  int64
}

// sentBatch is one acknowledged request: n records from first on, 1 ns
// apart.
type sentBatch struct {
	first int64
	n     int
}

// add records n acknowledged records from first (ns) on.
func (l *sentLog) add(first int64, n int) {
	if n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	last := first + int64(n) - 1
	if l.total == 0 || first < l.oldest {
		l.oldest = first
	}
	if l.total == 0 || last > l.newest {
		l.newest = last
	}
	l.batches = append(l.batches, sentBatch{first: first, n: n})
	l.total += int64(n)
}

// count is the number of records with from < timestamp ≤ to (ns), the
// window of a LogQL range such as [1m] evaluated at to.
func (l *sentLog) count(from, to int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, b := range l.batches {
		lo, hi := max(b.first, from+1), min(b.first+int64(b.n)-1, to)
		if hi >= lo {
			n += hi - lo + 1
		}
	}
	return n
}

// bounds are the oldest and newest timestamps and the number of records;
// zero times when nothing was sent.
func (l *sentLog) bounds() (oldest, newest time.Time, total int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total == 0 {
		return time.Time{}, time.Time{}, 0
	}
	return time.Unix(0, l.oldest), time.Unix(0, l.newest), l.total
}

// rangeCount is what a LogQL range query of a count_over_time(...[rng])
// sums to over every step from start to end (inclusive, as Loki steps):
// each step t counts the records in (t−rng, t].
func (l *sentLog) rangeCount(start, end time.Time, step, rng time.Duration) int64 {
	var n int64
	for t := start; !t.After(end); t = t.Add(step) {
		n += l.count(t.Add(-rng).UnixNano(), t.UnixNano())
	}
	return n
}

// logLoad is one ingest phase of the log benchmarks.
type logLoad struct {
	records, senders, batch int
	// seed differs between phases: sender s's generator is seeded
	// seed+s+1.
	seed uint64
	// at is the timestamp of sender's req-th request (counted from 0);
	// nil stamps each request with the wall clock.
	at func(sender, req int) time.Time
	// every paces each sender to one request per tick; 0 sends as fast as
	// Sightline acknowledges.
	every time.Duration
	// timeout bounds the phase.
	timeout time.Duration
	// sent gets every acknowledged request.
	sent *sentLog
}

// logIngest is what one ingest phase did.
type logIngest struct {
	sent, retries int64
	seconds       float64
	cpuSeconds    float64 // the server's, during the phase (ingestLogs)
	// jsonBytesPerRecord is the raw OTLP-JSON size, from every 100th
	// request.
	jsonBytesPerRecord float64
	// sampled are trace IDs the generators kept for lookups, with their
	// record counts.
	sampled map[[16]byte]int
}

// sendLogs sends l.records records to p over OTLP/gRPC from l.senders
// concurrent senders, each with its own connection and generator, the
// records split evenly among them. Requests refused with
// ResourceExhausted are sent again (exportRetrying); any other error, or
// l.timeout passing, ends the phase with an error.
func sendLogs(ctx context.Context, p *process, l logLoad, logf func(string, ...any)) (*logIngest, error) {
	var sent, jsonBytes, jsonRecords, retries atomic.Int64
	var mu sync.Mutex
	in := &logIngest{sampled: map[[16]byte]int{}}
	ictx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	errs := make(chan error, l.senders)
	progress := startProgress(logf, "logs: %d records sent", &sent)
	start := time.Now()
	var wg sync.WaitGroup
	for s := 0; s < l.senders; s++ {
		quota := l.records / l.senders
		if s == 0 {
			quota += l.records % l.senders
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			send, closeSend, err := dialLogSender(p)
			if err != nil {
				errs <- err
				return
			}
			defer closeSend()
			gen := workload.NewLogGenerator(workload.LogOptions{RecordsPerRequest: l.batch, TracedPercent: 90}, l.seed+uint64(s)+1)
			var body []byte
			var tick <-chan time.Time
			if l.every > 0 {
				t := time.NewTicker(l.every)
				defer t.Stop()
				tick = t.C
			}
			for n, req := 0, 0; n < quota; req++ {
				if tick != nil {
					select {
					case <-ictx.Done():
						errs <- fmt.Errorf("sender %d: %w after %d of %d records", s, ictx.Err(), n, quota)
						return
					case <-tick:
					}
				}
				ts := time.Now()
				if l.at != nil {
					ts = l.at(s, req)
				}
				// Encoded straight to protobuf (the records RequestN
				// builds), through the raw codec: pdata and its marshalling
				// cost the sender, on the server's cores, a quarter of what
				// the server spends per record.
				c := min(l.batch, quota-n)
				body = gen.RequestProto(ts, c, body[:0])
				if req%100 == 0 { // a sample of the raw OTLP-JSON size
					if b, err := jsonOf(body); err == nil {
						jsonBytes.Add(int64(len(b)))
						jsonRecords.Add(int64(c))
					}
				}
				if err := exportRetrying(ictx, func(ctx context.Context) error { return send(ctx, body) }, &retries); err != nil {
					errs <- fmt.Errorf("sender %d: %w", s, err)
					return
				}
				n += c
				sent.Add(int64(c))
				l.sent.add(ts.UnixNano(), c)
			}
			mu.Lock()
			for id, c := range gen.Sampled {
				in.sampled[id] += c
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	progress()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	in.seconds = time.Since(start).Seconds()
	in.sent, in.retries = sent.Load(), retries.Load()
	if jr := jsonRecords.Load(); jr > 0 {
		in.jsonBytesPerRecord = float64(jsonBytes.Load()) / float64(jr)
	}
	return in, nil
}

// otlpLogsExportMethod is the OTLP/gRPC logs export RPC.
const otlpLogsExportMethod = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

// dialLogSender returns a function that sends one encoded OTLP logs
// request to p: over OTLP/gRPC to Sightline, over OTLP/HTTP (protobuf) to
// VictoriaLogs, which takes no OTLP/gRPC. Backpressure (429 or 503 from
// VictoriaLogs) is returned as ResourceExhausted, which exportRetrying
// retries.
func dialLogSender(p *process) (send func(context.Context, []byte) error, closeSend func(), err error) {
	if p.kind == kindVictoriaLogs {
		client := newClient(time.Minute, 1)
		u := p.url("/insert/opentelemetry/v1/logs")
		return func(ctx context.Context, body []byte) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-protobuf")
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			switch {
			case resp.StatusCode/100 == 2:
				return nil
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
				return status.Errorf(codes.ResourceExhausted, "%s: %s", resp.Status, msg)
			}
			return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
		}, client.CloseIdleConnections, nil
	}
	conn, err := dialOTLP(p.grpcAddr)
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, body []byte) error {
		var out []byte
		return conn.Invoke(ctx, otlpLogsExportMethod, &body, &out, grpc.ForceCodec(rawCodec{}))
	}, func() { conn.Close() }, nil
}

// jsonOf is an OTLP logs request as OTLP-JSON.
func jsonOf(body []byte) ([]byte, error) {
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalProto(body); err != nil {
		return nil, err
	}
	return (&plog.JSONMarshaler{}).MarshalLogs(req.Logs())
}

// nsParam is t as Unix nanoseconds, which the log APIs take as a time.
func nsParam(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// logRecordsAnswer is the native log API's answer: {"data": {"records": [...]}}.
type logRecordsAnswer struct {
	Data struct {
		Records []json.RawMessage `json:"records"`
	} `json:"data"`
}

// lookupLogTraces reads the records of up to n sampled trace IDs with no
// time range and counts the answers whose record count differs from what
// was sent.
func lookupLogTraces(ctx context.Context, client *http.Client, p *process, sampled map[[16]byte]int, n int) ([]time.Duration, int, error) {
	var lat []time.Duration
	wrong := 0
	for id, want := range sampled {
		if len(lat) >= n {
			break
		}
		t0 := time.Now()
		b, err := get(ctx, client, p.url("/api/v1/logs/trace/"+hex.EncodeToString(id[:])))
		lat = append(lat, time.Since(t0))
		if err != nil {
			return nil, 0, err
		}
		var res logRecordsAnswer
		if err := json.Unmarshal(b, &res); err != nil || len(res.Data.Records) != want {
			wrong++
		}
	}
	return lat, wrong, nil
}

// searchLogs runs the native single-word search for word over
// [start, end], limit 100, runs times, and returns the latencies and the
// hits of the last run.
func searchLogs(ctx context.Context, client *http.Client, p *process, word string, start, end time.Time, runs int) ([]time.Duration, int, error) {
	u := p.url("/api/v1/logs/search?" + url.Values{"query": {word}, "limit": {"100"}, "start": {nsParam(start)}, "end": {nsParam(end)}}.Encode())
	var lat []time.Duration
	hits := 0
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		b, err := get(ctx, client, u)
		lat = append(lat, time.Since(t0))
		if err != nil {
			return nil, 0, err
		}
		var res logRecordsAnswer
		if err := json.Unmarshal(b, &res); err == nil {
			hits = len(res.Data.Records)
		}
	}
	return lat, hits, nil
}

// The LogQL queries the log benchmarks measure.
const (
	// logQLAll selects every stream: what Grafana's Explore runs for
	// "all logs", with limit=100, newest first.
	logQLAll = `{service_name=~".+"}`
	// logQLVolume is the log volume query Grafana's Explore sends beside
	// every logs query (Loki's logs volume, with its | drop __error__),
	// with a step of 60 s.
	logQLVolume = `sum by (level, detected_level) (count_over_time({service_name=~".+"} | drop __error__ [1m]))`
	// logQLVolumeRange and logQLVolumeStep are its range and step.
	logQLVolumeRange = time.Minute
	logQLVolumeStep  = time.Minute
	// logQLLimit is the limit of the log query.
	logQLLimit = 100
)

// LogQLResult is one measured LogQL query through /loki/api/v1/query_range.
type LogQLResult struct {
	Query      string
	Start, End time.Time
	// Step is a metric query's; 0 for a log query.
	Step time.Duration
	// Latencies of every run; Wrong counts failed runs and answers whose
	// count differs from Want, FirstError says why the first did.
	LookupResult
	// Got is the last answer's count: lines of a log query, or the sum of
	// every value of a metric query. Want is what the sent records say.
	Got, Want int64
}

// lokiRange is the URL of a Loki range query on p.
func lokiRange(p *process, query string, start, end time.Time, extra url.Values) string {
	v := url.Values{"query": {query}, "start": {nsParam(start)}, "end": {nsParam(end)}}
	for k, vs := range extra {
		v[k] = vs
	}
	return p.url("/loki/api/v1/query_range?" + v.Encode())
}

// runLogQL runs u runs times and checks each answer with check, which
// returns the answer's count. Only a failed context is an error: what the
// system answers, errors included, goes into res.
func runLogQL(ctx context.Context, client *http.Client, u string, runs int, res *LogQLResult, check func([]byte) (int64, error)) error {
	for i := 0; i < runs; i++ {
		body, took, err := timedQuery(ctx, client, u)
		res.Latencies = append(res.Latencies, took)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			res.Got, err = check(body)
		}
		if err == nil && res.Got != res.Want {
			err = fmt.Errorf("counted %d, want %d", res.Got, res.Want)
		}
		if err != nil {
			res.fail(err)
		}
	}
	return nil
}

// measureLogQLLimit runs `{service_name=~".+"}` with limit=100,
// direction=backward over [start, end] and checks that it returns the
// newest 100 records of the range (lines and the newest timestamp).
func measureLogQLLimit(ctx context.Context, client *http.Client, p *process, start, end time.Time, runs int, sent *sentLog) (LogQLResult, error) {
	res := LogQLResult{Query: logQLAll, Start: start, End: end,
		Want: min(logQLLimit, sent.count(start.UnixNano()-1, end.UnixNano()-1))}
	_, newest, _ := sent.bounds()
	u := lokiRange(p, logQLAll, start, end, url.Values{"limit": {strconv.Itoa(logQLLimit)}, "direction": {"backward"}})
	err := runLogQL(ctx, client, u, runs, &res, func(body []byte) (int64, error) {
		lines, last, err := lokiStreams(body)
		if err == nil && lines > 0 && end.After(newest) && last != newest.UnixNano() {
			err = fmt.Errorf("newest line at %d, newest record sent at %d", last, newest.UnixNano())
		}
		return int64(lines), err
	})
	return res, err
}

// measureLogVolume runs the log volume query over [start, end] every 60 s
// and checks that its values add up to the records sent in the steps'
// windows.
func measureLogVolume(ctx context.Context, client *http.Client, p *process, start, end time.Time, runs int, sent *sentLog) (LogQLResult, error) {
	res := LogQLResult{Query: logQLVolume, Start: start, End: end, Step: logQLVolumeStep,
		Want: sent.rangeCount(start, end, logQLVolumeStep, logQLVolumeRange)}
	u := lokiRange(p, logQLVolume, start, end, url.Values{"step": {strconv.Itoa(int(logQLVolumeStep.Seconds()))}})
	err := runLogQL(ctx, client, u, runs, &res, func(body []byte) (int64, error) {
		s, err := summarize(QueryRange, body)
		return int64(s.Sum), err
	})
	return res, err
}

// lokiStreams reads a Loki "streams" answer: how many lines it has and the
// newest line's timestamp (ns).
func lokiStreams(body []byte) (lines int, newest int64, err error) {
	var ans struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Values [][]json.RawMessage `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return 0, 0, fmt.Errorf("decode answer: %w", err)
	}
	if ans.Status != "success" || ans.Data.ResultType != "streams" {
		return 0, 0, fmt.Errorf("not a streams answer: %.200s", body)
	}
	for _, s := range ans.Data.Result {
		for _, v := range s.Values {
			var ts string
			if len(v) < 2 || json.Unmarshal(v[0], &ts) != nil {
				return 0, 0, fmt.Errorf("malformed entry in %.200s", body)
			}
			t, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("entry timestamp %q: %w", ts, err)
			}
			if lines == 0 || t > newest {
				newest = t
			}
			lines++
		}
	}
	return lines, newest, nil
}

// LogStoreStats is one scrape of Sightline's /metrics: the log store's
// parts and merges and the process' open files and memory.
type LogStoreStats struct {
	// Parts are segments on disk by merge level (sightline_logs_parts);
	// PartsTotal their sum.
	Parts      map[string]float64
	PartsTotal float64
	// Flushes are heads written to segments; Merges, MergeSeconds and
	// MergedBytes the merges done, their time and the bytes they wrote.
	Flushes, Merges, MergeSeconds, MergedBytes float64
	// SegmentBytes and WALBytes are the log store's size.
	SegmentBytes, WALBytes float64
	// OpenFDs and RSS are Go's process collector's process_open_fds and
	// process_resident_memory_bytes.
	OpenFDs, RSS float64
}

// logStoreStats reads the stats out of a scrape.
func logStoreStats(ss []metricSample) LogStoreStats {
	st := LogStoreStats{Parts: map[string]float64{}}
	for _, s := range ss {
		if s.name == "sightline_logs_parts" {
			st.Parts[labelValue(s.labels, "level")] += s.value
			st.PartsTotal += s.value
		}
	}
	c := func(name string) float64 { return sumSamples(ss, counterSpec{name: name}) }
	st.Flushes = c("sightline_logs_segments_flushed_total")
	st.Merges = c("sightline_logs_merges_total")
	st.MergeSeconds = c("sightline_logs_merge_duration_seconds_sum")
	st.MergedBytes = c("sightline_logs_merged_bytes_total")
	st.SegmentBytes = c("sightline_logs_segment_bytes")
	st.WALBytes = c("sightline_logs_wal_bytes")
	st.OpenFDs = c("process_open_fds")
	st.RSS = c("process_resident_memory_bytes")
	return st
}

// scrapeLogStoreStats scrapes p's /metrics once.
func scrapeLogStoreStats(ctx context.Context, client *http.Client, p *process) (LogStoreStats, error) {
	ss, err := scrapeSamples(ctx, client, p.url("/metrics"))
	if err != nil {
		return LogStoreStats{}, err
	}
	return logStoreStats(ss), nil
}

// countPartitions counts the hour partitions (directories named
// YYYYMMDDHH) under a log store's segments directory.
func countPartitions(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, nil
		}
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if _, err := time.Parse("2006010215", e.Name()); err == nil && e.IsDir() {
			n++
		}
	}
	return n, nil
}

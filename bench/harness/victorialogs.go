package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"time"
)

// LogPeerReport is what the log benchmark measured of VictoriaLogs (issue
// 16) on the same load as Sightline: the same generator seeds, so the same
// records, sent by the same senders over OTLP (OTLP/HTTP protobuf, which is
// what VictoriaLogs takes), then the equivalent queries in LogsQL, each
// checked against what was sent.
type LogPeerReport struct {
	Version                                     string
	Sent, Retries                               int64
	IngestSeconds, RecordsPerSecond, CPUSeconds float64
	PeakRSS, DiskBytes                          int64
	// SearchableAfter is how long after the last acknowledged request
	// every record was counted and every sampled trace found whole.
	SearchableAfter time.Duration
	TraceLookups    []time.Duration
	TraceMismatches int
	TraceFirstError string `json:",omitempty"`
	Searches        map[string][]time.Duration
	SearchHits      map[string]int
	// Limit is the newest 100 records of the whole store; CountByService
	// the records per service over the last hour, summed.
	Limit, CountByService LogQLResult
}

// LogsQL equivalents of Sightline's queries.
const (
	vlTraceQuery   = `trace_id:=%s`
	vlSearchQuery  = `_time:1h %s | sort by (_time) desc | limit 100`
	vlLimitQuery   = `* | sort by (_time) desc | limit 100`
	vlCountQuery   = `_time:1h | stats by (service.name) count() as n`
	logQLCountBySv = `sum by (service_name) (count_over_time({service_name=~".+"}[1h]))`
)

// runVictoriaLogs sends the log benchmark's load to VictoriaLogs and runs
// the equivalent queries.
func runVictoriaLogs(ctx context.Context, o LogOptions, logf func(string, ...any)) (*LogPeerReport, error) {
	// Built by go install, it carries no version of its own but its
	// module's.
	r := &LogPeerReport{Version: moduleVersion(o.VictoriaLogs, "github.com/VictoriaMetrics/VictoriaLogs"),
		Searches: map[string][]time.Duration{}, SearchHits: map[string]int{}}
	dataDir := filepath.Join(o.WorkDir, "victorialogs")
	p, err := startProcess(kindVictoriaLogs, o.VictoriaLogs, dataDir, 30*24*time.Hour)
	if err != nil {
		return nil, err
	}
	defer p.kill()
	if err := p.waitReady(ctx, time.Minute); err != nil {
		return nil, err
	}
	client := newClient(5*time.Minute, 4)
	defer client.CloseIdleConnections()

	sent := &sentLog{}
	in, err := ingestLogs(ctx, p, o, sent, logf)
	if err != nil {
		return nil, fmt.Errorf("victorialogs: %w", err)
	}
	r.Sent, r.Retries, r.IngestSeconds, r.CPUSeconds = in.sent, in.retries, in.seconds, in.cpuSeconds
	r.RecordsPerSecond = float64(r.Sent) / r.IngestSeconds
	logf("victorialogs: sent %d records in %.1fs (%.0f records/s)", r.Sent, r.IngestSeconds, r.RecordsPerSecond)

	// VictoriaLogs makes new records searchable shortly after it
	// acknowledges them: its counts see every record before its trace-ID
	// filter does. Wait until it counts every record and finds every
	// sampled trace whole, and report how long that took.
	oldest, _, total := sent.bounds()
	ingested := time.Now()
	deadline := ingested.Add(2 * time.Minute)
	for {
		n, _, err := vlCount(ctx, client, p, fmt.Sprintf(`_time:>=%s | stats count() as n`, oldest.Add(-time.Second).UTC().Format(time.RFC3339Nano)))
		if err == nil && n == total {
			err = vlTracesWhole(ctx, client, p, in.sampled, o.TraceLookups)
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("victorialogs: %d of %d records, not every sampled trace, searchable after %s: %v", n, total, deadline.Sub(ingested), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.SearchableAfter = time.Since(ingested)

	logf("victorialogs: %d trace-ID lookups, %d runs of each word search", o.TraceLookups, o.SearchRuns)
	for id, want := range in.sampled {
		if len(r.TraceLookups) >= o.TraceLookups {
			break
		}
		rows, took, err := vlQuery(ctx, client, p, fmt.Sprintf(vlTraceQuery, hex.EncodeToString(id[:])))
		r.TraceLookups = append(r.TraceLookups, took)
		if err == nil && len(rows) != want {
			err = fmt.Errorf("trace %x: %d records, want %d", id, len(rows), want)
		}
		if err != nil {
			if r.TraceMismatches++; r.TraceFirstError == "" {
				r.TraceFirstError = err.Error()
			}
		}
	}
	for _, w := range o.Words {
		for range o.SearchRuns {
			rows, took, err := vlQuery(ctx, client, p, fmt.Sprintf(vlSearchQuery, w))
			if err != nil {
				return nil, fmt.Errorf("victorialogs: search %q: %w", w, err)
			}
			r.Searches[w], r.SearchHits[w] = append(r.Searches[w], took), len(rows)
		}
	}
	r.Limit = LogQLResult{Query: vlLimitQuery, Want: logQLLimit}
	for range o.LogQLRuns {
		rows, took, err := vlQuery(ctx, client, p, vlLimitQuery)
		r.Limit.Latencies, r.Limit.Got = append(r.Limit.Latencies, took), int64(len(rows))
		if err == nil && r.Limit.Got != r.Limit.Want {
			err = fmt.Errorf("%d rows, want %d", r.Limit.Got, r.Limit.Want)
		}
		if err != nil {
			r.Limit.fail(err)
		}
	}
	now := time.Now()
	r.CountByService = LogQLResult{Query: vlCountQuery, Start: now.Add(-time.Hour), End: now, Want: sent.count(now.Add(-time.Hour).UnixNano(), now.UnixNano())}
	for range o.VolumeRuns {
		n, took, err := vlCount(ctx, client, p, vlCountQuery)
		r.CountByService.Latencies, r.CountByService.Got = append(r.CountByService.Latencies, took), n
		if err == nil && n != r.CountByService.Want {
			err = fmt.Errorf("counted %d, want %d", n, r.CountByService.Want)
		}
		if err != nil {
			r.CountByService.fail(err)
		}
	}
	if st, err := p.stat(); err == nil {
		r.PeakRSS = st.PeakRSS
	}
	if err := p.stop(time.Minute); err != nil {
		return nil, err
	}
	du, err := diskUsage(dataDir)
	if err != nil {
		return nil, err
	}
	r.DiskBytes = du.Allocated
	return r, nil
}

// vlTracesWhole checks that the first n sampled traces are found whole.
func vlTracesWhole(ctx context.Context, client *http.Client, p *process, sampled map[[16]byte]int, n int) error {
	for id, want := range sampled {
		if n--; n < 0 {
			return nil
		}
		rows, _, err := vlQuery(ctx, client, p, fmt.Sprintf(vlTraceQuery, hex.EncodeToString(id[:])))
		if err == nil && len(rows) != want {
			err = fmt.Errorf("trace %x: %d records, want %d", id, len(rows), want)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// vlQuery runs a LogsQL query and returns its rows (JSON lines).
func vlQuery(ctx context.Context, client *http.Client, p *process, q string) ([]json.RawMessage, time.Duration, error) {
	body, took, err := timedQuery(ctx, client, p.url("/select/logsql/query?"+url.Values{"query": {q}}.Encode()))
	if err != nil {
		return nil, took, err
	}
	var rows []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			rows = append(rows, append(json.RawMessage(nil), line...))
		}
	}
	return rows, took, sc.Err()
}

// vlCount runs a LogsQL stats query whose rows have a count n, and sums it.
func vlCount(ctx context.Context, client *http.Client, p *process, q string) (int64, time.Duration, error) {
	rows, took, err := vlQuery(ctx, client, p, q)
	if err != nil {
		return 0, took, err
	}
	var sum int64
	for _, row := range rows {
		var r struct{ N string }
		if err := json.Unmarshal(row, &r); err != nil {
			return 0, took, fmt.Errorf("stats row %s: %w", row, err)
		}
		n, err := strconv.ParseInt(r.N, 10, 64)
		if err != nil {
			return 0, took, fmt.Errorf("stats row %s: %w", row, err)
		}
		sum += n
	}
	return sum, took, nil
}

// measureLogCountByService is Sightline's side of the count by service:
// an instant LogQL query at now over the last hour, its values summed.
func measureLogCountByService(ctx context.Context, client *http.Client, p *process, runs int, sent *sentLog) (LogQLResult, error) {
	now := time.Now()
	res := LogQLResult{Query: logQLCountBySv, Start: now.Add(-time.Hour), End: now, Want: sent.count(now.Add(-time.Hour).UnixNano(), now.UnixNano())}
	u := p.url("/loki/api/v1/query?" + url.Values{"query": {logQLCountBySv}, "time": {nsParam(now)}}.Encode())
	err := runLogQL(ctx, client, u, runs, &res, func(body []byte) (int64, error) {
		s, err := summarize(QueryInstant, body)
		return int64(s.Sum), err
	})
	return res, err
}

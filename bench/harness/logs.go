package harness

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sightline-dev/sightline/storage/segstore"
)

// LogOptions configure the log benchmark (issue 3's workload): OTLP log
// ingest, on-disk size against raw OTLP-JSON, trace-ID lookups and
// single-word searches over the stored records; then (issue 10) LogQL
// queries as Grafana's Explore sends them, the log store's parts, open
// files and memory, and a restart after kill -9 with a full head.
type LogOptions struct {
	Sightline string // binary
	WorkDir   string // data goes under it
	Records   int    // records to send
	Senders   int    // concurrent OTLP/gRPC senders
	// RecordsPerRequest is the OTLP batch size.
	RecordsPerRequest int
	// MaxIngest bounds each ingest phase.
	MaxIngest time.Duration
	// TraceLookups and SearchRuns are the measured query counts.
	TraceLookups int
	SearchRuns   int
	// Words are the single-word searches, over the last hour.
	Words []string
	// LogQLRuns are the runs of the limit=100 LogQL query over the whole
	// store; VolumeRuns of each log volume query (1 h and 24 h).
	LogQLRuns, VolumeRuns int
	// HeadMaxAge is passed to Sightline so the last records reach a segment
	// soon after ingest ends.
	HeadMaxAge time.Duration
	// RestartRecords are sent into a head that is not flushed before
	// Sightline is killed with SIGKILL and started again on the same data
	// directory; at most Records and the log store's bound of unflushed
	// records. 0 skips the restart test.
	RestartRecords int
	// VictoriaLogs is the binary of the logs peer (issue 16): when set, the
	// same load and the equivalent queries are run against it after
	// Sightline, and the report puts both side by side.
	VictoriaLogs string
	// TLS runs Sightline with TLS on every port and a basic-auth user, as
	// a production deployment would, and every client with them (see
	// secure): the same run without it shows their cost.
	TLS bool
	// Command is the command line shown in the report.
	Command string
}

// DefaultLogOptions is the scale: 10 million records.
func DefaultLogOptions() LogOptions {
	return LogOptions{
		Records: 10_000_000, Senders: 4, RecordsPerRequest: 1000, MaxIngest: 10 * time.Minute,
		TraceLookups: 300, SearchRuns: 20, Words: []string{"deadlock", "refund", "timeout", "declined"},
		LogQLRuns: 20, VolumeRuns: 3, HeadMaxAge: 10 * time.Second, RestartRecords: 1_000_000,
	}
}

// LogReport is what one log benchmark run measured.
type LogReport struct {
	Options            LogOptions
	Started            time.Time
	Machine            Machine
	Version            string
	Sent               int64
	Retries            int64 // requests refused with ResourceExhausted and sent again
	IngestSeconds      float64
	RecordsPerSecond   float64
	CPUSeconds         float64
	PeakRSS            int64
	JSONBytesPerRecord float64 // raw OTLP-JSON, estimated from every 100th request
	DiskBytes          int64
	FlushWait          time.Duration
	TraceLookups       []time.Duration
	TraceMismatches    int
	Searches           map[string][]time.Duration
	SearchHits         map[string]int
	// Oldest and Newest are the timestamps of the records sent: the wall
	// clock of the ingest phase.
	Oldest, Newest time.Time
	// Limit is the limit=100 log query over the whole store; Volume1h and
	// Volume24h the log volume query over the last hour and day.
	Limit, Volume1h, Volume24h LogQLResult
	// CountByService is the records per service over the last hour, as
	// an instant LogQL query, summed.
	CountByService LogQLResult
	// End is the store and the process after the queries.
	End LogStoreStats
	// VictoriaLogs is the peer's run; nil without a peer.
	VictoriaLogs *LogPeerReport
	// Restart is the kill -9 test; nil when skipped.
	Restart *RestartResult
}

// RestartResult is the restart after kill -9 with a full head.
type RestartResult struct {
	// Records were sent into the head before the kill; Flushes counts the
	// heads written to segments meanwhile (0: every record was only in the
	// head and the WAL), WALBytes the log WAL at the kill.
	Records            int64
	Flushes, WALBytes  float64
	HeadMaxRecords     int
	Ready, LastRecord  time.Duration // from the restart's exec
	CountQuery         string
	Counted, Want      int64 // records the count query found, and acknowledged
	CountError         string
	LastRecordAttempts int
}

// RunLogs runs the log benchmark once.
func RunLogs(ctx context.Context, o LogOptions, logf func(string, ...any)) (*LogReport, error) {
	r := &LogReport{Options: o, Started: time.Now(), Machine: describeMachine(), Searches: map[string][]time.Duration{}, SearchHits: map[string]int{}}
	if o.TLS {
		s, err := setUpSecure(o.WorkDir)
		if err != nil {
			return nil, fmt.Errorf("set up TLS: %w", err)
		}
		secure = s
		defer func() { secure = nil }()
	}
	dataDir := filepath.Join(o.WorkDir, "sightline-logs")
	p, err := startSightline(ctx, o.Sightline, dataDir, "-logs.head.max-age", o.HeadMaxAge.String())
	if err != nil {
		return nil, err
	}
	defer p.kill()
	client := newClient(30*time.Second, 4)
	defer client.CloseIdleConnections()
	r.Version = sightlineVersion(ctx, p)

	// Ingest.
	sent := &sentLog{}
	in, err := ingestLogs(ctx, p, o, sent, logf)
	if err != nil {
		return nil, err
	}
	r.IngestSeconds, r.Sent, r.Retries, r.JSONBytesPerRecord, r.CPUSeconds = in.seconds, in.sent, in.retries, in.jsonBytesPerRecord, in.cpuSeconds
	r.RecordsPerSecond = float64(r.Sent) / r.IngestSeconds
	r.Oldest, r.Newest, _ = sent.bounds()
	logf("logs: sent %d records in %.1fs (%.0f records/s)", r.Sent, r.IngestSeconds, r.RecordsPerSecond)

	// Wait until every record is in an indexed segment: the WAL is then
	// just the new, empty head's file.
	r.FlushWait, err = waitWAL(ctx, client, p, "sightline_logs_wal_bytes", 1<<20, o.HeadMaxAge+5*time.Minute)
	if err != nil {
		return nil, err
	}
	// Segments are merged in the background after the flushes: the disk
	// is measured once they have settled, not with a merge's output beside
	// its sources.
	if _, err := waitMergesSettled(ctx, client, p, "sightline_logs_merges_total", 5*time.Second, 5*time.Minute); err != nil {
		return nil, err
	}
	du, err := diskUsage(filepath.Join(dataDir, "tenants", "default", "logs"))
	if err != nil {
		return nil, err
	}
	r.DiskBytes = du.Allocated
	if st, err := p.stat(); err == nil {
		r.PeakRSS = st.PeakRSS
	}

	logf("logs: %d trace-ID lookups, %d runs of each word search", o.TraceLookups, o.SearchRuns)
	if r.TraceLookups, r.TraceMismatches, err = lookupLogTraces(ctx, client, p, in.sampled, o.TraceLookups); err != nil {
		return nil, err
	}
	for _, w := range o.Words {
		now := time.Now()
		if r.Searches[w], r.SearchHits[w], err = searchLogs(ctx, client, p, w, now.Add(-time.Hour), now, o.SearchRuns); err != nil {
			return nil, err
		}
	}

	// LogQL as Grafana's Explore sends it. The volume query reads every
	// record of its range, which takes a while over millions.
	slow := newClient(10*time.Minute, 1)
	defer slow.CloseIdleConnections()
	logf("logs: %d runs of the limit=%d LogQL query, %d of each volume query", o.LogQLRuns, logQLLimit, o.VolumeRuns)
	if r.Limit, err = measureLogQLLimit(ctx, slow, p, r.Oldest, time.Now(), o.LogQLRuns, sent); err != nil {
		return nil, err
	}
	now := time.Now()
	if r.Volume1h, err = measureLogVolume(ctx, slow, p, now.Add(-time.Hour), now, o.VolumeRuns, sent); err != nil {
		return nil, err
	}
	if r.Volume24h, err = measureLogVolume(ctx, slow, p, now.Add(-24*time.Hour), now, o.VolumeRuns, sent); err != nil {
		return nil, err
	}
	if r.CountByService, err = measureLogCountByService(ctx, slow, p, o.VolumeRuns, sent); err != nil {
		return nil, err
	}
	if r.End, err = scrapeLogStoreStats(ctx, client, p); err != nil {
		return nil, err
	}
	if err := p.stop(time.Minute); err != nil {
		return nil, err
	}

	if n := min(o.RestartRecords, o.Records, segstore.DefaultOptions().MaxPendingRows); n > 0 {
		if r.Restart, err = restartAfterKill(ctx, o, dataDir, n, sent, logf); err != nil {
			return nil, err
		}
	}
	if o.VictoriaLogs != "" {
		if r.VictoriaLogs, err = runVictoriaLogs(ctx, o, logf); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// ingestLogs sends the benchmark's records to p and measures the server's
// CPU meanwhile.
func ingestLogs(ctx context.Context, p *process, o LogOptions, sent *sentLog, logf func(string, ...any)) (*logIngest, error) {
	before, err := p.stat()
	if err != nil {
		return nil, err
	}
	in, err := sendLogs(ctx, p, logLoad{records: o.Records, senders: o.Senders, batch: o.RecordsPerRequest, timeout: o.MaxIngest, sent: sent}, logf)
	if err != nil {
		return nil, err
	}
	after, err := p.stat()
	if err != nil {
		return nil, err
	}
	in.cpuSeconds = after.CPUSeconds - before.CPUSeconds
	return in, nil
}

// restartAfterKill starts Sightline again on the benchmark's data
// directory with a head that neither size nor age cuts, sends n records
// into it, kills the server with SIGKILL and starts it again: it measures
// the time until /-/ready answers 200 and until a query returns the newest
// record sent, and counts the records sent before the kill with a query.
func restartAfterKill(ctx context.Context, o LogOptions, dataDir string, n int, sent *sentLog, logf func(string, ...any)) (*RestartResult, error) {
	res := &RestartResult{HeadMaxRecords: 2 * n}
	flags := []string{"-logs.head.max-age", "24h", "-logs.head.max-records", strconv.Itoa(res.HeadMaxRecords)}
	p, err := startSightline(ctx, o.Sightline, dataDir, flags...)
	if err != nil {
		return nil, err
	}
	defer p.kill()
	client := newClient(5*time.Minute, 1)
	defer client.CloseIdleConnections()
	before, err := scrapeLogStoreStats(ctx, client, p)
	if err != nil {
		return nil, err
	}
	logf("logs: restart test: %d records into the head, then kill -9", n)
	phaseStart := time.Now()
	in, err := sendLogs(ctx, p, logLoad{records: n, senders: o.Senders, batch: o.RecordsPerRequest, seed: 1000,
		timeout: o.MaxIngest, sent: sent}, logf)
	if err != nil {
		return nil, err
	}
	atKill, err := scrapeLogStoreStats(ctx, client, p)
	if err != nil {
		return nil, err
	}
	res.Records, res.Flushes, res.WALBytes = in.sent, atKill.Flushes-before.Flushes, atKill.WALBytes
	p.kill() // SIGKILL

	restart := time.Now()
	p, err = startSightline(ctx, o.Sightline, dataDir, flags...)
	if err != nil {
		return nil, err
	}
	defer p.kill()
	res.Ready = time.Since(restart)
	_, newest, _ := sent.bounds()
	end := newest.Add(time.Nanosecond) // the range is [start, end)
	u := lokiRange(p, logQLAll, phaseStart, end, url.Values{"limit": {"1"}, "direction": {"backward"}})
	deadline := restart.Add(5 * time.Minute)
	for {
		res.LastRecordAttempts++
		body, _, err := timedQuery(ctx, client, u)
		if err == nil {
			if lines, last, err := lokiStreams(body); err == nil && lines == 1 && last == newest.UnixNano() {
				res.LastRecord = time.Since(restart)
				break
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("restart test: the newest record sent before the kill not found %s after the restart", deadline.Sub(restart))
		}
		time.Sleep(20 * time.Millisecond)
	}
	logf("logs: restart test: ready after %s, newest record found after %s", res.Ready.Round(time.Millisecond), res.LastRecord.Round(time.Millisecond))

	// Count the records of a window from just before the phase to the
	// newest record: (at−rng, at].
	rng := newest.Sub(phaseStart).Truncate(time.Second) + time.Second
	res.CountQuery = fmt.Sprintf(`sum(count_over_time(%s[%ds]))`, logQLAll, int(rng.Seconds()))
	res.Want = sent.count(newest.Add(-rng).UnixNano(), newest.UnixNano())
	body, _, err := timedQuery(ctx, client, p.url("/loki/api/v1/query?"+url.Values{"query": {res.CountQuery}, "time": {nsParam(newest)}}.Encode()))
	if err == nil {
		var s Summary
		s, err = summarize(QueryInstant, body)
		res.Counted = int64(s.Sum)
	}
	if err != nil {
		res.CountError = err.Error()
	}
	if err := p.stop(time.Minute); err != nil {
		return nil, err
	}
	return res, nil
}

// The goals of the log store (issue 3), as the reports check them.
const (
	goalLogRecordsPerSecond = 100_000
	goalLogCompression      = 10 // raw OTLP-JSON / on disk
	goalLogTraceP99         = 50 * time.Millisecond
	goalLogSearchP99        = 500 * time.Millisecond
)

// WriteLogReport writes <dir>/<name>.md, the report of the run whose
// Sightline ingest rate is the median with the Repeats section over every
// run, its plots <dir>/<name>-*.png and every run's measurements as
// <dir>/<name>.json (LoadRepeats reads them back), and returns the files.
func WriteLogReport(runs []*LogReport, dir, name string) ([]string, error) {
	return writeRepeatedReport(runs, dir, name, repeatedReport[LogReport, LogPeerReport]{
		peer: "VictoriaLogs", rate: func(r *LogReport) float64 { return r.RecordsPerSecond }, markdown: logMarkdown,
		view: logPeerOf, figures: logFigures,
		queries: []string{"trace by ID", "word search", "newest 100", "count by service"},
		latencies: func(p *LogPeerReport) [][]time.Duration {
			return [][]time.Duration{p.TraceLookups, allSearches(p.Searches), p.Limit.Latencies, p.CountByService.Latencies}
		},
	})
}

// logPeerOf is Sightline's figures of r in the peer's shape, for the
// figures both have; or with peer the peer's (nil without one).
func logPeerOf(r *LogReport, peer bool) *LogPeerReport {
	if peer {
		return r.VictoriaLogs
	}
	return &LogPeerReport{Sent: r.Sent, RecordsPerSecond: r.RecordsPerSecond, CPUSeconds: r.CPUSeconds, PeakRSS: r.PeakRSS, DiskBytes: r.DiskBytes,
		TraceLookups: r.TraceLookups, Searches: r.Searches, Limit: r.Limit, CountByService: r.CountByService}
}

// logFigures are the log benchmark's key figures.
var logFigures = []keyFigure[LogPeerReport]{
	{"sustained ingest", "records/s", "records/s", true, func(p *LogPeerReport) float64 { return p.RecordsPerSecond }},
	{"server CPU per record", "CPU/record", "µs", false, func(p *LogPeerReport) float64 { return 1e6 * p.CPUSeconds / math.Max(1, float64(p.Sent)) }},
	{"peak RSS", "peak RSS", "MiB", false, func(p *LogPeerReport) float64 { return float64(p.PeakRSS) / (1 << 20) }},
	{"on disk", "B/record", "B/record", false, func(p *LogPeerReport) float64 { return float64(p.DiskBytes) / math.Max(1, float64(p.Sent)) }},
	{"logs of one trace ID p50", "trace p50", "ms", false, func(p *LogPeerReport) float64 { return msOf(p.TraceLookups, 0.5) }},
	{"logs of one trace ID p99", "trace p99", "ms", false, func(p *LogPeerReport) float64 { return msOf(p.TraceLookups, 0.99) }},
	{"single-word search p50", "word p50", "ms", false, func(p *LogPeerReport) float64 { return msOf(allSearches(p.Searches), 0.5) }},
	{"newest 100 records (limit=100) p50", "limit=100 p50", "ms", false, func(p *LogPeerReport) float64 { return msOf(p.Limit.Latencies, 0.5) }},
	{"count by service p50", "count p50", "ms", false, func(p *LogPeerReport) float64 { return msOf(p.CountByService.Latencies, 0.5) }},
}

// allSearches pools the latencies of every word's search.
func allSearches(m map[string][]time.Duration) []time.Duration {
	var out []time.Duration
	for _, ds := range m {
		out = append(out, ds...)
	}
	return out
}

// logMarkdown is the report of one run.
func logMarkdown(r *LogReport, name string) string {
	var b strings.Builder
	f := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	o := r.Options
	f("# Sightline log benchmark: %s\n\nRun on %s UTC by `bench/cmd/logbench` (issue 3's workload, issue 10's additions).\n\n", name, r.Started.UTC().Format("2006-01-02 15:04"))
	r.Machine.writeTable(&b, r.Version)
	cmd := cmp.Or(o.Command, fmt.Sprintf("cd bench && go run ./cmd/logbench -sightline ../bin/sightline -out results -name %s -records %d", name, o.Records))
	f("## Reproduce\n\n```sh\nmake bench-logs   # = make build, then:\n%s\n```\n\n", cmd)
	f("## Load\n\n%d log records over OTLP/gRPC from %d concurrent senders, %d records per request, 12 services, 12 message templates of 120–220 bytes with random fills, INFO/DEBUG/WARN/ERROR, 3 attributes per record, 90%% with a trace ID (1–8 records per trace). The sender runs on the same 2 cores as Sightline and builds every request fresh (distinct records, encoded straight to OTLP protobuf without pdata, about 0.6 µs of CPU per record), so the rate below includes its cost.\n\n", r.Sent, o.Senders, o.RecordsPerRequest)
	if o.TLS {
		f("**TLS and authentication on** (`-tls`): Sightline runs with `-web.config.file` (TLS 1.2+ with a self-signed P-256 certificate on the HTTP and both OTLP ports, one basic-auth user with a bcrypt hash of cost 10), and every sender and query uses TLS and that user.\n\n")
	}
	f("Timestamps are the wall clock at which each request was built (its records 1 ns apart), so the records span only the ingest phase: %s to %s UTC (%.0f s). The volume queries over the last hour and the last 24 hours therefore count the same records; they differ in the steps they evaluate (61 and 1,441 one-minute windows) and the time range the store has to rule out.\n\n",
		r.Oldest.UTC().Format("15:04:05"), r.Newest.UTC().Format("15:04:05"), r.Newest.Sub(r.Oldest).Seconds())
	p := func(ds []time.Duration, q float64) string {
		return fmt.Sprintf("%.1f ms", float64(percentile(ds, q).Microseconds())/1000)
	}
	f("## Results\n\n| measure | value | goal | met? |\n|---|---|---|---|\n")
	f("| sustained OTLP ingest | %.0f records/s (%d records in %.1f s, %.1f CPU s of the server, %d requests retried after backpressure) | ≥ %s records/s | %s |\n", r.RecordsPerSecond, r.Sent, r.IngestSeconds, r.CPUSeconds, r.Retries, thousands(goalLogRecordsPerSecond), met(r.RecordsPerSecond >= goalLogRecordsPerSecond))
	raw := r.JSONBytesPerRecord * float64(r.Sent)
	f("| on disk | %.1f MiB = %.1f B/record; raw OTLP-JSON %.0f B/record ⇒ ratio 1/%.1f | ≤ 1/%d | %s |\n", float64(r.DiskBytes)/(1<<20), float64(r.DiskBytes)/float64(r.Sent), r.JSONBytesPerRecord, raw/float64(r.DiskBytes), goalLogCompression, met(raw/float64(r.DiskBytes) >= goalLogCompression))
	f("| logs of one trace ID, no time range (%d lookups, %d wrong counts) | p50 %s, p90 %s, p99 %s | p99 ≤ %s ms | %s |\n", len(r.TraceLookups), r.TraceMismatches, p(r.TraceLookups, 0.5), p(r.TraceLookups, 0.9), p(r.TraceLookups, 0.99), ms(goalLogTraceP99), met(percentile(r.TraceLookups, 0.99) <= goalLogTraceP99 && r.TraceMismatches == 0))
	var all []time.Duration
	for _, w := range o.Words {
		ds := r.Searches[w]
		all = append(all, ds...)
		f("| search `%s`, last hour, limit 100 (%d hits) | p50 %s, p99 %s | | |\n", w, r.SearchHits[w], p(ds, 0.5), p(ds, 0.99))
	}
	f("| single-word search, all words | p50 %s, p99 %s | p99 ≤ %s ms | %s |\n", p(all, 0.5), p(all, 0.99), ms(goalLogSearchP99), met(percentile(all, 0.99) <= goalLogSearchP99))
	f("| peak RSS of the server | %.0f MiB | | |\n| wait for the last flush after ingest | %.1f s | | |\n\n", float64(r.PeakRSS)/(1<<20), r.FlushWait.Seconds())

	f("## LogQL as Grafana's Explore sends it\n\n`/loki/api/v1/query_range`, one query at a time, after the searches.\n\n")
	f("| query | range | runs | latency | check |\n|---|---|---|---|---|\n")
	writeLogQLRow(&b, "`"+logQLAll+"` limit=100, direction=backward", "oldest record → now", r.Limit, "newest 100 records")
	writeLogQLRow(&b, "log volume `"+logQLVolume+"`, step 60 s", "last 1 h", r.Volume1h, "counts sum to the records in range")
	writeLogQLRow(&b, "log volume, step 60 s", "last 24 h", r.Volume24h, "counts sum to the records in range")
	writeLogQLRow(&b, "records per service, instant `"+logQLCountBySv+"`", "last 1 h", r.CountByService, "counts sum to the records in range")

	f("\n## Store and process after the queries\n\n| measure | value |\n|---|---|\n")
	writeStoreStatsRows(&b, r.End)

	if rs := r.Restart; rs != nil {
		f("\n## Restart after kill -9 with a full head\n\n")
		f("After the queries Sightline was stopped and started again on the same data directory with `-logs.head.max-age 24h -logs.head.max-records %d`; %d senders sent %s more records (wall-clock timestamps) into its head — %s heads were flushed meanwhile and the log WAL held %s — then the server got SIGKILL and was started again with the same flags on the same directory, holding the %s records of the first phase in segments. Times are from the second start's exec.\n\n",
			rs.HeadMaxRecords, o.Senders, thousands(rs.Records), thousands(int64(rs.Flushes)), mib(int64(rs.WALBytes)), thousands(r.Sent))
		f("| measure | value | goal | met? |\n|---|---|---|---|\n")
		f("| until `/-/ready` answers 200 | %.2f s | | |\n", rs.Ready.Seconds())
		f("| until `%s` limit=1 backward returns the newest record sent before the kill | %.2f s (%d %s) | | |\n", logQLAll, rs.LastRecord.Seconds(), rs.LastRecordAttempts, plural(rs.LastRecordAttempts, "query", "queries"))
		counted := fmt.Sprintf("%s counted, %s acknowledged", thousands(rs.Counted), thousands(rs.Want))
		if rs.CountError != "" {
			counted = "query failed: `" + oneLine(rs.CountError) + "`"
		}
		f("| acknowledged records lost (`%s` at the newest record) | %s | 0 | %s |\n", rs.CountQuery, counted, met(rs.CountError == "" && rs.Counted == rs.Want))
	}
	if v := r.VictoriaLogs; v != nil {
		writeLogPeer(&b, r, v)
	}
	return b.String()
}

// writeLogPeer writes Sightline and VictoriaLogs side by side.
func writeLogPeer(b *strings.Builder, r *LogReport, v *LogPeerReport) {
	f := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	f("\n## Side by side with VictoriaLogs\n\n")
	f("The same %s records (the same generator seeds) from the same %d senders, to VictoriaLogs %s over OTLP/HTTP protobuf (`/insert/opentelemetry/v1/logs`; it takes no OTLP/gRPC), after Sightline's run on the same machine, with default flags and `-retentionPeriod=30d`. Each query is the LogsQL equivalent of Sightline's, checked the same way. VictoriaLogs' size on disk is after a clean stop; Sightline's once its merges have settled.\n\n",
		thousands(v.Sent), r.Options.Senders, cmp.Or(v.Version, "(version unknown)"))
	perRecord := func(cpu float64, n int64) string { return fmt.Sprintf("%.1f µs", cpu/float64(n)*1e6) }
	f("| measure | Sightline | VictoriaLogs |\n|---|---|---|\n")
	f("| sustained ingest, records/s (requests retried after backpressure) | %.0f (%d) | %.0f (%d) |\n", r.RecordsPerSecond, r.Retries, v.RecordsPerSecond, v.Retries)
	f("| server CPU per record during ingest | %s | %s |\n", perRecord(r.CPUSeconds, r.Sent), perRecord(v.CPUSeconds, v.Sent))
	f("| peak RSS | %.0f MiB | %.0f MiB |\n", float64(r.PeakRSS)/(1<<20), float64(v.PeakRSS)/(1<<20))
	f("| every record counted and every sampled trace found whole, after the last acknowledgement | at once | %.1f s |\n", v.SearchableAfter.Seconds())
	f("| on disk | %.1f B/record | %.1f B/record |\n", float64(r.DiskBytes)/float64(r.Sent), float64(v.DiskBytes)/float64(v.Sent))
	f("| logs of one trace ID, no time range (wrong counts) | %s (%d) | %s (%d) |\n", pcts(r.TraceLookups, 0.5, 0.99), r.TraceMismatches, pcts(v.TraceLookups, 0.5, 0.99), v.TraceMismatches)
	f("| single-word search, last hour, newest 100 | %s | %s |\n", pcts(allSearches(r.Searches), 0.5, 0.99), pcts(allSearches(v.Searches), 0.5, 0.99))
	f("| newest 100 records of the store | %s | %s |\n", pcts(r.Limit.Latencies, 0.5, 0.99), pcts(v.Limit.Latencies, 0.5, 0.99))
	f("| records per service over the last hour (counted / sent) | %s (%s / %s) | %s (%s / %s) |\n",
		pcts(r.CountByService.Latencies, 0.5, 0.99), thousands(r.CountByService.Got), thousands(r.CountByService.Want),
		pcts(v.CountByService.Latencies, 0.5, 0.99), thousands(v.CountByService.Got), thousands(v.CountByService.Want))
	f("\nLogsQL used: trace `%s`, search `%s`, newest `%s`, count `%s`.\n", fmt.Sprintf(vlTraceQuery, "<trace-id>"), fmt.Sprintf(vlSearchQuery, "<word>"), vlLimitQuery, vlCountQuery)
	if v.TraceMismatches > 0 || v.Limit.Wrong > 0 || v.CountByService.Wrong > 0 {
		f("\nVictoriaLogs answers that failed their check: trace lookups %d (first: %s); newest 100: %d (%s); count: %d (%s).\n",
			v.TraceMismatches, oneLine(v.TraceFirstError), v.Limit.Wrong, oneLine(v.Limit.FirstError), v.CountByService.Wrong, oneLine(v.CountByService.FirstError))
	}
}

// writeLogQLRow writes one LogQL table row: query, range, runs, latency,
// and the check, or every failure with the first error's text.
func writeLogQLRow(b *strings.Builder, query, rng string, r LogQLResult, check string) {
	c := fmt.Sprintf("%s: %s of %s", check, thousands(r.Got), thousands(r.Want))
	if r.Wrong > 0 {
		c = fmt.Sprintf("**%d of %d wrong or failed**; first: `%s`", r.Wrong, len(r.Latencies), oneLine(r.FirstError))
	}
	fmt.Fprintf(b, "| %s | %s | %d | %s | %s |\n", query, rng, len(r.Latencies), pcts(r.Latencies, 0.5, 0.99), c)
}

// writeStoreStatsRows writes the parts, merges, open files and RSS rows.
func writeStoreStatsRows(b *strings.Builder, st LogStoreStats) {
	levels := make([]string, 0, len(st.Parts))
	for l := range st.Parts {
		levels = append(levels, l)
	}
	slices.SortFunc(levels, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	var per []string
	for _, l := range levels {
		per = append(per, fmt.Sprintf("level %s: %.0f", l, st.Parts[l]))
	}
	fmt.Fprintf(b, "| parts (`sightline_logs_parts`) | %.0f (%s) |\n", st.PartsTotal, cmp.Or(strings.Join(per, ", "), "none"))
	fmt.Fprintf(b, "| heads flushed, merges done | %.0f flushed; %.0f merges, %.1f s, %s written |\n", st.Flushes, st.Merges, st.MergeSeconds, mib(int64(st.MergedBytes)))
	fmt.Fprintf(b, "| `sightline_logs_segment_bytes`, `sightline_logs_wal_bytes` | %s, %s |\n", mib(int64(st.SegmentBytes)), mib(int64(st.WALBytes)))
	fmt.Fprintf(b, "| open files (`process_open_fds`) | %.0f |\n| RSS (`process_resident_memory_bytes`) | %s |\n", st.OpenFDs, mib(int64(st.RSS)))
}

package harness

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sightline-dev/sightline/bench/workload"
)

// LogOptions configure the log benchmark (issue 3's workload): OTLP log
// ingest, on-disk size against raw OTLP-JSON, trace-ID lookups and
// single-word searches over the stored records.
type LogOptions struct {
	Sightline string // binary
	WorkDir   string // data goes under it
	Records   int    // records to send
	Senders   int    // concurrent OTLP/gRPC senders
	// RecordsPerRequest is the OTLP batch size.
	RecordsPerRequest int
	// MaxIngest bounds the ingest phase.
	MaxIngest time.Duration
	// TraceLookups and SearchRuns are the measured query counts.
	TraceLookups int
	SearchRuns   int
	// Words are the single-word searches, over the last hour.
	Words []string
	// HeadMaxAge is passed to Sightline so the last records reach a segment
	// soon after ingest ends.
	HeadMaxAge time.Duration
}

// DefaultLogOptions is the scale: 10 million records.
func DefaultLogOptions() LogOptions {
	return LogOptions{
		Records: 10_000_000, Senders: 4, RecordsPerRequest: 1000, MaxIngest: 10 * time.Minute,
		TraceLookups: 300, SearchRuns: 20, Words: []string{"deadlock", "refund", "timeout", "declined"},
		HeadMaxAge: 10 * time.Second,
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
	JSONBytesPerRecord float64 // raw OTLP-JSON, estimated from every 25th request
	DiskBytes          int64
	FlushWait          time.Duration
	TraceLookups       []time.Duration
	TraceMismatches    int
	Searches           map[string][]time.Duration
	SearchHits         map[string]int
}

// RunLogs runs the log benchmark once.
func RunLogs(ctx context.Context, o LogOptions, logf func(string, ...any)) (*LogReport, error) {
	r := &LogReport{Options: o, Started: time.Now(), Machine: describeMachine(), Searches: map[string][]time.Duration{}, SearchHits: map[string]int{}}
	dataDir := filepath.Join(o.WorkDir, "sightline-logs")
	p, err := startProcess(kindSightline, o.Sightline, dataDir, 30*24*time.Hour, "-logs.head.max-age", o.HeadMaxAge.String())
	if err != nil {
		return nil, err
	}
	defer p.kill()
	if err := p.waitReady(ctx, time.Minute); err != nil {
		return nil, err
	}
	client := newClient(30*time.Second, 4)
	if b, err := get(ctx, client, p.url("/api/v1/status/buildinfo")); err == nil {
		r.Version = strings.TrimSpace(string(b))
	}

	// Ingest.
	before, err := p.stat()
	if err != nil {
		return nil, err
	}
	var sent, jsonBytes, jsonRecords, retries atomic.Int64
	var mu sync.Mutex
	sampled := map[[16]byte]int{}
	ictx, cancel := context.WithTimeout(ctx, o.MaxIngest)
	defer cancel()
	per := o.Records / o.Senders
	errs := make(chan error, o.Senders)
	start := time.Now()
	var wg sync.WaitGroup
	for s := 0; s < o.Senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			exp := plogotlp.NewGRPCClient(conn)
			gen := workload.NewLogGenerator(workload.LogOptions{RecordsPerRequest: o.RecordsPerRequest, TracedPercent: 90}, uint64(s+1))
			for n, req := 0, 0; n < per; req++ {
				ld := gen.Request(time.Now())
				if req%25 == 0 {
					if b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld); err == nil {
						jsonBytes.Add(int64(len(b)))
						jsonRecords.Add(int64(ld.LogRecordCount()))
					}
				}
				req := plogotlp.NewExportRequestFromLogs(ld)
				if err := exportRetrying(ictx, func(ctx context.Context) error {
					_, err := exp.Export(ctx, req)
					return err
				}, &retries); err != nil {
					errs <- err
					return
				}
				n += ld.LogRecordCount()
				sent.Add(int64(ld.LogRecordCount()))
			}
			mu.Lock()
			for id, c := range gen.Sampled {
				sampled[id] += c
			}
			mu.Unlock()
		}(s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	r.IngestSeconds = time.Since(start).Seconds()
	r.Sent = sent.Load()
	r.Retries = retries.Load()
	r.RecordsPerSecond = float64(r.Sent) / r.IngestSeconds
	after, err := p.stat()
	if err != nil {
		return nil, err
	}
	r.CPUSeconds = after.CPUSeconds - before.CPUSeconds
	if jr := jsonRecords.Load(); jr > 0 {
		r.JSONBytesPerRecord = float64(jsonBytes.Load()) / float64(jr)
	}
	logf("logs: sent %d records in %.1fs (%.0f records/s)", r.Sent, r.IngestSeconds, r.RecordsPerSecond)

	// Wait until every record is in an indexed segment: the WAL is then
	// just the new, empty head's file.
	r.FlushWait, err = waitWAL(ctx, client, p, "sightline_logs_wal_bytes", 1<<20, o.HeadMaxAge+5*time.Minute)
	if err != nil {
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

	// Trace-ID lookups, no time range.
	n := 0
	for id, want := range sampled {
		if n >= o.TraceLookups {
			break
		}
		n++
		t0 := time.Now()
		b, err := get(ctx, client, p.url("/api/v1/logs/trace/"+hex.EncodeToString(id[:])))
		r.TraceLookups = append(r.TraceLookups, time.Since(t0))
		if err != nil {
			return nil, err
		}
		var res struct {
			Data struct {
				Records []json.RawMessage `json:"records"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &res); err != nil || len(res.Data.Records) != want {
			r.TraceMismatches++
		}
	}
	// Single-word searches over the last hour.
	for _, w := range o.Words {
		for i := 0; i < o.SearchRuns; i++ {
			now := time.Now()
			u := p.url("/api/v1/logs/search?" + url.Values{"query": {w}, "limit": {"100"},
				"start": {strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)}, "end": {strconv.FormatInt(now.Unix(), 10)}}.Encode())
			t0 := time.Now()
			b, err := get(ctx, client, u)
			r.Searches[w] = append(r.Searches[w], time.Since(t0))
			if err != nil {
				return nil, err
			}
			var res struct {
				Data struct {
					Records []json.RawMessage `json:"records"`
				} `json:"data"`
			}
			if err := json.Unmarshal(b, &res); err == nil {
				r.SearchHits[w] = len(res.Data.Records)
			}
		}
	}
	if err := p.stop(time.Minute); err != nil {
		return nil, err
	}
	return r, nil
}

// WriteLogReport writes <dir>/<name>.md.
func WriteLogReport(r *LogReport, dir, name string) (string, error) {
	var b strings.Builder
	o := r.Options
	fmt.Fprintf(&b, "# Sightline log benchmark: %s\n\nRun on %s UTC by `bench/cmd/logbench` (issue 3's workload).\n\n", name, r.Started.UTC().Format("2006-01-02 15:04"))
	r.Machine.writeTable(&b, r.Version)
	fmt.Fprintf(&b, "## Reproduce\n\n```sh\nmake bench-logs   # = make build, then:\ngo run ./bench/cmd/logbench -sightline bin/sightline -out bench/results -name %s -records %d\n```\n\n", name, o.Records)
	fmt.Fprintf(&b, "## Load\n\n%d log records over OTLP/gRPC from %d concurrent senders, %d records per request, 12 services, 12 message templates of 120–220 bytes with random fills, INFO/DEBUG/WARN/ERROR, 3 attributes per record, 90%% with a trace ID (1–8 records per trace). The sender runs on the same 2 cores as Sightline and builds every request fresh (pdata), so the rate below includes its cost.\n\n", r.Sent, o.Senders, o.RecordsPerRequest)
	p := func(ds []time.Duration, q float64) string {
		return fmt.Sprintf("%.1f ms", float64(percentile(ds, q).Microseconds())/1000)
	}
	fmt.Fprintf(&b, "## Results\n\n| measure | value | goal | met? |\n|---|---|---|---|\n")
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	fmt.Fprintf(&b, "| sustained OTLP ingest | %.0f records/s (%d records in %.1f s, %.1f CPU s of the server, %d requests retried after backpressure) | ≥ 100,000 records/s | %s |\n", r.RecordsPerSecond, r.Sent, r.IngestSeconds, r.CPUSeconds, r.Retries, yes(r.RecordsPerSecond >= 100_000))
	raw := r.JSONBytesPerRecord * float64(r.Sent)
	fmt.Fprintf(&b, "| on disk | %.1f MiB = %.1f B/record; raw OTLP-JSON %.0f B/record ⇒ ratio 1/%.1f | ≤ 1/10 | %s |\n", float64(r.DiskBytes)/(1<<20), float64(r.DiskBytes)/float64(r.Sent), r.JSONBytesPerRecord, raw/float64(r.DiskBytes), yes(raw/float64(r.DiskBytes) >= 10))
	fmt.Fprintf(&b, "| logs of one trace ID, no time range (%d lookups, %d wrong counts) | p50 %s, p90 %s, p99 %s | p99 ≤ 50 ms | %s |\n", len(r.TraceLookups), r.TraceMismatches, p(r.TraceLookups, 0.5), p(r.TraceLookups, 0.9), p(r.TraceLookups, 0.99), yes(percentile(r.TraceLookups, 0.99) <= 50*time.Millisecond && r.TraceMismatches == 0))
	var all []time.Duration
	for _, w := range o.Words {
		ds := r.Searches[w]
		all = append(all, ds...)
		fmt.Fprintf(&b, "| search `%s`, last hour, limit 100 (%d hits) | p50 %s, p99 %s | | |\n", w, r.SearchHits[w], p(ds, 0.5), p(ds, 0.99))
	}
	fmt.Fprintf(&b, "| single-word search, all words | p50 %s, p99 %s | p99 ≤ 500 ms | %s |\n", p(all, 0.5), p(all, 0.99), yes(percentile(all, 0.99) <= 500*time.Millisecond))
	fmt.Fprintf(&b, "| peak RSS of the server | %.0f MiB | | |\n| wait for the last flush after ingest | %.1f s | | |\n", float64(r.PeakRSS)/(1<<20), r.FlushWait.Seconds())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".md")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/sightline-dev/sightline/bench/workload"
)

// SoakOptions configure the soak (issue 16): one Sightline under a steady
// load of all three signals at once, for Duration, with heads flushed far
// more often than by default, so that an hour stands in for days of flushes
// and merges. Every SampleEvery the harness reads, per signal, the parts on
// disk, the bytes on disk and the latency of one fixed query, and of the
// process its open files, memory and goroutines. What grows with time shows
// in the curves.
type SoakOptions struct {
	Sightline string // binary
	WorkDir   string // data goes under it
	// Duration of the load; SampleEvery the sampling period.
	Duration, SampleEvery time.Duration
	// LogRate and SpanRate are records and spans sent per second, in ten
	// requests a second each.
	LogRate, SpanRate int
	// MetricSeries active series get one sample every MetricInterval, by
	// remote_write.
	MetricSeries   int
	MetricInterval time.Duration
	// HeadMaxAge is passed to Sightline as -logs.head.max-age and
	// -traces.head.max-age.
	HeadMaxAge time.Duration
	Seed       uint64
	// Command is the command line shown in the report.
	Command string
}

// DefaultSoakOptions are the benchmark's: an hour at 5,000 records, 3,000
// spans and 10,000 × 1/15 s samples per second, heads flushed every 10 s
// (360 flushes per signal, a week's worth at the default 2 m heads... of a
// quiet store; a busy one flushes on size sooner).
func DefaultSoakOptions() SoakOptions {
	return SoakOptions{
		Duration: time.Hour, SampleEvery: time.Minute,
		LogRate: 5000, SpanRate: 3000, MetricSeries: 10_000, MetricInterval: 15 * time.Second,
		HeadMaxAge: 10 * time.Second, Seed: 1,
	}
}

// SoakSample is one look at the server during the soak.
type SoakSample struct {
	Elapsed time.Duration
	// Acknowledged so far, per signal.
	Records, Spans, Samples int64
	// The process: Go's process collector and runtime metrics.
	RSS, OpenFDs, Goroutines float64
	// Parts on disk: log and trace segments (all merge levels), TSDB blocks.
	LogParts, TraceParts, MetricBlocks float64
	// Bytes on disk of each signal's directory.
	LogBytes, TraceBytes, MetricBytes int64
	// The fixed queries' latencies: LogQL count over the last minute,
	// TraceQL search of error traces over the last 5 minutes, PromQL rate
	// over the last minute. Zero when the query failed (counted in
	// SoakReport.QueryErrors).
	LogQuery, TraceQuery, MetricQuery time.Duration
}

// SoakReport is what one soak measured.
type SoakReport struct {
	Options SoakOptions
	Started time.Time
	Took    time.Duration
	Machine Machine
	Version string
	Samples []SoakSample
	// Sent and Refused per signal ("logs", "traces", "metrics"): what was
	// acknowledged and what was refused (429 or other errors) over the run.
	Sent, Refused map[string]int64
	FirstRefusal  map[string]string `json:",omitempty"`
	// QueryErrors counts fixed queries that failed, by signal, with the
	// first error of each.
	QueryErrors     map[string]int
	FirstQueryError map[string]string `json:",omitempty"`
}

// The fixed queries, one per signal.
const (
	soakLogQuery    = `sum(count_over_time({service_name=~".+"}[1m]))`
	soakTraceQuery  = `{ status = error }`
	soakMetricQuery = `sum(rate(http_requests_total[1m]))`
)

// RunSoak runs the soak once.
func RunSoak(ctx context.Context, o SoakOptions, logf func(string, ...any)) (*SoakReport, error) {
	if o.Duration <= 0 || o.SampleEvery <= 0 || o.LogRate < 10 || o.SpanRate < 10 || o.MetricSeries < workload.SeriesPerInstance || o.MetricInterval < time.Second {
		return nil, errors.New("soak: duration and sampling must be positive, rates at least 10/s, series at least 100, interval at least 1s")
	}
	r := &SoakReport{Options: o, Started: time.Now(), Machine: describeMachine(),
		Sent: map[string]int64{}, Refused: map[string]int64{}, FirstRefusal: map[string]string{}, QueryErrors: map[string]int{}, FirstQueryError: map[string]string{}}
	dataDir := filepath.Join(o.WorkDir, "sightline-soak")
	p, err := startSightline(ctx, o.Sightline, dataDir, "-logs.head.max-age", o.HeadMaxAge.String(),
		"-traces.head.max-age", o.HeadMaxAge.String(), "-logs.retention", "30d", "-traces.retention", "30d")
	if err != nil {
		return nil, err
	}
	defer p.kill()
	client := newClient(time.Minute, 4)
	defer client.CloseIdleConnections()
	r.Version = sightlineVersion(ctx, p)

	// The metrics are generated up front (a pre-encoded request per
	// instance batch and interval) with timestamps that follow the wall
	// clock: interval k is sent k intervals after the start.
	intervals := int(o.Duration/o.MetricInterval) + 1
	start := time.Now()
	ds, err := workload.Generate(workload.Options{
		Series: o.MetricSeries, Interval: o.MetricInterval, Intervals: intervals,
		End: start.Add(time.Duration(intervals-1) * o.MetricInterval), Jobs: 4,
		InstancesPerRequest: 10, Shards: 1, Seed: o.Seed,
	})
	if err != nil {
		return nil, err
	}

	var records, spans, samples atomic.Int64
	var refusedMu sync.Mutex
	refuse := func(signal string, err error) {
		refusedMu.Lock()
		defer refusedMu.Unlock()
		if r.Refused[signal]++; r.FirstRefusal[signal] == "" {
			r.FirstRefusal[signal] = err.Error()
		}
	}
	lctx, stopLoad := context.WithTimeout(ctx, o.Duration)
	defer stopLoad()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && lctx.Err() == nil {
				errs <- err
				stopLoad()
			}
		}()
	}
	logf("soak: %s of %d records/s, %d spans/s and %d series every %s; heads flushed every %s",
		o.Duration, o.LogRate, o.SpanRate, o.MetricSeries, o.MetricInterval, o.HeadMaxAge)
	run(func() error { return soakLogs(lctx, p, o, &records, refuse) })
	run(func() error { return soakTraces(lctx, p, o, &spans, refuse) })
	run(func() error { return soakMetrics(lctx, client, p, ds, start, &samples, refuse) })

	tenantDir := filepath.Join(dataDir, "tenants", "default")
	sample := func() {
		s := SoakSample{Elapsed: time.Since(start), Records: records.Load(), Spans: spans.Load(), Samples: samples.Load()}
		if err := soakScrape(ctx, client, p, &s); err != nil {
			logf("soak: scrape: %v", err)
			return
		}
		for dir, b := range map[string]*int64{"logs": &s.LogBytes, "traces": &s.TraceBytes, "metrics": &s.MetricBytes} {
			if du, err := diskUsage(filepath.Join(tenantDir, dir)); err == nil {
				*b = du.Allocated
			}
		}
		now := time.Now()
		for _, q := range []struct {
			signal string
			url    string
			took   *time.Duration
		}{
			{"logs", p.url("/loki/api/v1/query?" + url.Values{"query": {soakLogQuery}, "time": {nsParam(now)}}.Encode()), &s.LogQuery},
			{"traces", p.url("/api/search?" + url.Values{"q": {soakTraceQuery}, "limit": {"20"},
				"start": {fmt.Sprint(now.Add(-5 * time.Minute).Unix())}, "end": {fmt.Sprint(now.Unix() + 1)}}.Encode()), &s.TraceQuery},
			{"metrics", p.url("/api/v1/query?" + url.Values{"query": {soakMetricQuery}, "time": {fmt.Sprint(now.Unix())}}.Encode()), &s.MetricQuery},
		} {
			began := time.Now()
			body, err := get(ctx, client, q.url)
			if err == nil && !soakAnswered(body) {
				err = fmt.Errorf("empty answer: %.200s", body)
			}
			if err != nil {
				if r.QueryErrors[q.signal]++; r.FirstQueryError[q.signal] == "" {
					r.FirstQueryError[q.signal] = err.Error()
				}
				continue
			}
			*q.took = time.Since(began)
		}
		r.Samples = append(r.Samples, s)
		logf("soak: %s: %d records, %d spans, %d samples; parts logs %.0f traces %.0f, blocks %.0f; %.0f open files, %.0f goroutines, RSS %s; queries %s / %s / %s",
			s.Elapsed.Round(time.Second), s.Records, s.Spans, s.Samples, s.LogParts, s.TraceParts, s.MetricBlocks,
			s.OpenFDs, s.Goroutines, mib(int64(s.RSS)), s.LogQuery.Round(time.Millisecond), s.TraceQuery.Round(time.Millisecond), s.MetricQuery.Round(time.Millisecond))
	}
	tick := time.NewTicker(o.SampleEvery)
	defer tick.Stop()
loop:
	for {
		select {
		case <-lctx.Done():
			break loop
		case <-tick.C:
			sample()
		}
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, fmt.Errorf("soak: %w", err)
	default:
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	sample() // the end state, after the last requests
	r.Sent["logs"], r.Sent["traces"], r.Sent["metrics"] = records.Load(), spans.Load(), samples.Load()
	r.Took = time.Since(r.Started)
	return r, nil
}

// soakAnswered says whether a query answer holds data: a non-empty
// Prometheus/Loki result or Tempo traces.
func soakAnswered(body []byte) bool {
	var v struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
		Traces []json.RawMessage `json:"traces"`
	}
	return json.Unmarshal(body, &v) == nil && len(v.Data.Result)+len(v.Traces) > 0
}

// soakScrape reads the process' and the stores' figures from /metrics.
func soakScrape(ctx context.Context, client *http.Client, p *process, s *SoakSample) error {
	ss, err := scrapeSamples(ctx, client, p.url("/metrics"))
	if err != nil {
		return err
	}
	c := func(name string) float64 { return sumSamples(ss, counterSpec{name: name}) }
	s.RSS, s.OpenFDs, s.Goroutines = c("process_resident_memory_bytes"), c("process_open_fds"), c("go_goroutines")
	s.LogParts, s.TraceParts = c("sightline_logs_parts"), c("sightline_traces_parts")
	s.MetricBlocks = c("prometheus_tsdb_blocks_loaded")
	return nil
}

// paced calls send ten times a second until ctx ends; n is what one call
// should carry for the rate to hold. A request in flight when ctx ends
// completes: its context is reqCtx's, not ctx.
func paced(ctx context.Context, rate int, send func(n int) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := send(rate / 10); err != nil {
			return err
		}
	}
}

// reqCtx is the context of one request of the load: not cancelled when
// the load's ctx ends, so the last requests complete, but bounded.
func reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
}

func soakLogs(ctx context.Context, p *process, o SoakOptions, acked *atomic.Int64, refuse func(string, error)) error {
	send, closeSend, err := dialLogSender(p)
	if err != nil {
		return err
	}
	defer closeSend()
	gen := workload.NewLogGenerator(workload.LogOptions{RecordsPerRequest: max(1, o.LogRate/10), TracedPercent: 90}, o.Seed)
	var buf []byte
	return paced(ctx, o.LogRate, func(n int) error {
		buf = gen.RequestProto(time.Now(), n, buf[:0])
		rctx, cancel := reqCtx(ctx)
		defer cancel()
		if err := send(rctx, buf); err != nil {
			refuse("logs", err)
			return nil
		}
		acked.Add(int64(n))
		return nil
	})
}

func soakTraces(ctx context.Context, p *process, o SoakOptions, acked *atomic.Int64, refuse func(string, error)) error {
	conn, err := dialOTLP(p.grpcAddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	exp := ptraceotlp.NewGRPCClient(conn)
	gen := workload.NewTraceGenerator(workload.TraceOptions{Shape: workload.TraceShapeRealistic, SpansPerRequest: max(1, o.SpanRate/10),
		ChildSpans: 1, Seed: o.Seed}, o.Seed)
	return paced(ctx, o.SpanRate, func(n int) error {
		td := gen.RequestMax(time.Now(), n)
		rctx, cancel := reqCtx(ctx)
		defer cancel()
		if _, err := exp.Export(rctx, ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
			refuse("traces", err)
			return nil
		}
		acked.Add(int64(td.SpanCount()))
		return nil
	})
}

func soakMetrics(ctx context.Context, client *http.Client, p *process, ds *workload.Dataset, start time.Time, acked *atomic.Int64, refuse func(string, error)) error {
	send := remoteWriteSender(client, p.url("/api/v1/write"))
	reqs := ds.Shards[0]
	for i := 0; i < len(reqs); {
		k := reqs[i].Interval
		if err := sleepCtx(ctx, time.Until(start.Add(time.Duration(k)*ds.Options.Interval))); err != nil {
			return nil
		}
		for ; i < len(reqs) && reqs[i].Interval == k; i++ {
			rctx, cancel := reqCtx(ctx)
			_, err := send(rctx, reqs[i].RW)
			cancel()
			if err != nil {
				refuse("metrics", err)
				continue
			}
			acked.Add(int64(reqs[i].Samples))
		}
	}
	return nil
}

// SoakGrowth compares the end of the run with its first quarter for each
// figure that must stay bounded: the ratio of the last sample to the
// highest of the first quarter (after the first sample). A store whose
// parts or files grow with time has ratios far above 1 by the end.
func (r *SoakReport) SoakGrowth() map[string]float64 {
	out := map[string]float64{}
	if len(r.Samples) < 5 {
		return out
	}
	quarter := r.Samples[1 : 1+len(r.Samples)/4]
	end := r.Samples[len(r.Samples)-1]
	for name, v := range soakBounded {
		top := 0.0
		for _, s := range quarter {
			top = max(top, v(s))
		}
		if top > 0 {
			out[name] = v(end) / top
		}
	}
	return out
}

// soakBounded are the figures that must not grow with time under a steady
// load (bytes on disk do, until retention).
var soakBounded = map[string]func(SoakSample) float64{
	"log parts":     func(s SoakSample) float64 { return s.LogParts },
	"trace parts":   func(s SoakSample) float64 { return s.TraceParts },
	"metric blocks": func(s SoakSample) float64 { return max(s.MetricBlocks, 1) },
	"open files":    func(s SoakSample) float64 { return s.OpenFDs },
	"goroutines":    func(s SoakSample) float64 { return s.Goroutines },
	"RSS":           func(s SoakSample) float64 { return s.RSS },
}

// WriteSoakReport writes name.md, name.json and the plots into dir.
func WriteSoakReport(r *SoakReport, dir, name string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	x := func(s SoakSample) float64 { return s.Elapsed.Minutes() }
	line := func(label string, v func(SoakSample) float64, c int) plotSeries {
		pts := make(plotter.XYs, len(r.Samples))
		for i, s := range r.Samples {
			pts[i].X, pts[i].Y = x(s), v(s)
		}
		return plotSeries{name: label, pts: pts, color: soakColors[c]}
	}
	plots := []struct {
		file, title, y string
		series         []plotSeries
	}{
		{name + "-parts.png", "Parts on disk", "parts / blocks", []plotSeries{
			line("log segments", func(s SoakSample) float64 { return s.LogParts }, 0),
			line("trace segments", func(s SoakSample) float64 { return s.TraceParts }, 1),
			line("TSDB blocks", func(s SoakSample) float64 { return s.MetricBlocks }, 2)}},
		{name + "-process.png", "Process", "count", []plotSeries{
			line("open files", func(s SoakSample) float64 { return s.OpenFDs }, 0),
			line("goroutines", func(s SoakSample) float64 { return s.Goroutines }, 1)}},
		{name + "-rss.png", "Resident memory", "MiB", []plotSeries{
			line("RSS", func(s SoakSample) float64 { return s.RSS / (1 << 20) }, 0)}},
		{name + "-disk.png", "Bytes on disk", "MiB", []plotSeries{
			line("logs", func(s SoakSample) float64 { return float64(s.LogBytes) / (1 << 20) }, 0),
			line("traces", func(s SoakSample) float64 { return float64(s.TraceBytes) / (1 << 20) }, 1),
			line("metrics", func(s SoakSample) float64 { return float64(s.MetricBytes) / (1 << 20) }, 2)}},
		{name + "-queries.png", "Latency of the fixed query per signal", "ms", []plotSeries{
			line("logs (LogQL count, 1m)", func(s SoakSample) float64 { return millis(s.LogQuery) }, 0),
			line("traces (TraceQL errors, 5m)", func(s SoakSample) float64 { return millis(s.TraceQuery) }, 1),
			line("metrics (PromQL rate, 1m)", func(s SoakSample) float64 { return millis(s.MetricQuery) }, 2)}},
	}
	var written []string
	for _, pl := range plots {
		f := filepath.Join(dir, pl.file)
		if err := plotLines(pl.title, "minutes", pl.y, pl.series, 8*vg.Inch, f); err != nil {
			return written, err
		}
		written = append(written, f)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return written, err
	}
	for file, b := range map[string][]byte{name + ".json": js, name + ".md": []byte(soakMarkdown(r, name))} {
		f := filepath.Join(dir, file)
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return written, err
		}
		written = append(written, f)
	}
	return written, nil
}

// soakColors tell the series of one plot apart.
var soakColors = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xe6, G: 0x55, B: 0x22, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func soakMarkdown(r *SoakReport, name string) string {
	var b strings.Builder
	o := r.Options
	fmt.Fprintf(&b, "# Soak: all three signals for %s\n\n", o.Duration)
	r.Machine.writeTable(&b, r.Version)
	fmt.Fprintf(&b, "Started %s, took %s. Command: `%s`.\n\n", r.Started.UTC().Format(time.RFC3339), r.Took.Round(time.Second), o.Command)
	fmt.Fprintf(&b, "A steady load of %s records/s (OTLP gRPC), %s spans/s (OTLP gRPC, realistic traces, span metrics on) and %s series sampled every %s (remote_write), with log and trace heads flushed every %s; a sample every %s.\n\n",
		thousands(o.LogRate), thousands(o.SpanRate), thousands(o.MetricSeries), o.MetricInterval, o.HeadMaxAge, o.SampleEvery)
	fmt.Fprintf(&b, "| signal | acknowledged | refused requests | failed fixed queries |\n|---|---|---|---|\n")
	for _, sig := range []string{"logs", "traces", "metrics"} {
		fmt.Fprintf(&b, "| %s | %s | %d | %d |\n", sig, thousands(r.Sent[sig]), r.Refused[sig], r.QueryErrors[sig])
	}
	for _, sig := range []string{"logs", "traces", "metrics"} {
		if e := r.FirstRefusal[sig]; e != "" {
			fmt.Fprintf(&b, "\nFirst refused %s request: `%s`\n", sig, e)
		}
		if e := r.FirstQueryError[sig]; e != "" {
			fmt.Fprintf(&b, "\nFirst failed %s query: `%s`\n", sig, e)
		}
	}
	if n := len(r.Samples); n > 0 {
		fmt.Fprintf(&b, "\n## Over time\n\n| minute | log parts | trace parts | TSDB blocks | open files | goroutines | RSS | logs on disk | traces on disk | metrics on disk | LogQL | TraceQL | PromQL |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		step := max(1, n/12)
		for i := 0; i < n; i += step {
			soakRow(&b, r.Samples[i])
		}
		if (n-1)%step != 0 {
			soakRow(&b, r.Samples[n-1])
		}
	}
	if g := r.SoakGrowth(); len(g) > 0 {
		fmt.Fprintf(&b, "\n## Bounded?\n\nThe last sample against the highest of the first quarter (1.0: no growth):\n\n| figure | end / first quarter |\n|---|---|\n")
		keys := make([]string, 0, len(g))
		for k := range g {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "| %s | %.2f |\n", k, g[k])
		}
	}
	fmt.Fprintf(&b, "\n![parts](%[1]s-parts.png)\n![process](%[1]s-process.png)\n![rss](%[1]s-rss.png)\n![disk](%[1]s-disk.png)\n![queries](%[1]s-queries.png)\n", name)
	return b.String()
}

func soakRow(b *strings.Builder, s SoakSample) {
	fmt.Fprintf(b, "| %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s |\n",
		s.Elapsed.Minutes(), s.LogParts, s.TraceParts, s.MetricBlocks, s.OpenFDs, s.Goroutines, mib(int64(s.RSS)),
		mib(s.LogBytes), mib(s.TraceBytes), mib(s.MetricBytes),
		s.LogQuery.Round(time.Millisecond), s.TraceQuery.Round(time.Millisecond), s.MetricQuery.Round(time.Millisecond))
}

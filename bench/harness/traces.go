package harness

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/sightline-dev/sightline/bench/workload"
)

// TraceOptions configure the trace benchmark: OTLP span ingest with span
// metrics on, bytes per span on disk, trace-by-ID and correlate latencies
// over everything stored, a TraceQL search; then a second, shorter run in
// telemetrygen's shape for bytes per span.
type TraceOptions struct {
	Sightline string // binary
	WorkDir   string // data goes under it
	// Spans is the size of the realistic run; TelemetrygenSpans of the
	// telemetrygen-shaped one (0 skips it).
	Spans, TelemetrygenSpans int
	// Senders are concurrent OTLP/gRPC senders, each with its own
	// connection and generator.
	Senders int
	// SpansPerRequest bounds one OTLP request (whole traces).
	SpansPerRequest int
	// MaxIngest bounds each ingest phase.
	MaxIngest time.Duration
	// TraceLookups and CorrelateLookups are the measured calls, each for a
	// different sent trace; SearchRuns the runs of the TraceQL search.
	TraceLookups, CorrelateLookups, SearchRuns int
	// SearchService is the service of the TraceQL searches
	// `{ resource.service.name = "<svc>" }` and
	// `{ resource.service.name = "<svc>" && status = error }`; SearchLimit
	// their limit (traces).
	SearchService string
	SearchLimit   int
	// HeadMaxAge and HeadMaxSpans are passed to Sightline
	// (-traces.head.max-age, -traces.head.max-spans; 0: its default), so
	// that the last spans reach a segment soon after ingest ends.
	HeadMaxAge   time.Duration
	HeadMaxSpans int
	// SettleQuiet is how long Sightline's merges (Jaeger's compactions)
	// must have been still before the disk is measured and the queries
	// run.
	SettleQuiet time.Duration
	// SpanMetricsInterval is passed as -spanmetrics.flush-interval; 0
	// keeps Sightline's default (15 s).
	SpanMetricsInterval time.Duration
	// Seed makes the load and the choice of looked-up traces reproducible.
	Seed uint64
	// Jaeger is the binary of the traces peer (issue 16): when set, the
	// realistic load and the equivalent queries are run against it after
	// Sightline, and the report puts both side by side.
	Jaeger string
	// Command is the command line shown in the report.
	Command string
}

// DefaultTraceOptions is the goal's scale: 10 million spans, then 2
// million in telemetrygen's shape.
func DefaultTraceOptions() TraceOptions {
	return TraceOptions{
		Spans: 10_000_000, TelemetrygenSpans: 2_000_000, Senders: 4, SpansPerRequest: 1000,
		MaxIngest: 20 * time.Minute, TraceLookups: 300, CorrelateLookups: 300, SearchRuns: 20,
		SearchService: workload.SearchService, SearchLimit: 20, HeadMaxAge: 10 * time.Second, SettleQuiet: 5 * time.Second, Seed: 1,
	}
}

// TraceIngest is one ingest run and the store it left.
type TraceIngest struct {
	Shape string
	// Spans, Traces and ErrorSpans were sent and acknowledged, in Requests.
	Spans, Traces, ErrorSpans, Requests int64
	// Retries are requests refused with ResourceExhausted and sent again.
	Retries int64
	// ProtoBytesPerSpan is the OTLP protobuf size, from every 25th request.
	ProtoBytesPerSpan float64
	IngestSeconds     float64
	SpansPerSecond    float64
	// ServerCPUSeconds is Sightline's CPU time during ingest;
	// SenderCPUSeconds the harness' own (it generates the load on the same
	// CPUs).
	ServerCPUSeconds, SenderCPUSeconds float64
	PeakRSS                            int64
	// Appended and Rejected are Sightline's own counters
	// (sightline_traces_spans_{appended,rejected}_total).
	Appended, Rejected float64
	// FlushWait is from the end of ingest until the WAL was empty.
	FlushWait time.Duration
	// TraceStore is <data>/tenants/default/traces; DataDir everything,
	// with the span metrics and service graph series in the metrics TSDB.
	TraceStore, DataDir DiskUsage
	// SegmentBytes is sightline_traces_segment_bytes.
	SegmentBytes float64
	// SpanMetricSpans and SpanMetricSeries are what the span metrics and
	// service graph generator counted (sightline_spanmetrics_spans_total)
	// and keeps (sightline_spanmetrics_series). SpanMetricsFlushed says
	// whether it wrote its series after ingest ended, before DataDir was
	// measured.
	SpanMetricSpans, SpanMetricSeries float64
	SpanMetricsFlushed                bool
}

// BytesPerSpan is the trace store's size on disk per span.
func (in *TraceIngest) BytesPerSpan() float64 {
	if in == nil || in.Spans == 0 {
		return 0
	}
	return float64(in.TraceStore.Allocated) / float64(in.Spans)
}

// LookupResult is one kind of measured query.
type LookupResult struct {
	Latencies []time.Duration
	// Wrong counts answers that failed or had the wrong span count.
	Wrong      int
	FirstError string `json:",omitempty"`
	// Hits is the number of traces a search found (last run).
	Hits int `json:",omitempty"`
}

func (l *LookupResult) fail(err error) {
	l.Wrong++
	if l.FirstError == "" {
		l.FirstError = err.Error()
	}
}

// TraceReport is what one trace benchmark run measured.
type TraceReport struct {
	Options      TraceOptions
	Started      time.Time
	Took         time.Duration
	Machine      Machine
	Version      string
	Realistic    TraceIngest
	Telemetrygen *TraceIngest `json:",omitempty"`
	// ByID is GET /api/traces/<id>, Correlate GET /api/v1/correlate/<id>,
	// Search the TraceQL search SearchQuery (a service's failing spans)
	// over the last hour, ServiceSearch ServiceQuery (a service's spans),
	// Metrics the TraceQL metrics query MetricsQuery over the last hour
	// (Grafana's Traces Drilldown draws it first).
	ByID, Correlate, Search, ServiceSearch, Metrics LookupResult
	SearchQuery, ServiceQuery, MetricsQuery         string
	// MetricsSpans is the spans the last metrics query counted (the sum
	// of its rates over every step).
	MetricsSpans float64
	// Jaeger is the peer's run on the realistic load; nil without a peer.
	Jaeger *TracePeerReport `json:",omitempty"`
}

// RunTraces runs the trace benchmark once.
func RunTraces(ctx context.Context, o TraceOptions, logf func(string, ...any)) (*TraceReport, error) {
	if o.Senders < 1 || o.Spans < 1 {
		return nil, errors.New("need at least one sender and one span")
	}
	r := &TraceReport{Options: o, Started: time.Now(), Machine: describeMachine(),
		SearchQuery:  fmt.Sprintf(`{ resource.service.name = %q && status = error }`, o.SearchService),
		ServiceQuery: fmt.Sprintf(`{ resource.service.name = %q }`, o.SearchService),
		MetricsQuery: `{} | rate() by (resource.service.name)`}

	p, dataDir, err := startTraceServer(ctx, o, "sightline-traces")
	if err != nil {
		return nil, err
	}
	defer p.kill()
	r.Version = sightlineVersion(ctx, p)
	client := newClient(30*time.Second, 4)
	defer client.CloseIdleConnections()
	sampled, err := ingestTraces(ctx, o, p, client, dataDir, workload.TraceShapeRealistic, o.Spans, &r.Realistic, logf)
	if err != nil {
		return nil, err
	}

	// Different traces for each kind of lookup, in an order that does not
	// depend on which sender finished first.
	slices.SortFunc(sampled, func(a, b workload.SampledTrace) int { return slices.Compare(a.ID[:], b.ID[:]) })
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	rng.Shuffle(len(sampled), func(i, j int) { sampled[i], sampled[j] = sampled[j], sampled[i] })
	pick := func(from, n int) []workload.SampledTrace {
		out := make([]workload.SampledTrace, 0, n)
		for i := 0; i < n && len(sampled) > 0; i++ {
			out = append(out, sampled[(from+i)%len(sampled)])
		}
		return out
	}
	logf("traces: %d trace-by-ID lookups", o.TraceLookups)
	byID := pick(0, o.TraceLookups)
	if err := lookupTraces(ctx, client, p, byID, &r.ByID); err != nil {
		return nil, err
	}
	logf("traces: %d correlate calls", o.CorrelateLookups)
	if err := correlateTraces(ctx, client, p, pick(o.TraceLookups, o.CorrelateLookups), &r.Correlate); err != nil {
		return nil, err
	}
	for _, s := range []struct {
		q   string
		res *LookupResult
	}{{r.SearchQuery, &r.Search}, {r.ServiceQuery, &r.ServiceSearch}} {
		logf("traces: %d runs of %s", o.SearchRuns, s.q)
		if err := searchTraces(ctx, client, p, s.q, o.SearchLimit, o.SearchRuns, s.res); err != nil {
			return nil, err
		}
	}
	logf("traces: %d runs of %s", o.SearchRuns, r.MetricsQuery)
	if err := traceMetrics(ctx, client, p, r.MetricsQuery, o.SearchRuns, &r.Metrics, &r.MetricsSpans); err != nil {
		return nil, err
	}
	if st, err := p.stat(); err == nil {
		r.Realistic.PeakRSS = st.PeakRSS
	}
	if err := p.stop(time.Minute); err != nil {
		return nil, err
	}

	if o.TelemetrygenSpans > 0 {
		tg := &TraceIngest{}
		p, dataDir, err := startTraceServer(ctx, o, "sightline-telemetrygen")
		if err != nil {
			return nil, err
		}
		defer p.kill()
		if _, err := ingestTraces(ctx, o, p, client, dataDir, workload.TraceShapeTelemetrygen, o.TelemetrygenSpans, tg, logf); err != nil {
			return nil, err
		}
		if st, err := p.stat(); err == nil {
			tg.PeakRSS = st.PeakRSS
		}
		if err := p.stop(time.Minute); err != nil {
			return nil, err
		}
		r.Telemetrygen = tg
	}
	if o.Jaeger != "" {
		// The same traces are looked up; the readiness check reads others
		// (the first of the correlate calls), so that the lookups are not
		// warmed by it.
		if r.Jaeger, err = runJaeger(ctx, o, byID, pick(o.TraceLookups, 20), logf); err != nil {
			return nil, err
		}
	}
	r.Took = time.Since(r.Started)
	return r, nil
}

// startTraceServer starts Sightline on an empty data directory under
// o.WorkDir and waits until it is ready.
func startTraceServer(ctx context.Context, o TraceOptions, name string) (*process, string, error) {
	dataDir := filepath.Join(o.WorkDir, name)
	flags := []string{"-traces.head.max-age", o.HeadMaxAge.String()}
	if o.HeadMaxSpans > 0 {
		flags = append(flags, "-traces.head.max-spans", strconv.Itoa(o.HeadMaxSpans))
	}
	if o.SpanMetricsInterval > 0 {
		flags = append(flags, "-spanmetrics.flush-interval", o.SpanMetricsInterval.String())
	}
	p, err := startSightline(ctx, o.Sightline, dataDir, flags...)
	return p, dataDir, err
}

// ingestTraces sends spans of shape to Sightline p from o.Senders senders,
// waits until every span is in a segment and measures the store. It
// returns the traces the generators sampled for lookups.
func ingestTraces(ctx context.Context, o TraceOptions, p *process, client *http.Client, dataDir string, shape workload.TraceShape,
	spans int, in *TraceIngest, logf func(string, ...any)) ([]workload.SampledTrace, error) {
	sampled, err := sendTraces(ctx, o, p, traceLoad{shape: shape, spans: spans}, in, logf)
	if err != nil {
		return nil, err
	}
	metrics := p.url("/metrics")
	if in.Appended, err = scrapeCounters(ctx, client, metrics, []counterSpec{{name: "sightline_traces_spans_appended_total"}}); err != nil {
		return nil, err
	}
	if in.Rejected, err = scrapeCounters(ctx, client, metrics, []counterSpec{{name: "sightline_traces_spans_rejected_total"}}); err != nil {
		return nil, err
	}
	flushes, err := scrapeCounters(ctx, client, metrics, []counterSpec{{name: "sightline_spanmetrics_flush_duration_seconds_count"}})
	if err != nil {
		return nil, err
	}
	logf("traces: sent %d spans in %.1fs (%.0f spans/s, %d requests retried); Sightline appended %.0f, rejected %.0f",
		in.Spans, in.IngestSeconds, in.SpansPerSecond, in.Retries, in.Appended, in.Rejected)

	// Every span is in a segment once the WAL is empty: a head's WAL files
	// go when it has been written, and nothing is appended any more.
	in.FlushWait, err = waitWAL(ctx, client, p, "sightline_traces_wal_bytes", 0, o.HeadMaxAge+5*time.Minute)
	if err != nil {
		return nil, err
	}
	logf("traces: last flush %.1fs after ingest", in.FlushWait.Seconds())
	// The data directory is measured once the span metrics have been
	// written after the last span.
	flushed := func() (float64, error) {
		return scrapeCounters(ctx, client, metrics, []counterSpec{{name: "sightline_spanmetrics_flush_duration_seconds_count"}})
	}
	if in.SpanMetricsFlushed, err = waitIncrease(ctx, flushed, flushes, 2*cmp.Or(o.SpanMetricsInterval, defaultSpanMetricsInterval)); err != nil {
		return nil, err
	}
	if in.SpanMetricSpans, err = scrapeCounters(ctx, client, metrics, []counterSpec{{name: "sightline_spanmetrics_spans_total"}}); err != nil {
		return nil, err
	}
	if in.SpanMetricSeries, err = scrapeCounters(ctx, client, metrics, []counterSpec{{name: "sightline_spanmetrics_series"}}); err != nil {
		return nil, err
	}
	// Segments are merged in the background after the flushes: the disk
	// is measured once they have settled, not with a merge's output beside
	// its sources.
	if _, err := waitMergesSettled(ctx, client, p, "sightline_traces_merges_total", o.SettleQuiet, 5*time.Minute); err != nil {
		return nil, err
	}
	if in.SegmentBytes, err = scrapeGauge(ctx, client, metrics, "sightline_traces_segment_bytes"); err != nil {
		return nil, err
	}
	if in.TraceStore, err = diskUsage(filepath.Join(dataDir, "tenants", "default", "traces")); err != nil {
		return nil, err
	}
	if in.DataDir, err = diskUsage(dataDir); err != nil {
		return nil, err
	}
	return sampled, nil
}

// traceLoad is what sendTraces sends.
type traceLoad struct {
	shape workload.TraceShape
	spans int
	// every, if positive, paces each sender to one request per tick of a
	// ticker of that period (a steady load); otherwise it sends as fast as
	// the server acknowledges.
	every time.Duration
	// sent, if set, counts the spans acknowledged as they are.
	sent *atomic.Int64
}

// sendTraces sends the load to p's OTLP/gRPC port from o.Senders senders,
// each with its own connection and generator, and measures the ingest:
// rate, retries, the server's CPU and the senders' own. It returns the
// traces the generators sampled for lookups.
func sendTraces(ctx context.Context, o TraceOptions, p *process, load traceLoad, in *TraceIngest, logf func(string, ...any)) ([]workload.SampledTrace, error) {
	shape, spans, every := load.shape, load.spans, load.every
	in.Shape = string(shape)
	before, err := p.stat()
	if err != nil {
		return nil, err
	}
	self, err := readProcStat(os.Getpid())
	if err != nil {
		return nil, err
	}
	var traces, errSpans, requests, retries, protoBytes, protoSpans atomic.Int64
	sent := cmp.Or(load.sent, new(atomic.Int64))
	var mu sync.Mutex
	var sampled []workload.SampledTrace
	ictx, cancel := context.WithTimeout(ctx, o.MaxIngest)
	defer cancel()
	// Enough sampled traces per sender that the lookups need not repeat.
	perSender := max(1000, (o.TraceLookups+o.CorrelateLookups)/o.Senders+1)
	errs := make(chan error, o.Senders)
	logf("traces: sending %d spans (%s) to %s from %d senders", spans, shape, p.kind, o.Senders)
	start := time.Now()
	progress := startProgress(logf, "traces: %d spans sent", sent)
	var wg sync.WaitGroup
	for s := 0; s < o.Senders; s++ {
		quota := int64(spans / o.Senders)
		if s == 0 {
			quota += int64(spans % o.Senders)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := dialOTLP(p.grpcAddr)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			exp := ptraceotlp.NewGRPCClient(conn)
			gen := workload.NewTraceGenerator(workload.TraceOptions{Shape: shape, SpansPerRequest: o.SpansPerRequest,
				SampledTraces: perSender, ChildSpans: 1, Seed: o.Seed}, uint64(s+1))
			var tick <-chan time.Time
			if every > 0 {
				t := time.NewTicker(every)
				defer t.Stop()
				tick = t.C
			}
			for n := 0; ; n++ {
				was := gen.Stats()
				left := int(quota - was.Spans)
				if left <= 0 {
					break
				}
				if tick != nil && n > 0 {
					select {
					case <-tick:
					case <-ictx.Done():
						errs <- fmt.Errorf("steady load: %w", ictx.Err())
						return
					}
				}
				td := gen.RequestMax(time.Now(), left)
				if td.SpanCount() == 0 {
					// Traces are never split: the last one may pass the
					// quota by a few spans, so that at least the quota is
					// sent.
					td = gen.RequestMax(time.Now(), workload.MaxTraceSpans)
				}
				if n%25 == 0 {
					protoBytes.Add(int64((&ptrace.ProtoMarshaler{}).TracesSize(td)))
					protoSpans.Add(int64(td.SpanCount()))
				}
				req := ptraceotlp.NewExportRequestFromTraces(td)
				if err := exportRetrying(ictx, func(ctx context.Context) error {
					_, err := exp.Export(ctx, req)
					return err
				}, &retries); err != nil {
					errs <- err
					return
				}
				now := gen.Stats()
				sent.Add(now.Spans - was.Spans)
				traces.Add(now.Traces - was.Traces)
				errSpans.Add(now.ErrorSpans - was.ErrorSpans)
				requests.Add(1)
			}
			mu.Lock()
			sampled = append(sampled, gen.Sampled()...)
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
	in.IngestSeconds = time.Since(start).Seconds()
	in.Spans, in.Traces, in.ErrorSpans = sent.Load(), traces.Load(), errSpans.Load()
	in.Requests, in.Retries = requests.Load(), retries.Load()
	in.SpansPerSecond = float64(in.Spans) / in.IngestSeconds
	if ps := protoSpans.Load(); ps > 0 {
		in.ProtoBytesPerSpan = float64(protoBytes.Load()) / float64(ps)
	}
	after, err := p.stat()
	if err != nil {
		return nil, err
	}
	in.ServerCPUSeconds = after.CPUSeconds - before.CPUSeconds
	if st, err := readProcStat(os.Getpid()); err == nil {
		in.SenderCPUSeconds = st.CPUSeconds - self.CPUSeconds
	}
	return sampled, nil
}

// defaultSpanMetricsInterval is Sightline's -spanmetrics.flush-interval;
// the harness waits up to two of them for the span metrics of the last
// spans.
const defaultSpanMetricsInterval = 15 * time.Second

// waitIncrease polls read every second until it exceeds from, for at most
// timeout; false if it did not.
func waitIncrease(ctx context.Context, read func() (float64, error), from float64, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		v, err := read()
		if err != nil {
			return false, err
		}
		if v > from {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// startProgress logs the count every 15 s until the returned function is
// called.
func startProgress(logf func(string, ...any), format string, n *atomic.Int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				logf(format, n.Load())
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// timedGet is one measured GET. Only a failed context ends the benchmark;
// other failures are the system's answers and are counted.
func timedGet(ctx context.Context, client *http.Client, u string, res *LookupResult) ([]byte, bool, error) {
	t0 := time.Now()
	b, err := get(ctx, client, u)
	res.Latencies = append(res.Latencies, time.Since(t0))
	if ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	if err != nil {
		res.fail(err)
		return nil, false, nil
	}
	return b, true, nil
}

// lookupTraces reads each trace by ID through the Tempo API, with no time
// range, and checks its span count.
func lookupTraces(ctx context.Context, client *http.Client, p *process, ids []workload.SampledTrace, res *LookupResult) error {
	for _, t := range ids {
		id := hex.EncodeToString(t.ID[:])
		b, ok, err := timedGet(ctx, client, p.url("/api/traces/"+id), res)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if n, err := countTempoSpans(b, t.ID); err != nil {
			res.fail(fmt.Errorf("trace %s: %w", id, err))
		} else if n != t.Spans {
			res.fail(fmt.Errorf("trace %s: %d spans, sent %d", id, n, t.Spans))
		}
	}
	return nil
}

// countTempoSpans counts the spans of Tempo's v1 trace answer,
// {"batches": [resourceSpans...]}, and checks that each is of trace id.
// Tempo (gogo jsonpb) writes IDs in base64, OTLP/JSON in hex: either is
// accepted.
func countTempoSpans(body []byte, id [16]byte) (int, error) {
	type spans struct {
		Spans []struct {
			TraceID string `json:"traceId"`
		} `json:"spans"`
	}
	var env struct {
		Batches []struct {
			ScopeSpans []spans `json:"scopeSpans"`
			// Tempo before OTLP 0.19 (and some clients) still say this.
			InstrumentationLibrarySpans []spans `json:"instrumentationLibrarySpans"`
		} `json:"batches"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return 0, err
	}
	if env.Batches == nil {
		return 0, fmt.Errorf("no batches in %.200s", body)
	}
	b64, hx := base64.StdEncoding.EncodeToString(id[:]), hex.EncodeToString(id[:])
	n := 0
	for _, rs := range env.Batches {
		for _, ss := range append(rs.ScopeSpans, rs.InstrumentationLibrarySpans...) {
			for _, sp := range ss.Spans {
				if sp.TraceID != b64 && !strings.EqualFold(sp.TraceID, hx) {
					return 0, fmt.Errorf("a span of trace %q in the answer", sp.TraceID)
				}
				n++
			}
		}
	}
	return n, nil
}

// correlateTraces calls the correlate endpoint for each trace and checks
// the span count of its trace summary.
func correlateTraces(ctx context.Context, client *http.Client, p *process, ids []workload.SampledTrace, res *LookupResult) error {
	for _, t := range ids {
		id := hex.EncodeToString(t.ID[:])
		b, ok, err := timedGet(ctx, client, p.url("/api/v1/correlate/"+id), res)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		var ans struct {
			Data struct {
				Trace *struct {
					SpanCount int `json:"spanCount"`
				} `json:"trace"`
			} `json:"data"`
		}
		switch err := json.Unmarshal(b, &ans); {
		case err != nil:
			res.fail(fmt.Errorf("correlate %s: %w", id, err))
		case ans.Data.Trace == nil:
			res.fail(fmt.Errorf("correlate %s: no trace in %.200s", id, b))
		case ans.Data.Trace.SpanCount != t.Spans:
			res.fail(fmt.Errorf("correlate %s: spanCount %d, sent %d", id, ans.Data.Trace.SpanCount, t.Spans))
		}
	}
	return nil
}

// searchTraces runs the TraceQL query over the last hour.
func searchTraces(ctx context.Context, client *http.Client, p *process, q string, limit, runs int, res *LookupResult) error {
	for i := 0; i < runs; i++ {
		now := time.Now()
		u := p.url("/api/search?" + url.Values{"q": {q}, "limit": {strconv.Itoa(limit)},
			"start": {strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)}, "end": {strconv.FormatInt(now.Unix(), 10)}}.Encode())
		b, ok, err := timedGet(ctx, client, u, res)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		var ans struct {
			Traces []json.RawMessage `json:"traces"`
		}
		if err := json.Unmarshal(b, &ans); err != nil {
			res.fail(fmt.Errorf("search: %w", err))
			continue
		}
		res.Hits = len(ans.Traces)
	}
	return nil
}

// traceMetrics runs the TraceQL metrics query over the last hour at a 60 s
// step, as Grafana's Tempo datasource does; Hits is the series it found,
// spans the spans they count.
func traceMetrics(ctx context.Context, client *http.Client, p *process, q string, runs int, res *LookupResult, spans *float64) error {
	const step = 60
	for i := 0; i < runs; i++ {
		now := time.Now()
		u := p.url("/api/metrics/query_range?" + url.Values{"q": {q}, "step": {strconv.Itoa(step)},
			"start": {strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)}, "end": {strconv.FormatInt(now.Unix(), 10)}}.Encode())
		b, ok, err := timedGet(ctx, client, u, res)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		var ans struct {
			Series []struct {
				Samples []struct {
					Value float64 `json:"value"`
				} `json:"samples"`
			} `json:"series"`
		}
		if err := json.Unmarshal(b, &ans); err != nil || len(ans.Series) == 0 {
			res.fail(fmt.Errorf("metrics query: no series in %.200s (%v)", b, err))
			continue
		}
		res.Hits, *spans = len(ans.Series), 0
		for _, s := range ans.Series {
			for _, x := range s.Samples {
				*spans += x.Value * step
			}
		}
	}
	return nil
}

// The goals of the trace store, as the report checks them.
const (
	goalSpansPerSecond  = 50_000
	goalBytesPerSpan    = 100
	goalTraceByIDP99    = 100 * time.Millisecond
	goalCorrelateP99    = 150 * time.Millisecond
	goalTraceByIDAmong  = 10_000_000
	traceReportTemplate = "make bench-traces   # = make build, then:"
)

// WriteTraceReport writes <dir>/<name>.md, the report of the run whose
// Sightline ingest rate is the median with the Repeats section over every
// run, its plots <dir>/<name>-*.png and every run's measurements as
// <dir>/<name>.json (LoadRepeats reads them back), and returns the files.
func WriteTraceReport(runs []*TraceReport, dir, name string) ([]string, error) {
	return writeRepeatedReport(runs, dir, name, repeatedReport[TraceReport, TracePeerReport]{
		peer: "Jaeger", rate: func(r *TraceReport) float64 { return r.Realistic.SpansPerSecond }, markdown: traceMarkdown,
		view: tracePeerOf, figures: traceFigures,
		queries: []string{"trace by ID", "search by service", "search by tag"},
		latencies: func(p *TracePeerReport) [][]time.Duration {
			return [][]time.Duration{p.ByID.Latencies, p.ServiceSearch.Latencies, p.Search.Latencies}
		},
	})
}

// tracePeerOf is Sightline's figures of r in the peer's shape, for the
// figures both have; or with peer the peer's (nil without one).
func tracePeerOf(r *TraceReport, peer bool) *TracePeerReport {
	if peer {
		return r.Jaeger
	}
	return &TracePeerReport{Ingest: r.Realistic, ByID: r.ByID, Search: r.Search, ServiceSearch: r.ServiceSearch}
}

// traceFigures are the trace benchmark's key figures, of the realistic
// load.
var traceFigures = []keyFigure[TracePeerReport]{
	{"sustained ingest", "spans/s", "spans/s", true, func(p *TracePeerReport) float64 { return p.Ingest.SpansPerSecond }},
	{"server CPU per span", "CPU/span", "µs", false, func(p *TracePeerReport) float64 {
		return 1e6 * p.Ingest.ServerCPUSeconds / float64(max(p.Ingest.Spans, 1))
	}},
	{"peak RSS", "peak RSS", "MiB", false, func(p *TracePeerReport) float64 { return float64(p.Ingest.PeakRSS) / (1 << 20) }},
	{"on disk", "B/span", "B/span", false, func(p *TracePeerReport) float64 { return p.Ingest.BytesPerSpan() }},
	{"trace by ID p50", "by ID p50", "ms", false, func(p *TracePeerReport) float64 { return msOf(p.ByID.Latencies, 0.5) }},
	{"trace by ID p99", "by ID p99", "ms", false, func(p *TracePeerReport) float64 { return msOf(p.ByID.Latencies, 0.99) }},
	{"search by service p50", "service p50", "ms", false, func(p *TracePeerReport) float64 { return msOf(p.ServiceSearch.Latencies, 0.5) }},
	{"search by tag p50", "tag p50", "ms", false, func(p *TracePeerReport) float64 { return msOf(p.Search.Latencies, 0.5) }},
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// pcts is "p50 x ms, p90 y ms, p99 z ms" of ds.
func pcts(ds []time.Duration, qs ...float64) string {
	if len(ds) == 0 {
		return "not measured"
	}
	var out string
	for i, q := range qs {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("p%.0f %s ms", 100*q, ms(percentile(ds, q)))
	}
	return out
}

func traceMarkdown(r *TraceReport, name string) string {
	var b strings.Builder
	f := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	o := r.Options
	rl, tg := &r.Realistic, r.Telemetrygen
	f("# Sightline trace benchmark: %s\n\nRun on %s UTC by `bench/cmd/tracebench`; took %s.\n\n", name, r.Started.UTC().Format("2006-01-02 15:04"), r.Took.Round(time.Second))
	r.Machine.writeTable(&b, r.Version)
	cmd := cmp.Or(o.Command, fmt.Sprintf("cd bench && go run ./cmd/tracebench -sightline ../bin/sightline -out results -name %s -spans %d -telemetrygen-spans %d", name, o.Spans, o.TelemetrygenSpans))
	f("## Reproduce\n\n```sh\n%s\n%s\n```\n\n", traceReportTemplate, cmd)

	f("## Load\n\n")
	f("- **Realistic** (%d spans, %d traces): a shop of 12 services (frontend, auth, cart, checkout, payment, catalog, search, recommendation, shipping, currency, email, ads; 3 instances each, 10 resource attributes), each trace a tree of 3–10 spans under a SERVER root: CLIENT→SERVER pairs across services (18 service-graph edges), database CLIENT spans (PostgreSQL, Redis, Elasticsearch) and INTERNAL spans; HTTP, URL, database and peer attributes (`http.request.method`, `http.route`, `http.response.status_code`, `url.full`, `db.system`, `db.query.text`, `net.peer.name`, `peer.service`, …); %.1f%% error spans, with exception events; log-normal durations with a slow tail. Protobuf: %.0f B/span.\n",
		rl.Spans, rl.Traces, pct(rl.ErrorSpans, rl.Spans), rl.ProtoBytesPerSpan)
	if tg != nil {
		f("- **telemetrygen shape** (%d spans): what `telemetrygen traces` sends with its defaults: per trace a CLIENT span `lets-go` and its SERVER child `okey-dokey-0`, attributes `net.sock.peer.addr` and `peer.service`, status Unset, 123 µs long; resource `service.name=telemetrygen`, scope `telemetrygen`. Protobuf: %.0f B/span.\n", tg.Spans, tg.ProtoBytesPerSpan)
	}
	f("\nOTLP/gRPC `Export` from %d concurrent senders (the collector's `ptraceotlp` client), about %d spans per request (whole traces), requests refused with ResourceExhausted retried after 20 ms–1 s. The senders build every request fresh on the same CPUs as Sightline; their CPU time is below. Sightline runs with `-traces.head.max-age %s`, span metrics and the service graph on (they always are), and every span is in a segment (the trace WAL is empty) before the disk is measured.\n\n",
		o.Senders, o.SpansPerRequest, o.HeadMaxAge)

	f("## Goals\n\n| goal | target | measured | met? |\n|---|---|---|---|\n")
	f("| sustained OTLP ingest, span metrics included (realistic) | ≥ %s spans/s | %s spans/s | %s |\n", thousands(goalSpansPerSecond), thousands(int64(rl.SpansPerSecond)), met(rl.SpansPerSecond >= goalSpansPerSecond))
	if tg != nil {
		f("| on disk, telemetrygen shape | ≤ %d B/span | %.1f B/span | %s |\n", goalBytesPerSpan, tg.BytesPerSpan(), met(tg.BytesPerSpan() <= goalBytesPerSpan))
	} else {
		f("| on disk, telemetrygen shape | ≤ %d B/span | not run | |\n", goalBytesPerSpan)
	}
	scale := func(ok bool) string {
		if rl.Spans < goalTraceByIDAmong {
			return fmt.Sprintf("%s, but among %s spans, not ≥ %s", met(ok), thousands(rl.Spans), thousands(goalTraceByIDAmong))
		}
		return met(ok)
	}
	byID, corr := percentile(r.ByID.Latencies, 0.99), percentile(r.Correlate.Latencies, 0.99)
	f("| trace by ID, no time range, among ≥ 10M spans | p99 ≤ %s ms | p99 %s ms among %s spans; %d wrong | %s |\n", ms(goalTraceByIDP99), ms(byID), thousands(rl.Spans), r.ByID.Wrong,
		scale(len(r.ByID.Latencies) > 0 && byID <= goalTraceByIDP99 && r.ByID.Wrong == 0))
	f("| correlate | p99 ≤ %s ms | p99 %s ms; %d wrong | %s |\n\n", ms(goalCorrelateP99), ms(corr), r.Correlate.Wrong,
		scale(len(r.Correlate.Latencies) > 0 && corr <= goalCorrelateP99 && r.Correlate.Wrong == 0))

	f("## Ingest and storage\n\n| | realistic |")
	if tg != nil {
		f(" telemetrygen shape |")
	}
	f("\n|---|---|")
	if tg != nil {
		f("---|")
	}
	f("\n")
	row := func(label string, val func(in *TraceIngest) string) {
		f("| %s | %s |", label, val(rl))
		if tg != nil {
			f(" %s |", val(tg))
		}
		f("\n")
	}
	row("spans sent and acknowledged (traces)", func(in *TraceIngest) string {
		return fmt.Sprintf("%s (%s)", thousands(in.Spans), thousands(in.Traces))
	})
	row("requests (retried after backpressure)", func(in *TraceIngest) string {
		return fmt.Sprintf("%s (%s)", thousands(in.Requests), thousands(in.Retries))
	})
	row("ingest time, first send to last acknowledgement", func(in *TraceIngest) string { return fmt.Sprintf("%.1f s", in.IngestSeconds) })
	row("sustained ingest", func(in *TraceIngest) string {
		return fmt.Sprintf("**%s spans/s**", thousands(int64(in.SpansPerSecond)))
	})
	row("server CPU during ingest", func(in *TraceIngest) string {
		return fmt.Sprintf("%.1f s (%.1f µs/span)", in.ServerCPUSeconds, 1e6*in.ServerCPUSeconds/float64(max(in.Spans, 1)))
	})
	row("sender CPU during ingest (same machine)", func(in *TraceIngest) string { return fmt.Sprintf("%.1f s", in.SenderCPUSeconds) })
	row("server peak RSS", func(in *TraceIngest) string { return mib(in.PeakRSS) })
	row("Sightline's counters: appended / rejected", func(in *TraceIngest) string {
		return fmt.Sprintf("%s / %s", thousands(int64(in.Appended)), thousands(int64(in.Rejected)))
	})
	row("wait for the last flush after ingest", func(in *TraceIngest) string { return fmt.Sprintf("%.1f s", in.FlushWait.Seconds()) })
	row("trace store on disk (`tenants/default/traces`, du)", func(in *TraceIngest) string {
		return fmt.Sprintf("%s = **%.1f B/span**", mib(in.TraceStore.Allocated), in.BytesPerSpan())
	})
	row("`sightline_traces_segment_bytes`", func(in *TraceIngest) string {
		return fmt.Sprintf("%s = %.1f B/span", mib(int64(in.SegmentBytes)), in.SegmentBytes/float64(max(in.Spans, 1)))
	})
	row("whole data directory (with span-metric and service-graph series, metrics WAL)", func(in *TraceIngest) string {
		return fmt.Sprintf("%s (%s besides traces)", mib(in.DataDir.Allocated), mib(in.DataDir.Allocated-in.TraceStore.Allocated))
	})
	row("span metrics: spans counted, series kept", func(in *TraceIngest) string {
		note := ""
		if !in.SpanMetricsFlushed {
			note = " (**not written after ingest within two flush intervals**)"
		}
		return fmt.Sprintf("%s, %s%s", thousands(int64(in.SpanMetricSpans)), thousands(int64(in.SpanMetricSeries)), note)
	})
	row("OTLP protobuf size", func(in *TraceIngest) string { return fmt.Sprintf("%.0f B/span", in.ProtoBytesPerSpan) })

	f("\n## Queries (realistic run, after the last flush)\n\n| query | runs | latency | check |\n|---|---|---|---|\n")
	check := func(l LookupResult, ok string) string {
		if l.Wrong == 0 {
			return ok
		}
		return fmt.Sprintf("**%d wrong or failed**; first: `%s`", l.Wrong, oneLine(l.FirstError))
	}
	f("| `GET /api/traces/<id>`, no time range, %d different sent traces | %d | %s | %s |\n", len(r.ByID.Latencies), len(r.ByID.Latencies),
		pcts(r.ByID.Latencies, 0.5, 0.9, 0.99), check(r.ByID, "every answer has the sent span count"))
	f("| `GET /api/v1/correlate/<id>`, %d other sent traces | %d | %s | %s |\n", len(r.Correlate.Latencies), len(r.Correlate.Latencies),
		pcts(r.Correlate.Latencies, 0.5, 0.9, 0.99), check(r.Correlate, "every `data.trace.spanCount` is the sent span count"))
	limit := cmp.Or(o.SearchLimit, 20)
	f("| `GET /api/search?q=%s`, last hour, limit %d | %d | %s | %s |\n", r.SearchQuery, limit, len(r.Search.Latencies),
		pcts(r.Search.Latencies, 0.5, 0.99), check(r.Search, fmt.Sprintf("%d traces found", r.Search.Hits)))
	if r.ServiceQuery != "" {
		f("| `GET /api/search?q=%s`, last hour, limit %d | %d | %s | %s |\n", r.ServiceQuery, limit, len(r.ServiceSearch.Latencies),
			pcts(r.ServiceSearch.Latencies, 0.5, 0.99), check(r.ServiceSearch, fmt.Sprintf("%d traces found", r.ServiceSearch.Hits)))
	}
	if r.MetricsQuery != "" {
		f("| `GET /api/metrics/query_range?q=%s`, last hour, step 60s | %d | %s | %s |\n", r.MetricsQuery, len(r.Metrics.Latencies),
			pcts(r.Metrics.Latencies, 0.5, 0.99), check(r.Metrics, fmt.Sprintf("%d series, %.0f spans counted", r.Metrics.Hits, r.MetricsSpans)))
	}
	if r.Jaeger != nil {
		writeTracePeer(&b, r, r.Jaeger)
	}
	return b.String()
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// thousands writes n with thousands separators: 10,000,000.
func thousands[T ~int | ~int64](n T) string {
	s := strconv.FormatInt(int64(n), 10)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

package harness

import (
	"cmp"
	"context"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sightline-dev/sightline/bench/workload"
)

// TracePeerReport is what the trace benchmark measured of Jaeger v2 (issue
// 16) on the realistic load: the same generator seeds, so the same spans,
// sent by the same senders over OTLP/gRPC in the same requests, then the
// same trace-by-ID lookups and the equivalent searches through Jaeger's
// query API, each checked.
type TracePeerReport struct {
	Version string
	// Settings is the configuration the report shows.
	Settings string
	// Ingest has what sendTraces measured; Appended and Rejected are the
	// OTLP receiver's own counters (otelcol_receiver_accepted_spans,
	// otelcol_receiver_refused_spans), TraceStore the Badger directories
	// after a clean stop. Telemetrygen is the same of the
	// telemetrygen-shaped run, on another Jaeger; nil if not run.
	Ingest       TraceIngest
	Telemetrygen *TraceIngest `json:",omitempty"`
	// SearchableAfter is how long after the last acknowledged request
	// every span was counted and the readiness traces were found whole;
	// CompactedAfter how long until Badger's tables had stopped changing
	// (its compactions done), which the queries waited for; negative if
	// they still changed after jaegerCompactionWait.
	SearchableAfter, CompactedAfter time.Duration
	// ByID is GET /api/traces/<id>, for the traces Sightline looked up;
	// Search and ServiceSearch are GET /api/traces with the service and
	// the tag error=true, and with the service alone.
	ByID, Search, ServiceSearch LookupResult
	SearchQuery, ServiceQuery   string
}

// jaegerModule is the module whose version the report gives.
const jaegerModule = "github.com/jaegertracing/jaeger"

// jaegerConfig is Jaeger v2's configuration: the OTLP/gRPC receiver
// feeding Badger (on disk under p.dataDir, spans kept as long as the other
// systems keep data) through the storage exporter, with no batch processor
// in between, so that an acknowledged request is in Badger as one of
// Sightline's is in its WAL; the query API, the health check and the
// collector's own metrics and pprof on the ports startProcess chose. Jaeger's
// tracing of its own queries is off: it would send spans nowhere.
func jaegerConfig(p *process, queryGRPC string, retention time.Duration) string {
	metricsHost, metricsPort, _ := strings.Cut(p.metricsAddr, ":")
	return fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2, pprof]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: %s
                port: %s
    logs:
      level: info
extensions:
  pprof:
    endpoint: %s
  healthcheckv2:
    use_v2: true
    http:
      endpoint: %s
  jaeger_query:
    storage:
      traces: badger_store
    enable_tracing: false
    http:
      endpoint: %s
    grpc:
      endpoint: %s
  jaeger_storage:
    backends:
      badger_store:
        badger:
          directories:
            keys: %s
            values: %s
          ephemeral: false
          ttl:
            spans: %s
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
exporters:
  jaeger_storage_exporter:
    trace_storage: badger_store
`, metricsHost, metricsPort, p.pprofAddr, p.healthAddr, p.httpAddr, queryGRPC,
		filepath.Join(p.dataDir, "keys"), filepath.Join(p.dataDir, "values"), retention, p.grpcAddr)
}

// jaegerSettings is the configuration as the report states it.
const jaegerSettings = "OTLP/gRPC receiver → `jaeger_storage_exporter` (no batch processor: the senders' requests are already batches of whole traces, and an acknowledgement then means the spans are in Badger) → Badger with `ephemeral: false`, `ttl.spans: 720h`, its other settings Jaeger's defaults (`consistency` (sync writes) off, as Sightline's WAL does not fsync each request); `jaeger_query` with its own tracing off"

// runJaeger sends the realistic load to Jaeger, waits until it has every
// span, looks up the traces byID and runs the searches; then, if
// o.TelemetrygenSpans, sends the telemetrygen-shaped load to another
// Jaeger for its size on disk.
func runJaeger(ctx context.Context, o TraceOptions, byID, ready []workload.SampledTrace, logf func(string, ...any)) (*TracePeerReport, error) {
	r := &TracePeerReport{Version: moduleVersion(o.Jaeger, jaegerModule), Settings: jaegerSettings}
	// Jaeger ingests an order of magnitude slower than Sightline: its
	// phases get ten times the bound.
	o.MaxIngest *= 10
	client := newClient(5*time.Minute, 4)
	defer client.CloseIdleConnections()
	p, err := startJaeger(ctx, o, "jaeger")
	if err != nil {
		return nil, err
	}
	defer p.kill()
	in := &r.Ingest
	if r.SearchableAfter, r.CompactedAfter, err = jaegerIngest(ctx, o, p, client, workload.TraceShapeRealistic, o.Spans, in, ready, logf); err != nil {
		return nil, err
	}

	logf("jaeger: %d trace-by-ID lookups", len(byID))
	for _, t := range byID {
		b, ok, err := timedGet(ctx, client, p.url("/api/traces/"+hex.EncodeToString(t.ID[:])), &r.ByID)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := checkJaegerTrace(b, t); err != nil {
				r.ByID.fail(err)
			}
		}
	}
	svc := o.SearchService
	r.SearchQuery = fmt.Sprintf(`service=%s&tags={"error":"true"}`, svc)
	r.ServiceQuery = "service=" + svc
	for _, s := range []struct {
		tags string
		res  *LookupResult
	}{{`{"error":"true"}`, &r.Search}, {"", &r.ServiceSearch}} {
		logf("jaeger: %d runs of the search service=%s tags=%s", o.SearchRuns, svc, s.tags)
		if err := jaegerSearch(ctx, client, p, svc, s.tags, o.SearchLimit, o.SearchRuns, s.res); err != nil {
			return nil, err
		}
	}
	if err := stopJaeger(p, in); err != nil {
		return nil, err
	}

	if o.TelemetrygenSpans > 0 {
		p, err := startJaeger(ctx, o, "jaeger-telemetrygen")
		if err != nil {
			return nil, err
		}
		defer p.kill()
		r.Telemetrygen = &TraceIngest{}
		if _, _, err := jaegerIngest(ctx, o, p, client, workload.TraceShapeTelemetrygen, o.TelemetrygenSpans, r.Telemetrygen, nil, logf); err != nil {
			return nil, err
		}
		if err := stopJaeger(p, r.Telemetrygen); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// startJaeger starts Jaeger on an empty data directory under o.WorkDir
// and waits until it is ready.
func startJaeger(ctx context.Context, o TraceOptions, name string) (*process, error) {
	return startReady(ctx, kindJaeger, o.Jaeger, filepath.Join(o.WorkDir, name))
}

// jaegerCompactionWait bounds the wait for Badger's compactions after
// ingest; the benchmark goes on after it.
const jaegerCompactionWait = 15 * time.Minute

// jaegerIngest sends spans of shape to Jaeger p, then waits until its
// receiver has counted every span and the ready traces are found whole
// (searchable), and until Badger's tables have stopped changing
// (compacted), both from the last acknowledgement.
func jaegerIngest(ctx context.Context, o TraceOptions, p *process, client *http.Client, shape workload.TraceShape, spans int,
	in *TraceIngest, ready []workload.SampledTrace, logf func(string, ...any)) (searchable, compacted time.Duration, err error) {
	if _, err := sendTraces(ctx, o, p, traceLoad{shape: shape, spans: spans}, in, logf); err != nil {
		return 0, 0, fmt.Errorf("jaeger: %w", err)
	}
	metrics := "http://" + p.metricsAddr + "/metrics"
	ingested := time.Now()
	deadline := ingested.Add(2 * time.Minute)
	for {
		in.Appended, err = scrapeCounters(ctx, client, metrics, []counterSpec{{name: "otelcol_receiver_accepted_spans_total"}})
		if err == nil && int64(in.Appended) == in.Spans {
			err = jaegerTracesWhole(ctx, client, p, ready)
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("jaeger: %.0f of %d spans accepted, not every readiness trace found after %s: %v", in.Appended, in.Spans, deadline.Sub(ingested), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	searchable = time.Since(ingested)
	// Badger compacts its tables in the background, as Sightline merges
	// its segments: the queries run once the tables have settled, as
	// Sightline's do once its merges have.
	keys := filepath.Join(p.dataDir, "keys")
	compacted = -1
	if _, err := waitQuiet(ctx, "Badger's tables", func() (float64, error) {
		du, err := diskUsage(keys)
		return float64(du.Apparent), err
	}, o.SettleQuiet, jaegerCompactionWait); err == nil {
		compacted = time.Since(ingested)
	} else if ctx.Err() != nil {
		return 0, 0, err
	} else {
		logf("jaeger: %v; going on", err)
	}
	if in.Rejected, err = scrapeCounters(ctx, client, metrics, []counterSpec{{name: "otelcol_receiver_refused_spans_total"}}); err != nil {
		return 0, 0, err
	}
	logf("jaeger: sent %d spans in %.1fs (%.0f spans/s, %d requests retried); accepted %.0f, refused %.0f; all found %.1fs after the last, tables settled after %.1fs",
		in.Spans, in.IngestSeconds, in.SpansPerSecond, in.Retries, in.Appended, in.Rejected, searchable.Seconds(), compacted.Seconds())
	return searchable, compacted, nil
}

// jaegerStopTimeout is how long Jaeger may take to stop: Badger writes
// its memtables and ends its compactions on close.
const jaegerStopTimeout = 5 * time.Minute

// stopJaeger stops p cleanly and measures its peak RSS before and its
// Badger directories after.
func stopJaeger(p *process, in *TraceIngest) error {
	if st, err := p.stat(); err == nil {
		in.PeakRSS = st.PeakRSS
	}
	if err := p.stop(jaegerStopTimeout); err != nil {
		return err
	}
	du, err := diskUsage(p.dataDir)
	in.TraceStore, in.DataDir = du, du
	return err
}

// moduleVersion is the version of module in the build information of
// bin, built by go install: the main module's, or a dependency's when bin
// is a tool of a scratch module. Empty if unknown.
func moduleVersion(bin, module string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return ""
	}
	if bi.Main.Path == module {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == module {
			return d.Version
		}
	}
	return ""
}

// jaegerTrace is a trace of Jaeger's query API (its JSON model).
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		TraceID   string `json:"traceID"`
		ProcessID string `json:"processID"`
		Tags      []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// jaegerTraces decodes the answer of /api/traces and /api/traces/<id>.
func jaegerTraces(body []byte) ([]jaegerTrace, error) {
	var ans struct {
		Data   []jaegerTrace     `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, err
	}
	if len(ans.Errors) > 0 {
		return nil, fmt.Errorf("errors in the answer: %s", ans.Errors[0])
	}
	return ans.Data, nil
}

// checkJaegerTrace checks that body is trace t with every span sent.
// Jaeger writes a trace ID without its leading zeros.
func checkJaegerTrace(body []byte, t workload.SampledTrace) error {
	id := hex.EncodeToString(t.ID[:])
	traces, err := jaegerTraces(body)
	if err != nil {
		return fmt.Errorf("trace %s: %w", id, err)
	}
	if len(traces) != 1 {
		return fmt.Errorf("trace %s: %d traces in the answer", id, len(traces))
	}
	want := strings.TrimLeft(id, "0")
	for _, sp := range traces[0].Spans {
		if strings.TrimLeft(sp.TraceID, "0") != want {
			return fmt.Errorf("trace %s: a span of trace %s in the answer", id, sp.TraceID)
		}
	}
	if n := len(traces[0].Spans); n != t.Spans {
		return fmt.Errorf("trace %s: %d spans, sent %d", id, n, t.Spans)
	}
	return nil
}

// jaegerTracesWhole checks that every trace of ts is found whole.
func jaegerTracesWhole(ctx context.Context, client *http.Client, p *process, ts []workload.SampledTrace) error {
	for _, t := range ts {
		b, err := get(ctx, client, p.url("/api/traces/"+hex.EncodeToString(t.ID[:])))
		if err == nil {
			err = checkJaegerTrace(b, t)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// jaegerSearch runs Jaeger's search for service (and tags, a JSON object,
// if set) over the last hour, limit traces, and checks that every trace it
// returns has a span of service with the tags.
func jaegerSearch(ctx context.Context, client *http.Client, p *process, service, tags string, limit, runs int, res *LookupResult) error {
	var want map[string]string
	if tags != "" {
		if err := json.Unmarshal([]byte(tags), &want); err != nil {
			return fmt.Errorf("jaeger search tags %s: %w", tags, err)
		}
	}
	for range runs {
		now := time.Now()
		q := url.Values{"service": {service}, "limit": {strconv.Itoa(limit)},
			"start": {strconv.FormatInt(now.Add(-time.Hour).UnixMicro(), 10)}, "end": {strconv.FormatInt(now.UnixMicro(), 10)}}
		if tags != "" {
			q.Set("tags", tags)
		}
		b, ok, err := timedGet(ctx, client, p.url("/api/traces?"+q.Encode()), res)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		traces, err := jaegerTraces(b)
		if err == nil {
			for _, t := range traces {
				if !jaegerMatches(t, service, want) {
					err = fmt.Errorf("trace %s has no span of %s with %s", t.TraceID, service, tags)
					break
				}
			}
		}
		if err != nil {
			res.fail(fmt.Errorf("search %s: %w", q.Encode(), err))
			continue
		}
		res.Hits = len(traces)
	}
	return nil
}

// jaegerMatches says whether a span of t is of service and has every tag
// of want (values compared as Jaeger's index does, as strings).
func jaegerMatches(t jaegerTrace, service string, want map[string]string) bool {
	for _, sp := range t.Spans {
		if t.Processes[sp.ProcessID].ServiceName != service {
			continue
		}
		n := 0
		for _, kv := range sp.Tags {
			if v, ok := want[kv.Key]; ok && fmt.Sprint(kv.Value) == v {
				n++
			}
		}
		if n == len(want) {
			return true
		}
	}
	return false
}

// writeTracePeer writes Sightline and Jaeger side by side.
func writeTracePeer(b *strings.Builder, r *TraceReport, j *TracePeerReport) {
	f := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	s, jin := &r.Realistic, &j.Ingest
	f("\n## Side by side with Jaeger\n\n")
	f("The realistic load again — the same %s spans (the same generator seeds) from the same %d senders in the same requests over OTLP/gRPC — to Jaeger %s (Jaeger v2, whose module is still versioned v1; `jaeger --config`, built from its module), after Sightline's runs on the same machine. Settings: %s. ",
		thousands(jin.Spans), r.Options.Senders, cmp.Or(j.Version, "(version unknown)"), j.Settings)
	compacted := fmt.Sprintf("its Badger tables had stopped changing for %s (compactions done) %.1f s after it; the queries ran then", cmp.Or(r.Options.SettleQuiet, 5*time.Second), j.CompactedAfter.Seconds())
	if j.CompactedAfter < 0 {
		compacted = fmt.Sprintf("**its Badger tables were still changing %s after it**; the queries ran anyway", jaegerCompactionWait)
	}
	f("Jaeger had counted every span and read 20 sampled traces other than the measured ones whole %.1f s after the last acknowledgement, and %s, as Sightline's run once its merges have settled. The measured lookups are of the same traces as Sightline's. ", j.SearchableAfter.Seconds(), compacted)
	if j.Telemetrygen != nil {
		f("The telemetrygen-shaped load then went to another Jaeger on an empty store, for its ingest rate and size on disk, as it goes to another Sightline. ")
	}
	f("Sightline's ingest includes its span metrics and service graph, which Jaeger does not make; their series are elsewhere in its data directory and not counted in its size on disk, which is its trace store once its merges have settled. Jaeger's is the Badger directories (keys and values) after a clean stop: the LSM tree as Badger left it (Jaeger offers no compaction call; Badger does not compact level 0 on close), which holds each span and an index entry per span for its service, operation, duration and every span and resource attribute, written in one Badger transaction per span.\n\n")
	perSpan := func(in *TraceIngest) float64 { return in.ServerCPUSeconds / float64(max(in.Spans, 1)) * 1e6 }
	lat := func(a, bb LookupResult) string {
		return fmt.Sprintf("p50 %s, p99 %s", ratio(float64(percentile(a.Latencies, 0.5)), float64(percentile(bb.Latencies, 0.5))),
			ratio(float64(percentile(a.Latencies, 0.99)), float64(percentile(bb.Latencies, 0.99))))
	}
	checked := func(l LookupResult, what string) string {
		if l.Wrong > 0 {
			return fmt.Sprintf("**%d wrong or failed**", l.Wrong)
		}
		return what
	}
	f("| measure | Sightline | Jaeger | Sightline ÷ Jaeger |\n|---|---|---|---|\n")
	f("| spans sent and acknowledged (requests retried after backpressure) | %s (%s) | %s (%s) | |\n", thousands(s.Spans), thousands(s.Retries), thousands(jin.Spans), thousands(jin.Retries))
	f("| the server's own count: stored / refused | %s / %s | %s / %s (OTLP receiver: accepted / refused) | |\n",
		thousands(int64(s.Appended)), thousands(int64(s.Rejected)), thousands(int64(jin.Appended)), thousands(int64(jin.Rejected)))
	f("| sustained ingest | %s spans/s | %s spans/s | %s |\n", thousands(int64(s.SpansPerSecond)), thousands(int64(jin.SpansPerSecond)), ratio(s.SpansPerSecond, jin.SpansPerSecond))
	f("| server CPU per span during ingest | %.2f µs | %.2f µs | %s |\n", perSpan(s), perSpan(jin), ratio(perSpan(s), perSpan(jin)))
	f("| sender CPU during ingest (same machine) | %.1f s | %.1f s | |\n", s.SenderCPUSeconds, jin.SenderCPUSeconds)
	f("| peak RSS | %s | %s | %s |\n", mib(s.PeakRSS), mib(jin.PeakRSS), ratio(float64(s.PeakRSS), float64(jin.PeakRSS)))
	f("| on disk | %.1f B/span | %.1f B/span | %s |\n", s.BytesPerSpan(), jin.BytesPerSpan(), ratio(s.BytesPerSpan(), jin.BytesPerSpan()))
	if st, jt := r.Telemetrygen, j.Telemetrygen; st != nil && jt != nil {
		f("| telemetrygen shape (%s spans, each on an empty store): sustained ingest | %s spans/s | %s spans/s | %s |\n", thousands(jt.Spans),
			thousands(int64(st.SpansPerSecond)), thousands(int64(jt.SpansPerSecond)), ratio(st.SpansPerSecond, jt.SpansPerSecond))
		f("| telemetrygen shape: on disk | %.1f B/span | %.1f B/span | %s |\n", st.BytesPerSpan(), jt.BytesPerSpan(), ratio(st.BytesPerSpan(), jt.BytesPerSpan()))
	}
	f("| trace by ID, no time range, %d traces (wrong) | %s (%d) | %s (%d) | %s |\n", len(j.ByID.Latencies),
		pcts(r.ByID.Latencies, 0.5, 0.99), r.ByID.Wrong, pcts(j.ByID.Latencies, 0.5, 0.99), j.ByID.Wrong, lat(r.ByID, j.ByID))
	limit := cmp.Or(r.Options.SearchLimit, 20)
	for _, row := range []struct {
		what   string
		sl, jg LookupResult
		q, jq  string
	}{
		{"search by service", r.ServiceSearch, j.ServiceSearch, r.ServiceQuery, j.ServiceQuery},
		{"search by tag (status error)", r.Search, j.Search, r.SearchQuery, j.SearchQuery},
	} {
		agree := ""
		if row.sl.Wrong == 0 && row.jg.Wrong == 0 && row.sl.Hits != row.jg.Hits {
			agree = " — **the counts differ**"
		}
		f("| %s, last hour, limit %d: Sightline `%s`, Jaeger `%s` (traces found) | %s (%s) | %s (%s)%s | %s |\n", row.what, limit, row.q, row.jq,
			pcts(row.sl.Latencies, 0.5, 0.99), checked(row.sl, strconv.Itoa(row.sl.Hits)), pcts(row.jg.Latencies, 0.5, 0.99), checked(row.jg, strconv.Itoa(row.jg.Hits)), agree, lat(row.sl, row.jg))
	}
	f("\nThe last column is Sightline's figure over Jaeger's: above 1× is better for Sightline in the ingest rate, below 1× in every other row. ")
	f("Every Jaeger answer is checked: a trace by ID has the sent span count, each trace a search returns has a span of the service (with `error=true` for the tag search). ")
	f("Where the two differ: Jaeger takes a service in every search, and the tag search is its `error=true` tag, which its OTLP translation sets on spans of status Error, so both ask for traces with a failing span of the service; `limit` caps the traces in both, Jaeger's the newest by the matching span's start time, Sightline's in its own order, so with more matches than the limit both return the limit but not necessarily the same traces; Jaeger's search returns every span of each trace it finds, Sightline's a summary of each (root, duration, matching spans), which is what Grafana's search table shows.\n")
	if j.ByID.Wrong+j.Search.Wrong+j.ServiceSearch.Wrong > 0 {
		f("\nJaeger answers that failed their check: trace by ID %d (first: %s); tag search %d (%s); service search %d (%s).\n",
			j.ByID.Wrong, oneLine(j.ByID.FirstError), j.Search.Wrong, oneLine(j.Search.FirstError), j.ServiceSearch.Wrong, oneLine(j.ServiceSearch.FirstError))
	}
}

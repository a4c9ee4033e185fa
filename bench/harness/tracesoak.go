package harness

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"image/color"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/sightline-dev/sightline/bench/workload"
)

// TraceSoakOptions configure the trace soak (issue 16): a steady load of
// realistic spans for Duration to a Sightline with a short head age, which
// stands in for days of flushes, then the same to Jaeger when set, each
// sampled every SampleEvery.
type TraceSoakOptions struct {
	Sightline, Jaeger string // binaries; Jaeger empty: Sightline alone
	WorkDir           string // data goes under it
	Duration          time.Duration
	// Rate is the spans per second, sent by Senders senders each sending
	// one request of SpansPerRequest spans (whole traces) per tick.
	Rate, Senders, SpansPerRequest int
	// HeadMaxAge is passed to Sightline as -traces.head.max-age.
	HeadMaxAge  time.Duration
	SampleEvery time.Duration
	// SearchService is the service of the fixed query, the search for its
	// failing spans over the last hour (limit 20) of the trace benchmark.
	SearchService string
	Seed          uint64
	// Command is the command line shown in the report.
	Command string
}

// DefaultTraceSoakOptions is the hour: 1,000 spans/s (3.6 M spans,
// about 3 GB in Jaeger's Badger) with a head cut every second, sampled
// every minute.
func DefaultTraceSoakOptions() TraceSoakOptions {
	return TraceSoakOptions{
		Duration: time.Hour, Rate: 1000, Senders: 2, SpansPerRequest: 500, HeadMaxAge: time.Second,
		SampleEvery: time.Minute, SearchService: workload.SearchService, Seed: 1,
	}
}

// TraceSoakSample is one look at a server during the soak.
type TraceSoakSample struct {
	// Elapsed is since the first send; Spans were acknowledged by then.
	Elapsed time.Duration
	Spans   int64
	// Parts are Sightline's trace segments (sightline_traces_parts) or
	// Badger's tables (*.sst files); Disk is the store's du.
	Parts      float64
	DiskBytes  int64
	OpenFDs    int     // entries of /proc/<pid>/fd
	RSS        int64   // VmRSS
	Goroutines float64 // from /debug/pprof/goroutine
	// Query is the fixed query's latency and the traces it found, or
	// its error.
	Query      time.Duration
	QueryHits  int
	QueryError string `json:",omitempty"`
}

// TraceSoakRun is one system's soak.
type TraceSoakRun struct {
	System, Version string
	Ingest          TraceIngest
	Samples         []TraceSoakSample
}

// TraceSoakReport is what one soak measured.
type TraceSoakReport struct {
	Options TraceSoakOptions
	Started time.Time
	Took    time.Duration
	Machine Machine
	// Query is the fixed query as each system is asked it.
	Query, JaegerQuery string
	Runs               []TraceSoakRun
}

// RunTraceSoak runs the soak against Sightline, then Jaeger if set.
func RunTraceSoak(ctx context.Context, o TraceSoakOptions, logf func(string, ...any)) (*TraceSoakReport, error) {
	if o.Rate < 1 || o.Senders < 1 || o.SpansPerRequest < 1 || o.Duration <= 0 || o.SampleEvery <= 0 {
		return nil, fmt.Errorf("soak: rate, senders, batch, duration and sample interval must be positive")
	}
	r := &TraceSoakReport{Options: o, Started: time.Now(), Machine: describeMachine(),
		Query:       fmt.Sprintf(`{ resource.service.name = %q && status = error }`, o.SearchService),
		JaegerQuery: fmt.Sprintf(`service=%s&tags={"error":"true"}`, o.SearchService)}
	client := newClient(time.Minute, 2)
	defer client.CloseIdleConnections()

	dataDir := filepath.Join(o.WorkDir, "sightline-soak")
	p, err := startSightline(ctx, o.Sightline, dataDir, "-traces.head.max-age", o.HeadMaxAge.String())
	if err != nil {
		return nil, err
	}
	defer p.kill()
	run, err := soak(ctx, o, p, client, filepath.Join(dataDir, "tenants", "default", "traces"),
		func() (float64, error) {
			return scrapeCounters(ctx, client, p.url("/metrics"), []counterSpec{{name: "sightline_traces_parts"}})
		},
		func(res *LookupResult) error { return searchTraces(ctx, client, p, r.Query, 20, 1, res) }, logf)
	if err != nil {
		return nil, err
	}
	run.System, run.Version = "Sightline", sightlineVersion(ctx, p)
	r.Runs = append(r.Runs, *run)
	if err := p.stop(time.Minute); err != nil {
		return nil, err
	}

	if o.Jaeger != "" {
		dataDir := filepath.Join(o.WorkDir, "jaeger-soak")
		p, err := startProcess(kindJaeger, o.Jaeger, dataDir, 30*24*time.Hour)
		if err != nil {
			return nil, err
		}
		defer p.kill()
		if err := p.waitReady(ctx, time.Minute); err != nil {
			return nil, err
		}
		run, err := soak(ctx, o, p, client, dataDir,
			func() (float64, error) {
				m, err := filepath.Glob(filepath.Join(dataDir, "keys", "*.sst"))
				return float64(len(m)), err
			},
			func(res *LookupResult) error {
				return jaegerSearch(ctx, client, p, o.SearchService, `{"error":"true"}`, 20, 1, res)
			}, logf)
		if err != nil {
			return nil, fmt.Errorf("jaeger: %w", err)
		}
		run.System, run.Version = "Jaeger", moduleVersion(o.Jaeger, jaegerModule)
		r.Runs = append(r.Runs, *run)
		if err := p.stop(jaegerStopTimeout); err != nil {
			return nil, err
		}
	}
	r.Took = time.Since(r.Started)
	return r, nil
}

// soak sends the steady load to p and samples it meanwhile: parts counts
// its parts, query runs the fixed query once, store is the directory
// whose size is measured.
func soak(ctx context.Context, o TraceSoakOptions, p *process, client *http.Client, store string,
	parts func() (float64, error), query func(*LookupResult) error, logf func(string, ...any)) (*TraceSoakRun, error) {
	var sent atomic.Int64
	start := time.Now()
	take := func() (TraceSoakSample, error) {
		s := TraceSoakSample{Elapsed: time.Since(start), Spans: sent.Load()}
		st, err := p.stat()
		if err != nil {
			return s, err
		}
		s.RSS = st.RSSBytes
		if s.OpenFDs, err = openFDs(p); err != nil {
			return s, err
		}
		if s.Goroutines, err = goroutines(ctx, client, p); err != nil {
			return s, err
		}
		if s.Parts, err = parts(); err != nil {
			return s, err
		}
		du, err := diskUsage(store)
		if err != nil {
			return s, err
		}
		s.DiskBytes = du.Allocated
		var res LookupResult
		if err := query(&res); err != nil {
			return s, err
		}
		s.Query, s.QueryHits, s.QueryError = res.Latencies[0], res.Hits, res.FirstError
		return s, nil
	}
	smp := startSampling(ctx, o.SampleEvery, take, logf, func(s TraceSoakSample) {
		logf("soak: %s %s: %d spans, %.0f parts, %s on disk, %d open files, RSS %s, %.0f goroutines, query %s ms",
			p.kind, s.Elapsed.Round(time.Second), s.Spans, s.Parts, mib(s.DiskBytes), s.OpenFDs, mib(s.RSS), s.Goroutines, ms(s.Query))
	})
	to := TraceOptions{Senders: o.Senders, SpansPerRequest: o.SpansPerRequest, Seed: o.Seed,
		// A server that falls behind the steady load ends the soak.
		MaxIngest: o.Duration + o.Duration/4 + time.Minute}
	every := time.Duration(float64(time.Second) * float64(o.Senders*o.SpansPerRequest) / float64(o.Rate))
	run := &TraceSoakRun{}
	logf("soak: %s for %s at %d spans/s (a request of %d spans per %s from each of %d senders)", p.kind, o.Duration, o.Rate, o.SpansPerRequest, every, o.Senders)
	_, err := sendTraces(ctx, to, p, traceLoad{shape: workload.TraceShapeRealistic, spans: int(o.Duration.Seconds() * float64(o.Rate)), every: every, sent: &sent}, &run.Ingest, logf)
	run.Samples = smp.stop()
	if err != nil {
		return nil, err
	}
	if st, err := p.stat(); err == nil {
		run.Ingest.PeakRSS = st.PeakRSS
	}
	return run, nil
}

// openFDs counts the open file descriptors of p.
func openFDs(p *process) (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
	return len(fds), err
}

// goroutines reads the count of p's goroutine profile's first line,
// "goroutine profile: total N".
func goroutines(ctx context.Context, client *http.Client, p *process) (float64, error) {
	b, err := get(ctx, client, p.pprofURL("/debug/pprof/goroutine?debug=1"))
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	n, ok := strings.CutPrefix(string(line), "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("goroutine profile starts %.100q", line)
	}
	return strconv.ParseFloat(n, 64)
}

// WriteTraceSoakReport writes <dir>/<name>.md, the measurements as
// <dir>/<name>.json and a plot per measure, and returns the files written.
func WriteTraceSoakReport(r *TraceSoakReport, dir, name string) ([]string, error) {
	js, err := writeReportJSON(r, dir, name)
	if err != nil {
		return nil, err
	}
	files := []string{js}
	colors := map[string]color.Color{"Sightline": color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, "Jaeger": color.RGBA{R: 0xe6, G: 0x55, B: 0x22, A: 0xff}}
	var links []string
	for _, m := range soakMeasures {
		var series []plotSeries
		for _, run := range r.Runs {
			pts := make(plotter.XYs, 0, len(run.Samples))
			for _, s := range run.Samples {
				pts = append(pts, plotter.XY{X: s.Elapsed.Minutes(), Y: m.value(s)})
			}
			series = append(series, plotSeries{name: run.System, pts: pts, color: cmp.Or(colors[run.System], color.Color(color.Black))})
		}
		if len(series) == 0 || len(series[0].pts) == 0 {
			continue
		}
		f := filepath.Join(dir, name+"-"+m.suffix+".png")
		if err := plotLines(m.title, "minutes of steady load", m.unit, series, 8*vg.Inch, f); err != nil {
			return files, fmt.Errorf("plot %s: %w", m.suffix, err)
		}
		files = append(files, f)
		links = append(links, fmt.Sprintf("![%s](%s)", m.title, name+"-"+m.suffix+".png"))
	}
	md := filepath.Join(dir, name+".md")
	if err := os.WriteFile(md, []byte(traceSoakMarkdown(r, name, links)), 0o644); err != nil {
		return files, fmt.Errorf("write report: %w", err)
	}
	return append([]string{md}, files...), nil
}

// soakMeasures are the sampled measures, each plotted and tabled.
var soakMeasures = []struct {
	suffix, title, unit string
	value               func(TraceSoakSample) float64
	format              func(float64) string
}{
	{"parts", "Segments (Sightline) and Badger tables (Jaeger)", "count", func(s TraceSoakSample) float64 { return s.Parts }, func(v float64) string { return fmt.Sprintf("%.0f", v) }},
	{"fds", "Open file descriptors", "count", func(s TraceSoakSample) float64 { return float64(s.OpenFDs) }, func(v float64) string { return fmt.Sprintf("%.0f", v) }},
	{"rss", "Resident memory", "MiB", func(s TraceSoakSample) float64 { return float64(s.RSS) / (1 << 20) }, func(v float64) string { return fmt.Sprintf("%.0f MiB", v) }},
	{"goroutines", "Goroutines", "count", func(s TraceSoakSample) float64 { return s.Goroutines }, func(v float64) string { return fmt.Sprintf("%.0f", v) }},
	{"disk", "Store on disk (du)", "MiB", func(s TraceSoakSample) float64 { return float64(s.DiskBytes) / (1 << 20) }, func(v float64) string { return fmt.Sprintf("%.1f MiB", v) }},
	{"query", "Fixed query latency (a service's failing spans, last hour, limit 20)", "ms", func(s TraceSoakSample) float64 { return float64(s.Query.Microseconds()) / 1000 }, func(v float64) string { return fmt.Sprintf("%.1f ms", v) }},
}

func traceSoakMarkdown(r *TraceSoakReport, name string, plots []string) string {
	var b strings.Builder
	f := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	o := r.Options
	f("# Sightline trace soak: %s\n\nRun on %s UTC by `bench/cmd/tracebench -soak` (issue 16); took %s.\n\n", name, r.Started.UTC().Format("2006-01-02 15:04"), r.Took.Round(time.Second))
	version := "unknown"
	if len(r.Runs) > 0 {
		version = r.Runs[0].Version
	}
	r.Machine.writeTable(&b, version)
	cmd := cmp.Or(o.Command, fmt.Sprintf("cd bench && go run ./cmd/tracebench -soak -sightline ../bin/sightline -out results -name %s -soak-duration %s -soak-rate %d", name, o.Duration, o.Rate))
	f("## Reproduce\n\n```sh\nmake bench-traces-soak   # = make build, then:\n%s\n```\n\n", cmd)
	f("## Load\n\nThe trace benchmark's realistic spans at a steady %s spans/s for %s: %d senders each send one OTLP/gRPC request of %d spans (whole traces) per tick of a ticker. Sightline runs with `-traces.head.max-age %s`, so it writes a segment every few seconds and merges them, which stands in for days of flushes at its default head age.",
		thousands(o.Rate), o.Duration, o.Senders, o.SpansPerRequest, o.HeadMaxAge)
	for _, run := range r.Runs[min(1, len(r.Runs)):] {
		f(" Then the same load goes to %s %s on its own empty store (for Jaeger: the configuration of the trace benchmark's side-by-side run, Badger on disk).", run.System, run.Version)
	}
	f(" Every %s the harness samples each server: its parts (Sightline's `sightline_traces_parts`, Badger's `*.sst` tables), open file descriptors (`/proc/<pid>/fd`), RSS (`VmRSS`), goroutines (`/debug/pprof/goroutine`), the store's size on disk (du) and the latency of one fixed query: Sightline `%s`, Jaeger `%s`, over the last hour, limit 20.\n\n", o.SampleEvery, r.Query, r.JaegerQuery)

	f("## Ingest\n\n| system | spans acknowledged | rate | requests retried after backpressure | server CPU per span | peak RSS |\n|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		in := run.Ingest
		f("| %s | %s | %s spans/s | %s | %.2f µs | %s |\n", run.System, thousands(in.Spans), thousands(int64(in.SpansPerSecond)), thousands(in.Retries),
			in.ServerCPUSeconds/float64(max(in.Spans, 1))*1e6, mib(in.PeakRSS))
	}
	f("\n## At the end and at most\n\nThe last sample of each system (at the end of its load), and the largest over all its samples.\n\n| measure |")
	for _, run := range r.Runs {
		f(" %s: end | %s: max |", run.System, run.System)
	}
	f("\n|---|")
	for range r.Runs {
		f("---|---|")
	}
	f("\n")
	for _, m := range soakMeasures {
		f("| %s |", m.title)
		for _, run := range r.Runs {
			if len(run.Samples) == 0 {
				f(" | |")
				continue
			}
			mx := 0.0
			for _, s := range run.Samples {
				mx = max(mx, m.value(s))
			}
			f(" %s | %s |", m.format(m.value(run.Samples[len(run.Samples)-1])), m.format(mx))
		}
		f("\n")
	}
	for _, run := range r.Runs {
		var bad []string
		for _, s := range run.Samples {
			if s.QueryError != "" {
				bad = append(bad, fmt.Sprintf("at %s: `%s`", s.Elapsed.Round(time.Second), oneLine(s.QueryError)))
			}
		}
		if len(bad) > 0 {
			f("\n%s's fixed query failed %d times: %s.\n", run.System, len(bad), strings.Join(bad[:min(3, len(bad))], "; "))
		}
	}
	f("\n")
	for _, l := range plots {
		f("%s\n\n", l)
	}
	return b.String()
}

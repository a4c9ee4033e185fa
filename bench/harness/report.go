package harness

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Goals of issue 6, reported against (they are not pass/fail).
const (
	goalOTLPRate       = 500_000 // samples/s, OTLP metrics ingest on the 2-core machine
	goalBytesPerSample = 1.3     // on disk
	// goalQueryTolerance is how much slower than Prometheus a median
	// latency may be and still count as "no worse": run-to-run noise on a
	// shared 2-core machine is about this size.
	goalQueryTolerance = 1.10
	// goalQueryNoise is a latency difference too small to count at all:
	// sub-millisecond lookups differ by more than 10% from run to run.
	goalQueryNoise = time.Millisecond
)

// WriteReport writes dir/name.md, the plots dir/name-*.png and the raw
// measurements dir/name.json (which LoadReport reads back, to render the
// report again without running anything), and returns the files written.
func WriteReport(r *Report, dir, name string) ([]string, error) {
	js, err := writeReportJSON(r, dir, name)
	if err != nil {
		return nil, err
	}
	plots := []struct {
		suffix, title string
		draw          func(*Report, string) error
	}{
		{"ingest-rate.png", "Ingest rate over time", plotIngest},
		{"query-p50.png", "Query latency p50", func(r *Report, f string) error { return plotLatency(r, 0.5, f) }},
		{"query-p99.png", "Query latency p99", func(r *Report, f string) error { return plotLatency(r, 0.99, f) }},
		{"bytes-per-sample.png", "Bytes per sample", plotBytesPerSample},
	}
	var files []string
	var links []string
	for _, pl := range plots {
		f := filepath.Join(dir, name+"-"+pl.suffix)
		if err := pl.draw(r, f); err != nil {
			return files, fmt.Errorf("plot %s: %w", pl.suffix, err)
		}
		files = append(files, f)
		links = append(links, fmt.Sprintf("![%s](%s)", pl.title, name+"-"+pl.suffix))
	}
	md := filepath.Join(dir, name+".md")
	if err := os.WriteFile(md, []byte(markdown(r, links)), 0o644); err != nil {
		return files, fmt.Errorf("write report: %w", err)
	}
	return append([]string{md, js}, files...), nil
}

// firstOK is the target's first run that completed.
func firstOK(r *Report, target string) (TargetRun, bool) {
	for _, run := range r.Runs {
		if run.Target == target && run.Error == "" {
			return run, true
		}
	}
	return TargetRun{}, false
}

// collect gathers f over the target's completed runs.
func collect(r *Report, target string, f func(TargetRun) float64) []float64 {
	var out []float64
	for _, run := range r.Runs {
		if run.Target == target && run.Error == "" {
			out = append(out, f(run))
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// spread formats the median and the min–max of v with format f.
func spread(v []float64, f string) string {
	v = slices.DeleteFunc(slices.Clone(v), math.IsNaN)
	if len(v) == 0 {
		return "–"
	}
	m := fmt.Sprintf(f, median(v))
	if len(v) == 1 {
		return m
	}
	return fmt.Sprintf("%s ["+f+"–"+f+"]", m, slices.Min(v), slices.Max(v))
}

// settledCPUPerSample is NaN for runs from before it was measured.
func settledCPUPerSample(run TargetRun) float64 {
	if run.SettledCPU == 0 {
		return math.NaN()
	}
	return run.SettledCPU / math.Max(1, float64(run.Ingest.Samples))
}

func bytesPerSample(run TargetRun) float64 {
	if run.Ingest.Samples == 0 {
		return math.NaN()
	}
	return float64(run.Disk.Allocated) / float64(run.Ingest.Samples)
}

// pooledLatencies are a target's query latencies of all completed runs.
func pooledLatencies(r *Report, target string) map[string][]time.Duration {
	out := map[string][]time.Duration{}
	for _, run := range r.Runs {
		if run.Target != target || run.Error != "" {
			continue
		}
		for _, q := range run.Queries {
			out[q.Name] = append(out[q.Name], q.Latencies...)
		}
	}
	return out
}

func ms(d time.Duration) string {
	v := float64(d.Microseconds()) / 1000
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// met is a report's "met?" cell.
func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func has(r *Report, target string) bool {
	_, ok := firstOK(r, target)
	return ok
}

// referenceTarget is the system the others' query results are compared to:
// Prometheus if it ran, since it is the reference PromQL implementation.
func referenceTarget(r *Report) string {
	for _, t := range []string{TargetPrometheus, TargetSightlineRW, TargetSightlineOTLP, TargetVictoriaMetrics} {
		if has(r, t) {
			return t
		}
	}
	return ""
}

func markdown(r *Report, plots []string) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	o := r.Options
	w := o.Workload
	d := r.Dataset

	p("# Sightline benchmark: %s\n\n", o.Name)
	p("Run on %s, took %s. Generated by `bench/cmd/slbench` (issue 6); numbers below are medians over %d repeat(s) with the min–max in brackets.\n\n",
		r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Took.Round(time.Second), o.Repeats)

	p("## Machine and systems\n\n")
	p("| | |\n|---|---|\n")
	p("| CPU | %s, %d cores |\n", r.Machine.CPU, r.Machine.Cores)
	p("| memory | %s total, %s available at start |\n", r.Machine.MemTotal, r.Machine.MemAvailable)
	p("| kernel, Go | %s, %s |\n", r.Machine.Kernel, r.Machine.GoVersion)
	p("| load average at start | %s |\n", r.Machine.LoadAvg)
	for _, k := range []string{kindSightline, kindPrometheus, kindVictoriaMetrics} {
		if v, ok := r.Versions[k]; ok {
			p("| %s | %s |\n", k, v)
		}
	}
	for _, t := range AllTargets() {
		if reason, ok := r.Skipped[t]; ok {
			p("| %s | **skipped**: %s |\n", t, reason)
		}
	}
	p("\nTargets: `sightline-otlp` is Sightline fed over OTLP/gRPC, `sightline-rw` is Sightline fed over remote_write; `prometheus` and `victoriametrics` are fed over remote_write, `victoriametrics-otlp` the same OTLP requests as `sightline-otlp`, over OTLP/HTTP (VictoriaMetrics keeps each exponential histogram as one series per non-empty bucket (`vmrange`) plus `_sum` and `_count`, so its own count of accepted samples is higher than the data points sent). Each run starts the system on an empty data directory with retention %s.\n\n", fmtDays(o.Retention))

	p("## Reproduce\n\n```sh\nmake bench            # = make build, install peers if missing, then:\n%s\n```\n\n", o.Command)

	p("## Load\n\n")
	p("| parameter | value |\n|---|---|\n")
	p("| active series | %d (%d instances × %d series), %d series in total with churn |\n", d.SeriesActive, d.Instances, d.SeriesActive/max(1, d.Instances), d.SeriesTotal)
	p("| metrics per instance | `http_requests_total{route,code}` (20 counters), `http_request_duration_seconds` (5 classic histograms × 11 buckets + _sum + _count), `process_cpu_seconds_total`, `process_resident_memory_bytes`, `go_goroutines`, `http_inflight_requests{route}`, `queue_length{queue}`; over OTLP also `rpc_duration_seconds{route}` exponential histograms: %v |\n", w.ExpHistograms)
	p("| interval, samples per series | %s, %d (data spans %s: %s to %s) |\n", w.Interval, w.Intervals, d.Last.Sub(d.First), d.First.UTC().Format(time.RFC3339), d.Last.UTC().Format(time.RFC3339))
	p("| churn | %d%% of instances replaced every %d intervals (staggered) |\n", w.ChurnPercent, w.ChurnEvery)
	p("| samples per system | %d remote_write; %d OTLP (incl. native histograms) |\n", d.Samples, d.OTLPSamples)
	p("| requests | %d per system, %d instances (≈%d samples) each; remote_write %.1f MiB (%.1f B/sample), OTLP %.1f MiB |\n",
		d.Requests, w.InstancesPerRequest, w.InstancesPerRequest*100, float64(d.RWBytes)/(1<<20), float64(d.RWBytes)/float64(max(1, d.Samples)), float64(d.OTLPBytes)/(1<<20))
	p("| senders | %d concurrent, each owning a fixed share of the series; none runs more than %d intervals ahead of the slowest |\n", d.Senders, o.Window)
	var more []string
	for i, q := range QuerySet() {
		if q.Times > 1 {
			more = append(more, fmt.Sprintf("Q%d %d×", i+1, q.Times))
		}
	}
	p("| queries | %d warm-up + %d measured runs each per repeat (sightline-otlp: %d run, a result check), the quick ones more: %s; evaluated at %s |\n\n",
		o.QueryWarmup, o.QueryRuns, o.OTLPQueryRuns, strings.Join(more, ", "), r.QueryTime.UTC().Format(time.RFC3339))

	p("**Timestamps.** The load is generated in fast-forward time: sample *k* of a series is at `end - (%d-1-k) × %s + offset`, where `end` is the latest time at least 5 minutes before the run started that lies 1 h 30 min into a 2-hour block range (Prometheus' and Sightline's heads are cut into blocks at those ranges, so the data is in blocks and head the same way at any hour of the day), and `offset` is a fixed per-instance phase within the interval (real scrapes are spread out). Every system receives each series in timestamp order, and the senders stay within %d intervals of each other, so nothing is out of order and nothing is older than Prometheus' head accepts (1 h behind its newest sample) or VictoriaMetrics' retention. The data is generated and encoded once, before anything is measured, and the identical bytes are replayed to every system and repeat; the OTLP requests translate (with Prometheus' OTLP translator, as Sightline uses it) to exactly the remote_write series, which `bench/workload`'s test checks.\n\n",
		w.Intervals, w.Interval, o.Window)

	writeGoals(&b, r)
	writeIngest(&b, r)
	writeStorage(&b, r)
	writeQueries(&b, r)
	writeProfiles(&b, r)

	p("## Plots\n\n")
	for _, l := range plots {
		p("%s\n\n", l)
	}

	var errs []string
	for _, run := range r.Runs {
		if run.Error != "" {
			errs = append(errs, fmt.Sprintf("- %s, repeat %d: %s", run.Target, run.Repeat, oneLine(run.Error)))
		}
	}
	if len(errs) > 0 {
		p("## Failed runs\n\n%s\n\n", strings.Join(errs, "\n"))
	}

	p("## Method notes and caveats\n\n")
	p("- Ingest rate = samples acknowledged / wall time from the first request to the last acknowledgement, with %d senders pushing as fast as the system answers (closed loop). A request is acknowledged by Sightline only once its samples are in the WAL; Prometheus and VictoriaMetrics answer remote_write after appending to their head / in-memory buffers. Failed requests are retried up to %d times on 429/5xx/Unavailable; every refusal is counted, and the system's own counters of accepted and refused samples are shown next to it.\n", d.Senders, maxAttempts)
	p("- The load generator runs on the same 2 cores as the server (it only copies pre-encoded bytes to sockets), and so does anything else running on the machine: see the load averages per run below.\n")
	p("- CPU seconds and peak RSS are the server process' own, from /proc/<pid>/stat (utime+stime) and /proc/<pid>/status (VmHWM), the peak read when the ingest has ended (per active series: divided by the load's active series) and again after the queries.\n")
	p("- Bytes on disk are measured after a clean stop (SIGTERM), as `du` counts them (allocated blocks). Prometheus and Sightline keep the last ~2-3 h in the head: it is on disk as WAL and m-mapped head chunks, which are much larger per sample than compacted blocks, until compaction (which starts when the head spans 3 h and cuts 2 h blocks). \"Blocks only\" divides the size of the compacted blocks by the samples their meta.json counts. VictoriaMetrics is flushed (`/internal/force_flush`) and merged (`/internal/force_merge`, waited for) before it is stopped.\n")
	p("- Each system ingests alone: those that have ingested before it in the repeat are paused (SIGSTOP), so that their compactions and merges do not take its CPU. Then all are resumed, and once they are idle (their CPU time together, counted in tenths of a second, has not moved for a second; at most a minute) the queries go to all of them in turn: each run of a query to every system, starting with a different one each run, so that a machine whose speed drifts answers every system's runs of a query at the same speed. While one system answers a query, the others are paused (SIGSTOP), so that what a system does after answering (the GC of its query's garbage, merges) slows its own next query, not another system's.\n")
	p("- Query latency is measured at the client, until the whole response was read, one query at a time, after the warm-up runs. p50/p90/p99 pool all measured runs of all repeats (nearest rank), so p99 of a few dozen runs is close to the maximum. VictoriaMetrics runs with `-search.disableCache` so that repeated range queries are computed, not served from its rollup result cache.\n")
	p("- Result checks compare each system's answer with %s's: number of series and points, and the sum of all values within 0.1%%, or the list entries for label and series lookups. Known, expected differences: Sightline embeds the Prometheus 3 engine (left-open range selectors), Prometheus here is 2.42; VictoriaMetrics' MetricsQL `rate` does not extrapolate and its label APIs work at day granularity.\n", referenceTarget(r))
	return b.String()
}

func fmtDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func writeGoals(b *strings.Builder, r *Report) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Goals\n\n| goal | measured | met? |\n|---|---|---|\n")
	rate := median(collect(r, TargetSightlineOTLP, func(run TargetRun) float64 { return run.Ingest.Rate }))
	p("| OTLP metrics ingest ≥ %d samples/s | %s | %s |\n", goalOTLPRate, fmtNum(rate, "%.0f samples/s"), verdict(rate >= goalOTLPRate, math.IsNaN(rate)))
	for _, t := range []string{TargetSightlineOTLP, TargetSightlineRW} {
		bps := median(collect(r, t, bytesPerSample))
		blk := median(collect(r, t, blockBytesPerSample))
		p("| ≤ %.1f bytes/sample on disk (%s) | %s total (du); %s in compacted blocks | %s |\n", goalBytesPerSample, t,
			fmtNum(bps, "%.2f"), fmtNum(blk, "%.2f"), verdict(bps <= goalBytesPerSample, math.IsNaN(bps)))
	}
	if has(r, TargetPrometheus) && has(r, TargetSightlineRW) {
		sl, pr := pooledLatencies(r, TargetSightlineRW), pooledLatencies(r, TargetPrometheus)
		var worse []string
		for _, q := range QuerySet() {
			a, bb := percentile(sl[q.Name], 0.5), percentile(pr[q.Name], 0.5)
			if bb > 0 && float64(a) > goalQueryTolerance*float64(bb) && a-bb > goalQueryNoise {
				worse = append(worse, fmt.Sprintf("%s %s", q.Name, ratio(float64(a), float64(bb))))
			}
		}
		m := "p50 within 10% (or 1 ms) of Prometheus or better on every query"
		if len(worse) > 0 {
			m = "slower p50 on: " + strings.Join(worse, ", ")
		}
		p("| query latency no worse than Prometheus (sightline-rw vs prometheus, same data) | %s | %s |\n", m, verdict(len(worse) == 0, false))
	} else {
		p("| query latency no worse than Prometheus | Prometheus or sightline-rw did not run | – |\n")
	}
	p("\n")
}

func verdict(ok, unknown bool) string {
	switch {
	case unknown:
		return "–"
	case ok:
		return "yes"
	}
	return "**no**"
}

func fmtNum(v float64, f string) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf(f, v)
}

func blockBytesPerSample(run TargetRun) float64 {
	if run.Disk.BlockSamples == 0 {
		return math.NaN()
	}
	return float64(run.Disk.BlockBytes) / float64(run.Disk.BlockSamples)
}

func writeIngest(b *strings.Builder, r *Report) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Ingest\n\n")
	p("| target | samples/s | acknowledged samples | refused (client) | refused (server counter) | server-counted accepted | retries | CPU s during ingest | CPU µs/sample | CPU µs/sample until settled | settled after s | peak RSS MiB | peak RSS MiB in ingest | KiB per active series | start-up s |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	active := float64(max(r.Dataset.SeriesActive, 1))
	for _, t := range r.Targets {
		get := func(f func(TargetRun) float64) []float64 { return collect(r, t, f) }
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t,
			spread(get(func(x TargetRun) float64 { return x.Ingest.Rate }), "%.0f"),
			spread(get(func(x TargetRun) float64 { return float64(x.Ingest.Samples) }), "%.0f"),
			spread(get(func(x TargetRun) float64 { return float64(x.Ingest.FailedSamples + x.Ingest.NotSent) }), "%.0f"),
			spread(get(func(x TargetRun) float64 { return x.ServerRejected }), "%.0f"),
			spread(get(func(x TargetRun) float64 { return x.ServerAccepted }), "%.0f"),
			spread(get(func(x TargetRun) float64 { return float64(x.Ingest.Retries) }), "%.0f"),
			spread(get(func(x TargetRun) float64 { return x.IngestCPU }), "%.1f"),
			spread(get(func(x TargetRun) float64 { return 1e6 * x.IngestCPU / math.Max(1, float64(x.Ingest.Samples)) }), "%.2f"),
			spread(get(func(x TargetRun) float64 { return 1e6 * settledCPUPerSample(x) }), "%.2f"),
			spread(get(func(x TargetRun) float64 { return x.SettleTime.Seconds() }), "%.0f"),
			spread(get(func(x TargetRun) float64 { return float64(x.PeakRSS) / (1 << 20) }), "%.0f"),
			spread(get(func(x TargetRun) float64 { return float64(x.IngestPeakRSS) / (1 << 20) }), "%.0f"),
			spread(get(func(x TargetRun) float64 { return float64(x.IngestPeakRSS) / 1024 / active }), "%.2f"),
			spread(get(func(x TargetRun) float64 { return x.StartupTime.Seconds() }), "%.1f"),
		)
	}
	p("\n")
	for _, run := range r.Runs {
		if run.Ingest.FirstError != "" {
			p("- %s, repeat %d, first refusal: `%s`\n", run.Target, run.Repeat, oneLine(run.Ingest.FirstError))
		}
	}
	p("\nLoad average (1/5/15 min) when each ingest started: ")
	var las []string
	for _, run := range r.Runs {
		las = append(las, fmt.Sprintf("%s#%d %s", run.Target, run.Repeat, run.LoadAvg))
	}
	p("%s.\n\n", strings.Join(las, "; "))

	p("The CPU until settled adds what the ingest left each system to do (a head written as a block, merges of parts), until its CPU time stood still for a second (at most a minute), so that a system that leaves work for later is not counted as cheaper for it.\n\n")
	p("**Sightline / peer ratios** (medians; ingest > 1 is better for Sightline, CPU per sample and RSS < 1 are better):\n\n")
	p("| Sightline target | vs | ingest samples/s | CPU µs/sample | CPU µs/sample until settled | peak RSS | peak RSS in ingest |\n|---|---|---|---|---|---|---|\n")
	for _, s := range []string{TargetSightlineOTLP, TargetSightlineRW} {
		for _, peer := range []string{TargetPrometheus, TargetVictoriaMetrics, TargetVictoriaMetricsOTLP} {
			if !has(r, s) || !has(r, peer) {
				continue
			}
			m := func(t string, f func(TargetRun) float64) float64 { return median(collect(r, t, f)) }
			rate := func(x TargetRun) float64 { return x.Ingest.Rate }
			cpu := func(x TargetRun) float64 { return x.IngestCPU / math.Max(1, float64(x.Ingest.Samples)) }
			rss := func(x TargetRun) float64 { return float64(x.PeakRSS) }
			inRSS := func(x TargetRun) float64 { return float64(x.IngestPeakRSS) }
			p("| %s | %s | %s | %s | %s | %s | %s |\n", s, peer, ratio(m(s, rate), m(peer, rate)), ratio(m(s, cpu), m(peer, cpu)),
				ratio(m(s, settledCPUPerSample), m(peer, settledCPUPerSample)),
				ratio(m(s, rss), m(peer, rss)), ratio(m(s, inRSS), m(peer, inRSS)))
		}
	}
	p("\n")
}

func writeStorage(b *strings.Builder, r *Report) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Storage\n\n")
	p("| target | bytes/sample (du) | bytes/sample (apparent size) | MiB on disk | compacted blocks | bytes/sample in blocks | samples in blocks | clean stop s |\n|---|---|---|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		get := func(f func(TargetRun) float64) []float64 { return collect(r, t, f) }
		blocks := "–"
		if v := get(func(x TargetRun) float64 { return float64(x.Disk.Blocks) }); len(v) > 0 && median(v) > 0 {
			blocks = spread(v, "%.0f")
		}
		blk := get(blockBytesPerSample)
		blkS := "–"
		if len(blk) > 0 && !math.IsNaN(median(blk)) {
			blkS = spread(blk, "%.2f")
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", t,
			spread(get(bytesPerSample), "%.2f"),
			spread(get(func(x TargetRun) float64 {
				return float64(x.Disk.Apparent) / math.Max(1, float64(x.Ingest.Samples))
			}), "%.2f"),
			spread(get(func(x TargetRun) float64 { return float64(x.Disk.Allocated) / (1 << 20) }), "%.1f"),
			blocks, blkS,
			spread(get(func(x TargetRun) float64 { return float64(x.Disk.BlockSamples) }), "%.0f"),
			spread(get(func(x TargetRun) float64 { return x.StopTime.Seconds() }), "%.1f"),
		)
	}
	p("\n")
}

func writeQueries(b *strings.Builder, r *Report) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Queries\n\n")
	p("Every query is evaluated at the end of the data (%s); range queries cover the given range before it. The data spans %s, so \"24h\" ranges cover all of it and then some, as a day-long dashboard would.\n\n",
		r.QueryTime.UTC().Format(time.RFC3339), r.Dataset.Last.Sub(r.Dataset.First))
	p("| # | name | kind | query |\n|---|---|---|---|\n")
	for i, q := range QuerySet() {
		kind := q.Kind
		if q.Range > 0 {
			kind += " " + shortDur(q.Range)
			if q.Step > 0 {
				kind += ", step " + shortDur(q.Step)
			}
		}
		expr := q.Expr
		if expr == "" {
			expr = "(all)"
		}
		p("| Q%d | %s | %s | `%s` |\n", i+1, q.Name, kind, strings.ReplaceAll(expr, "|", `\|`))
	}

	p("\nLatency in ms, p50 / p90 / p99 over all measured runs of all repeats:\n\n| # |")
	var cols []string
	for _, t := range r.Targets {
		if isOTLP(t) {
			continue // a result check, too few runs for latency
		}
		cols = append(cols, t)
		p(" %s |", t)
	}
	showRatio := slices.Contains(cols, TargetSightlineRW) && slices.Contains(cols, TargetPrometheus)
	if showRatio {
		p(" sightline-rw / prometheus p50, p99 |")
	}
	p("\n|---|")
	for range cols {
		p("---|")
	}
	if showRatio {
		p("---|")
	}
	p("\n")
	lat := map[string]map[string][]time.Duration{}
	for _, t := range cols {
		lat[t] = pooledLatencies(r, t)
	}
	for i, q := range QuerySet() {
		p("| Q%d |", i+1)
		for _, t := range cols {
			l := lat[t][q.Name]
			if len(l) == 0 {
				p(" – |")
				continue
			}
			p(" %s / %s / %s |", ms(percentile(l, 0.5)), ms(percentile(l, 0.9)), ms(percentile(l, 0.99)))
		}
		if showRatio {
			a, bb := lat[TargetSightlineRW][q.Name], lat[TargetPrometheus][q.Name]
			p(" %s, %s |", ratio(float64(percentile(a, 0.5)), float64(percentile(bb, 0.5))), ratio(float64(percentile(a, 0.99)), float64(percentile(bb, 0.99))))
		}
		p("\n")
	}

	ref := referenceTarget(r)
	p("\n### Result agreement (reference: %s)\n\n", ref)
	refRun, ok := firstOK(r, ref)
	if !ok {
		p("No reference run completed.\n\n")
		return
	}
	refRes := map[string]QueryResult{}
	for _, q := range refRun.Queries {
		refRes[q.Name] = q
	}
	p("Result of the reference (first repeat), then each other system's difference from it in every repeat; \"=\" means it agrees.\n\n")
	p("| # | reference result |")
	others := slices.DeleteFunc(slices.Clone(r.Targets), func(t string) bool { return t == ref })
	for _, t := range others {
		p(" %s |", t)
	}
	p("\n|---|---|")
	for range others {
		p("---|")
	}
	p("\n")
	mismatches := 0
	for i, q := range QuerySet() {
		rr := refRes[q.Name]
		desc := fmt.Sprintf("%d series", rr.Summary.Series)
		if q.Kind == QueryInstant || q.Kind == QueryRange {
			desc += fmt.Sprintf(", %d points, sum %.6g", rr.Summary.Points, rr.Summary.Sum)
		}
		if rr.Error != "" {
			desc = "error: " + oneLine(rr.Error)
		}
		p("| Q%d | %s |", i+1, desc)
		for _, t := range others {
			var cells []string
			for _, run := range r.Runs {
				if run.Target != t || run.Error != "" {
					continue
				}
				for _, res := range run.Queries {
					if res.Name != q.Name {
						continue
					}
					switch {
					case res.Error != "":
						cells = append(cells, "error: "+oneLine(res.Error))
					case rr.Error != "":
						cells = append(cells, "–")
					default:
						if diff := compareSummaries(q.Kind, res.Summary, rr.Summary); diff != "" {
							cells = append(cells, diff)
						} else {
							cells = append(cells, "=")
						}
					}
				}
			}
			cells = slices.Compact(cells)
			for _, c := range cells {
				if c != "=" {
					mismatches++
				}
			}
			p(" %s |", strings.Join(cells, "; "))
		}
		p("\n")
	}
	p("\n%d cell(s) with a difference.\n\n", mismatches)
}

func shortDur(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	return s
}

func writeProfiles(b *strings.Builder, r *Report) {
	if len(r.Profiles) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Profiles\n\n")
	p("Taken from Sightline's `/debug/pprof` during the last repeat's ingest of the `%s` target: CPU for the first %d s of ingest, then allocations (`alloc_space`, since process start, so dominated by the ingest).\n\n", r.Options.ProfileTarget, r.Options.ProfileSeconds)
	for _, pr := range r.Profiles {
		p("### %s, %s (`%s`)\n\n```\n%s\n```\n\n", pr.Target, pr.Kind, filepath.Base(pr.Path), pr.Top)
	}
}

// writeReportJSON writes the measurements r as dir/name.json, creating dir,
// and returns the file's path.
func writeReportJSON(r any, dir, name string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create report directory: %w", err)
	}
	raw, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return "", fmt.Errorf("encode report: %w", err)
	}
	js := filepath.Join(dir, name+".json")
	if err := os.WriteFile(js, raw, 0o644); err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	return js, nil
}

// LoadJSON reads back the measurements a Write…Report function saved as
// JSON, so that a report and its plots can be rendered again (-render).
func LoadJSON[T any](file string) (*T, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var r T
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode %s: %w", file, err)
	}
	return &r, nil
}

package harness

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sightline-dev/sightline/bench/workload"
)

// TargetRun is one target's measurements in one repeat.
type TargetRun struct {
	Target string
	Repeat int
	// Ingest is the load generator's view; ServerAccepted and
	// ServerRejected are the system's own counters over the ingest phase.
	Ingest                         IngestResult
	ServerAccepted, ServerRejected float64
	// IngestCPU is the server's CPU seconds during the ingest phase;
	// TotalCPU from its start until just before it was stopped.
	IngestCPU, TotalCPU float64
	// SettledCPU is IngestCPU and the work the ingest left the system to
	// do (a head written as a block, merges), until its CPU time stood
	// still for a second (at most a minute after the ingest, SettleTime).
	// A system that left work for later is not counted as cheaper for it.
	SettledCPU float64
	SettleTime time.Duration
	// PeakRSS is the server's VmHWM just before it was stopped, after
	// the queries; IngestPeakRSS its VmHWM when the ingest had ended.
	PeakRSS, IngestPeakRSS int64
	// StartupTime is until ready; StopTime the clean shutdown.
	StartupTime, StopTime time.Duration
	Disk                  DiskUsage
	Queries               []QueryResult
	// LoadAvg is /proc/loadavg when ingest started: other work on the
	// machine shows here.
	LoadAvg string
	// Error is set when the run could not complete.
	Error string
}

// DatasetInfo describes the generated load.
type DatasetInfo struct {
	Instances, SeriesActive, SeriesTotal int
	Samples, OTLPSamples                 int64
	RWBytes, OTLPBytes                   int64
	Requests, Senders                    int
	First, Last                          time.Time
	GenerateTime                         time.Duration
}

// Report is everything a run measured.
type Report struct {
	Options  Options
	Started  time.Time
	Took     time.Duration
	Machine  Machine
	Versions map[string]string // by system kind
	// Targets that ran, and Skipped ones with the reason.
	Targets []string
	Skipped map[string]string
	Dataset DatasetInfo
	// QueryTime is the evaluation time of every query: the end of the data.
	QueryTime time.Time
	Runs      []TargetRun
	Profiles  []Profile
}

// Run runs the benchmark. It returns an error only when nothing useful can
// be measured; failures of single runs are recorded in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	log := o.Logger
	r := &Report{Options: o, Started: time.Now(), Versions: map[string]string{}, Skipped: map[string]string{}}
	r.Machine = describeMachine()

	bins := map[string]string{}
	for _, t := range o.Targets {
		kind := kindOf(t)
		bin, reason := resolveBinary(kind, o)
		if reason == "" && t == TargetVictoriaMetricsOTLP {
			reason = otlpIngestMissing(ctx, bin)
		}
		if reason != "" {
			if kind == kindSightline {
				return nil, errors.New(reason)
			}
			log.Warn("skipping peer", "target", t, "reason", reason)
			r.Skipped[t] = reason
			continue
		}
		bins[kind] = bin
		r.Targets = append(r.Targets, t)
		if _, ok := r.Versions[kind]; !ok && kind != kindSightline {
			r.Versions[kind] = peerVersion(ctx, kind, bin)
		}
	}
	if len(r.Targets) == 0 {
		return nil, errors.New("no target can run")
	}

	if o.Workload.End.IsZero() {
		o.Workload.End = dataEnd(time.Now(), o.Workload.Interval)
		r.Options.Workload.End = o.Workload.End
	}
	o.Workload.RemoteWriteOnly = !slices.ContainsFunc(r.Targets, isOTLP)
	log.Info("generating load", "series", o.Workload.Series, "intervals", o.Workload.Intervals, "interval", o.Workload.Interval)
	genStart := time.Now()
	d, err := workload.Generate(o.Workload)
	if err != nil {
		return nil, err
	}
	r.Dataset = DatasetInfo{
		Instances: o.Workload.Instances(), SeriesActive: o.Workload.Instances() * workload.SeriesPerInstance,
		SeriesTotal: d.SeriesTotal, Samples: d.Samples, OTLPSamples: d.OTLPSamples,
		RWBytes: d.RWBytes, OTLPBytes: d.OTLPBytes, Requests: d.Requests(), Senders: len(d.Shards),
		First: d.First, Last: d.Last, GenerateTime: time.Since(genStart),
	}
	r.QueryTime = d.Last
	// Generation leaves a few GB of garbage; hand it back before the
	// systems under test need the memory.
	debug.FreeOSMemory()
	log.Info("load generated", "samples", d.Samples, "requests", d.Requests(), "took", r.Dataset.GenerateTime.Round(time.Millisecond))

	for _, dir := range []string{o.WorkDir, o.OutDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create directory: %w", err)
		}
	}
	for rep := 1; rep <= o.Repeats; rep++ {
		// Every target ingests alone, then waits paused while the others
		// do; the queries then go to all of them in turn (queryLive), so
		// that the machine's speed, which drifts by up to a half within
		// the hour here, is the same for each system's answers to a query.
		var ts []*liveTarget
		for _, t := range r.Targets {
			if err := ctx.Err(); err != nil {
				break
			}
			profile := rep == o.Repeats && t == o.ProfileTarget
			lt, profiles := ingestTarget(ctx, o, r, d, t, bins[kindOf(t)], rep, profile)
			r.Profiles = append(r.Profiles, profiles...)
			ts = append(ts, lt)
			if lt.p != nil {
				// Its merges and compactions wait until the others have
				// ingested, rather than take their CPU.
				lt.pause()
			}
			// Give the next system a machine without this one's garbage.
			runtime.GC()
		}
		live := slices.DeleteFunc(slices.Clone(ts), func(lt *liveTarget) bool { return lt.p == nil })
		for _, lt := range live {
			lt.resume()
		}
		waitIdle(ctx, live, o.Logger)
		queryLive(ctx, o, r.QueryTime, live)
		for _, lt := range ts {
			run := finishTarget(ctx, o, lt)
			r.Runs = append(r.Runs, run)
			log.Info("run done", "target", run.Target, "repeat", rep, "samples/s", int(run.Ingest.Rate),
				"failed", run.Ingest.Failed, "cpu_s", fmt.Sprintf("%.1f", run.IngestCPU),
				"peak_rss_mib", run.PeakRSS>>20, "disk_mib", run.Disk.Allocated>>20, "error", run.Error)
		}
		if err := ctx.Err(); err != nil {
			return r, err
		}
	}
	r.Took = time.Since(r.Started)
	return r, nil
}

// Prometheus' head, and so Sightline's, is cut into blocks of blockRange,
// aligned to multiples of it, once it spans 1.5 of them. Where the data ends
// within that range therefore decides how much of it is in blocks and how
// much in the head when the queries run, and the two are read at different
// speeds: ending at the hour of the day the run happened to start, two runs
// of the same code differed by up to a half in a query's ratio to
// VictoriaMetrics. The data always ends blockPhase into a range: the
// standard load's 3.5 hours are then one full 2-hour block and 1.5 hours
// of head.
const blockRange, blockPhase = 2 * time.Hour, 90 * time.Minute

// dataEnd is the end of the load's data: the latest time blockPhase into a
// block range that is at least 5 minutes before now (no system treats the
// newest samples as still incomplete, as VictoriaMetrics'
// -search.latencyOffset does), on a multiple of the interval.
func dataEnd(now time.Time, interval time.Duration) time.Time {
	latest := now.Add(-5 * time.Minute)
	end := latest.Truncate(blockRange).Add(blockPhase)
	if end.After(latest) {
		end = end.Add(-blockRange)
	}
	return end.Truncate(interval)
}

// resolveBinary finds the binary of kind, or says why there is none.
func resolveBinary(kind string, o Options) (string, string) {
	var bin, name string
	switch kind {
	case kindSightline:
		if o.SightlineBin == "" {
			return "", "no sightline binary given"
		}
		if _, err := os.Stat(o.SightlineBin); err != nil {
			return "", fmt.Sprintf("sightline binary: %v (run `make build`)", err)
		}
		return o.SightlineBin, ""
	case kindPrometheus:
		bin, name = o.PrometheusBin, "prometheus"
	default:
		bin, name = o.VictoriaMetricsBin, "victoria-metrics"
	}
	if bin == "" {
		bin = name
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Sprintf("%s is not installed (%v); `apt-get install %s` adds it", name, err, name)
	}
	return path, ""
}

// otlpIngestMissing says why the VictoriaMetrics binary bin cannot be fed
// OTLP, or "" if it can: it must know the flags victoriametrics-otlp starts
// it with (OTLP ingest came in 1.92).
func otlpIngestMissing(ctx context.Context, bin string) string {
	out, _ := exec.CommandContext(ctx, bin, "-help").CombinedOutput()
	if bytes.Contains(out, []byte("-opentelemetry.usePrometheusNaming")) {
		return ""
	}
	return fmt.Sprintf("%s (%s) has no OTLP ingest; `make bench-deps` builds a VictoriaMetrics with it into bin/peers", bin, peerVersion(ctx, kindVictoriaMetrics, bin))
}

// peerVersion asks the binary, then its Go build information (a binary
// built from its module, as make bench-deps builds VictoriaMetrics, knows
// its module's version but prints an empty -version), and falls back to
// the Debian package's version: Debian's VictoriaMetrics build prints an
// empty -version too.
func peerVersion(ctx context.Context, kind, bin string) string {
	flag := "--version"
	if kind == kindVictoriaMetrics {
		flag = "-version"
	}
	out, _ := exec.CommandContext(ctx, bin, flag).CombinedOutput()
	if line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n"); line != "" {
		return line
	}
	if info, err := buildinfo.ReadFile(bin); err == nil && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return fmt.Sprintf("%s %s (built from its module with %s)", info.Main.Path, info.Main.Version, info.GoVersion)
	}
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		real = bin
	}
	owner, err := exec.CommandContext(ctx, "dpkg-query", "-S", real).Output()
	if err != nil {
		return "unknown"
	}
	pkg, _, _ := strings.Cut(string(owner), ":")
	v, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%s %s (Debian package)", pkg, v)
}

// liveTarget is a target's system between its ingest and its stop.
type liveTarget struct {
	run     TargetRun
	p       *process // nil when the run failed: run.Error says why
	dataDir string
	keep    bool // keep dataDir (-keep)
	// warmup and runs are the target's query runs.
	warmup, runs int
}

// pause stops the process (SIGSTOP) until resume.
func (lt *liveTarget) pause() { _ = lt.p.cmd.Process.Signal(syscall.SIGSTOP) }

// resume continues a paused process.
func (lt *liveTarget) resume() { _ = lt.p.cmd.Process.Signal(syscall.SIGCONT) }

// fail records err as the run's error, ends the process and removes its
// data directory unless kept.
func (lt *liveTarget) fail(log *slog.Logger, err error) {
	lt.run.Error = err.Error()
	log.Error("run failed", "target", lt.run.Target, "repeat", lt.run.Repeat, "err", err)
	if lt.p != nil {
		lt.p.kill()
		lt.p = nil
	}
	lt.cleanup()
}

func (lt *liveTarget) cleanup() {
	if !lt.keep {
		_ = os.RemoveAll(lt.dataDir)
	}
}

// ingestTarget starts the target's system on an empty directory and feeds
// it the dataset. The system is left running for the queries unless the
// run failed.
func ingestTarget(ctx context.Context, o Options, r *Report, d *workload.Dataset, target, bin string, rep int, profile bool) (lt *liveTarget, profiles []Profile) {
	lt = &liveTarget{
		run:     TargetRun{Target: target, Repeat: rep},
		dataDir: filepath.Join(o.WorkDir, fmt.Sprintf("r%d-%s", rep, target)),
		keep:    o.KeepData,
		warmup:  o.QueryWarmup, runs: o.QueryRuns,
	}
	kind := kindOf(target)
	log := o.Logger.With("target", target, "repeat", rep)
	fail := func(err error) (*liveTarget, []Profile) {
		lt.fail(o.Logger, err)
		return lt, profiles
	}
	_ = os.RemoveAll(lt.dataDir)

	started := time.Now()
	var extra []string
	if target == TargetVictoriaMetricsOTLP {
		// Series as Prometheus' translator (and so Sightline) makes them:
		// Prometheus names and no scope labels. The load's resources have
		// service.name and service.instance.id only, which VictoriaMetrics
		// keeps as labels of those names rather than job and instance.
		extra = []string{"-opentelemetry.usePrometheusNaming", "-opentelemetry.promoteScopeMetadata=false"}
	}
	p, err := startProcess(kind, bin, lt.dataDir, o.Retention, extra...)
	if err != nil {
		return fail(err)
	}
	lt.p = p
	if err := p.waitReady(ctx, o.ReadyTimeout); err != nil {
		return fail(err)
	}
	lt.run.StartupTime = time.Since(started)
	if kind == kindSightline {
		if _, ok := r.Versions[kind]; !ok {
			r.Versions[kind] = sightlineVersion(ctx, p)
		}
	}

	client := newClient(time.Minute, len(d.Shards)+2)
	defer client.CloseIdleConnections()
	metricsURL := p.url("/metrics")
	acc0, err1 := scrapeCounters(ctx, client, metricsURL, acceptedCounters(target))
	rej0, err2 := scrapeCounters(ctx, client, metricsURL, rejectedCounters(target))
	st0, err3 := p.stat()
	if err := errors.Join(err1, err2, err3); err != nil {
		return fail(err)
	}
	lt.run.LoadAvg = loadAvg()

	var send sendFunc
	otlp := isOTLP(target)
	switch {
	case target == TargetVictoriaMetricsOTLP:
		send = otlpHTTPSender(client, p.url("/opentelemetry/v1/metrics"))
	case otlp:
		conn, err := dialOTLP(p.grpcAddr)
		if err != nil {
			return fail(err)
		}
		defer conn.Close()
		send = otlpSender(conn)
	default:
		send = remoteWriteSender(client, p.url("/api/v1/write"))
	}
	if otlp {
		lt.warmup, lt.runs = 0, o.OTLPQueryRuns
	}

	var (
		profWG  sync.WaitGroup
		cpuProf = filepath.Join(o.OutDir, fmt.Sprintf("%s-%s-cpu.pprof", o.Name, target))
		cpuErr  error
	)
	if profile {
		profWG.Add(1)
		go func() {
			defer profWG.Done()
			path := fmt.Sprintf("/debug/pprof/profile?seconds=%d", o.ProfileSeconds)
			cpuErr = fetchProfile(ctx, p, path, cpuProf, time.Duration(o.ProfileSeconds+60)*time.Second)
		}()
	}
	log.Info("ingesting")
	lt.run.Ingest = ingest(ctx, d, otlp, o.Window, o.IngestTimeout, send)
	st1, err := p.stat()
	if err != nil {
		return fail(err)
	}
	lt.run.IngestCPU = st1.CPUSeconds - st0.CPUSeconds
	lt.run.IngestPeakRSS = st1.PeakRSS
	acc1, rej1, err := settledCounters(ctx, client, metricsURL, target, acc0+float64(lt.run.Ingest.Samples))
	if err != nil {
		return fail(err)
	}
	lt.run.ServerAccepted, lt.run.ServerRejected = acc1-acc0, rej1-rej0

	if profile {
		// The CPU profile must not cover the queries.
		profWG.Wait()
		allocProf := filepath.Join(o.OutDir, fmt.Sprintf("%s-%s-allocs.pprof", o.Name, target))
		allocErr := fetchProfile(ctx, p, "/debug/pprof/allocs", allocProf, time.Minute)
		profiles = append(profiles,
			finishProfile(ctx, target, "cpu", cpuProf, "", cpuErr),
			finishProfile(ctx, target, "allocs", allocProf, "alloc_space", allocErr))
	}

	settled, err := waitQuietCPU(ctx, []*liveTarget{lt})
	if err != nil {
		log.Warn("the system is still busy after its ingest; its settled CPU time is as it was then", "err", err)
	}
	st2, err := p.stat()
	if err != nil {
		return fail(err)
	}
	lt.run.SettledCPU, lt.run.SettleTime = st2.CPUSeconds-st0.CPUSeconds, settled

	if kind == kindVictoriaMetrics {
		// VictoriaMetrics makes new samples searchable about a second after
		// it received them; flush so the queries see everything.
		if _, err := get(ctx, client, p.url("/internal/force_flush")); err != nil {
			return fail(err)
		}
	}
	return lt, profiles
}

// finishTarget stops a target's system after its queries, reads its CPU
// and peak RSS, and measures its directory.
func finishTarget(ctx context.Context, o Options, lt *liveTarget) TargetRun {
	if lt.p == nil {
		return lt.run
	}
	p := lt.p
	if p.kind == kindVictoriaMetrics {
		if err := vmFlushAndMerge(ctx, p, o.StopTimeout); err != nil {
			lt.fail(o.Logger, err)
			return lt.run
		}
	}
	st, err := p.stat()
	if err != nil {
		lt.fail(o.Logger, err)
		return lt.run
	}
	// The kernel sums a process' RSS from per-CPU counters without
	// flushing them, so a VmHWM read later can come out a few pages below
	// one read earlier; the run's peak is at least the ingest's.
	lt.run.TotalCPU, lt.run.PeakRSS = st.CPUSeconds, max(st.PeakRSS, lt.run.IngestPeakRSS)
	stopStart := time.Now()
	if err := p.stop(o.StopTimeout); err != nil {
		lt.fail(o.Logger, err)
		return lt.run
	}
	lt.p = nil
	lt.run.StopTime = time.Since(stopStart)
	lt.run.Disk, err = diskUsage(lt.dataDir)
	if err != nil {
		lt.run.Error = err.Error()
	}
	lt.cleanup()
	return lt.run
}

// settledCounters scrapes the system's accepted and rejected counters until
// accepted reaches want or 10 s pass: VictoriaMetrics' /metrics lags its
// acknowledgements by up to a few seconds.
func settledCounters(ctx context.Context, client *http.Client, url, target string, want float64) (acc, rej float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		acc, err = scrapeCounters(ctx, client, url, acceptedCounters(target))
		if err == nil {
			rej, err = scrapeCounters(ctx, client, url, rejectedCounters(target))
		}
		if err != nil || acc >= want {
			return acc, rej, err
		}
		select {
		case <-ctx.Done():
			return acc, rej, nil // report what the system says
		case <-tick.C:
		}
	}
}

func finishProfile(ctx context.Context, target, kind, file, sampleIndex string, err error) Profile {
	p := Profile{Target: target, Kind: kind, Path: file}
	if err != nil {
		p.Top = "no profile: " + err.Error()
		return p
	}
	p.Top = topSites(ctx, file, sampleIndex)
	return p
}

// sightlineVersion reads the build information Sightline serves.
func sightlineVersion(ctx context.Context, p *process) string {
	client := newClient(10*time.Second, 1)
	defer client.CloseIdleConnections()
	body, err := get(ctx, client, p.url("/api/v1/status/buildinfo"))
	if err != nil {
		return "unknown"
	}
	var resp struct {
		Data struct {
			Version, Revision, Branch string
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%s (revision %s; Prometheus engine %s)", strings.TrimPrefix(resp.Data.Branch, "sightline-"), resp.Data.Revision, resp.Data.Version)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPU                    string
	Cores                  int
	MemTotal, MemAvailable string
	Kernel, GoVersion      string
	LoadAvg                string
}

// writeTable writes the machine as the Markdown table the reports open
// with, with the version of Sightline that ran.
func (m Machine) writeTable(b *strings.Builder, version string) {
	fmt.Fprintf(b, "| | |\n|---|---|\n| CPU | %s, %d cores |\n| memory | %s total, %s available at start |\n| kernel, Go | %s, %s |\n| load average at start | %s |\n| sightline | %s |\n\n",
		m.CPU, m.Cores, m.MemTotal, m.MemAvailable, m.Kernel, m.GoVersion, m.LoadAvg, version)
}

func describeMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAvg: loadAvg(), CPU: "?"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			switch k {
			case "MemTotal":
				m.MemTotal = strings.TrimSpace(v)
			case "MemAvailable":
				m.MemAvailable = strings.TrimSpace(v)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

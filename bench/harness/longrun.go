package harness

import (
	"cmp"
	"context"
	"fmt"
	"image/color"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// LongrunOptions configure the long-run log benchmark (issue 10): a
// simulated week of logs sent at a steady rate to a Sightline that flushes
// its head every second, while the harness watches the log store's parts,
// the open files and the memory of the server.
type LongrunOptions struct {
	Sightline string // binary
	WorkDir   string // data goes under it
	// Days of simulated time, each of 24 hour partitions of RecordsPerHour
	// records, sent oldest first.
	Days, RecordsPerHour int
	// Rate is the records sent per second of wall-clock time, by Senders
	// senders each sending one request of RecordsPerRequest records per
	// tick of its ticker.
	Rate, Senders, RecordsPerRequest int
	// HeadMaxAge is passed to Sightline as -logs.head.max-age: its flush
	// loop, which looks every second, cuts a head once it is this old.
	HeadMaxAge time.Duration
	// HeadMaxRecords is passed as -logs.head.max-records (0: Sightline's
	// default): a head this full is flushed at once, so a simulated hour,
	// which gets only seconds of wall clock, still sees many flushes.
	HeadMaxRecords int
	// SampleEvery is how often /metrics and the partitions on disk are
	// read.
	SampleEvery time.Duration
	// MaxIngest bounds the ingest phase; SettleTimeout the wait, after it,
	// for the last flush and the merges to finish.
	MaxIngest, SettleTimeout time.Duration
	// Query counts at the end: trace-ID lookups, runs of the word search
	// (Word, over the last simulated hour), of the limit=100 LogQL query
	// and of the volume query over the last simulated hour.
	TraceLookups, SearchRuns, LogQLRuns, VolumeRuns int
	Word                                            string
	// Command is the command line shown in the report.
	Command string
}

// DefaultLongrunOptions are sized for about 10 minutes on 2 cores: a week
// of 20,000 records per hour (3.36 million) at 6,000 records/s, 3.3 s of
// wall clock per simulated hour, a flush every 2,000 records (about 10 per
// simulated hour).
func DefaultLongrunOptions() LongrunOptions {
	return LongrunOptions{
		Days: 7, RecordsPerHour: 20_000, Rate: 6_000, Senders: 1, RecordsPerRequest: 1000,
		HeadMaxAge: time.Second, HeadMaxRecords: 2000, SampleEvery: 5 * time.Second, MaxIngest: 20 * time.Minute, SettleTimeout: 5 * time.Minute,
		TraceLookups: 300, SearchRuns: 20, LogQLRuns: 20, VolumeRuns: 10, Word: "deadlock",
	}
}

// LongrunSample is one look at the server during the long run.
type LongrunSample struct {
	// Elapsed is wall-clock time since the first send; SimTime the
	// timestamp of the newest record acknowledged, Records how many.
	Elapsed time.Duration
	SimTime time.Time
	Records int64
	// Partitions are the hour partitions on disk with segments.
	Partitions int
	LogStoreStats
}

// PartsPerPartition is the mean number of parts of an hour partition.
func (s LongrunSample) PartsPerPartition() float64 {
	if s.Partitions == 0 {
		return 0
	}
	return s.PartsTotal / float64(s.Partitions)
}

// LongrunReport is what one long run measured.
type LongrunReport struct {
	Options LongrunOptions
	Started time.Time
	Took    time.Duration
	Machine Machine
	Version string
	// SimStart and SimEnd bound the simulated time of the records.
	SimStart, SimEnd time.Time
	Sent, Retries    int64
	IngestSeconds    float64
	// CPUSeconds is Sightline's CPU time during ingest.
	CPUSeconds float64
	// Samples are every SampleEvery from the first send until the merges
	// settled; Settled says whether they did within SettleTimeout, after
	// SettleWait.
	Samples    []LongrunSample
	Settled    bool
	SettleWait time.Duration
	// DiskBytes is du of the log store once settled.
	DiskBytes int64
	// Queries at the end.
	TraceLookups    []time.Duration
	TraceMismatches int
	Search          []time.Duration
	SearchHits      int
	// Limit is the limit=100 LogQL query from the oldest record to now;
	// Volume1h the volume query over the last simulated hour.
	Limit, Volume1h LogQLResult
	// End is the store and the process after the queries.
	End LogStoreStats
}

// RunLogsLongrun runs the long-run log benchmark once.
func RunLogsLongrun(ctx context.Context, o LongrunOptions, logf func(string, ...any)) (*LongrunReport, error) {
	if o.Days < 1 || o.RecordsPerHour < 1 || o.Rate < 1 || o.Senders < 1 || o.RecordsPerRequest < 1 {
		return nil, fmt.Errorf("long run: days, records per hour, rate, senders and batch must be positive")
	}
	r := &LongrunReport{Options: o, Started: time.Now(), Machine: describeMachine()}
	dataDir := filepath.Join(o.WorkDir, "sightline-longrun")
	// Retention 30d: the week's oldest partitions must stay.
	flags := []string{"-logs.head.max-age", o.HeadMaxAge.String(), "-logs.retention", "30d"}
	if o.HeadMaxRecords > 0 {
		flags = append(flags, "-logs.head.max-records", strconv.Itoa(o.HeadMaxRecords))
	}
	p, err := startSightline(ctx, o.Sightline, dataDir, flags...)
	if err != nil {
		return nil, err
	}
	defer p.kill()
	client := newClient(30*time.Second, 2)
	defer client.CloseIdleConnections()
	r.Version = sightlineVersion(ctx, p)

	// The simulated week ends at the start of the current hour: every
	// record is in the past, each hour of it one partition.
	r.SimEnd = r.Started.Truncate(time.Hour)
	r.SimStart = r.SimEnd.Add(-time.Duration(o.Days) * 24 * time.Hour)
	spacing := time.Hour / time.Duration(o.RecordsPerHour)
	at := func(sender, req int) time.Time {
		return r.SimStart.Add(time.Duration((req*o.Senders+sender)*o.RecordsPerRequest) * spacing)
	}
	every := time.Duration(float64(time.Second) * float64(o.Senders*o.RecordsPerRequest) / float64(o.Rate))
	total := o.Days * 24 * o.RecordsPerHour
	logf("longrun: %d records = %d days × 24 h × %d, %d records/s (one request of %d per %s per sender), head max age %s",
		total, o.Days, o.RecordsPerHour, o.Rate, o.RecordsPerRequest, every.Round(time.Millisecond), o.HeadMaxAge)

	sent := &sentLog{}
	segDir := filepath.Join(dataDir, "tenants", "default", "logs", "segments")
	before, err := p.stat()
	if err != nil {
		return nil, err
	}
	smp := startSampler(ctx, client, p, segDir, sent, o.SampleEvery, logf)
	in, err := sendLogs(ctx, p, logLoad{records: total, senders: o.Senders, batch: o.RecordsPerRequest,
		at: at, every: every, timeout: o.MaxIngest, sent: sent}, logf)
	if err != nil {
		smp.stop()
		return nil, err
	}
	r.Sent, r.Retries, r.IngestSeconds = in.sent, in.retries, in.seconds
	if after, err := p.stat(); err == nil {
		r.CPUSeconds = after.CPUSeconds - before.CPUSeconds
	}
	logf("longrun: sent %d records in %.1fs (%.0f records/s)", r.Sent, r.IngestSeconds, float64(r.Sent)/r.IngestSeconds)

	// The last head is flushed after HeadMaxAge; merges follow.
	settleStart := time.Now()
	if _, err := waitWAL(ctx, client, p, "sightline_logs_wal_bytes", 1<<20, o.HeadMaxAge+time.Minute); err != nil {
		smp.stop()
		return nil, err
	}
	r.Settled, err = waitSettled(ctx, smp, o.SettleTimeout)
	r.SettleWait = time.Since(settleStart)
	r.Samples = smp.stop()
	if err != nil {
		return nil, err
	}
	du, err := diskUsage(filepath.Join(dataDir, "tenants", "default", "logs"))
	if err != nil {
		return nil, err
	}
	r.DiskBytes = du.Allocated

	oldest, newest, _ := sent.bounds()
	logf("longrun: queries")
	if r.TraceLookups, r.TraceMismatches, err = lookupLogTraces(ctx, client, p, in.sampled, o.TraceLookups); err != nil {
		return nil, err
	}
	if r.Search, r.SearchHits, err = searchLogs(ctx, client, p, o.Word, newest.Add(-time.Hour), newest.Add(time.Nanosecond), o.SearchRuns); err != nil {
		return nil, err
	}
	slow := newClient(10*time.Minute, 1)
	defer slow.CloseIdleConnections()
	if r.Limit, err = measureLogQLLimit(ctx, slow, p, oldest, time.Now(), o.LogQLRuns, sent); err != nil {
		return nil, err
	}
	if r.Volume1h, err = measureLogVolume(ctx, slow, p, r.SimEnd.Add(-time.Hour), r.SimEnd, o.VolumeRuns, sent); err != nil {
		return nil, err
	}
	if r.End, err = scrapeLogStoreStats(ctx, client, p); err != nil {
		return nil, err
	}
	if err := p.stop(time.Minute); err != nil {
		return nil, err
	}
	r.Took = time.Since(r.Started)
	return r, nil
}

// sampler takes a sample every interval in the background.
type sampler[S any] struct {
	mu      sync.Mutex
	samples []S
	take    func() (S, error)
	done    chan struct{}
	wg      sync.WaitGroup
}

// startSampling calls take every interval until stop, keeping what it
// returns; a failed sample is logged and skipped, every sixth is logged
// through show.
func startSampling[S any](ctx context.Context, every time.Duration, take func() (S, error), logf func(string, ...any), show func(S)) *sampler[S] {
	s := &sampler[S]{done: make(chan struct{}), take: take}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for i := 1; ; i++ {
			select {
			case <-s.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			smp, err := s.take()
			if err != nil {
				logf("sample: %v", err)
				continue
			}
			s.mu.Lock()
			s.samples = append(s.samples, smp)
			s.mu.Unlock()
			if i%6 == 0 {
				show(smp)
			}
		}
	}()
	return s
}

// startSampler samples the log store of p: its /metrics and the
// partitions on disk.
func startSampler(ctx context.Context, client *http.Client, p *process, segDir string, sent *sentLog, every time.Duration, logf func(string, ...any)) *sampler[LongrunSample] {
	start := time.Now()
	take := func() (LongrunSample, error) {
		st, err := scrapeLogStoreStats(ctx, client, p)
		if err != nil {
			return LongrunSample{}, err
		}
		parts, err := countPartitions(segDir)
		if err != nil {
			return LongrunSample{}, err
		}
		_, newest, n := sent.bounds()
		return LongrunSample{Elapsed: time.Since(start), SimTime: newest, Records: n, Partitions: parts, LogStoreStats: st}, nil
	}
	return startSampling(ctx, every, take, logf, func(smp LongrunSample) {
		logf("longrun: %s simulated, %d records: %d partitions, %.0f parts, %.0f open files, RSS %s",
			smp.SimTime.Format("Mon 15:04"), smp.Records, smp.Partitions, smp.PartsTotal, smp.OpenFDs, mib(int64(smp.RSS)))
	})
}

// last returns the newest n samples.
func (s *sampler[S]) last(n int) []S {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]S(nil), s.samples[max(0, len(s.samples)-n):]...)
}

// stop ends sampling, takes one more sample and returns them all.
func (s *sampler[S]) stop() []S {
	close(s.done)
	s.wg.Wait()
	if smp, err := s.take(); err == nil {
		s.samples = append(s.samples, smp)
	}
	return s.samples
}

// waitSettled waits until three samples in a row show the same parts,
// merges and flushes: the merges have run out of work. False if that did
// not happen within timeout.
func waitSettled(ctx context.Context, s *sampler[LongrunSample], timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		if settled(s.last(3)) {
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

// settled says whether ss are at least three samples with the same
// parts, merges and flushes.
func settled(ss []LongrunSample) bool {
	if len(ss) < 3 {
		return false
	}
	for _, s := range ss[1:] {
		if s.PartsTotal != ss[0].PartsTotal || s.Merges != ss[0].Merges || s.Flushes != ss[0].Flushes {
			return false
		}
	}
	return true
}

// daySamples returns, for each simulated day d (1-based), the first sample
// by which all of its records were acknowledged, or the last sample if
// none was; nil for days no sample reached.
func daySamples(ss []LongrunSample, days, perDay int) []*LongrunSample {
	out := make([]*LongrunSample, days)
	for d := 1; d <= days; d++ {
		for i := range ss {
			if ss[i].Records >= int64(d*perDay) {
				out[d-1] = &ss[i]
				break
			}
		}
	}
	return out
}

// boundedness is the goal check of the long run: a quantity per sample
// (parts, open files) must not grow, after the first simulated day, faster
// than the hour partitions the store keeps — its growth per partition
// after day 1 at most (1+tolerance) times its level per partition at the
// end of day 1 — and must stay below the ceiling a store without merges
// would reach (one part per flush).
type boundedness struct {
	// AtDay1 and AtEnd are the quantity at the end of day 1 and at the end;
	// Max its maximum over every sample.
	AtDay1, AtEnd, Max float64
	// PerPartitionDay1 and PerPartitionAfter are the quantity per hour
	// partition at the end of day 1, and the growth per partition added
	// after it.
	PerPartitionDay1, PerPartitionAfter float64
	OK                                  bool
}

// longrunTolerance is how much faster than the partitions a quantity may
// grow after day 1 and still count as bounded.
const longrunTolerance = 0.25

// checkBounded evaluates v over the samples (see boundedness); day1 is the
// sample at the end of day 1 and end the final one.
func checkBounded(ss []LongrunSample, day1, end *LongrunSample, v func(LongrunSample) float64) boundedness {
	var b boundedness
	for _, s := range ss {
		b.Max = max(b.Max, v(s))
	}
	if day1 == nil || end == nil || day1.Partitions == 0 {
		return b
	}
	b.AtDay1, b.AtEnd = v(*day1), v(*end)
	b.PerPartitionDay1 = b.AtDay1 / float64(day1.Partitions)
	if grown := end.Partitions - day1.Partitions; grown > 0 {
		b.PerPartitionAfter = (b.AtEnd - b.AtDay1) / float64(grown)
	}
	b.OK = b.PerPartitionAfter <= (1+longrunTolerance)*b.PerPartitionDay1
	return b
}

// WriteLongrunReport writes <dir>/<name>.md, the measurements as
// <dir>/<name>.json and two plots, and returns the files written.
func WriteLongrunReport(r *LongrunReport, dir, name string) ([]string, error) {
	js, err := writeReportJSON(r, dir, name)
	if err != nil {
		return nil, err
	}
	files := []string{js}
	simDays := func(s LongrunSample) float64 { return s.SimTime.Sub(r.SimStart).Hours() / 24 }
	line := func(name string, c color.Color, v func(LongrunSample) float64) plotSeries {
		pts := make(plotter.XYs, 0, len(r.Samples))
		for _, s := range r.Samples {
			if s.Records > 0 {
				pts = append(pts, plotter.XY{X: simDays(s), Y: v(s)})
			}
		}
		return plotSeries{name: name, pts: pts, color: c}
	}
	blue, orange, grey := color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xe6, G: 0x55, B: 0x22, A: 0xff}, color.RGBA{R: 0x80, G: 0x80, B: 0x80, A: 0xff}
	plots := []struct {
		suffix, title, y string
		series           []plotSeries
	}{
		{"parts.png", "Log store parts and open files over the simulated week", "count", []plotSeries{
			line("parts (sightline_logs_parts)", blue, func(s LongrunSample) float64 { return s.PartsTotal }),
			line("open files (process_open_fds)", orange, func(s LongrunSample) float64 { return s.OpenFDs }),
			line("hour partitions on disk", grey, func(s LongrunSample) float64 { return float64(s.Partitions) }),
		}},
		{"rss.png", "Sightline's RSS over the simulated week", "MiB", []plotSeries{
			line("process_resident_memory_bytes", blue, func(s LongrunSample) float64 { return s.RSS / (1 << 20) }),
		}},
	}
	var links []string
	for _, pl := range plots {
		if len(pl.series[0].pts) == 0 {
			continue
		}
		f := filepath.Join(dir, name+"-"+pl.suffix)
		if err := plotLines(pl.title, "simulated days (newest record acknowledged)", pl.y, pl.series, 8*vg.Inch, f); err != nil {
			return files, fmt.Errorf("plot %s: %w", pl.suffix, err)
		}
		files = append(files, f)
		links = append(links, fmt.Sprintf("![%s](%s)", pl.title, name+"-"+pl.suffix))
	}
	md := filepath.Join(dir, name+".md")
	if err := os.WriteFile(md, []byte(longrunMarkdown(r, name, links)), 0o644); err != nil {
		return files, fmt.Errorf("write report: %w", err)
	}
	return append([]string{md}, files...), nil
}

func longrunMarkdown(r *LongrunReport, name string, plots []string) string {
	var b strings.Builder
	f := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	o := r.Options
	perDay := 24 * o.RecordsPerHour
	f("# Sightline log long run: %s\n\nRun on %s UTC by `bench/cmd/logbench -longrun` (issue 10); took %s.\n\n", name, r.Started.UTC().Format("2006-01-02 15:04"), r.Took.Round(time.Second))
	r.Machine.writeTable(&b, r.Version)
	cmd := cmp.Or(o.Command, fmt.Sprintf("cd bench && go run ./cmd/logbench -longrun -sightline ../bin/sightline -out results -name %s -days %d -records-per-hour %d -rate %d", name, o.Days, o.RecordsPerHour, o.Rate))
	f("## Reproduce\n\n```sh\nmake bench-logs-longrun   # = make build, then:\n%s\n```\n\n", cmd)

	var end *LongrunSample
	if len(r.Samples) > 0 {
		end = &r.Samples[len(r.Samples)-1]
	}
	headRecords := ""
	if o.HeadMaxRecords > 0 {
		headRecords = fmt.Sprintf(" `-logs.head.max-records %d`", o.HeadMaxRecords)
	}
	f("## Load\n\n")
	f("%d simulated days × 24 hours × %s records = %s records of the log benchmark's shop (12 services, 90%% with a trace ID), timestamps from %s to %s UTC (the start of the hour the run began), %s apart, sent oldest first. %d sender%s send%s one OTLP/gRPC request of %d records per tick of a ticker, %s records/s in all: %.1f s of wall clock per simulated hour. Sightline runs with `-logs.head.max-age %s`%s and `-logs.retention 30d`. Every %s the harness reads `/metrics` (`sightline_logs_parts`, `process_open_fds`, `process_resident_memory_bytes`, merges, flushes) and counts the hour partitions on disk.\n\n",
		o.Days, thousands(o.RecordsPerHour), thousands(r.Sent), r.SimStart.UTC().Format("2006-01-02 15:04"), r.SimEnd.UTC().Format("2006-01-02 15:04"),
		time.Hour/time.Duration(o.RecordsPerHour), o.Senders, plural(o.Senders, "", "s"), plural(o.Senders, "s", ""), o.RecordsPerRequest, thousands(o.Rate),
		float64(o.RecordsPerHour)/float64(o.Rate), o.HeadMaxAge, headRecords, o.SampleEvery)
	f("Each hour partition is one directory of segments (a flushed head goes to the partition of its oldest record), and the store merges segments only within a partition. So the parts grow with the hours kept — by design, until retention drops the oldest — and what must stay bounded is what an hour costs: parts and open files per partition must not grow with the flushes. ")
	if end != nil && end.Partitions > 0 {
		f("Here the store flushed %.0f heads into %d partitions, %.1f per partition, and merged %.0f times; a real hour at one flush a second sees 3,600 flushes. ", end.Flushes, end.Partitions, end.Flushes/float64(end.Partitions), end.Merges)
	}
	f("Every simulated hour is over by the wall clock when it is written, so the store treats each partition as cold at once and merges any two segments of a level (a live partition waits for 8): this run merges more eagerly within the current hour than a real week would.\n\n")

	days := daySamples(r.Samples, o.Days, perDay)
	parts := checkBounded(r.Samples, days[0], end, func(s LongrunSample) float64 { return s.PartsTotal })
	fds := checkBounded(r.Samples, days[0], end, func(s LongrunSample) float64 { return s.OpenFDs })
	rate := float64(r.Sent) / r.IngestSeconds
	f("## Goals\n\n| goal | target | measured | met? |\n|---|---|---|---|\n")
	f("| steady load | ≥ 95%% of %s records/s, every record acknowledged | %s records/s, %s of %s records, %d requests retried after backpressure | %s |\n",
		thousands(o.Rate), thousands(int64(rate)), thousands(r.Sent), thousands(o.Days*perDay), r.Retries, met(rate >= 0.95*float64(o.Rate) && r.Sent == int64(o.Days*perDay)))
	bound := func(what string, b boundedness) {
		f("| %s stay bounded: after day 1 they grow by at most %.0f%% more per new hour partition than they cost per partition at day 1 | ≤ %.2f per partition | day 1: %.0f over %d partitions = %.2f each; then +%.2f per new partition; at the end %.0f over %d partitions, max %.0f | %s |\n",
			what, 100*longrunTolerance, (1+longrunTolerance)*b.PerPartitionDay1, b.AtDay1, partitionsOf(days[0]), b.PerPartitionDay1, b.PerPartitionAfter, b.AtEnd, partitionsOf(end), b.Max, met(b.OK))
	}
	bound("parts", parts)
	bound("open files", fds)
	f("| logs of one trace ID, no time range (%d lookups, %d wrong counts) | p99 ≤ %s ms | %s | %s |\n", len(r.TraceLookups), r.TraceMismatches, ms(goalLogTraceP99), pcts(r.TraceLookups, 0.5, 0.99),
		met(len(r.TraceLookups) > 0 && percentile(r.TraceLookups, 0.99) <= goalLogTraceP99 && r.TraceMismatches == 0))
	f("| search `%s`, last simulated hour, limit 100 (%d hits) | p99 ≤ %s ms | %s | %s |\n\n", o.Word, r.SearchHits, ms(goalLogSearchP99), pcts(r.Search, 0.5, 0.99),
		met(len(r.Search) > 0 && percentile(r.Search, 0.99) <= goalLogSearchP99))

	f("## Over the simulated week\n\nAt the first sample by which each simulated day was acknowledged; then the maximum over all %d samples and the final sample, after the merges settled.\n\n", len(r.Samples))
	f("| simulated day | wall clock | records | partitions | parts | parts/partition | open files | RSS | flushes | merges |\n|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(label string, s *LongrunSample) {
		if s == nil {
			f("| %s | not reached | | | | | | | | |\n", label)
			return
		}
		f("| %s | %.0f s | %s | %d | %.0f | %.2f | %.0f | %s | %.0f | %.0f |\n", label, s.Elapsed.Seconds(), thousands(s.Records), s.Partitions, s.PartsTotal, s.PartsPerPartition(), s.OpenFDs, mib(int64(s.RSS)), s.Flushes, s.Merges)
	}
	for d, s := range days {
		row(fmt.Sprint(d+1), s)
	}
	var mx LongrunSample
	for _, s := range r.Samples {
		mx.Partitions = max(mx.Partitions, s.Partitions)
		mx.PartsTotal = max(mx.PartsTotal, s.PartsTotal)
		mx.OpenFDs = max(mx.OpenFDs, s.OpenFDs)
		mx.RSS = max(mx.RSS, s.RSS)
	}
	f("| maximum | | | %d | %.0f | | %.0f | %s | | |\n", mx.Partitions, mx.PartsTotal, mx.OpenFDs, mib(int64(mx.RSS)))
	row("final", end)
	settle := fmt.Sprintf("settled %.0f s after the last send", r.SettleWait.Seconds())
	if !r.Settled {
		settle = fmt.Sprintf("**still merging %.0f s after the last send**", r.SettleWait.Seconds())
	}
	f("\nIngest took %.0f s (%.1f CPU s of the server); the merges %s.\n\n", r.IngestSeconds, r.CPUSeconds, settle)
	for _, l := range plots {
		f("%s\n\n", l)
	}

	f("## At the end\n\n| measure | value |\n|---|---|\n")
	f("| on disk (`tenants/default/logs`, du) | %s = **%.1f B/record** |\n", mib(r.DiskBytes), float64(r.DiskBytes)/float64(max(r.Sent, 1)))
	writeStoreStatsRows(&b, r.End)
	f("\n| query | range | runs | latency | check |\n|---|---|---|---|---|\n")
	f("| logs of one trace ID | no time range | %d | %s | %d wrong counts |\n", len(r.TraceLookups), pcts(r.TraceLookups, 0.5, 0.99), r.TraceMismatches)
	f("| search `%s`, limit 100 | last simulated hour | %d | %s | %d hits |\n", o.Word, len(r.Search), pcts(r.Search, 0.5, 0.99), r.SearchHits)
	writeLogQLRow(&b, "`"+logQLAll+"` limit=100, direction=backward", "oldest record → now", r.Limit, "newest 100 records")
	writeLogQLRow(&b, "log volume `"+logQLVolume+"`, step 60 s", "last simulated hour", r.Volume1h, "counts sum to the records in range")
	return b.String()
}

// plural is one or many by n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func partitionsOf(s *LongrunSample) int {
	if s == nil {
		return 0
	}
	return s.Partitions
}

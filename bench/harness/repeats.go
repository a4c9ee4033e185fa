package harness

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Repeats is the JSON report of a repeated log or trace benchmark: every
// run's full report, in the order they ran.
type Repeats[T any] struct {
	Runs []*T
}

// RunRepeats runs a benchmark n times, each in a fresh directory under
// work (removed after its run, to bound the disk used), and returns every
// run's report. A single run runs in work itself and leaves its data there,
// as the benchmarks did before repeats.
func RunRepeats[T any](ctx context.Context, work string, n int, logf func(string, ...any), run func(ctx context.Context, work string) (*T, error)) ([]*T, error) {
	if n <= 1 {
		r, err := run(ctx, work)
		if err != nil {
			return nil, err
		}
		return []*T{r}, nil
	}
	var runs []*T
	for i := 1; i <= n; i++ {
		dir := filepath.Join(work, fmt.Sprintf("run%d", i))
		logf("repeat %d of %d", i, n)
		r, err := run(ctx, dir)
		if err != nil {
			return nil, fmt.Errorf("repeat %d: %w", i, err)
		}
		runs = append(runs, r)
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// LoadRepeats reads back the runs of a Repeats JSON report, or of a
// single run's report as written before -repeats.
func LoadRepeats[T any](file string) ([]*T, error) {
	rr, err := LoadJSON[Repeats[T]](file)
	if err != nil {
		return nil, err
	}
	if len(rr.Runs) > 0 {
		return rr.Runs, nil
	}
	r, err := LoadJSON[T](file)
	if err != nil {
		return nil, err
	}
	return []*T{r}, nil
}

// IsRepeats says whether file is a Repeats JSON report.
func IsRepeats(file string) bool {
	rr, err := LoadJSON[Repeats[json.RawMessage]](file)
	return err == nil && len(rr.Runs) > 0
}

// medianRun is the run whose ingest rate is the median (the lower of the
// two middle ones of an even count).
func medianRun[T any](runs []*T, rate func(*T) float64) *T {
	s := slices.Clone(runs)
	slices.SortStableFunc(s, func(a, b *T) int { return cmp.Compare(rate(a), rate(b)) })
	return s[(len(s)-1)/2]
}

// keyFigure is how a key figure of a repeated benchmark is read from one
// system's figures of one run, V.
type keyFigure[V any] struct {
	name, short, unit string
	higherBetter      bool
	get               func(*V) float64
}

// RepeatFigure is one key figure over every run.
type RepeatFigure struct {
	Name, Short, Unit string
	HigherBetter      bool
	// Sightline and Peer hold the figure of each run; Peer is empty
	// without a peer.
	Sightline, Peer []float64
}

// Ratio is Sightline's median over the peer's (NaN without a peer).
func (f RepeatFigure) Ratio() float64 {
	if len(f.Peer) == 0 {
		return math.NaN()
	}
	return median(f.Sightline) / median(f.Peer)
}

// RatioRange is the min–max of the per-run ratios (each run's Sightline
// figure over the same run's peer figure).
func (f RepeatFigure) RatioRange() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for i := range min(len(f.Sightline), len(f.Peer)) {
		r := f.Sightline[i] / f.Peer[i]
		if !math.IsNaN(r) && !math.IsInf(r, 0) {
			lo, hi = math.Min(lo, r), math.Max(hi, r)
		}
	}
	if math.IsInf(lo, 1) {
		return math.NaN(), math.NaN()
	}
	return lo, hi
}

// SightlineBetter says whether the ratio of medians favours Sightline.
func (f RepeatFigure) SightlineBetter() bool {
	r := f.Ratio()
	return !math.IsNaN(r) && r != 1 && (r > 1) == f.HigherBetter
}

// repeatFigures reads every key figure from every run: Sightline's from
// view(run, false), the peer's from view(run, true) if every run had one
// (not nil).
func repeatFigures[T, V any](runs []*T, view func(*T, bool) *V, figures []keyFigure[V]) []RepeatFigure {
	out := make([]RepeatFigure, len(figures))
	for i, k := range figures {
		f := RepeatFigure{Name: k.name, Short: k.short, Unit: k.unit, HigherBetter: k.higherBetter}
		peer := true
		for _, r := range runs {
			f.Sightline = append(f.Sightline, k.get(view(r, false)))
			if v := view(r, true); v != nil {
				f.Peer = append(f.Peer, k.get(v))
			} else {
				peer = false
			}
		}
		if !peer {
			f.Peer = nil
		}
		out[i] = f
	}
	return out
}

// msOf is the q quantile of ds in milliseconds.
func msOf(ds []time.Duration, q float64) float64 {
	return float64(percentile(ds, q).Microseconds()) / 1000
}

// writeRepeats writes the Repeats section: each key figure's median and
// min–max over the runs for Sightline and the peer, and the ratio of the
// medians.
func writeRepeats(b *strings.Builder, figs []RepeatFigure, runs int, peer string, reportRun int) {
	f := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	f("\n## Repeats\n\n")
	f("The whole benchmark ran %d time(s), each on fresh data directories; the report above is run %d, the one whose Sightline ingest rate is the median. Below, each key figure's median over the runs with the min–max in brackets", runs, reportRun)
	if peer == "" {
		f(". No peer ran, so there are no ratios.\n\n| figure | Sightline | better |\n|---|---|---|\n")
	} else {
		f(", and the ratio of the medians, Sightline ÷ %s (in brackets the min–max of the per-run ratios).\n\n| figure | Sightline | %s | Sightline ÷ %s | better |\n|---|---|---|---|---|\n", peer, peer, peer)
	}
	for _, fg := range figs {
		better := "lower"
		if fg.HigherBetter {
			better = "higher"
		}
		format := "%.2f"
		if median(fg.Sightline) >= 100 {
			format = "%.0f"
		}
		name := fg.Name + " (" + fg.Unit + ")"
		if peer == "" || fg.Peer == nil {
			f("| %s | %s | %s |\n", name, spread(fg.Sightline, format), better)
			continue
		}
		lo, hi := fg.RatioRange()
		rr := ""
		if runs > 1 && !math.IsNaN(lo) {
			rr = fmt.Sprintf(" [%.2f–%.2f]", lo, hi)
		}
		verdict := fmt.Sprintf("%s (%s)", better, peer)
		switch r := fg.Ratio(); {
		case math.IsNaN(r) || math.IsInf(r, 0):
			verdict = better
		case fg.SightlineBetter():
			verdict = fmt.Sprintf("%s (Sightline)", better)
		}
		f("| %s | %s | %s | %s%s | %s |\n", name, spread(fg.Sightline, format), spread(fg.Peer, format), ratio(median(fg.Sightline), median(fg.Peer)), rr, verdict)
	}
	if peer != "" {
		f("\nThe last column says which way is better for the figure, and in brackets which system's median is better.\n")
	}
}

// latencyBars is one system's p50 and p99 of each query, medians over the
// runs, for plotQueryLatencies.
type latencyBars struct {
	system   string
	p50, p99 []float64
}

// repeatedReport is what writeRepeatedReport needs to know of a
// benchmark whose runs are T and whose figures of one system are V.
type repeatedReport[T, V any] struct {
	peer string // the peer's name
	// rate is Sightline's ingest rate, which picks the median run;
	// markdown writes one run's report.
	rate     func(*T) float64
	markdown func(r *T, name string) string
	// view is Sightline's figures of a run, or with peer the peer's (nil
	// without one).
	view    func(r *T, peer bool) *V
	figures []keyFigure[V]
	// latencies are the latencies of each of queries in one system's
	// figures.
	queries   []string
	latencies func(*V) [][]time.Duration
}

// writeRepeatedReport writes <dir>/<name>.md, the report of the run whose
// Sightline ingest rate is the median with the Repeats section over every
// run, its plots <dir>/<name>-*.png and every run's measurements as
// <dir>/<name>.json, and returns the files.
func writeRepeatedReport[T, V any](runs []*T, dir, name string, d repeatedReport[T, V]) ([]string, error) {
	js, err := writeReportJSON(Repeats[T]{Runs: runs}, dir, name)
	if err != nil {
		return nil, err
	}
	r := medianRun(runs, d.rate)
	peer := d.peer
	for _, r := range runs {
		if d.view(r, true) == nil {
			peer = "" // not in every run
		}
	}
	var b strings.Builder
	b.WriteString(d.markdown(r, name))
	figs := repeatFigures(runs, d.view, d.figures)
	writeRepeats(&b, figs, len(runs), peer, slices.Index(runs, r)+1)
	lat := []latencyBars{medianLatencies("Sightline", runs, func(r *T) [][]time.Duration { return d.latencies(d.view(r, false)) })}
	if peer != "" {
		lat = append(lat, medianLatencies(peer, runs, func(r *T) [][]time.Duration { return d.latencies(d.view(r, true)) }))
	}
	plots, md, err := writeRepeatPlots(dir, name, peer, figs, d.queries, lat)
	if err != nil {
		return nil, err
	}
	b.WriteString(md)
	path := filepath.Join(dir, name+".md")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	return append([]string{path, js}, plots...), nil
}

// medianLatencies are the p50 and p99 of each query, medians over the
// runs, from the latencies of each query that queries gives of a run.
func medianLatencies[T any](system string, runs []*T, queries func(*T) [][]time.Duration) latencyBars {
	l := latencyBars{system: system}
	var p50, p99 [][]float64
	for _, r := range runs {
		for i, ds := range queries(r) {
			if i == len(p50) {
				p50, p99 = append(p50, nil), append(p99, nil)
			}
			p50[i], p99[i] = append(p50[i], msOf(ds, 0.5)), append(p99[i], msOf(ds, 0.99))
		}
	}
	for i := range p50 {
		l.p50, l.p99 = append(l.p50, median(p50[i])), append(l.p99, median(p99[i]))
	}
	return l
}

// writeRepeatPlots draws the ratio plot (with a peer) and the query
// latency plot next to the report, and returns the files and the
// Markdown that shows them.
func writeRepeatPlots(dir, name, peer string, figs []RepeatFigure, queries []string, lat []latencyBars) (files []string, md string, err error) {
	var b strings.Builder
	b.WriteString("\n## Plots\n\n")
	if peer == "" {
		b.WriteString("No peer ran: the plots show Sightline alone, and there is no ratio plot.\n\n")
	} else {
		file := name + "-ratios.png"
		if err := plotRatios(figs, peer, filepath.Join(dir, file)); err != nil {
			return nil, "", fmt.Errorf("plot %s: %w", file, err)
		}
		files = append(files, filepath.Join(dir, file))
		fmt.Fprintf(&b, "![Sightline ÷ %s, ratio of medians per key figure](%s)\n\n", peer, file)
	}
	file := name + "-latency.png"
	if err := plotQueryLatencies(queries, lat, filepath.Join(dir, file)); err != nil {
		return nil, "", fmt.Errorf("plot %s: %w", file, err)
	}
	files = append(files, filepath.Join(dir, file))
	fmt.Fprintf(&b, "![Query latency p50 and p99 per query](%s)\n\n", file)
	return files, b.String(), nil
}

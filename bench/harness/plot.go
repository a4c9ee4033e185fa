package harness

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// palette gives each target the same colour in every plot.
func targetColor(target string) color.Color {
	switch target {
	case TargetSightlineOTLP:
		return color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	case TargetSightlineRW:
		return color.RGBA{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff}
	case TargetPrometheus:
		return color.RGBA{R: 0xe6, G: 0x55, B: 0x22, A: 0xff}
	default:
		return color.RGBA{R: 0x6a, G: 0x3d, B: 0x9a, A: 0xff}
	}
}

// plotIngest draws acknowledged samples per second over the ingest phase,
// one line per target, from each target's first successful run.
func plotIngest(r *Report, file string) error {
	var series []plotSeries
	for _, t := range r.Targets {
		run, ok := firstOK(r, t)
		if !ok || len(run.Ingest.Timeline) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(run.Ingest.Timeline))
		for i, v := range run.Ingest.Timeline {
			pts[i] = plotter.XY{X: float64(i + 1), Y: v}
		}
		series = append(series, plotSeries{name: t, pts: pts, color: targetColor(t)})
	}
	return plotLines("Ingest rate (first repeat)", "seconds since ingest start", "samples/s acknowledged", series, 8*vg.Inch, file)
}

// plotSeries is one line of plotLines.
type plotSeries struct {
	name  string
	pts   plotter.XYs
	color color.Color
}

// plotLines draws each series as a line, with a legend and a grid, the y
// axis from 0 with room above the lines for the legend, width wide and 4.5
// inches high.
func plotLines(title, xLabel, yLabel string, series []plotSeries, width vg.Length, file string) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	top := 0.0
	for _, s := range series {
		for _, pt := range s.pts {
			top = max(top, pt.Y)
		}
		l, err := plotter.NewLine(s.pts)
		if err != nil {
			return err
		}
		l.Color = s.color
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	p.Y.Min = 0
	if top > 0 {
		p.Y.Max = 1.25 * top
	}
	p.Add(plotter.NewGrid())
	return p.Save(width, 4.5*vg.Inch, file)
}

// plotLatency draws one bar per query and target of the given latency
// quantile, on a log scale because the queries differ by orders of
// magnitude.
func plotLatency(r *Report, q float64, file string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Query latency p%.0f (all repeats pooled; log scale)", q*100)
	p.X.Label.Text = "query (see the report's table)"
	p.Y.Label.Text = "milliseconds"
	queries := QuerySet()
	var series []barSeries
	// sightline-otlp runs the queries once, as a result check only.
	for _, t := range r.Targets {
		if t == TargetSightlineOTLP {
			continue
		}
		lat := pooledLatencies(r, t)
		s := barSeries{name: t, color: targetColor(t)}
		for _, qq := range queries {
			s.vals = append(s.vals, float64(percentile(lat[qq.Name], q).Microseconds())/1000)
		}
		series = append(series, s)
	}
	names := make([]string, len(queries))
	for i := range queries {
		names[i] = fmt.Sprintf("Q%d", i+1)
	}
	if err := logBars(p, names, series, 0, false); err != nil {
		return err
	}
	return p.Save(10*vg.Inch, 4.5*vg.Inch, file)
}

// barSeries is one colour of logBars: a value per group (none if ≤ 0 or
// NaN), and optionally whiskers from lo to hi.
type barSeries struct {
	name   string
	vals   []float64
	color  color.Color
	lo, hi []float64
}

// logBars adds the series' bars to p on a log y axis, side by side in
// each group (on top of each other with overlay), with a legend and a
// grid. Bars are polygons from base, or if base is 0 from a floor below
// the smallest value, since a log axis has no zero.
func logBars(p *plot.Plot, groups []string, series []barSeries, base float64, overlay bool) error {
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	lowest, highest := math.Inf(1), 0.0
	for _, s := range series {
		for _, vs := range [][]float64{s.vals, s.lo, s.hi} {
			for _, v := range vs {
				if v > 0 {
					lowest, highest = math.Min(lowest, v), math.Max(highest, v)
				}
			}
		}
	}
	if math.IsInf(lowest, 1) {
		lowest, highest = 1, 1
	}
	floor := lowest / 2
	if base > 0 {
		floor = base
		p.Y.Min = math.Min(lowest, base) / 1.5
	} else {
		p.Y.Min = floor
	}
	p.Y.Max = math.Max(highest, base) * 4 // room for the legend
	width, step := 0.8, 0.0
	if !overlay {
		width = 0.8 / float64(max(len(series), 1))
		step = width
	}
	for si, s := range series {
		var legend *plotter.Polygon
		var whiskers errorXYs
		for i, v := range s.vals {
			if !(v > 0) {
				continue
			}
			x0 := float64(i) - 0.4 + float64(si)*step
			poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: floor}, {X: x0, Y: v}, {X: x0 + width, Y: v}, {X: x0 + width, Y: floor}})
			if err != nil {
				return err
			}
			poly.Color = s.color
			poly.LineStyle.Width = 0
			p.Add(poly)
			legend = poly
			if i < len(s.lo) && s.lo[i] > 0 && s.hi[i] > 0 {
				whiskers.XYs = append(whiskers.XYs, plotter.XY{X: x0 + width/2, Y: v})
				whiskers.YErrors = append(whiskers.YErrors, struct{ Low, High float64 }{v - s.lo[i], s.hi[i] - v})
			}
		}
		if legend != nil {
			p.Legend.Add(s.name, legend)
		}
		if len(whiskers.XYs) > 0 {
			eb, err := plotter.NewYErrorBars(whiskers)
			if err != nil {
				return err
			}
			eb.LineStyle.Width = vg.Points(1.2)
			p.Add(eb)
		}
	}
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.6, float64(len(groups))-0.4
	p.Add(plotter.NewGrid())
	return nil
}

// errorXYs are whiskers for plotter.NewYErrorBars.
type errorXYs struct {
	plotter.XYs
	plotter.YErrors
}

// plotRatios draws Sightline's median over the peer's for each key figure
// as a bar from 1 on a log scale, with whiskers from the lowest to the
// highest per-run ratio, coloured by which system the figure favours.
func plotRatios(figs []RepeatFigure, peer, file string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Sightline ÷ %s, ratio of medians (log scale; whiskers: per-run min–max)", peer)
	p.X.Label.Text = "key figure (↑ higher is better, ↓ lower is better)"
	p.Y.Label.Text = "Sightline ÷ " + peer
	better := barSeries{name: "better for Sightline", color: targetColor(TargetSightlineOTLP)}
	worse := barSeries{name: "better for " + peer, color: targetColor(TargetPrometheus)}
	var names []string
	for _, f := range figs {
		arrow := "↓"
		if f.HigherBetter {
			arrow = "↑"
		}
		names = append(names, f.Short+" "+arrow)
		lo, hi := f.RatioRange()
		r := f.Ratio()
		for _, s := range []*barSeries{&better, &worse} {
			s.vals, s.lo, s.hi = append(s.vals, math.NaN()), append(s.lo, lo), append(s.hi, hi)
		}
		if f.SightlineBetter() {
			better.vals[len(better.vals)-1] = r
		} else {
			worse.vals[len(worse.vals)-1] = r
		}
	}
	if err := logBars(p, names, []barSeries{better, worse}, 1, true); err != nil {
		return err
	}
	one, err := plotter.NewLine(plotter.XYs{{X: -0.6, Y: 1}, {X: float64(len(figs)) - 0.4, Y: 1}})
	if err != nil {
		return err
	}
	one.Width = vg.Points(1)
	p.Add(one)
	return p.Save(vg.Length(max(8, 1.1*float64(len(figs))))*vg.Inch, 4.5*vg.Inch, file)
}

// plotQueryLatencies draws each system's p50 and p99 of each query
// (medians over the runs) as grouped bars on a log scale.
func plotQueryLatencies(queries []string, lat []latencyBars, file string) error {
	p := plot.New()
	p.Title.Text = "Query latency, p50 and p99 (medians over the runs; log scale)"
	p.Y.Label.Text = "milliseconds"
	var series []barSeries
	for i, l := range lat {
		c := targetColor(TargetSightlineOTLP)
		if i > 0 {
			c = targetColor(TargetPrometheus)
		}
		series = append(series, barSeries{name: l.system + " p50", vals: l.p50, color: c}, barSeries{name: l.system + " p99", vals: l.p99, color: lighter(c)})
	}
	if err := logBars(p, queries, series, 0, false); err != nil {
		return err
	}
	return p.Save(vg.Length(max(8, 1.6*float64(len(queries))))*vg.Inch, 4.5*vg.Inch, file)
}

// lighter is c halfway to white.
func lighter(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	f := func(v uint32) uint8 { return uint8((v>>8 + 255) / 2) }
	return color.RGBA{R: f(r), G: f(g), B: f(b), A: 0xff}
}

// plotBytesPerSample draws the bytes per sample on disk of each target,
// median over repeats: everything (du) and, for the TSDB-based systems, the
// compacted blocks alone.
func plotBytesPerSample(r *Report, file string) error {
	p := plot.New()
	p.Title.Text = "Bytes per sample on disk after a clean stop (median of repeats)"
	p.Y.Label.Text = "bytes/sample"
	p.Legend.Top = true
	var total, blocks plotter.Values
	for _, t := range r.Targets {
		v := median(collect(r, t, bytesPerSample))
		b := median(collect(r, t, blockBytesPerSample))
		total = append(total, zeroNaN(v))
		blocks = append(blocks, zeroNaN(b))
	}
	w := vg.Points(30)
	for i, s := range []struct {
		name string
		v    plotter.Values
		c    color.Color
	}{
		{"everything (du)", total, color.RGBA{R: 0x44, G: 0x72, B: 0xc4, A: 0xff}},
		{"compacted TSDB blocks only", blocks, color.RGBA{R: 0xed, G: 0x7d, B: 0x31, A: 0xff}},
	} {
		bars, err := plotter.NewBarChart(s.v, w)
		if err != nil {
			return err
		}
		bars.Color = s.c
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-0.5) * w
		p.Add(bars)
		p.Legend.Add(s.name, bars)
	}
	p.NominalX(r.Targets...)
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	return p.Save(7*vg.Inch, 4*vg.Inch, file)
}

func zeroNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

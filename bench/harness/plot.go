package harness

import (
	"fmt"
	"image/color"
	"math"
	"slices"

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
// magnitude. Bars are polygons from a floor below the smallest value, since
// a log axis has no zero.
func plotLatency(r *Report, q float64, file string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Query latency p%.0f (all repeats pooled; log scale)", q*100)
	p.X.Label.Text = "query (see the report's table)"
	p.Y.Label.Text = "milliseconds"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	queries := QuerySet()
	lowest := math.Inf(1)
	vals := map[string][]float64{}
	// sightline-otlp runs the queries once, as a result check only.
	targets := slices.DeleteFunc(slices.Clone(r.Targets), func(t string) bool { return t == TargetSightlineOTLP })
	for _, t := range targets {
		lat := pooledLatencies(r, t)
		for _, qq := range queries {
			v := float64(percentile(lat[qq.Name], q).Microseconds()) / 1000
			vals[t] = append(vals[t], v)
			if v > 0 {
				lowest = math.Min(lowest, v)
			}
		}
	}
	if math.IsInf(lowest, 1) {
		lowest = 1
	}
	floor := lowest / 2
	width := 0.8 / float64(len(targets))
	for ti, t := range targets {
		var legend *plotter.Polygon
		for i, v := range vals[t] {
			if v <= 0 {
				continue
			}
			x0 := float64(i) - 0.4 + float64(ti)*width
			poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: floor}, {X: x0, Y: v}, {X: x0 + width, Y: v}, {X: x0 + width, Y: floor}})
			if err != nil {
				return err
			}
			poly.Color = targetColor(t)
			poly.LineStyle.Width = 0
			p.Add(poly)
			legend = poly
		}
		if legend != nil {
			p.Legend.Add(t, legend)
		}
	}
	names := make([]string, len(queries))
	for i := range queries {
		names[i] = fmt.Sprintf("Q%d", i+1)
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(queries))-0.4
	p.Y.Min = floor
	p.Add(plotter.NewGrid())
	return p.Save(10*vg.Inch, 4.5*vg.Inch, file)
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

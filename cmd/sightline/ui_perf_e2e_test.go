package main_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// TestWebUIPerformance measures the web UI in headless Chromium against
// the binary: the JavaScript the first page ships (gzipped), the time to
// first render of each page, a trace of 10,000 spans drawn and scrolled, a
// log list of 100,000 lines (fetched in pages of 5,000) drawn and
// scrolled, and a chart of 1,000 series of 1,000 points each. Scrolling
// is timed a frame at a time (requestAnimationFrame), a screen a frame
// and then by jumps as a dragged scroll bar does; the figures are the
// median, 95th percentile and slowest frame. It logs the figures and
// asserts none: they depend on the machine and what else runs on it. It
// runs only with SIGHTLINE_UI_PERF=1, as `make bench-ui` sets it, beside
// the other benchmarks rather than in make test.
func TestWebUIPerformance(t *testing.T) {
	if os.Getenv("SIGHTLINE_UI_PERF") == "" {
		t.Skip("a measurement, not a test: make bench-ui runs it (SIGHTLINE_UI_PERF=1)")
	}
	ctx := browserWithin(t, 10*time.Minute)
	s := startServer(t, t.TempDir())

	// JavaScript and CSS of the first page, as a browser that accepts gzip
	// gets them: every page is in the one bundle.
	for _, asset := range []string{"/app.js", "/app.css"} {
		req, err := http.NewRequest(http.MethodGet, s.url(asset), nil)
		require.NoError(t, err)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req) // the transport leaves gzip as it came
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
		t.Logf("%s: %.1f KB gzipped", asset, float64(len(b))/1000)
	}

	// A trace of 10,000 spans over 5 services, ten children a span.
	const spans = 10000
	var tps []interface {
		Tracer(string, ...trace.TracerOption) trace.Tracer
		ForceFlush(context.Context) error
	}
	for i := range 5 {
		tps = append(tps, newTraceService(t, s, "grpc", fmt.Sprintf("svc-%d", i)))
	}
	ctxs := make([]context.Context, spans)
	var traceID string
	for i := range spans {
		parent := context.Background()
		if i > 0 {
			parent = ctxs[(i-1)/10]
		}
		c, sp := tps[i%5].Tracer("perf").Start(parent, fmt.Sprintf("op-%d", i%37))
		ctxs[i] = c
		sp.End()
		if i == 0 {
			traceID = sp.SpanContext().TraceID().String()
		}
		if i%1000 == 999 { // the SDK's batcher drops spans beyond its queue of 2048
			for _, tp := range tps {
				require.NoError(t, tp.ForceFlush(ctxT(t)))
			}
		}
	}
	// A few lines of the trace, for the correlate page.
	lp := newLogService(t, s, "grpc", "perf-otel")
	for i := range 100 {
		emit(lp, ctxs[i*97], otellog.SeverityInfo, fmt.Sprintf("line %d of the trace", i))
	}
	require.NoError(t, lp.ForceFlush(ctxT(t)))

	// 100,000 log lines over the last ten minutes, levels mixed, a trace
	// ID on every tenth, pushed in batches of 10,000.
	const lines = 100_000
	now := time.Now()
	levels := []string{"info", "info", "info", "debug", "warn", "error"}
	for b := 0; b < lines; b += 10_000 {
		streams := map[string]*push.Stream{}
		for i := b; i < b+10_000; i++ {
			lvl := levels[i%len(levels)]
			st := streams[lvl]
			if st == nil {
				st = &push.Stream{Labels: fmt.Sprintf(`{service_name="perf", level=%q}`, lvl)}
				streams[lvl] = st
			}
			e := push.Entry{Timestamp: now.Add(-10 * time.Minute).Add(time.Duration(i) * 6 * time.Millisecond),
				Line: fmt.Sprintf("level=%s msg=\"request %d served\" path=/api/items/%d duration=%dms user=u-%d", lvl, i, i%1000, i%250, i%77)}
			if i%10 == 0 {
				e.StructuredMetadata = push.LabelsAdapter{{Name: "trace_id", Value: fmt.Sprintf("%032x", i+1)}}
			}
			st.Entries = append(st.Entries, e)
		}
		var all []push.Stream
		for _, st := range streams {
			all = append(all, *st)
		}
		code, body := lokiPush(t, s, all...)
		require.Equal(t, http.StatusNoContent, code, body)
	}

	// 1,000 series of 1,000 points each, a second apart, ending now.
	end := now.Truncate(time.Second)
	start := end.Add(-999 * time.Second)
	for b := 0; b < 1000; b += 100 {
		var batch []prompb.TimeSeries
		for i := b; i < b+100; i++ {
			ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "ui_perf_gauge"}, {Name: "instance", Value: fmt.Sprintf("i-%04d", i)}}}
			for k := range 1000 {
				ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: start.Add(time.Duration(k) * time.Second).UnixMilli(), Value: float64(i) + float64((k*(i+7))%100)/100})
			}
			batch = append(batch, ts)
		}
		require.NoError(t, remoteWrite(t, s, "", batch...))
	}

	// shot saves a screenshot of the viewport in the test's artifact
	// directory (go test -artifacts keeps it).
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(t.ArtifactDir(), name+".png"), b, 0o644))
	}

	// rendered navigates to a page and returns the time until cond holds,
	// and the browser's first contentful paint of the load.
	rendered := func(hash, cond string) (time.Duration, float64) {
		t.Helper()
		began := time.Now()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(s.url("/#/"+hash))))
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(3*time.Minute), chromedp.WithPollingInterval(5*time.Millisecond)))
		require.NoError(t, err, hash)
		took := time.Since(began)
		fcp, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(performance.getEntriesByName('first-contentful-paint')[0] || {startTime: -1}).startTime`))
		require.NoError(t, err)
		return took, fcp
	}
	// scroll scrolls the element sel a screen a frame to its end (at most
	// maxFrames frames), then jumps to 200 random places, a frame each, and
	// returns the frame times in milliseconds of each part.
	scroll := func(sel string, maxFrames int) (steady, jumps []float64) {
		t.Helper()
		out, err := chromedp.Run(ctx, chromedp.Evaluate[[][]float64](fmt.Sprintf(`new Promise((done) => {
			const el = document.querySelector(%q);
			const steady = [], jumps = [];
			let last = performance.now(), n = 0, seed = 1;
			const rand = () => (seed = (seed * 16807) %% 2147483647) / 2147483647;
			const step = () => {
				const now = performance.now();
				(n <= %d && el.scrollTop + el.clientHeight < el.scrollHeight - 1 ? steady : jumps).push(now - last);
				last = now;
				n++;
				if (n <= %d && el.scrollTop + el.clientHeight < el.scrollHeight - 1) el.scrollTop += el.clientHeight;
				else if (jumps.length < 200) el.scrollTop = rand() * (el.scrollHeight - el.clientHeight);
				else return done([steady.slice(1), jumps]);
				requestAnimationFrame(step);
			};
			requestAnimationFrame(step);
		})`, sel, maxFrames, maxFrames), chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		return out[0], out[1]
	}

	// First render of each page: the time from navigating to the page's
	// content drawn (its data fetched), and the first contentful paint.
	lokiQuery := url.QueryEscape(`{service_name="perf"}`)
	for _, p := range []struct{ name, hash, cond string }{
		{"metrics", "metrics?query=ui_perf_gauge%7Binstance%3D%22i-0001%22%7D", `!!document.querySelector('.chart canvas')`},
		{"logs (100 lines)", "logs?query=" + lokiQuery, `document.querySelectorAll('.logrow').length > 0 && !!document.querySelector('.volume .bar')`},
		{"traces (search)", "traces?q=" + url.QueryEscape(`{ resource.service.name = "svc-0" }`), `document.querySelectorAll('table.grid tbody tr').length > 0`},
		{"correlate (10,000 spans)", "correlate?trace=" + traceID, `!!document.querySelector('.waterfall .wf-row') && !!document.querySelector('.spanlogs')`},
		{"alerts", "alerts", `!!document.querySelector('table.silences')`},
		{"status", "status", `!!document.querySelector('table.fields')`},
	} {
		took, fcp := rendered(p.hash, p.cond)
		t.Logf("first render, %s: %v (first contentful paint %.0f ms)", p.name, took.Round(time.Millisecond), fcp)
	}

	// The waterfall of 10,000 spans.
	took, _ := rendered("trace?id="+traceID, `document.querySelector('.waterfall .vlist')?.dataset.rows === '10000' && !!document.querySelector('.wf-row')`)
	dom, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.wf-row').length`))
	require.NoError(t, err)
	shot("perf-trace-10000-spans")
	steady, jumps := scroll(".waterfall .vlist", 1000)
	t.Logf("trace page, %d spans: drawn %v after navigating, %d rows in the DOM; scrolling a screen a frame (%d frames) %s; jumping (%d) %s",
		spans, took.Round(time.Millisecond), dom, len(steady), frames(steady), len(jumps), frames(jumps))

	// The log list of 100,000 lines.
	took, _ = rendered("logs?limit=100000&query="+lokiQuery, `document.querySelector('.loglist')?.dataset.rows === '100000' && !document.body.textContent.includes('loading')`)
	dom, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.logrow').length`))
	require.NoError(t, err)
	shot("perf-logs-100000-lines")
	steady, jumps = scroll(".loglist", 1000)
	t.Logf("logs page, %d lines: drawn %v after navigating (20 pages of 5,000), %d rows in the DOM; scrolling a screen a frame (%d frames) %s; jumping (%d) %s",
		lines, took.Round(time.Millisecond), dom, len(steady), frames(steady), len(jumps), frames(jumps))

	// The chart of 1,000 series × 1,000 points: the API's share apart.
	q := url.Values{"query": {"ui_perf_gauge"}, "start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix(), 10)}, "step": {"1"}}
	began := time.Now()
	code, body := getBody(t, s.url("/api/v1/query_range?"+q.Encode()), "")
	require.Equal(t, http.StatusOK, code)
	apiTook := time.Since(began)
	took, _ = rendered(fmt.Sprintf("metrics?query=ui_perf_gauge&from=%d&to=%d&step=1s", start.Unix(), end.Unix()),
		`document.querySelectorAll('.chart .u-legend .u-series').length >= 1000 && !!document.querySelector('.chart canvas')`)
	shot("perf-chart-1000-series")
	t.Logf("metrics chart, 1,000 series × 1,000 points: drawn %v after navigating (the query_range alone: %v, %.1f MB of JSON)",
		took.Round(time.Millisecond), apiTook.Round(time.Millisecond), float64(len(body))/1e6)
	hover, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`new Promise((done) => {
		const over = document.querySelector('.chart .u-over'), r = over.getBoundingClientRect();
		const t0 = performance.now();
		let i = 0;
		const step = () => {
			over.dispatchEvent(new MouseEvent('mousemove', { clientX: r.left + (i * 37) % r.width, clientY: r.top + r.height / 2, bubbles: true }));
			if (++i < 60) requestAnimationFrame(step); else done((performance.now() - t0) / 60);
		};
		requestAnimationFrame(step);
	})`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	t.Logf("metrics chart, 1,000 series: %.0f ms a frame while the cursor moves over it (beyond 50 series the legend does not follow it)", hover)
}

// frames summarises frame times: median, 95th percentile and slowest.
func frames(ms []float64) string {
	if len(ms) == 0 {
		return "no frames"
	}
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	return fmt.Sprintf("median %.1f ms, p95 %.1f ms, slowest %.1f ms", s[len(s)/2], s[len(s)*95/100], s[len(s)-1])
}

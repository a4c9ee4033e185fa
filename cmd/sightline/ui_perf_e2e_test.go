package main_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// TestWebUIPerformance measures, in headless Chromium, how long the trace
// page takes to draw a trace of 10,000 spans and the logs page 5,000 lines
// (Loki's default max_entries_limit_per_query, the most one query returns),
// and the slowest frame while scrolling each from top to bottom. It prints
// the numbers and asserts nothing: they depend on the machine. It runs only
// with SIGHTLINE_UI_PERF=1, as `make bench-ui` sets it (about half a
// minute), beside the other benchmarks rather than in make test.
func TestWebUIPerformance(t *testing.T) {
	if os.Getenv("SIGHTLINE_UI_PERF") == "" {
		t.Skip("a measurement, not a test: make bench-ui runs it (SIGHTLINE_UI_PERF=1)")
	}
	ctx := browser(t)
	s := startServer(t, t.TempDir())

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
	lp := newLogService(t, s, "grpc", "perf")
	for i := range 5000 {
		emit(lp, ctxs[i], otellog.SeverityInfo, fmt.Sprintf("line %d of the performance test, with some words to wrap", i))
		if i%1000 == 999 {
			require.NoError(t, lp.ForceFlush(ctxT(t)))
		}
	}

	// measure navigates to a page, waits until n elements match sel, and
	// scrolls the page to the bottom a screen a frame, timing the frames.
	measure := func(name, hash, sel string, n int) {
		t.Helper()
		start := time.Now()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.url("/#/"+hash))))
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`document.querySelectorAll(%q).length >= %d`, sel, n), chromedp.WithPollingTimeout(2*time.Minute)))
		require.NoError(t, err)
		rendered := time.Since(start)
		worst, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`new Promise((done) => {
			let last = performance.now(), worst = 0;
			const step = () => {
				const now = performance.now();
				worst = Math.max(worst, now - last);
				last = now;
				if (window.scrollY + innerHeight >= document.body.scrollHeight) return done(worst);
				window.scrollBy(0, innerHeight);
				requestAnimationFrame(step);
			};
			requestAnimationFrame(step);
		})`, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		t.Logf("%s: %d rows drawn %v after navigating; slowest frame scrolling to the bottom: %.0f ms", name, n, rendered.Round(time.Millisecond), worst)
	}
	measure("trace page", "trace?id="+traceID, ".wf-row", spans)
	measure("logs page", "logs?limit=5000&query="+url.QueryEscape(`{service_name="perf"}`), ".logrow", 5000)
}

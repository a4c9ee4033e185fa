package main_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// browser starts a headless Chromium (Debian's chromium package, which
// .ci/run installs) and returns a chromedp context on a new tab. It skips
// the test when no Chromium is installed.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browserWithin(t, 2*time.Minute)
}

// browserWithin is browser with the time the whole test may take.
func browserWithin(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	var exe string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			exe = p
			break
		}
	}
	if exe == "" {
		t.Skip("no Chromium installed (apt-get install chromium; .ci/run does): the browser test of the web UI is skipped")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 900),
		// Chromium is killed at the end, so it cannot remove the directory
		// of its singleton socket, which it makes under TMPDIR: one was
		// left in /tmp for every run.
		chromedp.Env("TMPDIR="+t.TempDir()),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	// Start the browser now, on ctx: the first run allocates it on the
	// context it is given, and a step's shorter timeout must not own it.
	require.NoError(t, chromedp.Do(ctx))
	return ctx
}

// TestWebUIInBrowser drives the UI in a real browser against the real
// binary holding a trace and its logs sent by the OpenTelemetry SDK: a
// log search shows the lines; the line's trace ID opens the correlate page
// with every span across the three services and the lines under their
// spans; the trace page draws every span; the metrics page draws the
// series; a silence created on the alerts page is listed. It saves a
// screenshot of each page in the test's artifact directory (go test
// -artifacts keeps them; PNG: a quality of 100 is lossless).
func TestWebUIInBrowser(t *testing.T) {
	ctx := browser(t)
	// Span metrics flushed every second, for the correlate page's charts.
	s := startServer(t, t.TempDir(), "-spanmetrics.flush-interval", "1s")
	traceID := checkoutTrace(t, s)
	require.NoError(t, remoteWrite(t, s, "", series("ui_requests_total", time.Now(), 1, "job", "shop")))
	// A histogram whose slow request's exemplar points at the trace.
	metrics := newOTelService(t, s, "grpc", "i-1")
	metrics.record(t, traceID, "0af7651916cd43dd")
	require.NoError(t, metrics.flush(t))
	dir := t.ArtifactDir()
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			b, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644)
		})
	}
	page := func(hash string) string { return s.url("/#/" + hash) }
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return s
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+sel+"`"+`).length`))
		require.NoError(t, err, sel)
		return n
	}

	// see runs steps that wait for what a user would see; when it does not
	// come within 30 s, the failure shows the page's URL and text.
	see := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + '\n' + document.body.innerText`))
			t.Fatalf("%s: %v; the page shows:\n%s", what, err, shown)
		}
	}

	// Logs: the search shows the needle lines, coloured by level.
	see("the logs page shows the lines and their volume",
		chromedp.Navigate(page("logs?query="+url.QueryEscape(`{service_name=~"payment|checkout"}`))),
		chromedp.WaitVisible(chromedp.CSS(`.logrow .tracelink`)),
		chromedp.WaitVisible(chromedp.CSS(`.volume .bar`)),
		shot("logs"),
	)
	lines := text(`.loglist`)
	require.Contains(t, lines, "payment failed: card declined")
	require.Contains(t, lines, "checking out cart")
	require.Equal(t, 1, count(`.logrow.lvl-border-error`))
	// The level under the volume filters the lines to it, in the query.
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		[...document.querySelectorAll('.volume button.legend')].find((b) => b.textContent.includes('error')).click();
		return true;
	})()`))
	require.NoError(t, err)
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll('.logrow').length === 1 && location.hash.includes('detected_level')`))
	require.NoError(t, err, "only the error line is left")
	require.Contains(t, text(`.loglist`), "payment failed: card declined")

	eventually(t, 30*time.Second, "span metrics", func() bool {
		_, body := getJSON(t, s.url("/api/v1/query?"+q("query", `traces_spanmetrics_calls_total{service="payment"}`)))
		return strings.Contains(fmt.Sprint(body["data"]), "payment")
	})

	// Another tenant, typed in the shell, sees none of it: every call
	// carries X-Scope-OrgID, and the tenant goes in the URL.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`header input.tenant`), "team-b\n"),
	))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`location.hash.includes('tenant=team-b') && document.body.textContent.includes('No lines.')`, chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err, "tenant team-b has no lines")
	// The browser remembers the tenant for links without one; back to the default.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`localStorage.removeItem('sightline.tenant') || true`))
	require.NoError(t, err)
	see("the default tenant's lines again", chromedp.Navigate(page("logs?query="+url.QueryEscape(`{service_name=~"payment|checkout"}`))),
		chromedp.WaitVisible(chromedp.CSS(`.logrow .tracelink`)))

	// The full-text search mode finds the needle (Sightline's native search)
	// with its volume from the native histogram.
	see("the search mode finds the needle",
		chromedp.Navigate(page("logs?mode=search&query="+url.QueryEscape(`"card declined" AND service.name:payment`))),
		chromedp.WaitVisible(chromedp.CSS(`.logrow .tracelink`)),
		chromedp.WaitVisible(chromedp.CSS(`.volume .bar`)),
		shot("logs-search"),
	)
	require.Equal(t, 1, count(`.logrow`))
	require.Contains(t, text(`.loglist`), "payment failed: card declined")
	require.Contains(t, text(`.volume`), "1 line ")

	// Live tail: a line sent after the button is pressed shows up, newest
	// first; paused, the page says so.
	tailer := newLogService(t, s, "grpc", "tailed")
	emit(tailer, context.Background(), otellog.SeverityInfo, "before the tail")
	require.NoError(t, tailer.ForceFlush(ctxT(t)))
	see("live tail starts",
		chromedp.Navigate(page("logs?query="+url.QueryEscape(`{service_name="tailed"}`))),
		chromedp.WaitVisible(chromedp.Search(`//div[contains(@class,"logrow")][contains(.,"before the tail")]`)),
		chromedp.Click(chromedp.CSS(`button.live`)),
		chromedp.WaitVisible(chromedp.CSS(`.livebar`)),
	)
	emit(tailer, context.Background(), otellog.SeverityWarn, "tailed line one")
	require.NoError(t, tailer.ForceFlush(ctxT(t)))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('.loglist')?.textContent.includes('tailed line one')`, chromedp.WithPollingTimeout(15*time.Second)))
	require.NoError(t, err, "the tailed line shows")
	require.NotContains(t, text(`.loglist`), "before the tail", "the tail starts after the newest line shown")
	require.NoError(t, chromedp.Do(ctx, shot("logs-live"), chromedp.Click(chromedp.Search(`//p[contains(@class,"livebar")]/button`))))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('.livebar').textContent.startsWith('paused')`, chromedp.WithPollingTimeout(5*time.Second)))
	require.NoError(t, err, "paused")
	see("the needle lines again", chromedp.Navigate(page("logs?query="+url.QueryEscape(`{service_name=~"payment|checkout"}`))),
		chromedp.WaitVisible(chromedp.CSS(`.logrow .tracelink`)))

	// The line's trace ID opens the correlate page: the trace's five spans
	// across three services, and the two lines under their spans.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.logrow .tracelink`)),
		chromedp.WaitVisible(chromedp.CSS(`.waterfall .wf-row`)),
		chromedp.WaitVisible(chromedp.CSS(`.spanlogs`)),
		chromedp.WaitVisible(chromedp.CSS(`.red canvas`)),
		shot("correlate"),
	))
	hash, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash`))
	require.NoError(t, err)
	require.Contains(t, hash, "trace="+traceID)
	require.Equal(t, 5, count(`.wf-row`))
	require.Equal(t, 2, count(`.wf-name .err`), "the two spans with an error status are marked")
	require.Equal(t, 2, count(`.spanlogs .logline`))
	require.Equal(t, 3, count(`.red .chart`), "rate, errors and latency of the trace's services")
	require.Contains(t, text(`.red`), "payment")
	head := text(`.wf-head`)
	for _, svc := range []string{"frontend", "checkout", "payment"} {
		require.Contains(t, head, svc)
	}

	// A span's details on the correlate page show its events.
	clickSpan := func(name string) {
		t.Helper()
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
			const row = [...document.querySelectorAll('.wf-row')].find((r) => r.querySelector('.wf-name').textContent.endsWith(' '+`+"`"+name+"`"+`));
			row.click();
			return true;
		})()`))
		require.NoError(t, err, name)
	}
	clickSpan("charge")
	see("the charge span's details", chromedp.WaitVisible(chromedp.CSS(`.waterfall .details .events`)), shot("correlate-span"))
	require.Contains(t, text(`.waterfall .details .events`), "fraud check")
	require.Contains(t, text(`.waterfall .details .events`), "passed=true")

	// A batch worker's span links to the checkout request: its details
	// show the link, which opens that trace.
	worker := newTraceService(t, s, "grpc", "worker")
	tid, err := trace.TraceIDFromHex(traceID)
	require.NoError(t, err)
	linked := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{0, 0, 0, 0, 0, 0, 0, 7}, TraceFlags: trace.FlagsSampled})
	_, batch := worker.Tracer("shop").Start(context.Background(), "process batch",
		trace.WithLinks(trace.Link{SpanContext: linked, Attributes: []attribute.KeyValue{attribute.String("reason", "receipt")}}))
	batch.End()
	require.NoError(t, worker.ForceFlush(ctxT(t)))
	see("the worker's trace", chromedp.Navigate(page("correlate?trace="+batch.SpanContext().TraceID().String())),
		chromedp.WaitVisible(chromedp.Search(`//div[contains(@class,"wf-name")][contains(.,"process batch")]`)))
	clickSpan("process batch")
	see("the batch span's links", chromedp.WaitVisible(chromedp.CSS(`.waterfall .details .links a`)))
	require.Contains(t, text(`.waterfall .details .links`), "reason=receipt")
	see("the link opens the linked trace", chromedp.Click(chromedp.CSS(`.waterfall .details .links a`)), chromedp.WaitVisible(chromedp.CSS(`.spanlogs`)))
	hash, err = chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash`))
	require.NoError(t, err)
	require.Contains(t, hash, "trace="+traceID)
	require.Equal(t, 5, count(`.wf-row`))

	// The traces page: the search builder finds the trace by its failed
	// payment span.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(page("traces")),
		chromedp.WaitReady(chromedp.CSS(`.builder select[aria-label=service] option[value=payment]`)), // options have no box to be visible
	))
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		for (const [sel, v] of [['service', 'payment'], ['status', 'error']]) {
			const el = document.querySelector('.builder select[aria-label=' + sel + ']');
			el.value = v;
			el.dispatchEvent(new Event('change', { bubbles: true }));
		}
		return true;
	})()`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.builder button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.grid td.mono a`)),
		shot("traces"),
	))
	require.Equal(t, 1, count(`table.grid tbody tr`))
	require.Equal(t, traceID, text(`table.grid td.mono a`))
	// The service graph, from the service-graph metrics: the three
	// services, and the failing call from checkout to payment in red.
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll('.servicegraph .sg-node').length === 3`, chromedp.WithPollingTimeout(20*time.Second)))
	require.NoError(t, err, "the service graph's three services")
	graph, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.servicegraph').textContent`))
	require.NoError(t, err)
	for _, svc := range []string{"frontend", "checkout", "payment"} {
		require.Contains(t, graph, svc)
	}
	edges, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.servicegraph .sg-edge')].map((e) => e.querySelector('title').textContent + (e.classList.contains('err') ? ' (red)' : ''))`))
	require.NoError(t, err)
	require.Len(t, edges, 2, "%q", edges)
	require.Regexp(t, `^checkout → payment: .*/(s|min), 100.0% errors \(red\)$`, edges[0])
	require.Regexp(t, `^frontend → checkout: .*/(s|min)$`, edges[1])
	require.Contains(t, text(`.builder code`), `{ resource.service.name = "payment" && status = error }`)

	// The trace page: every span, and a span's details on click.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(page("trace?id="+traceID)),
		chromedp.WaitVisible(chromedp.CSS(`.waterfall .wf-row`)),
	))
	require.Equal(t, 5, count(`.wf-row`))
	// The payment service's "charge" span, which has attributes and an event.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const row = [...document.querySelectorAll('.wf-row')].find((r) => / charge$/.test(r.querySelector('.wf-name').textContent));
		row.click();
		return true;
	})()`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`.waterfall .details`)), shot("trace")))
	details := text(`.waterfall .details`)
	require.Contains(t, details, "payment.method")
	require.Contains(t, details, "fraud check")
	// The worker's span on the trace page (Tempo's JSON): its link opens
	// the checkout trace there.
	see("the worker's trace page", chromedp.Navigate(page("trace?id="+batch.SpanContext().TraceID().String())),
		chromedp.WaitVisible(chromedp.Search(`//div[contains(@class,"wf-name")][contains(.,"process batch")]`)))
	clickSpan("process batch")
	see("the link on the trace page", chromedp.WaitVisible(chromedp.CSS(`.waterfall .details .links a`)))
	require.Contains(t, text(`.waterfall .details .links`), "reason=receipt")
	see("the linked trace's page", chromedp.Click(chromedp.CSS(`.waterfall .details .links a`)),
		chromedp.WaitVisible(chromedp.Search(`//div[contains(@class,"wf-name")][contains(.,"charge card")]`)))
	hash, err = chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash`))
	require.NoError(t, err)
	require.Contains(t, hash, "#/trace?id="+traceID)

	// Metrics: the range query is drawn, with the series in the legend.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(page("metrics?query=ui_requests_total")),
		chromedp.WaitVisible(chromedp.CSS(`.chart canvas`)),
		shot("metrics"),
	))
	require.Contains(t, text(`.chart .u-legend`), `ui_requests_total{job="shop"}`)
	// Dragging over the chart zooms: the range becomes the page's, in the URL.
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const r = document.querySelector('.chart .u-over').getBoundingClientRect();
		return [r.left, r.top, r.width, r.height];
	})()`))
	require.NoError(t, err)
	x0, x1, y := box[0]+box[2]*0.3, box[0]+box[2]*0.6, box[1]+box[3]/2
	require.NoError(t, chromedp.Do(ctx,
		chromedp.MouseEvent(chromedp.MouseMoved, x0, y),
		chromedp.MouseEvent(chromedp.MousePressed, x0, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, (x0+x1)/2, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseMoved, x1, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(chromedp.MouseReleased, x1, y, chromedp.ButtonLeft),
	))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`/from=\d{10}&/.test(location.hash) && /to=\d{10}/.test(location.hash)`, chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err, "the dragged range is in the URL")

	// The editor completes metric names, then label names and values.
	completes := func(typed, want string) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`.editor textarea`), typed)))
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := chromedp.Run(tctx, chromedp.Poll[bool](`[...document.querySelectorAll('.completions li')].some((li) => li.textContent === `+"`"+want+"`"+`)`))
		items, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.editor').textContent + ' | ' + document.querySelector('.editor textarea').value`))
		require.NoError(t, err, "after %q no completion %q: %s", typed, want, items)
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page("metrics")), chromedp.WaitVisible(chromedp.CSS(`.editor textarea`))))
	completes("ui_req", "ui_requests_total")
	completes("\t{", "job")
	completes("\t=\"s", "shop")
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`.editor textarea`), "\t")))
	typed, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`.editor textarea`)))
	require.NoError(t, err)
	require.Equal(t, `ui_requests_total{job="shop"`, typed)

	// The table view: the instant query's series and values.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(page("metrics?view=table&query=ui_requests_total")),
		chromedp.WaitVisible(chromedp.CSS(`table.grid td.num`)),
	))
	require.Contains(t, text(`table.grid`), `ui_requests_total{job="shop"}`)

	// Exemplars are drawn on the chart and open their trace's correlate
	// page, which lists them.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(page("metrics?query=request_duration_seconds_bucket")),
		chromedp.WaitVisible(chromedp.CSS(`.chart .exemplar`)),
		shot("metrics-exemplars"),
		chromedp.Click(chromedp.CSS(`.chart .exemplar`)),
		chromedp.WaitVisible(chromedp.CSS(`.waterfall .wf-row`)),
	))
	hash, err = chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash`))
	require.NoError(t, err)
	require.Contains(t, hash, "trace="+traceID)
	require.Contains(t, text(`main`), "request_duration_seconds_bucket")

	// A native histogram (the OTel SDK's exponential histogram of payment
	// latency, 1 to 100 ms) is drawn as a heatmap, its cells coloured.
	see("the native histogram's heatmap", chromedp.Navigate(page("metrics?query=payment_latency_milliseconds")), chromedp.WaitVisible(chromedp.CSS(`.heatmap canvas`)), shot("metrics-heatmap"))
	require.Regexp(t, `payment_latency_milliseconds\{.*\} · native histogram · [1-9]\d* cells`, text(`.heatmap`))
	coloured, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => {
		const c = document.querySelector('.heatmap canvas'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		let n = 0;
		for (let i = 0; i < d.length; i += 4) if (d[i+3] > 0 && d[i] > 150 && d[i+2] < 120) n++; // warm: the cells
		return n;
	})()`))
	require.NoError(t, err)
	require.Greater(t, coloured, 100, "pixels of cells on the canvas")

	// Alerts: a silence created in the form shows in the list.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(page("alerts")),
		chromedp.WaitVisible(chromedp.CSS(`table.silences`)),
		chromedp.SendKeys(chromedp.CSS(`form.editor input.query`), `alertname="HighLatency"`),
		chromedp.Click(chromedp.CSS(`form.editor button[type=submit]`)),
		chromedp.WaitVisible(chromedp.Search(`//table[contains(@class,"silences")]//td[contains(text(),"HighLatency")]`)),
		shot("alerts"),
	))
	require.True(t, strings.Contains(text(`table.silences`), "active") || strings.Contains(text(`table.silences`), "pending"))

	// Status: the tenant's figures (/api/v1/status/sightline): the lines
	// and spans sent above, held in its stores; another tenant's are zero.
	see("the status page's tenant figures", chromedp.Navigate(page("status")), chromedp.WaitVisible(chromedp.CSS(`.tenantstats tr.logs`)), chromedp.WaitVisible(chromedp.CSS(`table.fields`)), shot("status"))
	require.Contains(t, text(`main`), "goVersion")
	require.Regexp(t, `Logs\s.*\s[1-9][\d,]* records`, text(`.tenantstats tr.logs`))
	require.Regexp(t, `Traces\s.*\s[1-9][\d,]* spans`, text(`.tenantstats tr.traces`))
	require.Regexp(t, `[1-9][\d,]* series in the head`, text(`.tenantstats tr.metrics`))
	// The page is the same one (only the URL's fragment changes): wait for
	// the other tenant's figures, not for the table already there.
	see("another tenant's status", chromedp.Navigate(page("status?tenant=team-b")),
		chromedp.WaitVisible(chromedp.Search(`//*[contains(@class,"tenantstats")]//caption[contains(., "Tenant team-b")]`)))
	require.Contains(t, text(`.tenantstats caption`), "Tenant team-b")
	require.Regexp(t, `\s0 records`, text(`.tenantstats tr.logs`))
	require.Regexp(t, `\s0 spans`, text(`.tenantstats tr.traces`))
}

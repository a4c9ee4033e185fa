package collector_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/ingest/collector"
	"github.com/sightline-dev/sightline/ingest/exporters/logsexporter"
	"github.com/sightline-dev/sightline/ingest/exporters/metricsexporter"
	"github.com/sightline-dev/sightline/ingest/exporters/tracesexporter"
	"github.com/sightline-dev/sightline/internal/storetest"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tracestore"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

var discard = slog.New(slog.DiscardHandler)

// stores are the three stores and the exporter factories over them, as
// cmd/sightline wires them.
type stores struct {
	metrics *tsdbstore.Store
	logs    *logstore.Store
	traces  *tracestore.Store
	exps    collector.Exporters
}

func newStores(t *testing.T, logOpts func(*logstore.Options)) *stores {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := &stores{metrics: storetest.Metrics(t, reg, nil), logs: storetest.Logs(t, reg, logOpts), traces: storetest.Traces(t, reg, nil)}
	s.exps = collector.Exporters{
		Metrics: metricsexporter.NewFactory(s.metrics, discard, reg),
		Logs:    logsexporter.NewFactory(s.logs, discard),
		Traces:  tracesexporter.NewFactory(s.traces, nil, discard),
	}
	return s
}

// running is a collector started by start.
type running struct {
	col        *collector.Collector
	reg        *prometheus.Registry // the collector's own metrics
	grpc, http string               // the OTLP endpoints
	done       chan error           // Run's result

	once sync.Once
	err  error
}

// shutdown stops the collector and returns what Run returned.
func (r *running) shutdown() error {
	r.once.Do(func() {
		r.col.Shutdown()
		r.err = <-r.done
	})
	return r.err
}

// loopbackAddrs returns n different loopback addresses, free now, whose
// ports lie below the kernel's ephemeral range: a port in that range
// (which is where port 0 draws from) may be taken by any outgoing
// connection before the collector binds it, one below it only by a
// listener. start draws again when one is taken all the same.
func loopbackAddrs(t *testing.T, n int) []string {
	t.Helper()
	hi := 32768 // Linux's default start of the range
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > 20000 {
				hi = v
			}
		}
	}
	var out []string
	for _, p := range rand.Perm(hi - 10000) {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(10000+p))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			if out = append(out, addr); len(out) == n {
				return out
			}
		}
	}
	t.Fatal("no free ports below the ephemeral range")
	return nil
}

// start runs a collector of opts over exps on loopback ports and waits
// until its receivers listen; configure, if not nil, sees the options of
// each attempt (with its endpoints set) and may take ports of its own from
// extra. The collector is shut down when the test ends.
func start(t *testing.T, opts collector.Options, exps collector.Exporters, configure func(o *collector.Options, extra string)) *running {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addrs := loopbackAddrs(t, 3)
		o := opts
		o.GRPCEndpoint, o.HTTPEndpoint = addrs[0], addrs[1]
		if configure != nil {
			configure(&o, addrs[2])
		}
		r, err := tryStart(t, o, exps)
		if err == nil {
			r.grpc, r.http = addrs[0], addrs[1]
			return r
		}
		if !strings.Contains(err.Error(), "address already in use") || attempt == 3 {
			t.Fatal(err)
		}
	}
}

func tryStart(t *testing.T, o collector.Options, exps collector.Exporters) (*running, error) {
	t.Helper()
	r := &running{reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	var err error
	r.col, err = collector.New(o, exps, discard, r.reg)
	require.NoError(t, err)
	require.False(t, r.col.Running(), "New does not start it")
	go func() { r.done <- r.col.Run(context.Background()) }()
	deadline := time.After(20 * time.Second)
	for !r.col.Running() {
		select {
		case err := <-r.done:
			if err == nil {
				err = errors.New("collector stopped during start-up")
			}
			return nil, err
		case <-deadline:
			t.Fatal("collector not running after 20s")
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Cleanup(func() { _ = r.shutdown() })
	return r, nil
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func serviceResource(name string) *resource.Resource {
	return resource.NewSchemaless(attribute.String("service.name", name))
}

// tracer is an OTel SDK tracer provider of service exporting with exp; its
// ForceFlush exports and returns the export's error.
func tracer(t *testing.T, service string, exp sdktrace.SpanExporter, err error) *sdktrace.TracerProvider {
	t.Helper()
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(serviceResource(service)), sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Hour)))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

func grpcTracer(t *testing.T, addr, service string, headers map[string]string) *sdktrace.TracerProvider {
	exp, err := otlptracegrpc.New(ctxT(t), otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(headers), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	return tracer(t, service, exp, err)
}

func httpTracer(t *testing.T, addr, service string) *sdktrace.TracerProvider {
	exp, err := otlptracehttp.New(ctxT(t), otlptracehttp.WithEndpoint(addr), otlptracehttp.WithInsecure(),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	return tracer(t, service, exp, err)
}

// oneSpan ends a span "work" of tp and returns its trace ID.
func oneSpan(tp *sdktrace.TracerProvider) [16]byte {
	_, sp := tp.Tracer("test").Start(context.Background(), "work", trace.WithAttributes(attribute.Int("items", 3)))
	sp.End()
	return sp.SpanContext().TraceID()
}

func spansOf(t *testing.T, s *tracestore.Store, tenantID string, id [16]byte) []*record.Span {
	t.Helper()
	spans, err := s.Trace(tenant.With(context.Background(), tenantID), id)
	require.NoError(t, err)
	return spans
}

// TestIngest sends each signal with the OpenTelemetry Go SDK's OTLP
// exporters, over gRPC and HTTP, with and without X-Scope-OrgID, and finds
// it in the stores under its tenant.
func TestIngest(t *testing.T) {
	st := newStores(t, nil)
	r := start(t, collector.DefaultOptions(), st.exps, nil)

	t.Run("traces", func(t *testing.T) {
		tp := grpcTracer(t, r.grpc, "checkout", map[string]string{tenant.Header: "team-a"})
		id := oneSpan(tp)
		require.NoError(t, tp.ForceFlush(ctxT(t)))
		spans := spansOf(t, st.traces, "team-a", id)
		require.Len(t, spans, 1)
		require.Equal(t, "work", spans[0].Name)
		require.Equal(t, "checkout", spans[0].Service())
		require.Equal(t, "3", record.Attr(spans[0].Attributes, "items"))
		require.Empty(t, spansOf(t, st.traces, tenant.Default, id), "team-a's span is not the default tenant's")

		tp = httpTracer(t, r.http, "payment")
		id = oneSpan(tp)
		require.NoError(t, tp.ForceFlush(ctxT(t)))
		require.Len(t, spansOf(t, st.traces, tenant.Default, id), 1, "no header: the default tenant")
	})

	t.Run("logs", func(t *testing.T) {
		exp, err := otlploghttp.New(ctxT(t), otlploghttp.WithEndpoint(r.http), otlploghttp.WithInsecure(),
			otlploghttp.WithHeaders(map[string]string{tenant.Header: "team-b"}), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
		require.NoError(t, err)
		lp := sdklog.NewLoggerProvider(sdklog.WithResource(serviceResource("checkout")),
			sdklog.WithProcessor(sdklog.NewBatchProcessor(exp, sdklog.WithExportInterval(time.Hour))))
		t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
		// A record emitted inside a span carries its trace and span IDs.
		tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
		sid := trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
		ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
		var rec otellog.Record
		rec.SetTimestamp(time.Now())
		rec.SetSeverity(otellog.SeverityError)
		rec.SetBody(otellog.StringValue("card declined"))
		rec.AddAttributes(otellog.String("cart.id", "c-9"))
		lp.Logger("shop").Emit(ctx, rec)
		require.NoError(t, lp.ForceFlush(ctxT(t)))

		recs, err := st.logs.ByTrace(tenant.With(context.Background(), "team-b"), tid)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.Equal(t, "card declined", recs[0].Body)
		require.Equal(t, [8]byte(sid), recs[0].SpanID)
		require.Equal(t, "c-9", recs[0].Attr("cart.id"))
		require.Equal(t, "checkout", recs[0].ResourceAttr("service.name"))
		require.Equal(t, "shop", recs[0].ScopeName)
		recs, err = st.logs.ByTrace(context.Background(), tid)
		require.NoError(t, err)
		require.Empty(t, recs, "team-b's record is not the default tenant's")
	})

	// Delta sums, which Prometheus cannot store, are made cumulative by
	// the pipeline's deltatocumulative processor.
	t.Run("delta metrics", func(t *testing.T) {
		exp, err := otlpmetricgrpc.New(ctxT(t), otlpmetricgrpc.WithEndpoint(r.grpc), otlpmetricgrpc.WithInsecure(),
			otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false}),
			otlpmetricgrpc.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality { return metricdata.DeltaTemporality }))
		require.NoError(t, err)
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(serviceResource("checkout")),
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
		t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		c, err := mp.Meter("shop").Int64Counter("orders")
		require.NoError(t, err)

		c.Add(context.Background(), 3)
		require.NoError(t, mp.ForceFlush(ctxT(t)))
		first := storetest.Samples(t, st.metrics, tenant.Default, "orders_total")
		require.Len(t, first, 1)
		require.Equal(t, 3.0, first[0].V)
		// The next export must be of a later millisecond for Prometheus to
		// keep both samples.
		require.Eventually(t, func() bool { return time.Now().UnixMilli() > first[0].T }, time.Second, time.Millisecond)
		c.Add(context.Background(), 4)
		require.NoError(t, mp.ForceFlush(ctxT(t)))
		got := storetest.Samples(t, st.metrics, tenant.Default, "orders_total")
		require.Len(t, got, 2)
		require.Equal(t, 7.0, got[1].V, "3 and then 4 more is 7")
	})
}

// post sends an OTLP protobuf body to url; chunked sends it with no
// Content-Length.
func post(t *testing.T, url string, body []byte, chunked bool, header ...string) (int, string) {
	t.Helper()
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd) // of unknown length
	}
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, url, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-protobuf")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func logsBody(t *testing.T, body string) []byte {
	t.Helper()
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr(body)
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	return b
}

// TestHTTPBadInput: a body over the limit gets 413 naming the limit,
// whether its size is announced (Content-Length) or found while reading
// (chunked); a bad tenant gets 400. Nothing of them is stored.
func TestHTTPBadInput(t *testing.T) {
	st := newStores(t, nil)
	opts := collector.DefaultOptions()
	opts.MaxRequestBodyBytes = 1 << 10
	r := start(t, opts, st.exps, nil)
	url := "http://" + r.http + "/v1/logs"

	code, resp := post(t, url, logsBody(t, "fits"), false)
	require.Equal(t, http.StatusOK, code, resp)
	code, resp = post(t, url, logsBody(t, "fits too"), true)
	require.Equal(t, http.StatusOK, code, resp)

	big := logsBody(t, strings.Repeat("x", 2<<10))
	code, resp = post(t, url, big, false)
	require.Equal(t, http.StatusRequestEntityTooLarge, code, resp)
	require.Contains(t, resp, fmt.Sprintf("request body of %d bytes is over the limit of 1024 bytes", len(big)))
	code, resp = post(t, url, big, true)
	require.Equal(t, http.StatusRequestEntityTooLarge, code, "chunked: %s", resp)

	code, resp = post(t, url, logsBody(t, "whose?"), false, tenant.Header, "../other")
	require.Equal(t, http.StatusBadRequest, code, resp)
	require.Contains(t, resp, "invalid tenant ID")

	require.Len(t, storetest.Records(t, st.logs, tenant.Default), 2, "only the two that fit are stored")
}

// TestStoreBackpressure: a store behind with flushing refuses a request,
// and the sender is told to retry: 429 over HTTP, ResourceExhausted over
// gRPC.
func TestStoreBackpressure(t *testing.T) {
	st := newStores(t, func(o *logstore.Options) { o.HeadMaxRows, o.HeadMaxAge, o.MaxPendingRows = 1<<20, time.Hour, 1 })
	r := start(t, collector.DefaultOptions(), st.exps, nil)
	url := "http://" + r.http + "/v1/logs"
	code, resp := post(t, url, logsBody(t, "first"), false)
	require.Equal(t, http.StatusOK, code, resp)
	code, resp = post(t, url, logsBody(t, "second"), false)
	require.Equal(t, http.StatusTooManyRequests, code, resp)
	require.NoError(t, st.logs.Flush())
	code, resp = post(t, url, logsBody(t, "second"), false)
	require.Equal(t, http.StatusOK, code, "the retry after the store caught up: %s", resp)
}

// TestMemoryLimit: over its memory limit, Sightline refuses data with
// 429 / ResourceExhausted, which OTLP senders retry later, and counts the
// refusals.
func TestMemoryLimit(t *testing.T) {
	st := newStores(t, nil)
	opts := collector.DefaultOptions()
	opts.MemoryLimitMiB = 1 // always over it
	r := start(t, opts, st.exps, nil)

	// The memory limiter measures once a second: wait for its verdict.
	body := logsBody(t, "too much")
	var code int
	var resp string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if code, resp = post(t, "http://"+r.http+"/v1/logs", body, false); code != http.StatusOK {
			break
		}
	}
	require.Equal(t, http.StatusTooManyRequests, code, resp)
	require.Contains(t, resp, "sightline is over its memory limit, retry later")

	conn, err := grpc.NewClient(r.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID([16]byte{1})
	sp.SetSpanID([8]byte{1})
	_, err = ptraceotlp.NewGRPCClient(conn).Export(ctxT(t), ptraceotlp.NewExportRequestFromTraces(td))
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)

	require.GreaterOrEqual(t, storetest.Counter(t, r.reg, "sightline_ingest_refused_requests_total", "signal", "logs"), 1.0)
	require.Equal(t, 1.0, storetest.Counter(t, r.reg, "sightline_ingest_refused_requests_total", "signal", "traces"))
}

// TestConfigFiles: a user's collector configuration is merged over
// Sightline's, here to add a second OTLP receiver to the traces pipeline.
func TestConfigFiles(t *testing.T) {
	st := newStores(t, nil)
	dir := t.TempDir()
	var extra string
	r := start(t, collector.DefaultOptions(), st.exps, func(o *collector.Options, addr string) {
		extra = addr
		file := filepath.Join(dir, "extra.yaml")
		require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`
receivers:
  otlp/extra:
    protocols:
      http:
        endpoint: %s
service:
  pipelines:
    traces:
      receivers: [otlp, otlp/extra]
`, addr)), 0o644))
		o.ConfigFiles = []string{file}
	})

	for _, addr := range []string{extra, r.http} {
		tp := httpTracer(t, addr, "legacy")
		id := oneSpan(tp)
		require.NoError(t, tp.ForceFlush(ctxT(t)), addr)
		require.Len(t, spansOf(t, st.traces, tenant.Default, id), 1, "received on %s", addr)
	}
}

// TestConfigFileErrors: a configuration that cannot be used stops Run with
// an error that says what is wrong, and nothing listens.
func TestConfigFileErrors(t *testing.T) {
	st := newStores(t, nil)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{name: "missing", want: []string{"no-such.yaml", "no such file"}},
		{name: "not YAML", yaml: "receivers: [\n", want: []string{"yaml"}},
		{name: "unknown component", yaml: "receivers:\n  kafka:\n", want: []string{"kafka"}},
		{name: "unknown pipeline receiver", yaml: "service:\n  pipelines:\n    logs:\n      receivers: [otlp, otlp/nowhere]\n", want: []string{"otlp/nowhere"}},
		{name: "invalid setting", yaml: "processors:\n  memory_limiter:\n    check_interval: soon\n", want: []string{"memory_limiter", "check_interval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := collector.DefaultOptions()
			addrs := loopbackAddrs(t, 2)
			opts.GRPCEndpoint, opts.HTTPEndpoint = addrs[0], addrs[1]
			file := filepath.Join(dir, "no-such.yaml")
			if tc.yaml != "" {
				file = filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
				require.NoError(t, os.WriteFile(file, []byte(tc.yaml), 0o644))
			}
			opts.ConfigFiles = []string{file}
			col, err := collector.New(opts, st.exps, discard, prometheus.NewRegistry())
			require.NoError(t, err, "the configuration is read by Run")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // in case it runs
			defer cancel()
			err = col.Run(ctx)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			require.False(t, col.Running())
			_, err = net.DialTimeout("tcp", addrs[1], time.Second)
			require.Error(t, err, "nothing listens")
		})
	}
}

// TestLifecycle: Running is true only between start-up and Shutdown, which
// closes the receivers and makes Run return; a cancelled context stops it
// too; a taken port is an error naming it; New refuses what cannot run.
func TestLifecycle(t *testing.T) {
	st := newStores(t, nil)
	r := start(t, collector.DefaultOptions(), st.exps, nil)
	require.True(t, r.col.Running())
	require.NoError(t, r.shutdown(), "Shutdown is a clean stop")
	require.False(t, r.col.Running())
	for _, addr := range []string{r.grpc, r.http} {
		_, err := net.DialTimeout("tcp", addr, time.Second)
		require.Error(t, err, "%s is closed", addr)
	}

	// A port taken (by r) is an error that names it.
	r = start(t, collector.DefaultOptions(), st.exps, nil)
	opts := collector.DefaultOptions()
	opts.GRPCEndpoint, opts.HTTPEndpoint = loopbackAddrs(t, 1)[0], r.http
	col, err := collector.New(opts, st.exps, discard, prometheus.NewRegistry())
	require.NoError(t, err)
	err = col.Run(ctxT(t))
	require.ErrorContains(t, err, r.http)
	require.ErrorContains(t, err, "address already in use")
	require.False(t, col.Running())

	// Cancelling Run's context stops it without an error; a collector of
	// one signal runs too.
	ctx, cancel := context.WithCancel(context.Background())
	addrs := loopbackAddrs(t, 2)
	opts.GRPCEndpoint, opts.HTTPEndpoint = addrs[0], addrs[1]
	col, err = collector.New(opts, collector.Exporters{Traces: st.exps.Traces}, discard, prometheus.NewRegistry())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx) }()
	require.Eventually(t, col.Running, 20*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.False(t, col.Running())

	_, err = collector.New(collector.DefaultOptions(), collector.Exporters{}, discard, prometheus.NewRegistry())
	require.ErrorContains(t, err, "no exporter given")
	_, err = collector.New(collector.DefaultOptions(), st.exps, discard, r.reg)
	require.ErrorContains(t, err, "register collector metrics", "a second collector on the same registry")
}

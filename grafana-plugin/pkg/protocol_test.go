package main

// The plugin tested as Grafana runs it: the test builds the backend
// executable and Sightline, starts Sightline and feeds it with the
// OpenTelemetry SDK, then starts the plugin through hashicorp go-plugin's
// handshake and calls its gRPC pluginv2 services (the SDK's own client
// side, which Grafana uses) and reads the Arrow frames they return.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/sightline-dev/sightline/grafana-plugin/pkg/plugin"
)

// stack is a running Sightline with one request's telemetry in it, and the
// plugin process connected to it.
type stack struct {
	httpURL, grpcAddr string
	traceID, spanID   string // the request; spanID is its failing span
	needle            string // a word only the request's error line holds

	data     pluginv2.DataClient
	diag     pluginv2.DiagnosticsClient
	resource pluginv2.ResourceClient
	stream   pluginv2.StreamClient
	logs     *sdklog.LoggerProvider // the checkout service's logs, for the tail
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// build compiles the plugin backend and Sightline once per test binary.
func build(tb testing.TB) string {
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "gpx-test")
		if buildErr != nil {
			return
		}
		for _, b := range []struct{ dir, pkg, out string }{
			{".", ".", "gpx_sightline"},
			{"../..", "./cmd/sightline", "sightline"},
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, b.out), b.pkg)
			cmd.Dir = b.dir
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	require.NoError(tb, buildErr)
	return binDir
}

func freeAddr(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	defer l.Close()
	return l.Addr().String()
}

// eventually polls cond until it holds or the deadline passes.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			tb.Fatalf("timed out waiting for %s", what)
		}
	}
}

func startStack(tb testing.TB) *stack {
	dir := build(tb)
	s := &stack{grpcAddr: freeAddr(tb)}
	httpAddr := freeAddr(tb)
	s.httpURL = "http://" + httpAddr

	srv := exec.Command(filepath.Join(dir, "sightline"), "-data.dir", tb.TempDir(),
		"-http.listen-address", httpAddr, "-otlp.grpc.listen-address", s.grpcAddr,
		"-otlp.http.listen-address", freeAddr(tb),
		// Span metrics (and their exemplars) written every second, not 15.
		"-spanmetrics.flush-interval", "1s")
	srv.Stdout, srv.Stderr = io.Discard, io.Discard
	require.NoError(tb, srv.Start())
	tb.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	eventually(tb, "sightline ready", func() bool {
		resp, err := http.Get(s.httpURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	s.sendRequest(tb)
	s.startPlugin(tb, dir)
	return s
}

// sendRequest sends, through the OpenTelemetry SDK, one failing request
// across two services (frontend → checkout), checkout's error log line
// within its span, and a counter.
func (s *stack) sendRequest(tb testing.TB) {
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	s.needle = "needle" + hex.EncodeToString(b)

	tracer := func(service string) *sdktrace.TracerProvider {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.grpcAddr), otlptracegrpc.WithInsecure())
		require.NoError(tb, err)
		return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Hour)),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.namespace", "shop"))))
	}
	frontend, checkout := tracer("frontend"), tracer("checkout")
	logExp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(s.grpcAddr), otlploggrpc.WithInsecure())
	require.NoError(tb, err)
	s.logs = sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(logExp)),
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "checkout"), attribute.String("service.namespace", "shop"))))
	tb.Cleanup(func() { _ = s.logs.Shutdown(context.Background()) })
	metricExp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(s.grpcAddr), otlpmetricgrpc.WithInsecure())
	require.NoError(tb, err)
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "checkout"), attribute.String("service.namespace", "shop"))))

	rootCtx, root := frontend.Tracer("shop").Start(ctx, "GET /checkout", trace.WithSpanKind(trace.SpanKindServer))
	childCtx, child := checkout.Tracer("shop").Start(rootCtx, "charge", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.Float64("amount", 12.5)))
	child.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", 2)))
	emitLog(s.logs, childCtx, otellog.SeverityError, "payment failed: card declined "+s.needle)
	orders, err := meters.Meter("shop").Int64Counter("orders")
	require.NoError(tb, err)
	orders.Add(childCtx, 3)
	child.SetStatus(codes.Error, "card declined")
	child.End()
	root.End()
	s.traceID, s.spanID = child.SpanContext().TraceID().String(), child.SpanContext().SpanID().String()

	for _, p := range []interface{ Shutdown(context.Context) error }{checkout, frontend, meters} {
		require.NoError(tb, p.Shutdown(ctx))
	}
	eventually(tb, "the request in every store", func() bool {
		var n int
		for _, path := range []string{"/api/traces/" + s.traceID, "/api/v1/logs/trace/" + s.traceID,
			"/api/v1/query?query=orders_total", "/api/v1/query_exemplars?query=traces_spanmetrics_latency_bucket"} {
			resp, err := http.Get(s.httpURL + path)
			if err != nil {
				return false
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), `"records":[]`) &&
				!strings.Contains(string(body), `"result":[]`) && !strings.Contains(string(body), `"data":[]`) {
				n++
			}
		}
		return n == 4
	})
}

func emitLog(lp *sdklog.LoggerProvider, ctx context.Context, sev otellog.Severity, body string) {
	var r otellog.Record
	r.SetTimestamp(time.Now())
	r.SetSeverity(sev)
	r.SetSeverityText(sev.String())
	r.SetBody(otellog.StringValue(body))
	lp.Logger("shop.checkout").Emit(ctx, r)
}

// startPlugin starts the backend executable as Grafana does: go-plugin's
// handshake (magic cookie, protocol version 2), gRPC only, and the SDK's
// client side of each pluginv2 service.
func (s *stack) startPlugin(tb testing.TB, dir string) {
	cmd := exec.Command(filepath.Join(dir, "gpx_sightline"))
	cmd.Env = append(os.Environ(), "GF_VERSION=13.2.2", "GF_EDITION=oss")
	c := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{grpcplugin.ProtocolVersion: {
			"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
			"resource":    &grpcplugin.ResourceGRPCPlugin{},
			"data":        &grpcplugin.DataGRPCPlugin{},
			"stream":      &grpcplugin.StreamGRPCPlugin{},
		}},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	tb.Cleanup(c.Kill)
	rpc, err := c.Client()
	require.NoError(tb, err)
	dispense := func(name string) any {
		raw, err := rpc.Dispense(name)
		require.NoError(tb, err)
		return raw
	}
	s.diag = dispense("diagnostics").(pluginv2.DiagnosticsClient)
	s.resource = dispense("resource").(pluginv2.ResourceClient)
	s.data = dispense("data").(pluginv2.DataClient)
	s.stream = dispense("stream").(pluginv2.StreamClient)
}

// pluginContext is what Grafana sends with every call: the datasource's
// settings, here with its tenant.
func (s *stack) pluginContext(tenant string) *pluginv2.PluginContext {
	js, _ := json.Marshal(map[string]string{"tenant": tenant})
	// Another tenant is another datasource, as in Grafana: the SDK keeps
	// one instance per datasource (and settings version).
	id, uid := int64(1), "sightline-uid"
	if tenant != "" {
		id, uid = 2, "sightline-"+tenant
	}
	return &pluginv2.PluginContext{
		OrgId: 1, PluginId: plugin.ID, PluginVersion: "0.1.0",
		DataSourceInstanceSettings: &pluginv2.DataSourceInstanceSettings{
			Id: id, Uid: uid, Name: "Sightline", Url: s.httpURL, JsonData: js,
			LastUpdatedMS: 1, DecryptedSecureJsonData: map[string]string{},
		},
	}
}

// query runs one query through QueryData and returns its frames, or the
// status and error of its response.
func (s *stack) query(tb testing.TB, tenant string, q map[string]any) (data.Frames, int32, string) {
	tb.Helper()
	js, err := json.Marshal(q)
	require.NoError(tb, err)
	now := time.Now()
	resp, err := s.data.QueryData(context.Background(), &pluginv2.QueryDataRequest{
		PluginContext: s.pluginContext(tenant),
		Queries: []*pluginv2.DataQuery{{
			RefId: "A", Json: js, MaxDataPoints: 500, IntervalMS: 15000,
			TimeRange: &pluginv2.TimeRange{FromEpochMS: now.Add(-time.Hour).UnixMilli(), ToEpochMS: now.Add(time.Minute).UnixMilli()},
		}},
	})
	require.NoError(tb, err)
	r := resp.Responses["A"]
	require.NotNil(tb, r)
	if r.Error != "" {
		return nil, r.Status, r.Error
	}
	frames, err := data.UnmarshalArrowFrames(r.Frames)
	require.NoError(tb, err)
	for _, f := range frames {
		require.Equal(tb, "A", f.RefID)
	}
	return frames, r.Status, ""
}

func (s *stack) mustQuery(tb testing.TB, q map[string]any) data.Frames {
	tb.Helper()
	frames, status, msg := s.query(tb, "", q)
	require.Empty(tb, msg, "status %d", status)
	return frames
}

func frameNamed(tb testing.TB, frames data.Frames, name string) *data.Frame {
	tb.Helper()
	for _, f := range frames {
		if f.Name == name {
			return f
		}
	}
	tb.Fatalf("no frame %q among %d", name, len(frames))
	return nil
}

func fieldNames(f *data.Frame) []string {
	var out []string
	for _, fl := range f.Fields {
		out = append(out, fl.Name)
	}
	return out
}

func column(tb testing.TB, f *data.Frame, name string) []any {
	tb.Helper()
	fl, _ := f.FieldByName(name)
	require.NotNil(tb, fl, "no field %q in %v", name, fieldNames(f))
	out := make([]any, fl.Len())
	for i := range out {
		out[i] = fl.At(i)
	}
	return out
}

// linkQuery is the query of a field's data link with the given title.
func linkQuery(tb testing.TB, f *data.Frame, field, title string) map[string]any {
	tb.Helper()
	fl, _ := f.FieldByName(field)
	require.NotNil(tb, fl)
	require.NotNil(tb, fl.Config, "field %q has no config", field)
	for _, l := range fl.Config.Links {
		if l.Title == title {
			require.NotNil(tb, l.Internal)
			require.Equal(tb, "sightline-uid", l.Internal.DatasourceUID)
			b, _ := json.Marshal(l.Internal.Query)
			var q map[string]any
			require.NoError(tb, json.Unmarshal(b, &q))
			return q
		}
	}
	tb.Fatalf("field %q has no link %q", field, title)
	return nil
}

func TestPluginProtocol(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()

	t.Run("CheckHealth", func(t *testing.T) {
		res, err := s.diag.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: s.pluginContext("")})
		require.NoError(t, err)
		require.Equal(t, pluginv2.CheckHealthResponse_OK, res.Status, res.Message)
		require.Contains(t, res.Message, "checkout")
		require.Contains(t, res.Message, "frontend")

		res, err = s.diag.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: s.pluginContext("other-team")})
		require.NoError(t, err)
		require.Equal(t, pluginv2.CheckHealthResponse_OK, res.Status)
		require.NotContains(t, res.Message, "checkout", "another tenant sees no service of this one")

		pc := s.pluginContext("")
		pc.DataSourceInstanceSettings.Url = "http://" + freeAddr(t) // nothing listens there
		pc.DataSourceInstanceSettings.LastUpdatedMS = 2             // settings changed, as Grafana says
		res, err = s.diag.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pc})
		require.NoError(t, err)
		require.Equal(t, pluginv2.CheckHealthResponse_ERROR, res.Status)
		require.Contains(t, res.Message, "cannot be reached")
	})

	t.Run("metrics range with exemplars", func(t *testing.T) {
		frames := s.mustQuery(t, map[string]any{"queryType": "metrics", "expr": "orders_total", "legendFormat": "{{job}}"})
		require.Len(t, frames, 1)
		f := frames[0]
		require.Equal(t, data.FrameTypeTimeSeriesMulti, f.Meta.Type)
		require.Equal(t, []string{"Time", "Value"}, fieldNames(f))
		require.Equal(t, data.FieldTypeTime, f.Fields[0].Type())
		require.Equal(t, data.FieldTypeFloat64, f.Fields[1].Type())
		require.Equal(t, "shop/checkout", f.Fields[1].Labels["job"])
		require.Equal(t, "shop/checkout", f.Fields[1].Config.DisplayNameFromDS)
		require.Equal(t, 3.0, f.Fields[1].At(f.Fields[1].Len()-1))

		frames = s.mustQuery(t, map[string]any{"queryType": "metrics", "exemplars": true,
			"expr": `sum by (le) (rate(traces_spanmetrics_latency_bucket{service="checkout"}[5m]))`})
		ex := frameNamed(t, frames, "exemplar")
		require.Equal(t, data.DataTopicAnnotations, ex.Meta.DataTopic)
		require.Contains(t, column(t, ex, "trace_id"), s.traceID)
		q := linkQuery(t, ex, "trace_id", "Trace")
		require.Equal(t, map[string]any{"queryType": "traces", "tracesMode": "traceId", "traceId": "${__value.raw}"}, q)
	})

	t.Run("metrics table", func(t *testing.T) {
		frames := s.mustQuery(t, map[string]any{"queryType": "metrics", "expr": "orders_total", "format": "table"})
		require.Len(t, frames, 1)
		f := frames[0]
		require.Equal(t, data.FrameTypeNumericLong, f.Meta.Type)
		require.Equal(t, "Time", f.Fields[0].Name)
		require.Equal(t, "Value", f.Fields[len(f.Fields)-1].Name)
		require.Equal(t, []any{"orders_total"}, column(t, f, "__name__"))
		require.Equal(t, []any{"shop/checkout"}, column(t, f, "job"))
		require.Equal(t, []any{3.0}, column(t, f, "Value"))
	})

	checkLogLine := func(t *testing.T, frames data.Frames) {
		require.Len(t, frames, 1)
		f := frames[0]
		require.Equal(t, data.FrameTypeLogLines, f.Meta.Type)
		require.Equal(t, data.VisTypeLogs, string(f.Meta.PreferredVisualization))
		require.Equal(t, []string{"timestamp", "body", "severity", "id", "labels", "traceId", "spanId"}, fieldNames(f))
		require.Equal(t, data.FieldTypeTime, f.Fields[0].Type())
		require.Equal(t, data.FieldTypeJSON, f.Fields[4].Type())
		require.Equal(t, 1, f.Rows())
		require.Equal(t, "payment failed: card declined "+s.needle, f.Fields[1].At(0))
		require.Equal(t, "error", f.Fields[2].At(0))
		require.Equal(t, s.traceID, f.Fields[5].At(0))
		require.Equal(t, s.spanID, f.Fields[6].At(0))
		var lbls map[string]string
		require.NoError(t, json.Unmarshal(f.Fields[4].At(0).(json.RawMessage), &lbls))
		require.Equal(t, "checkout", lbls["service_name"]+lbls["service.name"])
		require.Equal(t, "traces", linkQuery(t, f, "traceId", "Trace")["queryType"])
		require.Equal(t, "correlate", linkQuery(t, f, "traceId", "Trace, logs and exemplars")["queryType"])
	}
	t.Run("logs LogQL", func(t *testing.T) {
		checkLogLine(t, s.mustQuery(t, map[string]any{"queryType": "logs", "expr": `{service_name="checkout"} |= "` + s.needle + `"`}))
	})
	t.Run("logs full-text search", func(t *testing.T) {
		checkLogLine(t, s.mustQuery(t, map[string]any{"queryType": "logs", "logsMode": "search", "expr": s.needle}))
	})
	t.Run("logs of a span, no time range", func(t *testing.T) {
		checkLogLine(t, s.mustQuery(t, map[string]any{"queryType": "logs", "logsMode": "trace", "traceId": s.traceID, "spanId": s.spanID}))
	})
	t.Run("LogQL metric query", func(t *testing.T) {
		frames := s.mustQuery(t, map[string]any{"queryType": "logs", "expr": `sum by (service_name) (count_over_time({service_name="checkout"}[1h]))`, "step": "60s"})
		require.Len(t, frames, 1)
		require.Equal(t, data.FrameTypeTimeSeriesMulti, frames[0].Meta.Type)
		require.Equal(t, "checkout", frames[0].Fields[1].Labels["service_name"])
		v := frames[0].Fields[1]
		require.Equal(t, 1.0, v.At(v.Len()-1), "one line of checkout in the last hour")
	})
	t.Run("metrics instant", func(t *testing.T) {
		frames := s.mustQuery(t, map[string]any{"queryType": "metrics", "expr": "sum(orders_total)", "instant": true})
		require.Len(t, frames, 1)
		require.Equal(t, data.FrameTypeTimeSeriesMulti, frames[0].Meta.Type)
		require.Equal(t, []any{3.0}, column(t, frames[0], "Value"))
	})
	t.Run("logs volume", func(t *testing.T) {
		frames := s.mustQuery(t, map[string]any{"queryType": "logsVolume", "expr": `{service_name="checkout"}`})
		require.Len(t, frames, 1)
		f := frames[0]
		require.Equal(t, data.FrameTypeTimeSeriesMulti, f.Meta.Type)
		require.Equal(t, data.Labels{"level": "error"}, f.Fields[1].Labels)
		var total float64
		for i := 0; i < f.Rows(); i++ {
			total += f.Fields[1].At(i).(float64)
		}
		require.Equal(t, 1.0, total)
	})
	t.Run("traces search", func(t *testing.T) {
		frames := s.mustQuery(t, map[string]any{"queryType": "traces", "expr": `{ resource.service.name = "frontend" }`})
		require.Len(t, frames, 1)
		f := frames[0]
		require.Equal(t, []string{"traceID", "startTime", "rootServiceName", "rootTraceName", "duration"}, fieldNames(f))
		require.Contains(t, column(t, f, "traceID"), s.traceID)
		require.Contains(t, column(t, f, "rootTraceName"), "GET /checkout")
		require.Equal(t, "traceId", linkQuery(t, f, "traceID", "Trace")["tracesMode"])
	})
	t.Run("trace by ID", func(t *testing.T) {
		frames := s.mustQuery(t, map[string]any{"queryType": "traces", "tracesMode": "traceId", "traceId": s.traceID})
		require.Len(t, frames, 1)
		checkTraceFrame(t, s, frames[0])
	})
	t.Run("correlate", func(t *testing.T) {
		frames := s.mustQuery(t, map[string]any{"queryType": "correlate", "traceId": s.traceID})
		require.Len(t, frames, 3)
		checkTraceFrame(t, s, frameNamed(t, frames, "Trace"))
		checkLogLine(t, data.Frames{frameNamed(t, frames, "logs")})
		ex := frameNamed(t, frames, "Exemplars")
		require.Contains(t, column(t, ex, "metric"), "traces_spanmetrics_latency_bucket")
		require.Contains(t, column(t, ex, "spanID"), s.spanID)
		require.Equal(t, "metrics", linkQuery(t, ex, "series", "Graph this series")["queryType"])
	})
	t.Run("tenants", func(t *testing.T) {
		frames, _, msg := s.query(t, "other-team", map[string]any{"queryType": "logs", "logsMode": "search", "expr": s.needle})
		require.Empty(t, msg)
		require.Equal(t, 0, frames[0].Rows(), "another tenant's datasource sees none of this tenant's logs")
		_, status, _ := s.query(t, "other-team", map[string]any{"queryType": "traces", "tracesMode": "traceId", "traceId": s.traceID})
		require.EqualValues(t, http.StatusNotFound, status)
	})
	t.Run("bad queries", func(t *testing.T) {
		for _, c := range []struct {
			q      map[string]any
			status int32
			msg    string
		}{
			{map[string]any{"queryType": "bogus"}, 400, `unknown queryType "bogus"`},
			{map[string]any{"queryType": "metrics", "expr": "sum(", "format": "table"}, 400, "parse error"},
			{map[string]any{"queryType": "metrics", "expr": "up", "step": "-1"}, 400, `invalid step "-1"`},
			{map[string]any{"queryType": "logs", "expr": `{service_name=}`}, 400, "parse error"},
			{map[string]any{"queryType": "logs", "expr": "x", "limit": 1 << 30}, 400, "limit"},
			{map[string]any{"queryType": "traces", "tracesMode": "traceId", "traceId": "zz"}, 400, ""},
			{map[string]any{"queryType": "correlate"}, 400, "no traceId"},
		} {
			_, status, msg := s.query(t, "", c.q)
			require.Equal(t, c.status, status, "%v: %s", c.q, msg)
			require.Contains(t, msg, c.msg)
		}
	})
}

func checkTraceFrame(t *testing.T, s *stack, f *data.Frame) {
	t.Helper()
	require.Equal(t, data.VisTypeTrace, string(f.Meta.PreferredVisualization))
	// The fields Grafana's trace view reads, as its Tempo datasource writes them.
	require.Equal(t, []string{"traceID", "spanID", "parentSpanID", "operationName", "serviceName", "kind",
		"statusCode", "statusMessage", "instrumentationLibraryName", "instrumentationLibraryVersion", "traceState",
		"serviceTags", "startTime", "duration", "logs", "references", "tags"}, fieldNames(f))
	require.Equal(t, 2, f.Rows())
	services := column(t, f, "serviceName")
	require.ElementsMatch(t, []any{"frontend", "checkout"}, services)
	i := slices.Index(column(t, f, "spanID"), any(s.spanID))
	require.GreaterOrEqual(t, i, 0)
	require.Equal(t, "charge", f.Fields[3].At(i))
	require.Equal(t, int64(2), f.Fields[6].At(i)) // error
	require.Equal(t, "card declined", f.Fields[7].At(i))
	require.Equal(t, "client", f.Fields[5].At(i))
	require.Contains(t, string(f.Fields[14].At(i).(json.RawMessage)), `"name":"retry"`)
	require.Contains(t, string(f.Fields[16].At(i).(json.RawMessage)), `{"key":"amount","value":12.5}`)
	require.Equal(t, data.FieldTypeFloat64, f.Fields[12].Type()) // ms since the epoch
	require.Equal(t, map[string]any{"queryType": "logs", "logsMode": "trace", "traceId": "${__data.fields.traceID}", "spanId": "${__value.raw}"},
		linkQuery(t, f, "spanID", "Logs of this span"))
	red := linkQuery(t, f, "serviceName", "Request rate")
	require.Contains(t, red["expr"], `traces_spanmetrics_calls_total{service="${__value.raw}"}`)
}

func TestPluginResources(t *testing.T) {
	s := startStack(t)
	call := func(path string) (int32, []string, string) {
		u, _ := url.Parse(path)
		c, err := s.resource.CallResource(context.Background(), &pluginv2.CallResourceRequest{
			PluginContext: s.pluginContext(""), Path: u.Path, Method: http.MethodGet, Url: path,
		})
		require.NoError(t, err)
		var body []byte
		var code int32
		for {
			r, err := c.Recv()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			if r.Code != 0 {
				code = r.Code
			}
			body = append(body, r.Body...)
		}
		var out []string
		if code == http.StatusOK {
			require.NoError(t, json.Unmarshal(body, &out), "%s", body)
		}
		return code, out, string(body)
	}
	for _, c := range []struct{ path, want string }{
		{"metrics/names", "orders_total"},
		{"metrics/labels?match=orders_total", "job"},
		{"metrics/label-values?label=job", "shop/checkout"},
		{"logs/labels", "service_name"},
		{"logs/label-values?label=service_name", "checkout"},
		{"logs/fields", "trace_id"},
		{"traces/tags", "resource.service.name"},
		{"traces/tag-values?tag=name", "charge"},
		{"services", "frontend"},
	} {
		code, out, body := call(c.path)
		require.EqualValues(t, http.StatusOK, code, "%s: %s", c.path, body)
		require.Contains(t, out, c.want, c.path)
		require.True(t, slices.IsSorted(out), c.path)
	}
	for _, c := range []struct{ path, want string }{
		{"metrics/label-values", "label is required"},
		{"metrics/names?start=yesterday", `invalid start`},
		{"nothing/here", "no resource"},
	} {
		code, _, body := call(c.path)
		require.NotEqualValues(t, http.StatusOK, code, c.path)
		require.Contains(t, body, c.want)
	}
}

func TestPluginLiveTail(t *testing.T) {
	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q, _ := json.Marshal(map[string]any{"queryType": "logs", "expr": `{service_name="checkout"} |= "tailed"`})

	sub, err := s.stream.SubscribeStream(ctx, &pluginv2.SubscribeStreamRequest{PluginContext: s.pluginContext(""), Path: "tail/a", Data: q})
	require.NoError(t, err)
	require.Equal(t, pluginv2.SubscribeStreamResponse_OK, sub.Status)
	bad, err := s.stream.SubscribeStream(ctx, &pluginv2.SubscribeStreamRequest{PluginContext: s.pluginContext(""), Path: "tail/a", Data: []byte(`{"queryType":"metrics","expr":"up"}`)})
	require.NoError(t, err)
	require.Equal(t, pluginv2.SubscribeStreamResponse_NOT_FOUND, bad.Status)

	run, err := s.stream.RunStream(ctx, &pluginv2.RunStreamRequest{PluginContext: s.pluginContext(""), Path: "tail/a", Data: q})
	require.NoError(t, err)
	// Lines written after the tail started reach it, each once.
	for i := range 3 {
		emitLog(s.logs, context.Background(), otellog.SeverityWarn, fmt.Sprintf("tailed line %d", i))
	}
	var got []string
	for len(got) < 3 {
		p, err := run.Recv()
		require.NoError(t, err)
		var f data.Frame
		require.NoError(t, json.Unmarshal(p.Data, &f))
		require.Equal(t, data.FrameTypeLogLines, f.Meta.Type)
		body, _ := f.FieldByName("body")
		for i := 0; i < body.Len(); i++ {
			got = append(got, body.At(i).(string))
		}
	}
	require.Equal(t, []string{"tailed line 0", "tailed line 1", "tailed line 2"}, got)
}

// BenchmarkQueryData measures the plugin's overhead: the same LogQL query
// through QueryData (plugin protocol, Arrow frames) and straight to
// Sightline's Loki API (JSON), both on one machine.
func BenchmarkQueryData(b *testing.B) {
	s := startStack(b)
	expr := `{service_name="checkout"} |= "` + s.needle + `"`
	b.Run("plugin", func(b *testing.B) {
		for b.Loop() {
			if frames, _, msg := s.query(b, "", map[string]any{"queryType": "logs", "expr": expr}); msg != "" || frames[0].Rows() != 1 {
				b.Fatal(msg)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		now := time.Now()
		u := s.httpURL + "/loki/api/v1/query_range?" + url.Values{"query": {expr}, "limit": {"1000"},
			"start": {fmt.Sprint(now.Add(-time.Hour).UnixNano())}, "end": {fmt.Sprint(now.Add(time.Minute).UnixNano())}}.Encode()
		for b.Loop() {
			resp, err := http.Get(u)
			if err != nil {
				b.Fatal(err)
			}
			var v struct {
				Data struct {
					Result []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if err != nil || len(v.Data.Result) != 1 {
				b.Fatal(err)
			}
		}
	})
}

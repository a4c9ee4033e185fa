package main_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// gaugeRequest is an OTLP request with one gauge point per timestamp, built
// with the collector's pdata.
func gaugeRequest(name string, ts ...time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "bad-input")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	dp := m.SetEmptyGauge().DataPoints()
	for i, t := range ts {
		p := dp.AppendEmpty()
		p.SetTimestamp(pcommon.NewTimestampFromTime(t))
		p.SetDoubleValue(float64(i + 1))
	}
	return md
}

func post(t *testing.T, url, contentType string, body []byte, header ...string) (int, string) {
	t.Helper()
	code, _, b := doHTTP(t, http.MethodPost, url, bytes.NewReader(body), append([]string{"Content-Type", contentType}, header...)...)
	return code, string(b)
}

func metricValue(t *testing.T, s *server, name string) string {
	t.Helper()
	resp, err := http.Get(s.url("/metrics"))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return ""
}

func TestBadInput(t *testing.T) {
	s := startServer(t, t.TempDir(), "-otlp.http.max-request-body-size", "64KiB", "-remote-write.max-request-body-size", "64KiB")
	otlp := "http://" + s.otlpHTTP + "/v1/metrics"

	// Some good data first: none of what follows may lose it.
	now := time.Now()
	require.NoError(t, remoteWrite(t, s, "", series("kept_before_bad_input", now, 1)))

	t.Run("malformed protobuf", func(t *testing.T) {
		code, body := post(t, otlp, "application/x-protobuf", []byte("\x0a\xff\xff\xff\xff"))
		require.Equal(t, http.StatusBadRequest, code, body)
		require.Contains(t, body, "unexpected EOF")
	})
	t.Run("malformed JSON", func(t *testing.T) {
		code, body := post(t, otlp, "application/json", []byte(`{"resourceMetrics": [`))
		require.Equal(t, http.StatusBadRequest, code, body)
		// A parse error that quotes bytes that are not UTF-8 (was 500).
		for _, b := range []string{"{\"resourceMetrics\":[\xff\xfe]}", "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"gauge\":{\"dataPoints\":[{\"timeUnixNano\":\"\xff\"}]}}]}]}]}"} {
			code, body = post(t, otlp, "application/json", []byte(b))
			require.Equal(t, http.StatusBadRequest, code, body)
		}
	})
	t.Run("wrong content type", func(t *testing.T) {
		code, _ := post(t, otlp, "text/plain", []byte("hello"))
		require.Equal(t, http.StatusUnsupportedMediaType, code)
		code, _ = post(t, s.url("/api/v1/write"), "text/plain", []byte("hello"))
		require.Equal(t, http.StatusUnsupportedMediaType, code)
	})
	t.Run("oversized body", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 100<<10)
		code, body := post(t, otlp, "application/x-protobuf", big)
		require.Equal(t, http.StatusRequestEntityTooLarge, code, body)
		code, body = post(t, s.url("/api/v1/write"), "application/x-protobuf", big)
		require.Equal(t, http.StatusRequestEntityTooLarge, code, body)
		require.Contains(t, body, "limit of 65536 bytes")
	})
	t.Run("malformed gRPC message", func(t *testing.T) {
		conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		defer conn.Close()
		var out rawMessage
		err = conn.Invoke(ctxT(t), "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
			ptr(rawMessage("\x0a\xff\xff\xff\xff")), &out, grpc.ForceCodecV2(rawCodec{}))
		require.Error(t, err)
		st, _ := status.FromError(err)
		// grpc-go answers a message it cannot unmarshal with Internal before
		// any collector code runs; the message names the problem.
		require.Equal(t, codes.Internal, st.Code(), err.Error())
		require.Contains(t, st.Message(), "unmarshal")
	})
	t.Run("sample in the future: partial success", func(t *testing.T) {
		md := gaugeRequest("partly_future", now, now.Add(2*time.Hour))
		body, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
		require.NoError(t, err)
		code, resp := post(t, otlp, "application/json", body)
		require.Equal(t, http.StatusBadRequest, code, resp)
		require.Contains(t, resp, "1 samples rejected (out_of_bounds: 1)")
		// The good point of the same request is stored.
		require.InDelta(t, 1, queryScalar(t, s.prom(), `partly_future`), 1e-9)

		// And the same over gRPC: InvalidArgument.
		conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		defer conn.Close()
		_, err = pmetricotlp.NewGRPCClient(conn).Export(ctxT(t), pmetricotlp.NewExportRequestFromMetrics(gaugeRequest("grpc_future", now.Add(time.Hour))))
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
		require.Contains(t, err.Error(), "out_of_bounds")
	})
	t.Run("duplicate and too old samples over remote_write", func(t *testing.T) {
		require.NoError(t, remoteWrite(t, s, "", series("rw_dup", now, 1)))
		err := remoteWrite(t, s, "", series("rw_dup", now, 2))
		require.ErrorContains(t, err, "duplicate sample for timestamp")
		err = remoteWrite(t, s, "", series("rw_dup", now.Add(-2*time.Hour), 3))
		require.ErrorContains(t, err, "too old sample")
		require.InDelta(t, 1, queryScalar(t, s.prom(), `rw_dup`), 1e-9)
		require.Equal(t, "1", metricValue(t, s, `sightline_metrics_samples_rejected_total{reason="duplicate"}`))
		require.Equal(t, "1", metricValue(t, s, `sightline_metrics_samples_rejected_total{reason="too_old"}`))
		require.Equal(t, "2", metricValue(t, s, `sightline_metrics_samples_rejected_total{reason="out_of_bounds"}`))
	})
	t.Run("invalid PromQL", func(t *testing.T) {
		_, _, err := s.prom().Query(ctxT(t), `sum(rate(x[5m])`, time.Now())
		var apiErr *promv1.Error
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, promv1.ErrBadData, apiErr.Type)
		require.Contains(t, apiErr.Msg, "unclosed left parenthesis")
	})
	t.Run("invalid tenant", func(t *testing.T) {
		code, body := post(t, s.url("/api/v1/query"), "application/x-www-form-urlencoded", []byte("query=up"), "X-Scope-OrgID", "../etc")
		require.Equal(t, http.StatusBadRequest, code)
		require.Contains(t, body, "X-Scope-OrgID")
		conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		defer conn.Close()
		ctx := metadataCtx(ctxT(t), "X-Scope-OrgID", "a/b")
		_, err = pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(gaugeRequest("bad_tenant", now)))
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	})

	// Still up, and nothing stored before was lost.
	require.InDelta(t, 1, queryScalar(t, s.prom(), `kept_before_bad_input`), 1e-9)
	resp, err := http.Get(s.url("/-/healthy"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestOverloadGets429 runs sightline with a memory limit it is always over:
// ingest is refused with 429 / ResourceExhausted, and the process stays up.
func TestOverloadGets429(t *testing.T) {
	s := startServer(t, t.TempDir(), "-memory.limit-mib", "1")
	body, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(gaugeRequest("overload", time.Now()))
	require.NoError(t, err)
	// The memory limiter measures once a second; wait for its verdict.
	deadline := time.Now().Add(20 * time.Second)
	var code int
	var resp string
	for time.Now().Before(deadline) {
		code, resp = post(t, "http://"+s.otlpHTTP+"/v1/metrics", "application/json", body)
		if code != http.StatusOK {
			break
		}
	}
	require.Equal(t, http.StatusTooManyRequests, code, resp)
	require.Contains(t, resp, "memory limit")

	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	_, err = pmetricotlp.NewGRPCClient(conn).Export(ctxT(t), pmetricotlp.NewExportRequestFromMetrics(gaugeRequest("overload", time.Now())))
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)

	require.NotEqual(t, "0", metricValue(t, s, `sightline_ingest_refused_requests_total{signal="metrics"}`))
	_, _, err = s.prom().Query(ctxT(t), `up`, time.Now())
	require.NoError(t, err, "queries still work under ingest overload")
}

type rawMessage []byte

type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*rawMessage))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*rawMessage) = data.Materialize()
	return nil
}

func metadataCtx(ctx context.Context, kv ...string) context.Context {
	return grpcmd.AppendToOutgoingContext(ctx, kv...)
}

func ptr[T any](v T) *T { return &v }

package logsexporter

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/internal/storetest"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// newTestExporter starts a sightline_logs exporter, built by its factory
// as the collector builds it, over a fresh log store.
func newTestExporter(t *testing.T, mod func(*logstore.Options)) (exporter.Logs, *logstore.Store, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	store := storetest.Logs(t, reg, mod)
	f := NewFactory(store, slog.New(slog.DiscardHandler))
	exp, err := f.CreateLogs(context.Background(), exportertest.NewNopSettings(Type), f.CreateDefaultConfig())
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	return exp, store, reg
}

var (
	base    = time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	traceID = pcommon.TraceID{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
	spanID  = pcommon.SpanID{0xeb, 0x6d, 0x2f, 0xa8, 0x13, 0x45, 0x91, 0x01}
)

func str(k, v string) record.KV { return record.KV{Key: k, Value: v, Type: record.TypeString} }

// someLogs is a request of two resources: checkout's record of a trace,
// with attributes of every OTLP type and a map body, and a bare record of
// payment's.
func someLogs(body string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	rl.Resource().Attributes().PutInt("process.pid", 42)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("shop.checkout")
	sl.Scope().SetVersion("1.2.3")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(base))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Millisecond)))
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetSeverityText("ERROR")
	lr.Body().SetStr(body)
	lr.SetTraceID(traceID)
	lr.SetSpanID(spanID)
	lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
	lr.SetDroppedAttributesCount(3)
	a := lr.Attributes()
	a.PutStr("cart.id", "c-9")
	a.PutInt("attempt", 2)
	a.PutDouble("amount", 12.5)
	a.PutBool("retry", true)
	a.PutEmptyBytes("raw").FromRaw([]byte{0, 1})
	a.PutEmptySlice("items").FromRaw([]any{"a", int64(1)})
	a.PutEmptyMap("user").PutStr("id", "u-1")

	rl2 := ld.ResourceLogs().AppendEmpty()
	rl2.Resource().Attributes().PutStr("service.name", "payment")
	lr2 := rl2.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr2.SetTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Second)))
	lr2.SetObservedTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Second)))
	lr2.Body().SetEmptyMap().PutStr("msg", "card declined")
	return ld
}

func TestConsumeLogs(t *testing.T) {
	exp, store, _ := newTestExporter(t, nil)
	require.NoError(t, exp.ConsumeLogs(context.Background(), someLogs("payment failed")))

	got := storetest.Records(t, store, tenant.Default)
	require.Len(t, got, 2)
	require.EqualExportedValues(t, &logstore.Record{
		Timestamp:         base.UnixNano(),
		ObservedTimestamp: base.Add(time.Millisecond).UnixNano(),
		SeverityNumber:    int32(plog.SeverityNumberError),
		SeverityText:      "ERROR",
		Body:              "payment failed",
		BodyType:          record.TypeString,
		TraceID:           traceID,
		SpanID:            spanID,
		Flags:             1,
		Resource:          []record.KV{str("service.name", "checkout"), {Key: "process.pid", Value: "42", Type: record.TypeInt}},
		ScopeName:         "shop.checkout",
		ScopeVersion:      "1.2.3",
		Attributes: []record.KV{
			str("cart.id", "c-9"),
			{Key: "attempt", Value: "2", Type: record.TypeInt},
			{Key: "amount", Value: "12.5", Type: record.TypeDouble},
			{Key: "retry", Value: "true", Type: record.TypeBool},
			{Key: "raw", Value: "AAE=", Type: record.TypeBytes},
			{Key: "items", Value: `["a",1]`, Type: record.TypeArray},
			{Key: "user", Value: `{"id":"u-1"}`, Type: record.TypeMap},
		},
		DroppedAttributesCount: 3,
	}, got[0])
	require.EqualExportedValues(t, &logstore.Record{
		Timestamp:         base.Add(time.Second).UnixNano(),
		ObservedTimestamp: base.Add(time.Second).UnixNano(),
		Body:              `{"msg":"card declined"}`,
		BodyType:          record.TypeMap,
		Resource:          []record.KV{str("service.name", "payment")},
	}, got[1])

	byTrace, err := store.ByTrace(context.Background(), traceID)
	require.NoError(t, err)
	require.Len(t, byTrace, 1, "the record is found by its trace ID")
	require.Equal(t, "payment failed", byTrace[0].Body)
}

func TestConsumeLogsTenant(t *testing.T) {
	exp, store, _ := newTestExporter(t, nil)
	require.NoError(t, exp.ConsumeLogs(storetest.CollectorContext("team-a"), someLogs("a's")))
	require.NoError(t, exp.ConsumeLogs(storetest.CollectorContext(""), someLogs("default's")))
	require.Len(t, storetest.Records(t, store, "team-a"), 2)
	got := storetest.Records(t, store, tenant.Default)
	require.Len(t, got, 2, "an empty X-Scope-OrgID is the default tenant")
	require.Equal(t, "default's", got[0].Body)

	err := exp.ConsumeLogs(storetest.CollectorContext("../x"), someLogs("nobody's"))
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	require.ErrorContains(t, err, "invalid tenant ID")
	require.Len(t, storetest.Records(t, store, tenant.Default), 2, "nothing of a request with an invalid tenant is stored")
	require.Empty(t, storetest.Records(t, store, "../x"))
}

func TestConsumeLogsRejectsTooLarge(t *testing.T) {
	exp, store, reg := newTestExporter(t, func(o *logstore.Options) { o.MaxRecordBytes = 1 << 10 })
	err := exp.ConsumeLogs(context.Background(), someLogs(strings.Repeat("x", 2<<10)))
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	require.ErrorContains(t, err, "partial success: 1 log records rejected (too_large: 1)")
	got := storetest.Records(t, store, tenant.Default)
	require.Len(t, got, 1, "the record that fits is stored")
	require.Equal(t, "payment", got[0].ResourceAttr("service.name"))
	require.Equal(t, 1.0, storetest.Counter(t, reg, "sightline_logs_records_rejected_total", "reason", logstore.ReasonTooLarge))
	require.Equal(t, 1.0, storetest.Counter(t, reg, "sightline_logs_records_appended_total"))
}

// TestConsumeLogsBackpressure: while the store is behind with flushing,
// a request is refused whole with ResourceExhausted, which the OTLP
// receiver answers with 429 (HTTP) or ResourceExhausted (gRPC) for the
// sender to retry, and the retry is stored once the store has caught up.
func TestConsumeLogsBackpressure(t *testing.T) {
	exp, store, reg := newTestExporter(t, func(o *logstore.Options) {
		o.HeadMaxRows, o.HeadMaxAge = 1<<20, time.Hour
		o.MaxPendingRows = 3
	})
	require.NoError(t, exp.ConsumeLogs(context.Background(), someLogs("first")))
	err := exp.ConsumeLogs(context.Background(), someLogs("second"))
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	require.Len(t, storetest.Records(t, store, tenant.Default), 2, "nothing of the refused request is stored")
	require.Equal(t, 2.0, storetest.Counter(t, reg, "sightline_logs_records_rejected_total", "reason", logstore.ReasonBackpressure))

	require.NoError(t, store.Flush())
	require.NoError(t, exp.ConsumeLogs(context.Background(), someLogs("second")))
	require.Len(t, storetest.Records(t, store, tenant.Default), 4)
}

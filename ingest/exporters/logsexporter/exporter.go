package logsexporter

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/ingest/exporters"
	"github.com/sightline-dev/sightline/internal/throttle"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tenant"
)

type logsExporter struct {
	store    *logstore.Store
	badInput *throttle.Logger
}

func newExporter(store *logstore.Store, logger *slog.Logger) *logsExporter {
	return &logsExporter{store: store, badInput: throttle.New(logger, 10*time.Second)}
}

func (e *logsExporter) push(ctx context.Context, ld plog.Logs) error {
	id, err := exporters.TenantFromContext(ctx)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	res, err := e.store.Append(tenant.With(ctx, id), Records(ld))
	return exporters.StoreAnswer(err, "log records", res.Rejected, id, e.badInput)
}

// Records converts OTLP logs into log store records. Records of one
// resource share its attribute slice. A request's records, and all their
// attributes, are two allocations: they live in the head together and
// leave it together, and one allocation per record and attribute list was
// a tenth of the ingest path's CPU in malloc and GC.
func Records(ld plog.Logs) []*logstore.Record {
	n, nkv := 0, 0
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		nkv += rls.At(i).Resource().Attributes().Len()
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			n += lrs.Len()
			for k := 0; k < lrs.Len(); k++ {
				nkv += lrs.At(k).Attributes().Len()
			}
		}
	}
	recs, kvs := make([]logstore.Record, n), make([]record.KV, 0, nkv)
	out := make([]*logstore.Record, 0, n)
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := AppendKVs(&kvs, rl.Resource().Attributes())
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			scopeName, scopeVersion := sl.Scope().Name(), sl.Scope().Version()
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				r := &recs[len(out)]
				*r = logstore.Record{
					Timestamp:              int64(lr.Timestamp()),
					ObservedTimestamp:      int64(lr.ObservedTimestamp()),
					SeverityNumber:         int32(lr.SeverityNumber()),
					SeverityText:           lr.SeverityText(),
					TraceID:                lr.TraceID(),
					SpanID:                 lr.SpanID(),
					Flags:                  uint32(lr.Flags()),
					Resource:               res,
					ScopeName:              scopeName,
					ScopeVersion:           scopeVersion,
					Attributes:             AppendKVs(&kvs, lr.Attributes()),
					DroppedAttributesCount: lr.DroppedAttributesCount(),
				}
				r.Body, r.BodyType = Value(lr.Body())
				out = append(out, r)
			}
		}
	}
	return out
}

// KVs converts attributes; values that are not strings keep their type and
// are stored as their JSON text.
func KVs(m pcommon.Map) []record.KV {
	kvs := make([]record.KV, 0, m.Len())
	return AppendKVs(&kvs, m)
}

// AppendKVs appends m's attributes to *buf and returns them, capped so
// that later appends cannot write over them (nil if there are none).
func AppendKVs(buf *[]record.KV, m pcommon.Map) []record.KV {
	if m.Len() == 0 {
		return nil
	}
	start := len(*buf)
	m.Range(func(k string, v pcommon.Value) bool {
		s, t := Value(v)
		*buf = append(*buf, record.KV{Key: k, Value: s, Type: t})
		return true
	})
	return (*buf)[start:len(*buf):len(*buf)]
}

// valueTypes maps OTLP value types to the store's.
var valueTypes = map[pcommon.ValueType]record.ValueType{
	pcommon.ValueTypeStr:    record.TypeString,
	pcommon.ValueTypeInt:    record.TypeInt,
	pcommon.ValueTypeDouble: record.TypeDouble,
	pcommon.ValueTypeBool:   record.TypeBool,
	pcommon.ValueTypeBytes:  record.TypeBytes,
	pcommon.ValueTypeSlice:  record.TypeArray,
	pcommon.ValueTypeMap:    record.TypeMap,
}

// Value renders an OTLP value as text (non-strings as OTLP's JSON text,
// bytes as base64) with its type.
func Value(v pcommon.Value) (string, record.ValueType) {
	t, ok := valueTypes[v.Type()]
	if !ok {
		return "", record.TypeEmpty
	}
	if t == record.TypeString {
		return v.Str(), t // no copy through AsString on the common path
	}
	return v.AsString(), t
}

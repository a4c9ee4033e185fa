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
// resource share its attribute slice.
func Records(ld plog.Logs) []*logstore.Record {
	out := make([]*logstore.Record, 0, ld.LogRecordCount())
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := KVs(rl.Resource().Attributes())
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			scopeName, scopeVersion := sl.Scope().Name(), sl.Scope().Version()
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				r := &logstore.Record{
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
					Attributes:             KVs(lr.Attributes()),
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
	if m.Len() == 0 {
		return nil
	}
	kvs := make([]record.KV, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		s, t := Value(v)
		kvs = append(kvs, record.KV{Key: k, Value: s, Type: t})
		return true
	})
	return kvs
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

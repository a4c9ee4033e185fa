package tracesexporter

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/ingest/exporters"
	"github.com/sightline-dev/sightline/ingest/exporters/logsexporter"
	"github.com/sightline-dev/sightline/internal/throttle"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tracestore"
)

type tracesExporter struct {
	store    *tracestore.Store
	derived  SpanConsumer
	badInput *throttle.Logger
}

func newExporter(store *tracestore.Store, derived SpanConsumer, logger *slog.Logger) *tracesExporter {
	return &tracesExporter{store: store, derived: derived, badInput: throttle.New(logger, 10*time.Second)}
}

func (e *tracesExporter) push(ctx context.Context, td ptrace.Traces) error {
	id, err := exporters.TenantFromContext(ctx)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	ctx = tenant.With(ctx, id)
	res, err := e.store.Append(ctx, Spans(td))
	if err == nil && e.derived != nil && res.Accepted > 0 {
		e.derived.Consume(ctx, td)
	}
	return exporters.StoreAnswer(err, "spans", res.Rejected, id, e.badInput)
}

// Spans converts OTLP traces into trace store spans. Spans of one resource
// share its attribute slice. A request's spans, and their own attributes,
// are two allocations, as logsexporter.Records does for log records.
func Spans(td ptrace.Traces) []*record.Span {
	n, nkv := 0, 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			n += spans.Len()
			for k := 0; k < spans.Len(); k++ {
				nkv += spans.At(k).Attributes().Len()
			}
		}
	}
	all, kvs := make([]record.Span, n), make([]record.KV, 0, nkv)
	out := make([]*record.Span, 0, n)
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := logsexporter.KVs(rs.Resource().Attributes())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := ss.Scope()
			scopeAttrs := logsexporter.KVs(scope.Attributes())
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				s := &all[len(out)]
				*s = record.Span{
					TraceID:                sp.TraceID(),
					SpanID:                 sp.SpanID(),
					ParentSpanID:           sp.ParentSpanID(),
					TraceState:             sp.TraceState().AsRaw(),
					Flags:                  sp.Flags(),
					Name:                   sp.Name(),
					Kind:                   int32(sp.Kind()),
					Start:                  int64(sp.StartTimestamp()),
					End:                    int64(sp.EndTimestamp()),
					StatusCode:             int32(sp.Status().Code()),
					StatusMessage:          sp.Status().Message(),
					Attributes:             logsexporter.AppendKVs(&kvs, sp.Attributes()),
					DroppedAttributesCount: sp.DroppedAttributesCount(),
					DroppedEventsCount:     sp.DroppedEventsCount(),
					DroppedLinksCount:      sp.DroppedLinksCount(),
					Resource:               res,
					ScopeName:              scope.Name(),
					ScopeVersion:           scope.Version(),
					ScopeAttributes:        scopeAttrs,
				}
				s.Events = events(sp.Events())
				s.Links = links(sp.Links())
				out = append(out, s)
			}
		}
	}
	return out
}

func events(es ptrace.SpanEventSlice) []record.Event {
	if es.Len() == 0 {
		return nil
	}
	out := make([]record.Event, es.Len())
	for i := range out {
		ev := es.At(i)
		out[i] = record.Event{Time: int64(ev.Timestamp()), Name: ev.Name(), Attributes: logsexporter.KVs(ev.Attributes()), DroppedAttributesCount: ev.DroppedAttributesCount()}
	}
	return out
}

func links(ls ptrace.SpanLinkSlice) []record.Link {
	if ls.Len() == 0 {
		return nil
	}
	out := make([]record.Link, ls.Len())
	for i := range out {
		l := ls.At(i)
		out[i] = record.Link{TraceID: l.TraceID(), SpanID: l.SpanID(), TraceState: l.TraceState().AsRaw(), Flags: l.Flags(),
			Attributes: logsexporter.KVs(l.Attributes()), DroppedAttributesCount: l.DroppedAttributesCount()}
	}
	return out
}

package tempoapi

import (
	"cmp"
	"context"
	"slices"

	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tracestore"
)

// TraceStore is the trace store as the API reads it: storage/tracestore's
// Store satisfies it. It fetches candidate spans for the TraceQL engine and
// knows nothing of TraceQL itself.
type TraceStore interface {
	traceql.SpansetFetcher
	Trace(ctx context.Context, id [16]byte) ([]*record.Span, error)
	Tags(ctx context.Context, from, to int64) (tracestore.TagNames, error)
	// TagValues returns the distinct stored values of tag, an attribute or
	// "name" (see Store.TagValues), with their types.
	TagValues(ctx context.Context, tag string, from, to int64) ([]tracestore.TagValue, error)
}

// NewStore returns the Store of ts: searches run the TraceQL engine over
// ts (traceql.Search), and tag values are typed as TraceQL types them.
func NewStore(ts TraceStore) Store { return engineStore{ts} }

type engineStore struct{ ts TraceStore }

func (s engineStore) Trace(ctx context.Context, id [16]byte) ([]*record.Span, error) {
	return s.ts.Trace(ctx, id)
}

func (s engineStore) Search(ctx context.Context, req traceql.SearchRequest) ([]traceql.TraceSummary, record.FetchStats, error) {
	return traceql.Search(ctx, s.ts, req)
}

func (s engineStore) Tags(ctx context.Context, from, to int64) (tracestore.TagNames, error) {
	return s.ts.Tags(ctx, from, to)
}

// TagValues lists the fixed values of the status and kind intrinsics, in
// OTLP's order, and the stored values of other tags typed and sorted
// (typedValues).
func (s engineStore) TagValues(ctx context.Context, tag string, from, to int64) ([]traceql.Value, error) {
	var names []string
	switch tag {
	case "status":
		names = record.StatusNames()
	case "kind":
		names = record.KindNames()
	}
	if names != nil {
		out := make([]traceql.Value, len(names))
		for i, n := range names {
			out[i] = traceql.StringValue(n)
		}
		return out, nil
	}
	stored, err := s.ts.TagValues(ctx, tag, from, to)
	if err != nil {
		return nil, err
	}
	return typedValues(stored), nil
}

func (s engineStore) MatchSpans(ctx context.Context, q *traceql.Query, from, to int64, fn func(ss *record.Spanset, matched []int) error) (record.FetchStats, error) {
	return traceql.MatchSpans(ctx, s.ts, q, from, to, fn)
}

func (s engineStore) Metrics(ctx context.Context, req traceql.MetricsRequest) (*traceql.MetricsResult, error) {
	return traceql.Metrics(ctx, s.ts, req)
}

// typedValues types stored values as TraceQL does (traceql.StoredValue),
// which may merge some (an int written two ways), and sorts them by type
// and then as TraceQL prints them.
func typedValues(stored []tracestore.TagValue) []traceql.Value {
	seen := make(map[traceql.Value]bool, len(stored))
	out := make([]traceql.Value, 0, len(stored))
	for _, sv := range stored {
		if v, ok := traceql.StoredValue(sv.Value, sv.Type); ok && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b traceql.Value) int {
		if c := cmp.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return cmp.Compare(a.String(), b.String())
	})
	return out
}

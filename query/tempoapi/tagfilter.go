package tempoapi

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tracestore"
)

// Tag autocomplete narrowed by a TraceQL filter (the q of the tag
// requests): the tags and values of the spans the filter matches, read
// from the spans themselves, where the store's tag index knows no spans.

// errEnoughTags ends a filtered tag search that has found enough.
var errEnoughTags = errors.New("enough tags")

// eachMatchedSpan calls fn with every span that q matches in [from, to],
// as ss.Spans[i], until fn says it has enough. A search that would read
// more than the store allows ends with what it found: autocomplete is
// better served by some values than by an error.
func (a *API) eachMatchedSpan(ctx context.Context, q *traceql.Query, from, to int64, fn func(ss *record.Spanset, i int) (enough bool)) error {
	_, err := a.store.MatchSpans(ctx, q, from, to, func(ss *record.Spanset, matched []int) error {
		for _, i := range matched {
			if fn(ss, i) {
				return errEnoughTags
			}
		}
		return nil
	})
	if errors.Is(err, errEnoughTags) || errors.Is(err, tracestore.ErrTooMuchData) {
		return nil
	}
	return err
}

// filteredTagNames are the attribute names of the spans q matches, by
// scope.
func (a *API) filteredTagNames(ctx context.Context, q *traceql.Query, from, to int64) (tracestore.TagNames, error) {
	resource, span := map[string]bool{}, map[string]bool{}
	err := a.eachMatchedSpan(ctx, q, from, to, func(ss *record.Spanset, i int) bool {
		for _, kv := range ss.Spans[i].Attributes {
			span[kv.Key] = true
		}
		for _, kv := range ss.Spans[i].Resource {
			resource[kv.Key] = true
		}
		return false
	})
	return tracestore.TagNames{Resource: slices.Collect(maps.Keys(resource)), Span: slices.Collect(maps.Keys(span))}, err
}

// filteredTagValues are the values of storeTag (as v2Tag names it) on the
// spans q matches, or on their traces' root spans when root, typed and
// sorted as the store's (typedValues); the search stops once it has limit
// values (0: no limit).
func (a *API) filteredTagValues(ctx context.Context, q *traceql.Query, storeTag string, root bool, from, to int64, limit int) ([]traceql.Value, error) {
	scope, name, _ := strings.Cut(storeTag, ".")
	seen := map[tracestore.TagValue]bool{}
	var stored []tracestore.TagValue
	add := func(v tracestore.TagValue) {
		if !seen[v] {
			seen[v] = true
			stored = append(stored, v)
		}
	}
	attr := func(kvs []record.KV) {
		for _, kv := range kvs {
			if kv.Key == name {
				add(tracestore.TagValue{Value: kv.Value, Type: kv.Type})
			}
		}
	}
	err := a.eachMatchedSpan(ctx, q, from, to, func(ss *record.Spanset, i int) bool {
		sp := ss.Spans[i]
		if root {
			if sp = rootSpan(ss); sp == nil {
				return false
			}
		}
		switch scope {
		case "name": // the intrinsic: storeTag has no dot
			add(tracestore.TagValue{Value: sp.Name, Type: record.TypeString})
		case "resource":
			attr(sp.Resource)
		case "span":
			attr(sp.Attributes)
		case "": // unscoped: either scope's
			attr(sp.Attributes)
			attr(sp.Resource)
		}
		return limit > 0 && len(stored) >= limit
	})
	return typedValues(stored), err
}

// rootSpan is the root span of ss, nil when ss does not hold it.
func rootSpan(ss *record.Spanset) *record.Span {
	for _, sp := range ss.Spans {
		if sp.IsRoot() {
			return sp
		}
	}
	return nil
}

// isRootTag reports whether a v2 tag reads the root span of a trace.
func isRootTag(tag string) bool {
	switch tag {
	case "rootName", "trace:rootName", "rootServiceName", "trace:rootService":
		return true
	}
	return false
}

// filteredKeywords are the keyword values (statuses or kinds, fixed) that
// the spans q matches have, in fixed's order.
func (a *API) filteredKeywords(ctx context.Context, q *traceql.Query, fixed []tagValue, from, to int64) ([]tagValue, error) {
	has := map[string]bool{}
	err := a.eachMatchedSpan(ctx, q, from, to, func(ss *record.Spanset, i int) bool {
		has[record.StatusName(ss.Spans[i].StatusCode)] = true
		has[record.KindName(ss.Spans[i].Kind)] = true
		return false
	})
	out := []tagValue{}
	for _, v := range fixed {
		if has[v.Value] {
			out = append(out, v)
		}
	}
	return out, err
}

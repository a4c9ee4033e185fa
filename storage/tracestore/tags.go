package tracestore

import (
	"sort"
	"sync"

	"github.com/sightline-dev/sightline/storage/record"
)

// maxTagValues bounds the distinct values kept per attribute name in a head
// or segment: tag values feed Grafana's autocomplete, and high-cardinality
// attributes (IDs, URLs with parameters) would make the index as big as
// the data.
const maxTagValues = 1000

// tagIndex is the attribute names and (some) values of a head or segment,
// by scope, plus the span names: what Tags and TagValues answer from.
type tagIndex struct {
	mu       sync.Mutex            // a head's index is read while appends go on
	Resource map[string]*tagValues `json:"resource"`
	Span     map[string]*tagValues `json:"span"`
	Names    *tagValues            `json:"names"`
}

// tagValues are an attribute's values (or the span names) with their types.
// In tracemeta.json a type is its record.ValueType number: 1 string, 2 int,
// 3 double, 4 bool (only scalars are kept), as segments have always had
// them.
type tagValues struct {
	Values map[string]record.ValueType `json:"values"`
	// Full: more values than maxTagValues were seen; Values holds the first.
	Full bool `json:"full,omitempty"`
}

func newTagIndex() *tagIndex {
	return &tagIndex{Resource: map[string]*tagValues{}, Span: map[string]*tagValues{}, Names: &tagValues{Values: map[string]record.ValueType{}}}
}

func (tv *tagValues) add(v string, t record.ValueType) {
	if tv.Full {
		return
	}
	if _, ok := tv.Values[v]; ok {
		return
	}
	if len(tv.Values) >= maxTagValues {
		tv.Full = true
		return
	}
	tv.Values[v] = t
}

func addKVs(m map[string]*tagValues, kvs []record.KV) {
	for _, kv := range kvs {
		tv := m[kv.Key]
		if tv == nil {
			tv = &tagValues{Values: map[string]record.ValueType{}}
			m[kv.Key] = tv
		}
		if kv.Type.Scalar() {
			tv.add(kv.Value, kv.Type)
		}
	}
}

// add indexes spans under one lock: it runs on the append path. Spans of
// a request share their resource's slice, which is indexed once.
func (ti *tagIndex) add(spans []*Span) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	var last record.KVsID
	for _, s := range spans {
		if id := record.IDOf(s.Resource); id != last || id == (record.KVsID{}) {
			addKVs(ti.Resource, s.Resource)
			last = id
		}
		addKVs(ti.Span, s.Attributes)
		ti.Names.add(s.Name, record.TypeString)
	}
}

// merge adds o's names and values (within maxTagValues), as a merged
// segment's index: its spans are those of the sources, so it is theirs.
func (ti *tagIndex) merge(o *tagIndex) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range []struct{ to, from map[string]*tagValues }{{ti.Resource, o.Resource}, {ti.Span, o.Span}} {
		for k, tv := range m.from {
			to := m.to[k]
			if to == nil {
				to = &tagValues{Values: map[string]record.ValueType{}}
				m.to[k] = to
			}
			to.merge(tv)
		}
	}
	ti.Names.merge(o.Names)
}

func (tv *tagValues) merge(o *tagValues) {
	for v, t := range o.Values {
		tv.add(v, t)
	}
	tv.Full = tv.Full || o.Full
}

// names adds the index's attribute names to out.
func (ti *tagIndex) names(out *tagSets) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	for k := range ti.Resource {
		out.resource[k] = true
	}
	for k := range ti.Span {
		out.span[k] = true
	}
}

// values adds the values of attribute key of the given scopes (or the span
// names, for intrinsic name) to out.
func (ti *tagIndex) values(scope record.Scope, intrinsic bool, key string, out map[TagValue]bool) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	add := func(tv *tagValues) {
		if tv == nil {
			return
		}
		for v, t := range tv.Values {
			out[TagValue{v, t}] = true
		}
	}
	switch {
	case intrinsic:
		add(ti.Names)
	case scope == record.ScopeResource:
		add(ti.Resource[key])
	case scope == record.ScopeSpan:
		add(ti.Span[key])
	default:
		add(ti.Resource[key])
		add(ti.Span[key])
	}
}

type tagSets struct{ resource, span map[string]bool }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package tempoapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/tracestore"
)

// intrinsicTags are the intrinsics the intrinsic scope lists, in the order
// of Tempo's search.GetVirtualIntrinsicValues, less those query/traceql
// does not implement (event:*, link:*, instrumentation:*, trace:id,
// span:id, span:parentID): offering them for autocomplete would only lead
// to "unsupported" errors.
var intrinsicTags = []string{
	"duration", "name", "status", "statusMessage", "kind",
	"rootServiceName", "rootName", "traceDuration",
	"span:status", "span:statusMessage", "span:duration", "span:name", "span:kind",
	"trace:rootName", "trace:rootService", "trace:duration",
}

// metadataMetrics is tempopb.MetadataMetrics; Sightline has none to report
// but Tempo always writes the object.
type metadataMetrics struct{}

// The tag responses write their lists even when empty ([]), where jsonpb
// would leave them out: the same to decoders, safer for Grafana code that
// iterates them.
type tagNamesResponse struct {
	TagNames []string        `json:"tagNames"`
	Metrics  metadataMetrics `json:"metrics"`
}

type tagNamesV2Response struct {
	Scopes  []tagScope      `json:"scopes"`
	Metrics metadataMetrics `json:"metrics"`
}

type tagScope struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

type tagValuesResponse struct {
	TagValues []string        `json:"tagValues"`
	Metrics   metadataMetrics `json:"metrics"`
}

type tagValuesV2Response struct {
	TagValues []tagValue      `json:"tagValues"`
	Metrics   metadataMetrics `json:"metrics"`
}

type tagValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// tagRange reads the start and end (unix seconds) of a tag request, by
// default the last Options.DefaultRange. Tempo reads them as int32.
func (a *API) tagRange(vals url.Values) (from, to int64, err error) {
	var start, end int64
	if s := vals.Get("start"); s != "" {
		if start, err = strconv.ParseInt(s, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("invalid start: %w", err)
		}
	}
	if s := vals.Get("end"); s != "" {
		if end, err = strconv.ParseInt(s, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("invalid end: %w", err)
		}
	}
	if start <= 0 || end <= 0 || end < start {
		// Tempo reads recent data when either is missing; an inverted range
		// it would simply find nothing in, which helps no one.
		now := a.now()
		return now.Add(-a.opts.DefaultRange).UnixNano(), now.UnixNano(), nil
	}
	return start * int64(time.Second), end * int64(time.Second), nil
}

// tagScopeParam validates the scope parameter as Tempo does
// (api.ParseSearchTagsRequest).
func tagScopeParam(vals url.Values) (string, error) {
	switch s := vals.Get("scope"); s {
	case "", "none", "resource", "span", "intrinsic", "trace", "event", "link", "instrumentation":
		return s, nil
	default:
		return "", fmt.Errorf("invalid scope: %s", s)
	}
}

// limitParam is the optional limit on the values or names per scope
// returned (0: none); Tempo ignores a bad one.
func limitParam(vals url.Values) int {
	n, err := strconv.ParseUint(vals.Get("limit"), 10, 31)
	if err != nil {
		return 0
	}
	return int(n)
}

func truncate[T any](s []T, n int) []T {
	if n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}

// tagNames reads the tag names of the request's range, by scope: of the
// spans that match its q (a TraceQL filter, traceql.ParseTagFilter), if it
// has one that narrows them, as Tempo does.
func (a *API) tagNames(w http.ResponseWriter, r *http.Request) (scope string, resource, span []string, ok bool) {
	vals := r.URL.Query()
	scope, err := tagScopeParam(vals)
	if err != nil {
		a.badRequest(w, r, reasonParams, err)
		return "", nil, nil, false
	}
	from, to, err := a.tagRange(vals)
	if err != nil {
		a.badRequest(w, r, reasonParams, err)
		return "", nil, nil, false
	}
	if scope == "" || scope == "none" || scope == "resource" || scope == "span" {
		var names tracestore.TagNames
		if filter := traceql.ParseTagFilter(vals.Get("q")); filter != nil {
			names, err = a.filteredTagNames(r.Context(), filter, from, to)
		} else {
			names, err = a.store.Tags(r.Context(), from, to)
		}
		if err != nil {
			a.storeError(w, r, err)
			return "", nil, nil, false
		}
		resource, span = sorted(names.Resource), sorted(names.Span)
	}
	switch scope {
	case "resource":
		span = nil
	case "span":
		resource = nil
	}
	limit := limitParam(vals)
	return scope, truncate(resource, limit), truncate(span, limit), true
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// tagNamesV1 serves /api/search/tags: attribute names without scope.
// Intrinsics are listed only for scope=intrinsic, as in Tempo.
func (a *API) tagNamesV1(w http.ResponseWriter, r *http.Request) {
	scope, resource, span, ok := a.tagNames(w, r)
	if !ok {
		return
	}
	names := sorted(slices.Concat(resource, span))
	if scope == "intrinsic" {
		names = slices.Clone(intrinsicTags)
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, tagNamesResponse{TagNames: names})
}

// tagNamesV2 serves /api/v2/search/tags: names by scope, resource then span
// then intrinsic. Like Tempo's, the list leaves out scopes with no names,
// and includes the intrinsics unless another scope is asked for.
func (a *API) tagNamesV2(w http.ResponseWriter, r *http.Request) {
	scope, resource, span, ok := a.tagNames(w, r)
	if !ok {
		return
	}
	scopes := []tagScope{}
	if len(resource) > 0 {
		scopes = append(scopes, tagScope{Name: "resource", Tags: resource})
	}
	if len(span) > 0 {
		scopes = append(scopes, tagScope{Name: "span", Tags: span})
	}
	if scope == "" || scope == "none" || scope == "intrinsic" {
		scopes = append(scopes, tagScope{Name: "intrinsic", Tags: slices.Clone(intrinsicTags)})
	}
	writeJSON(w, http.StatusOK, tagNamesV2Response{Scopes: scopes})
}

// tagPath returns the tag of a /api/.../search/tag/<tag>/values path. The
// tag may hold slashes, escaped or not.
func tagPath(r *http.Request, prefix string) (string, error) {
	p := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(p, prefix)
	if !ok {
		return "", errors.New("please provide a tagName")
	}
	rest, ok = strings.CutSuffix(rest, "/values")
	if !ok {
		return "", errNotFound
	}
	tag, err := url.PathUnescape(rest)
	if err != nil {
		return "", fmt.Errorf("please provide a valid tagName: %w", err)
	}
	if tag == "" {
		return "", errors.New("please provide a non-empty tagName")
	}
	return tag, nil
}

// errNotFound marks a path under /api/.../search/tag/ that is not a tag
// values path.
var errNotFound = errors.New("404 page not found")

// tagValuesV1 serves /api/search/tag/<tag>/values. The tag is a bare
// attribute name (either scope); as in Tempo, status.code and error have
// fixed values, the names of Tempo's legacy search columns (name,
// root.name, root.service.name) read what they name, and q is ignored.
func (a *API) tagValuesV1(w http.ResponseWriter, r *http.Request) {
	tag, err := tagPath(r, "/api/search/tag/")
	if err != nil {
		a.tagPathError(w, r, err)
		return
	}
	vals := r.URL.Query()
	from, to, err := a.tagRange(vals)
	if err != nil {
		a.badRequest(w, r, reasonParams, err)
		return
	}
	var out []string
	storeTag := "." + tag
	switch tag {
	case "status.code":
		out, storeTag = []string{"unset", "ok", "error"}, ""
	case "error":
		out = []string{"true"}
	case "name", "root.name":
		storeTag = "name"
	case "root.service.name":
		storeTag = "resource.service.name"
	}
	if storeTag != "" {
		values, err := a.store.TagValues(r.Context(), storeTag, from, to)
		if err != nil {
			a.storeError(w, r, err)
			return
		}
		for _, v := range values {
			if s := valueText(v); !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	if out == nil {
		out = []string{}
	}
	writeJSON(w, http.StatusOK, tagValuesResponse{TagValues: truncate(out, limitParam(vals))})
}

// tagValuesV2 serves /api/v2/search/tag/<tag>/values. The tag is in TraceQL
// form (resource.service.name, span.http.method, .foo, name, status,
// span:kind, ...). status and kind have Tempo's fixed keyword values, the
// durations none (search.GetVirtualTagValuesV2). With a q (a TraceQL
// filter, read leniently: Grafana sends what the user is typing), only the
// values of the spans that match it are listed, as Tempo lists them: the
// keywords those spans have, the root span's name or service for rootName
// and rootServiceName, both scopes' for an unscoped attribute.
func (a *API) tagValuesV2(w http.ResponseWriter, r *http.Request) {
	tag, err := tagPath(r, "/api/v2/search/tag/")
	if err != nil {
		a.tagPathError(w, r, err)
		return
	}
	vals := r.URL.Query()
	from, to, err := a.tagRange(vals)
	if err != nil {
		a.badRequest(w, r, reasonParams, err)
		return
	}
	storeTag, fixed, err := v2Tag(tag)
	if err != nil {
		a.badRequest(w, r, reasonParams, err)
		return
	}
	out := fixed
	filter := traceql.ParseTagFilter(vals.Get("q"))
	switch {
	case filter != nil && len(fixed) > 0:
		if out, err = a.filteredKeywords(r.Context(), filter, fixed, from, to); err != nil {
			a.storeError(w, r, err)
			return
		}
	case storeTag != "":
		var values []traceql.Value
		if filter != nil {
			values, err = a.filteredTagValues(r.Context(), filter, storeTag, isRootTag(tag), from, to, limitParam(vals))
		} else {
			values, err = a.store.TagValues(r.Context(), storeTag, from, to)
		}
		if err != nil {
			a.storeError(w, r, err)
			return
		}
		out = make([]tagValue, 0, len(values))
		for _, v := range values {
			out = append(out, tagValue{Type: valueType(v), Value: valueText(v)})
		}
	}
	if out == nil {
		out = []tagValue{}
	}
	writeJSON(w, http.StatusOK, tagValuesV2Response{TagValues: truncate(out, limitParam(vals))})
}

func (a *API) tagPathError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errNotFound) {
		http.NotFound(w, r)
		return
	}
	a.badRequest(w, r, reasonParams, err)
}

var (
	statusValues = keywords("ok", "error", "unset")
	kindValues   = keywords("client", "server", "producer", "consumer", "internal", "unspecified")
)

func keywords(names ...string) []tagValue {
	out := make([]tagValue, len(names))
	for i, n := range names {
		out[i] = tagValue{Type: "keyword", Value: n}
	}
	return out
}

// v2Tag maps a TraceQL tag name to the tag the store reads ("" for none)
// or to fixed values. Tempo refuses names that do not parse as a TraceQL
// identifier with "please provide a valid tagName".
func v2Tag(tag string) (storeTag string, fixed []tagValue, err error) {
	switch tag {
	case "status", "span:status":
		return "", statusValues, nil
	case "kind", "span:kind":
		return "", kindValues, nil
	case "duration", "span:duration", "traceDuration", "trace:duration":
		return "", []tagValue{}, nil
	case "name", "span:name":
		return "name", nil, nil
	case "rootName", "trace:rootName":
		// The store indexes the names of all spans: a superset, which is
		// what autocomplete needs.
		return "name", nil, nil
	case "rootServiceName", "trace:rootService":
		return "resource.service.name", nil, nil
	case "statusMessage", "span:statusMessage":
		return "", []tagValue{}, nil // not indexed
	}
	// An attribute: parse it as TraceQL does (Tempo's
	// traceql.ParseIdentifier), which also unquotes span."my attr".
	q, err := traceql.Parse("{ " + tag + " }")
	var unsupported *traceql.UnsupportedError
	if errors.As(err, &unsupported) {
		// Valid TraceQL (event., link., instrumentation. attributes...)
		// whose values are not indexed.
		return "", []tagValue{}, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("please provide a valid tagName: %w", err)
	}
	conds := q.Conditions()
	if len(conds) != 1 || conds[0].Field.Intrinsic != traceql.IntrinsicNone {
		return "", nil, fmt.Errorf("please provide a valid tagName: %q is not an attribute nor an intrinsic", tag)
	}
	f := conds[0].Field
	return f.Scope.String() + "." + f.Name, nil, nil
}

// valueType is a value's type as Tempo's tag values v2 name it
// (traceql.MakeCollectTagValueFunc).
func valueType(v traceql.Value) string {
	switch v.Type {
	case traceql.TypeInt:
		return "int"
	case traceql.TypeFloat:
		return "float"
	case traceql.TypeBool:
		return "bool"
	}
	return "string"
}

// valueText is a value as Tempo writes it in tag values: strings bare,
// floats with a ".0" when they would read as ints.
func valueText(v traceql.Value) string {
	switch v.Type {
	case traceql.TypeInt:
		return strconv.FormatInt(v.Int, 10)
	case traceql.TypeFloat:
		s := strconv.FormatFloat(v.Float, 'g', -1, 64)
		if !strings.ContainsAny(s, "e.") && !math.IsInf(v.Float, 0) && !math.IsNaN(v.Float) {
			s += ".0"
		}
		return s
	case traceql.TypeBool:
		return strconv.FormatBool(v.Bool)
	}
	return v.Str
}

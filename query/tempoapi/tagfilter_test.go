package tempoapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tracestore"
	"github.com/sightline-dev/sightline/storage/tracestore/tracestoretest"
)

// filterStore holds traces 1 (its checkout span fails) and 2, of
// tracestoretest.Trace: frontend's GET /cart server root and POST checkout
// client, checkout's charge server; and index values that differ from the
// spans', which only an unfiltered request reads.
func filterStore() *fakeStore {
	return &fakeStore{
		spans: slices.Concat(tracestoretest.Trace(1, true), tracestoretest.Trace(2, false)),
		tags:  tracestore.TagNames{Resource: []string{"from.the.index"}},
		values: map[string][]traceql.Value{
			"name": {traceql.StringValue("from the index")},
		},
	}
}

// tagsQ is the query string of a tag request as Grafana's Tempo datasource
// sends it (grafana-tempo-datasource src/language_provider.ts getOptionsV2,
// proxied by pkg/tempo/tempo.go handleTagValues): limit, q, then the tag
// again, which Tempo ignores; the range of the tags request when set.
func tagsQ(q, tag string) string {
	v := url.Values{"limit": {"5000"}, "q": {q}}
	if tag != "" {
		v.Set("tag", tag)
	}
	v.Set("start", fmt.Sprint(tracestoretest.Base/int64(time.Second)-60))
	v.Set("end", fmt.Sprint(tracestoretest.Base/int64(time.Second)+60))
	return v.Encode()
}

func TestFilteredTagValues(t *testing.T) {
	store := filterStore()
	a := newTestAPI(t, store)
	values := func(tag, q string) []string {
		t.Helper()
		store.gotFilter = ""
		resp := get(t, a, "/api/v2/search/tag/"+url.PathEscape(tag)+"/values?"+tagsQ(q, tag))
		require.Equal(t, http.StatusOK, resp.StatusCode, body(t, resp))
		var got tagValuesV2Response
		require.NoError(t, json.Unmarshal([]byte(body(t, resp)), &got))
		out := []string{}
		for _, v := range got.TagValues {
			out = append(out, v.Type+":"+v.Value)
		}
		return out
	}
	f := func(tag, q string, want ...string) {
		t.Helper()
		require.Equal(t, append([]string{}, want...), values(tag, q), "%s with q=%s", tag, q)
	}
	// Grafana's search builder: the other filters, as one spanset filter
	// (grafana-tempo-datasource src/language_provider.ts
	// generateQueryFromFilters).
	f("name", `{resource.service.name="checkout"}`, "string:charge")
	f("name", `{resource.service.name="frontend"}`, "string:GET /cart", "string:POST checkout")
	f("span:name", `{resource.service.name="checkout" && status=error}`, "string:charge")
	f("resource.service.name", `{span.http.method="GET"}`, "string:frontend")
	f("resource.service.name", `{status=error}`, "string:checkout")
	f(".host.name", `{kind=client}`, "string:node-1")
	f("span.amount", `{name="charge"}`, "float:12.5")
	f(".http.status_code", `{resource.service.name="frontend"}`, "int:200")
	f("rootName", `{name="charge"}`, "string:GET /cart")
	f("trace:rootService", `{name="charge" && status=error}`, "string:frontend")
	f("status", `{name="charge"}`, "keyword:error", "keyword:unset")
	f("kind", `{resource.service.name="frontend"}`, "keyword:client", "keyword:server")
	f("duration", `{name="charge"}`)
	f("name", `{resource.service.name="nothing"}`)
	require.Equal(t, `{ resource.service.name = "nothing" }`, store.gotFilter)
	require.Equal(t, (tracestoretest.Base/int64(time.Second)-60)*int64(time.Second), store.gotFrom)
	// The TraceQL editor: what the user is typing, its valid part.
	f("name", `{ resource.service.name = "checkout" && name = }`, "string:charge")
	f("name", `{ resource.service.name = "checkout" && span.`, "string:charge")
	// A filter that narrows nothing, or several spansets: every value, from
	// the index, as Tempo answers.
	for _, q := range []string{``, `{}`, `{ name = }`, `{ .a = 1 } && { .b = 2 }`, `{ .a = "x" || .b = }`} {
		f("name", q, "string:from the index")
		require.Empty(t, store.gotFilter, q)
	}
	// limit stops the search.
	resp := get(t, a, "/api/v2/search/tag/name/values?"+strings.Replace(tagsQ(`{resource.service.name="frontend"}`, ""), "limit=5000", "limit=1", 1))
	require.JSONEq(t, `{"tagValues":[{"type":"string","value":"GET /cart"}],"metrics":{}}`, body(t, resp))

	// A search that would read too much answers what it found.
	store.matchErr = fmt.Errorf("%w: more than 10 spans", tracestore.ErrTooMuchData)
	f("name", `{resource.service.name="checkout"}`, "string:charge")
	store.matchErr = fmt.Errorf("disk on fire")
	resp = get(t, a, "/api/v2/search/tag/name/values?"+tagsQ(`{resource.service.name="checkout"}`, "name"))
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
}

func TestFilteredTagNames(t *testing.T) {
	store := filterStore()
	a := newTestAPI(t, store)
	f := func(path, q, want string) {
		t.Helper()
		resp := get(t, a, path+"?"+tagsQ(q, ""))
		require.Equal(t, http.StatusOK, resp.StatusCode, body(t, resp))
		require.JSONEq(t, want, body(t, resp), "%s?q=%s", path, q)
	}
	f("/api/v2/search/tags", `{resource.service.name="checkout"}`, `{"scopes":[
		{"name":"resource","tags":["service.name"]},
		{"name":"span","tags":["amount"]},
		{"name":"intrinsic","tags":`+intrinsicsJSON+`}],"metrics":{}}`)
	f("/api/v2/search/tags", `{kind=server && resource.service.name="frontend"}`, `{"scopes":[
		{"name":"resource","tags":["host.name","service.name"]},
		{"name":"span","tags":["http.method","http.status_code"]},
		{"name":"intrinsic","tags":`+intrinsicsJSON+`}],"metrics":{}}`)
	f("/api/search/tags", `{name="POST checkout"}`, `{"tagNames":["host.name","service.name"],"metrics":{}}`)
	f("/api/search/tags", `{ name = `, `{"tagNames":["from.the.index"],"metrics":{}}`)
	f("/api/v2/search/tags", `{name="nothing"}`, `{"scopes":[{"name":"intrinsic","tags":`+intrinsicsJSON+`}],"metrics":{}}`)
}

// A span without its trace's root in the spanset gives no root values.
func TestFilteredRootValuesWithoutRoot(t *testing.T) {
	tr := tracestoretest.Trace(1, true)
	store := &fakeStore{spans: []*record.Span{tr[2]}}
	resp := get(t, newTestAPI(t, store), "/api/v2/search/tag/rootName/values?"+tagsQ(`{name="charge"}`, ""))
	require.JSONEq(t, `{"tagValues":[],"metrics":{}}`, body(t, resp))
}

package plugin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"
)

// TestCredentials: every call to Sightline carries the datasource's tenant
// and credentials, from Grafana's standard basic-auth settings or the
// secure bearer token.
func TestCredentials(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"version":"1.0.0"}}`))
	}))
	defer srv.Close()

	for _, c := range []struct {
		name     string
		settings backend.DataSourceInstanceSettings
		auth     func(r *http.Request)
	}{
		{"basic auth", backend.DataSourceInstanceSettings{URL: srv.URL, JSONData: []byte(`{"tenant":"team-a"}`),
			BasicAuthEnabled: true, BasicAuthUser: "grafana", DecryptedSecureJSONData: map[string]string{"basicAuthPassword": "s3cret"}},
			func(r *http.Request) { r.SetBasicAuth("grafana", "s3cret") }},
		{"bearer token", backend.DataSourceInstanceSettings{URL: srv.URL + "/", JSONData: []byte(`{"tenant":"team-a"}`),
			DecryptedSecureJSONData: map[string]string{"bearerToken": "tok"}},
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			inst, err := NewDatasource(context.Background(), c.settings)
			require.NoError(t, err)
			_, err = inst.(*Datasource).CheckHealth(context.Background(), &backend.CheckHealthRequest{})
			require.NoError(t, err)
			want, _ := http.NewRequest(http.MethodGet, "/", nil)
			c.auth(want)
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, seen)
			for _, h := range seen {
				require.Equal(t, "team-a", h.Get("X-Scope-OrgID"))
				require.Equal(t, want.Header.Get("Authorization"), h.Get("Authorization"))
			}
		})
	}
}

func TestSettingsErrors(t *testing.T) {
	for raw, want := range map[string]string{"": "no URL", "localhost:9750": "invalid URL", "ftp://x": "invalid URL"} {
		_, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{URL: raw})
		require.ErrorContains(t, err, want)
	}
	_, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{URL: "http://x", JSONData: []byte(`{`)})
	require.ErrorContains(t, err, "invalid jsonData")
}

// FuzzResources: no path or query parameter of a resource call crashes
// the plugin; every answer is JSON with a status Grafana can show.
func FuzzResources(f *testing.F) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":[]}`))
	}))
	defer srv.Close()
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{URL: srv.URL})
	require.NoError(f, err)
	h := inst.(*Datasource).resources()
	for _, s := range []string{"/metrics/names?start=1&end=2", "/metrics/label-values?label=a%2Fb", "/logs/fields?query={", "/traces/tag-values?tag=..%2F..",
		"/services?start=-1", "/metrics/names?end=99999999999999999999", "/nothing"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(u.Path, "/") {
			return
		}
		// As the SDK's adapter hands a resource call over: the URL parsed,
		// whatever its characters.
		req := httptest.NewRequest(http.MethodGet, "http://plugin/", nil)
		req.URL, req.RequestURI = u, u.RequestURI()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code/100 == 3 {
			return // the mux's redirect of an unclean path ("/.", "//x")
		}
		require.Contains(t, []int{http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusBadGateway}, rec.Code, target)
		require.True(t, json.Valid(rec.Body.Bytes()), "%s: %s", target, rec.Body)
	})
}

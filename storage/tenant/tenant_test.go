package tenant

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	f := func(in, want string, wantErr bool) {
		t.Helper()
		got, err := Parse(in)
		if wantErr {
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	f("", Default, false)
	f("team-a", "team-a", false)
	f("a.b_c(1)", "a.b_c(1)", false)
	f("..", "", true)
	f("../etc", "", true)
	f("a/b", "", true)
	f(strings.Repeat("x", 151), "", true)
}

func TestMiddleware(t *testing.T) {
	var seen string
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = FromContext(r.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(Header, "t1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.Equal(t, "t1", seen)

	rec := httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(Header, "../x")
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), "X-Scope-OrgID")

	require.Equal(t, Default, FromContext(context.Background()))
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "default", "..", "a/b", "team-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err == nil {
			require.NotContains(t, id, "/")
			require.NotEqual(t, "..", id)
		}
	})
}

package auth

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func load(t *testing.T, users string, admins ...string) (*Auth, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "web.yml")
	require.NoError(t, os.WriteFile(f, []byte("basic_auth_users:\n"+users), 0o600))
	return Load(Options{WebConfigFile: f, Admins: admins})
}

func TestTenantOfUser(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	require.NoError(t, err)
	a, err := load(t, fmt.Sprintf("  team-a: %s\n  root: %s\n", hash, hash), "root")
	require.NoError(t, err)

	require.True(t, a.Check("team-a", "pw"))
	require.True(t, a.Check("team-a", "pw"), "cached")
	require.False(t, a.Check("team-a", "PW"))
	require.False(t, a.Check("nobody", "pw"))

	id, err := a.Tenant("team-a", "")
	require.NoError(t, err)
	require.Equal(t, "team-a", id)
	_, err = a.Tenant("team-a", "team-b")
	require.ErrorIs(t, err, ErrForbidden)
	id, err = a.Tenant("root", "team-b")
	require.NoError(t, err)
	require.Equal(t, "team-b", id)
	id, err = a.Tenant("root", "")
	require.NoError(t, err)
	require.Equal(t, "default", id)
	_, err = a.Tenant("root", "../x")
	require.Error(t, err)

	_, err = load(t, fmt.Sprintf("  a/b: %s\n", hash))
	require.ErrorContains(t, err, "cannot be a tenant")
	_, err = load(t, fmt.Sprintf("  a: %s\n", hash), "b")
	require.ErrorContains(t, err, "not a user")
	none, err := Load(Options{})
	require.NoError(t, err)
	require.Nil(t, none)

	u, p, ok := Basic("Basic dGVhbS1hOnB3OmV4dHJh") // team-a:pw:extra
	require.True(t, ok)
	require.Equal(t, "team-a", u)
	require.Equal(t, "pw:extra", p)
	_, _, ok = Basic("Bearer x")
	require.False(t, ok)
}

// BenchmarkCheck is what authentication adds to each OTLP or HTTP request
// once a credential has been checked (bcrypt runs once per credential,
// then the cache answers).
func BenchmarkCheck(b *testing.B) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.DefaultCost)
	require.NoError(b, err)
	f := filepath.Join(b.TempDir(), "web.yml")
	require.NoError(b, os.WriteFile(f, []byte(fmt.Sprintf("basic_auth_users:\n  team-a: %s\n", hash)), 0o600))
	a, err := Load(Options{WebConfigFile: f})
	require.NoError(b, err)
	header := "Basic dGVhbS1hOnB3" // team-a:pw
	b.ResetTimer()
	for b.Loop() {
		user, pw, ok := Basic(header)
		if !ok || !a.Check(user, pw) {
			b.Fatal("refused")
		}
		if _, err := a.Tenant(user, ""); err != nil {
			b.Fatal(err)
		}
	}
}

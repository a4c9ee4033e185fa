package auth

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// Options name the web configuration file and the admin users.
type Options struct {
	// WebConfigFile is Prometheus' web configuration file; "" for no TLS
	// and no authentication.
	WebConfigFile string
	// Admins are users who may act for any tenant.
	Admins []string
}

// RegisterFlags declares the options as flags.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.WebConfigFile, "web.config.file", o.WebConfigFile, "Prometheus' web configuration file (tls_server_config, basic_auth_users): TLS and basic authentication on the HTTP port and both OTLP receivers. Each user is a tenant. Unset: no TLS, no authentication, the tenant is whatever X-Scope-OrgID says.")
	flagext.Strings(fs, &o.Admins, "auth.admin-user", "A user of -web.config.file who may read and write any tenant (X-Scope-OrgID) and use /metrics, /-/reload and /debug/pprof/ (repeatable).")
}

// Errors of Tenant: 401 and 403.
var (
	ErrUnauthenticated = errors.New("unauthenticated: basic authentication with a user of -web.config.file is required")
	ErrForbidden       = errors.New("forbidden")
)

// Auth holds the users of the web configuration file. A nil *Auth means no
// authentication.
type Auth struct {
	file   string
	tls    web.TLSConfig
	hashes map[string][]byte
	admins map[string]bool

	// ok caches checked credentials: bcrypt costs tens of milliseconds,
	// and OTLP senders authenticate every request. Bounded by maxCached.
	mu sync.Mutex
	ok map[[sha256.Size]byte]bool
}

// maxCached bounds the credential cache; it is emptied when full.
const maxCached = 1024

// Load reads the web configuration file of opts with exporter-toolkit's own
// validation; it returns nil, nil when there is none.
func Load(opts Options) (*Auth, error) {
	if opts.WebConfigFile == "" {
		if len(opts.Admins) > 0 {
			return nil, errors.New("-auth.admin-user needs -web.config.file")
		}
		return nil, nil
	}
	if err := web.Validate(opts.WebConfigFile); err != nil {
		return nil, fmt.Errorf("web.config.file: %w", err)
	}
	raw, err := os.ReadFile(opts.WebConfigFile)
	if err != nil {
		return nil, fmt.Errorf("web.config.file: %w", err)
	}
	var cfg web.Config
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("web.config.file: %w", err)
	}
	cfg.TLSConfig.SetDirectory(dirOf(opts.WebConfigFile))
	a := &Auth{file: opts.WebConfigFile, tls: cfg.TLSConfig, hashes: map[string][]byte{}, admins: map[string]bool{}, ok: map[[sha256.Size]byte]bool{}}
	for user, hash := range cfg.Users {
		if err := tenant.Validate(user); err != nil {
			return nil, fmt.Errorf("web.config.file: user %q cannot be a tenant: %w", user, err)
		}
		a.hashes[user] = []byte(hash)
	}
	if len(a.hashes) == 0 {
		return nil, errors.New("web.config.file: no basic_auth_users; Sightline maps each user to a tenant, so it needs at least one")
	}
	for _, u := range opts.Admins {
		if _, ok := a.hashes[u]; !ok {
			return nil, fmt.Errorf("-auth.admin-user %q is not a user of -web.config.file", u)
		}
		a.admins[u] = true
	}
	return a, nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	return "."
}

// WebConfigFile is the file, for exporter-toolkit's server.
func (a *Auth) WebConfigFile() string { return a.file }

// TLS is the tls_server_config of the file; TLS.TLSCertPath == "" and
// TLS.TLSCert == "" when the file sets none.
func (a *Auth) TLS() web.TLSConfig { return a.tls }

// TLSConfig is the server TLS configuration, nil if the file sets none.
func (a *Auth) TLSConfig() (*tls.Config, error) {
	if a.tls.TLSCertPath == "" && a.tls.TLSCert == "" {
		return nil, nil
	}
	return web.ConfigToTLSConfig(&a.tls)
}

// IsAdmin tells whether user is an admin.
func (a *Auth) IsAdmin(user string) bool { return a.admins[user] }

// Check tells whether password is user's.
func (a *Auth) Check(user, password string) bool {
	hash, ok := a.hashes[user]
	if !ok {
		// Compare anyway, so that a missing user takes as long as a wrong
		// password.
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}
	key := sha256.Sum256([]byte(user + "\x00" + password))
	a.mu.Lock()
	good, cached := a.ok[key]
	a.mu.Unlock()
	if cached {
		return good
	}
	good = bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	a.mu.Lock()
	if len(a.ok) >= maxCached {
		clear(a.ok)
	}
	a.ok[key] = good
	a.mu.Unlock()
	return good
}

// Tenant is the tenant that an authenticated user acts for, given the
// X-Scope-OrgID it sent (orgID): its own unless it is an admin.
func (a *Auth) Tenant(user, orgID string) (string, error) {
	if a.admins[user] {
		return tenant.Parse(orgID)
	}
	if orgID != "" && orgID != user {
		return "", fmt.Errorf("%w: user %q may not act for tenant %q", ErrForbidden, user, orgID)
	}
	return user, nil
}

// dummyHash is compared against for users that do not exist.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.DefaultCost) // fails only for passwords over 72 bytes
	return h
})

// Basic parses the value of an Authorization header of the Basic scheme,
// as net/http does for a request (the OTLP authenticator has the header,
// not the request).
func Basic(authorization string) (user, password string, ok bool) {
	return (&http.Request{Header: http.Header{"Authorization": {authorization}}}).BasicAuth()
}

// Middleware lets through requests with the credentials of a user, acting
// for the tenant that Tenant decides (it replaces X-Scope-OrgID, which
// tenant.Middleware then reads), and answers 401 or 403 otherwise. Paths
// for which adminOnly is true are for admins only.
func (a *Auth) Middleware(next http.Handler, adminOnly func(path string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// exporter-toolkit has checked the credentials already when it
		// serves the port; checked again (from the cache, ~0.5 µs) so that
		// this middleware is safe wherever it is mounted.
		user, password, ok := r.BasicAuth()
		if !ok || !a.Check(user, password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="sightline"`)
			http.Error(w, ErrUnauthenticated.Error(), http.StatusUnauthorized)
			return
		}
		if adminOnly(r.URL.Path) && !a.IsAdmin(user) {
			http.Error(w, fmt.Sprintf("%v: %s is for admin users (-auth.admin-user)", ErrForbidden, r.URL.Path), http.StatusForbidden)
			return
		}
		id, err := a.Tenant(user, r.Header.Get(tenant.Header))
		if err != nil {
			code := http.StatusForbidden
			if !errors.Is(err, ErrForbidden) {
				code = http.StatusBadRequest // an admin named an invalid tenant
			}
			http.Error(w, err.Error(), code)
			return
		}
		r.Header.Set(tenant.Header, id)
		next.ServeHTTP(w, r)
	})
}

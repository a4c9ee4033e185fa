package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Header is the HTTP header (and gRPC metadata key) that names the tenant,
// the one Grafana, Mimir, Loki and Tempo use.
const Header = "X-Scope-OrgID"

// Default is the tenant of requests that do not name one.
const Default = "default"

// maxLength follows Cortex/Mimir's limit on tenant IDs.
const maxLength = 150

// ErrInvalid is returned for tenant IDs that cannot be used as a directory name.
var ErrInvalid = errors.New("invalid tenant ID")

type ctxKey struct{}

// With returns a context that carries the tenant id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the tenant of ctx, or Default when it carries none.
func FromContext(ctx context.Context) string {
	if id, ok := ctx.Value(ctxKey{}).(string); ok && id != "" {
		return id
	}
	return Default
}

// Validate checks id with Mimir's rules: at most 150 characters from
// [A-Za-z0-9!-_.*'()], and not "." or "..". Because tenant IDs become
// directory names, this is what keeps a header from escaping the data dir.
func Validate(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalid)
	}
	if len(id) > maxLength {
		return fmt.Errorf("%w: longer than %d characters", ErrInvalid, maxLength)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("%w: %q", ErrInvalid, id)
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '!', r == '-', r == '_', r == '.', r == '*', r == '\'', r == '(', r == ')':
		default:
			return fmt.Errorf("%w: character %q is not allowed", ErrInvalid, r)
		}
	}
	return nil
}

// Parse returns the tenant named by a header value, Default for an empty one.
func Parse(v string) (string, error) {
	if v == "" {
		return Default, nil
	}
	if err := Validate(v); err != nil {
		return "", err
	}
	return v, nil
}

// Middleware puts the tenant of the X-Scope-OrgID header into the request
// context, and answers 400 for an invalid one.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := Parse(r.Header.Get(Header))
		if err != nil {
			http.Error(w, fmt.Sprintf("%s header: %v", Header, err), http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r.WithContext(With(r.Context(), id)))
	})
}

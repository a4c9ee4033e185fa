package collector

import (
	"context"
	"errors"
	"strings"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// authType is the authenticator extension of the OTLP receivers when
// Sightline has users (-web.config.file): HTTP basic authentication against
// the same users as the HTTP port, each user a tenant.
var authType = component.MustNewType("sightline_auth")

type authConfig struct{}

func authFactory(a *auth.Auth) extension.Factory {
	return extension.NewFactory(authType,
		func() component.Config { return &authConfig{} },
		func(context.Context, extension.Settings, component.Config) (extension.Extension, error) {
			if a == nil {
				return nil, errors.New("sightline_auth needs -web.config.file")
			}
			return &authenticator{auth: a}, nil
		},
		component.StabilityLevelBeta)
}

type authenticator struct {
	component.StartFunc
	component.ShutdownFunc
	auth *auth.Auth
}

var _ extensionauth.Server = (*authenticator)(nil)

// Authenticate checks the request's basic credentials and decides its
// tenant, which the exporters read back (exporters.TenantFromContext).
// sources are the HTTP headers or the gRPC metadata.
func (x *authenticator) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	user, password, ok := auth.Basic(header(sources, "Authorization"))
	if !ok || !x.auth.Check(user, password) {
		return ctx, auth.ErrUnauthenticated
	}
	id, err := x.auth.Tenant(user, header(sources, tenant.Header))
	if err != nil {
		return ctx, err
	}
	info := client.FromContext(ctx)
	info.Auth = authData{"username": user, "tenant": id}
	return client.NewContext(ctx, info), nil
}

// header is the first value of the header or metadata key name, whatever
// its case (HTTP canonicalises X-Scope-OrgID as X-Scope-Orgid, gRPC
// lower-cases it).
func header(sources map[string][]string, name string) string {
	for k, vs := range sources {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// authData is what an authenticated request carries.
type authData map[string]string

func (d authData) GetAttribute(name string) any {
	if v, ok := d[name]; ok {
		return v
	}
	return nil
}

func (d authData) GetAttributeNames() []string { return []string{"username", "tenant"} }

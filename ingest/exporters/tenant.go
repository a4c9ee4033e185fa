package exporters

import (
	"context"

	"go.opentelemetry.io/collector/client"

	"github.com/sightline-dev/sightline/storage/tenant"
)

// TenantFromContext returns the tenant of a collector request: the one its
// authenticator decided (ingest/collector's sightline_auth) when Sightline
// has users; otherwise the one named by its X-Scope-OrgID metadata (the
// OTLP receiver keeps it with include_metadata), or the default tenant.
func TenantFromContext(ctx context.Context) (string, error) {
	info := client.FromContext(ctx)
	if info.Auth != nil {
		if id, ok := info.Auth.GetAttribute("tenant").(string); ok {
			return id, nil
		}
	}
	vs := info.Metadata.Get(tenant.Header)
	if len(vs) == 0 {
		return tenant.Default, nil
	}
	return tenant.Parse(vs[0])
}

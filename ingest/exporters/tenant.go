package exporters

import (
	"context"

	"go.opentelemetry.io/collector/client"

	"github.com/sightline-dev/sightline/storage/tenant"
)

// TenantFromContext returns the tenant named by the X-Scope-OrgID metadata
// of a collector request (the OTLP receiver keeps it with include_metadata),
// or the default tenant.
func TenantFromContext(ctx context.Context) (string, error) {
	vs := client.FromContext(ctx).Metadata.Get(tenant.Header)
	if len(vs) == 0 {
		return tenant.Default, nil
	}
	return tenant.Parse(vs[0])
}

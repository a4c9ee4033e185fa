package plugin

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// CheckHealth is Grafana's "Save & test": it reaches Sightline with the
// datasource's URL, tenant and credentials, and says what each signal holds
// for the tenant: series in the metrics head, and the services seen in logs
// and traces over the last hour.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	var build struct {
		Version  string `json:"version"`
		Revision string `json:"revision"`
	}
	if err := d.api.getJSON(ctx, "/api/v1/status/buildinfo", nil, &build); err != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: "Sightline cannot be reached: " + err.Error()}, nil
	}
	var tsdb struct {
		HeadStats struct {
			NumSeries uint64 `json:"numSeries"`
		} `json:"headStats"`
	}
	var logServices, traceServices []string
	var traceTags struct {
		TagValues []struct {
			Value string `json:"value"`
		} `json:"tagValues"`
	}
	checks := []struct {
		what string
		err  error
	}{
		{"metrics", d.api.getJSON(ctx, "/api/v1/status/tsdb", nil, &tsdb)},
		{"logs", d.api.getJSON(ctx, "/loki/api/v1/label/service_name/values", nil, &logServices)},
		{"traces", d.api.getJSON(ctx, "/api/v2/search/tag/resource.service.name/values", url.Values{}, &traceTags)},
	}
	for _, c := range checks {
		if c.err != nil {
			return &backend.CheckHealthResult{Status: backend.HealthStatusError,
				Message: fmt.Sprintf("Sightline %s answers, but its %s API does not: %v", build.Version, c.what, c.err)}, nil
		}
	}
	for _, v := range traceTags.TagValues {
		traceServices = append(traceServices, v.Value)
	}
	tenant := d.api.tenant
	if tenant == "" {
		tenant = "default"
	}
	msg := fmt.Sprintf("Sightline %s (%s), tenant %s: metrics %d series in the head; logs from %s; traces from %s",
		build.Version, build.Revision, tenant, tsdb.HeadStats.NumSeries, services(logServices), services(traceServices))
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: msg}, nil
}

func services(s []string) string {
	switch {
	case len(s) == 0:
		return "no service yet"
	case len(s) > 5:
		return fmt.Sprintf("%d services (%s, …)", len(s), strings.Join(s[:5], ", "))
	}
	return fmt.Sprintf("%d services (%s)", len(s), strings.Join(s, ", "))
}

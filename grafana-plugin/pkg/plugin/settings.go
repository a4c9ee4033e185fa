package plugin

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// ID is the plugin's ID, as in src/plugin.json.
const ID = "sightline-observability-datasource"

// Settings is what a datasource's configuration holds for the backend: the
// URL of Sightline's HTTP port (Grafana's standard url field), the tenant and
// the credentials. Basic auth and TLS options use Grafana's standard fields
// (basicAuth, basicAuthUser, secureJsonData.basicAuthPassword,
// jsonData.tlsSkipVerify, ...), which the SDK's HTTP client options read.
type Settings struct {
	URL    *url.URL
	Tenant string // X-Scope-OrgID; "" is Sightline's default tenant
	// BearerToken (secureJsonData.bearerToken) is sent as
	// "Authorization: Bearer", for a Sightline behind an authenticating proxy.
	BearerToken string
}

type jsonSettings struct {
	Tenant string `json:"tenant"`
}

// parseSettings reads and checks a datasource's settings.
func parseSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var js jsonSettings
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &js); err != nil {
			return Settings{}, fmt.Errorf("invalid jsonData: %w", err)
		}
	}
	raw := strings.TrimSpace(s.URL)
	if raw == "" {
		return Settings{}, fmt.Errorf("no URL: set the URL of Sightline's HTTP port, e.g. http://localhost:9750")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Settings{}, fmt.Errorf("invalid URL %q: want http(s)://host:port", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return Settings{
		URL:         u,
		Tenant:      strings.TrimSpace(js.Tenant),
		BearerToken: s.DecryptedSecureJSONData["bearerToken"],
	}, nil
}

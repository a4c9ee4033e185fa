// Package auth is who may use Sightline and as which tenant. Users and TLS
// come from one file, Prometheus' web configuration file (-web.config.file:
// tls_server_config, basic_auth_users with bcrypt hashes, as
// prometheus/exporter-toolkit reads it), which secures the HTTP port as it
// secures Prometheus' and, through the collector's TLS settings and
// Sightline's authenticator extension, both OTLP receivers.
//
// A user name is a tenant, as hosted Prometheus and Loki services map
// credentials: a user reads and writes its own tenant only, whatever
// X-Scope-OrgID it sends (another tenant's name is refused, 403). An admin
// user (-auth.admin-user) may name any tenant, and may use the operator's
// endpoints (/metrics, /-/reload, /debug/pprof/). Without a web
// configuration file there is no authentication and every caller chooses
// its tenant with X-Scope-OrgID, as before.
package auth

// Package tenant carries the tenant ID (Grafana's, Mimir's and Loki's
// X-Scope-OrgID) through a request's context, validates it, and provides the
// HTTP middleware that reads it. Requests without the header belong to the
// Default tenant, so single-tenant users never have to think about tenancy.
package tenant

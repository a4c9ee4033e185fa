// Package statusapi serves GET /api/v1/status/sightline: what the
// caller's tenant (X-Scope-OrgID) holds in each store — series in the
// metrics head and blocks, log records and spans with their segments
// (parts), bytes and WAL — and what it has appended since start, from
// which the web UI's status page derives its ingest rates. It answers for
// the caller's tenant only and lists no other tenant: tenants never see
// each other.
package statusapi

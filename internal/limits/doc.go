// Package limits bounds what each tenant may do, as Mimir's and Loki's
// per-tenant limits do: an ingestion rate and burst (samples, log records
// and spans per second, one token bucket per tenant across the signals),
// log and trace bytes per second, the number of queries it may run at
// once, the time range they may cover and the series and chunk bytes a
// metrics query may read (enforced by the metrics store, which asks
// FetchLimits), and the number of tenants. Defaults come from flags (-limits.*),
// overrides per tenant from a runtime file (-limits.overrides-file) that is
// read again every 10 seconds and on reload, without a restart.
//
// A refused write is ErrLimited (the receivers answer 429 /
// ResourceExhausted, which senders retry later), counted in
// sightline_limits_refused_total{reason}.
package limits

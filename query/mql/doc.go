// Package mql adds MetricsQL to the Prometheus PromQL engine. Translate turns a
// MetricsQL query into PromQL: it parses with VictoriaMetrics' metricsql
// parser (which expands WITH templates), fills the lookbehind window that
// MetricsQL lets users leave out (rate(m) means rate(m[window])), rewrites the
// MetricsQL-only functions that have an exact PromQL equivalent, and refuses
// everything else with an error that names the unsupported function or
// modifier. Engine wraps a promql.QueryEngine so every query through it goes
// through Translate; plain PromQL passes unchanged.
package mql

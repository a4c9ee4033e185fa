// Package alerting is Sightline's rule engine and notification pipeline.
//
// Rules are Prometheus rule files evaluated by Prometheus' own rules manager
// (package rules): recording rules write into the metrics store, alerting
// rules keep Prometheus' pending/firing/resolved, for and keep_firing_for
// semantics, and their state survives restarts through ALERTS_FOR_STATE.
// Expressions may be PromQL or MetricsQL (translated by package mql when the
// rules are loaded).
//
// Notifications go to an embedded Alertmanager built from the Alertmanager
// library packages (dispatch, notify, silence, inhibit, nflog, provider/mem,
// its v2 API) with Alertmanager's configuration format, so routing, grouping,
// inhibition, silences, receivers and amtool work as with Alertmanager itself;
// and, optionally, to external Alertmanagers through Prometheus' notifier.
// Its API is served per tenant (TenantHandler), and each tenant holds at
// most the alerts its AlertLimits allow, counted by a callback of the alert
// store as Mimir counts them.
//
// Entry points: NewAlertmanager (the embedded Alertmanager) and NewRules (the
// rule engine), both reloadable; CheckRuleFiles checks rule files as NewRules
// loads them (`sightline check rules`).
package alerting

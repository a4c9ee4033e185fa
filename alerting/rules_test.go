package alerting

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/teststorage"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/tenant"
)

// expr is valid PromQL and valid LogQL: only the group can say which it is.
const expr = `sum(count_over_time({job="x"}[5m]))`

// logValue is what the log store answers for every LogQL query here; the
// metrics store answers 3, the number of samples in it.
const logValue = 7

// alertSink receives the alerts of the rule engine.
type alertSink chan *notifier.Alert

func (s alertSink) Send(alerts ...*notifier.Alert) {
	for _, a := range alerts {
		select {
		case s <- a:
		default: // the test reads what it needs; resends may be dropped
		}
	}
}

// waitValue waits for an alert of the tenant ("" for the default one) and
// returns its value annotation.
func (s alertSink) waitValue(t *testing.T, id string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case a := <-s:
			if a.Labels.Get("tenant") == id {
				return a.Annotations.Get("value")
			}
		case <-timeout:
			t.Fatalf("no alert of tenant %q", id)
		}
	}
}

type ruleEnv struct {
	rules *Rules
	sink  alertSink
	file  string // the default tenant's rule file

	mu      sync.Mutex
	logCall map[string]int // tenant → LogQL evaluations
}

func newRuleEnv(t *testing.T) *ruleEnv {
	dir := t.TempDir()
	st := teststorage.New(t)
	// Close removes the storage's directory, which is not under t.TempDir.
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	app := st.Appender(context.Background())
	now := time.Now()
	for i := 1; i <= 3; i++ {
		_, err := app.Append(0, labels.FromStrings("__name__", "up", "job", "x"), now.Add(-time.Duration(4-i)*time.Minute).UnixMilli(), 1)
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())

	env := &ruleEnv{sink: make(alertSink, 100), file: filepath.Join(dir, "rules.yml"), logCall: map[string]int{}}
	opts := DefaultRulesOptions()
	opts.Files = []string{env.file}
	opts.TenantDir = filepath.Join(dir, "tenants")
	require.NoError(t, os.MkdirAll(opts.TenantDir, 0o755))
	opts.ResendDelay = 0
	opts.LogQuery = func(ctx context.Context, q string, ts time.Time) (promql.Vector, error) {
		env.mu.Lock()
		env.logCall[tenant.FromContext(ctx)]++
		env.mu.Unlock()
		return promql.Vector{{T: ts.UnixMilli(), F: logValue, Metric: labels.EmptyLabels()}}, nil
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute})
	env.rules = NewRules(opts, engine, st, st, env.sink, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	t.Cleanup(env.rules.Stop)
	return env
}

// ruleFile is a group of one alert on expr, evaluated every 50ms, whose
// value annotation says what the query answered.
func ruleFile(typ string) string {
	s := "groups:\n- name: g\n  interval: 50ms\n"
	if typ != "" {
		s += "  type: " + typ + "\n"
	}
	return s + "  rules:\n  - alert: A\n    expr: '" + expr + "'\n    annotations:\n      value: '{{ $value }}'\n"
}

func write(t *testing.T, path, s string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
}

func (e *ruleEnv) logCalls(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logCall[id]
}

// The same expression runs as LogQL in the default tenant's `type: logql`
// group and as PromQL in tenant b's group without a type.
func TestRuleLanguageIsTheGroups(t *testing.T) {
	env := newRuleEnv(t)
	write(t, env.file, ruleFile("logql"))
	write(t, filepath.Join(env.rules.opts.TenantDir, "b", "rules.yml"), ruleFile(""))
	require.NoError(t, env.rules.Reload())
	env.rules.Run()

	require.Equal(t, "7", env.sink.waitValue(t, ""))
	require.Equal(t, "3", env.sink.waitValue(t, "b"))
	require.Zero(t, env.logCalls("b"), "tenant b's PromQL rule ran as LogQL")
	require.NotZero(t, env.logCalls(tenant.Default))
}

// A group that drops `type: logql` runs as PromQL after a reload, and
// back as LogQL when the type returns.
func TestRuleLanguageFollowsReload(t *testing.T) {
	env := newRuleEnv(t)
	write(t, env.file, ruleFile("logql"))
	require.NoError(t, env.rules.Reload())
	env.rules.Run()
	require.Equal(t, "7", env.sink.waitValue(t, ""))

	write(t, env.file, ruleFile(""))
	require.NoError(t, env.rules.Reload())
	waitFor(t, env.sink, "3")
	calls := env.logCalls(tenant.Default)
	require.Equal(t, "3", env.sink.waitValue(t, ""))
	require.Equal(t, calls, env.logCalls(tenant.Default), "a PromQL group ran as LogQL after the reload")

	write(t, env.file, ruleFile("logql"))
	require.NoError(t, env.rules.Reload())
	waitFor(t, env.sink, "7")
}

// waitFor waits until the default tenant's alert carries value: alerts
// evaluated before a reload may still be in the sink.
func waitFor(t *testing.T, s alertSink, value string) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if s.waitValue(t, "") == value {
			return
		}
	}
	t.Fatalf("the alert never had value %s", value)
}

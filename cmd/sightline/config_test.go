package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func TestLoadConfig(t *testing.T) {
	var out bytes.Buffer
	cfg, err := loadConfig(nil, &out)
	require.NoError(t, err)
	require.Equal(t, defaultConfig(), cfg)
	require.Equal(t, ":9750", cfg.HTTPListen)
	require.Equal(t, "./data", cfg.DataDir)

	file := filepath.Join(t.TempDir(), "sightline.yml")
	require.NoError(t, os.WriteFile(file, []byte("data.dir: /var/lib/sightline\nmetrics.retention: 30d\nlogs.retention-size: 2GiB\nhttp.listen-address: :1234\n"), 0o644))
	cfg, err = loadConfig([]string{"-config.file", file, "-http.listen-address", ":5678"}, &out)
	require.NoError(t, err)
	require.Equal(t, "/var/lib/sightline", cfg.DataDir)
	require.Equal(t, 30*24*time.Hour, cfg.Metrics.Retention)
	require.EqualValues(t, 2<<30, cfg.Logs.MaxBytes)
	require.Equal(t, ":5678", cfg.HTTPListen, "flags win over the file")

	require.NoError(t, os.WriteFile(file, []byte("no.such.setting: 1\n"), 0o644))
	_, err = loadConfig([]string{"-config.file", file}, &out)
	require.ErrorContains(t, err, "no.such.setting")

	_, err = loadConfig([]string{"-metrics.retention", "forever"}, &out)
	require.ErrorContains(t, err, "invalid duration")

	// A repeatable setting is a list in the file; flags replace it whole.
	require.NoError(t, os.WriteFile(file, []byte("rules.file: [a.yml, b.yml]\nalertmanager.url: http://am:9093\n"), 0o644))
	cfg, err = loadConfig([]string{"-config.file", file}, &out)
	require.NoError(t, err)
	require.Equal(t, []string{"a.yml", "b.yml"}, cfg.Rules.Files)
	require.Equal(t, []string{"http://am:9093"}, cfg.External.URLs)
	cfg, err = loadConfig([]string{"-config.file", file, "-rules.file", "c.yml"}, &out)
	require.NoError(t, err)
	require.Equal(t, []string{"c.yml"}, cfg.Rules.Files)

	require.NoError(t, os.WriteFile(file, []byte("logs.retention: [1d]\n"), 0o644))
	_, err = loadConfig([]string{"-config.file", file}, &out)
	require.NoError(t, err, "a list of one value is that value")
	require.NoError(t, os.WriteFile(file, []byte("logs.retention: {a: 1}\n"), 0o644))
	_, err = loadConfig([]string{"-config.file", file}, &out)
	require.ErrorContains(t, err, "logs.retention")

	out.Reset()
	_, err = loadConfig([]string{"-h"}, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	require.Contains(t, out.String(), "-otlp.grpc.listen-address")
	require.Contains(t, out.String(), "-logs.retention")
	require.Contains(t, out.String(), "/v1/logs", "the OTLP HTTP help names every signal")

	// Every setting has one flag; /api/v1/status/flags shows each.
	flags := flagsMap(defaultConfig())
	require.Equal(t, "15d", flags["metrics.retention"])
	require.Equal(t, "1w", flags["traces.retention"])
	require.Equal(t, "16MiB", flags["loki.push.max-request-body-size"])
}

// A handler that panics gets its request a 500, counted and logged; the
// server goes on serving.
func TestPanicsAnswer500(t *testing.T) {
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	h := newHTTPHandler(httpParts{promAPI: boom, logsAPI: ok, remoteWrite: ok, lokiPush: ok, alertmanager: ok, tempoAPI: ok, correlate: ok},
		reg, func() bool { return true }, slog.New(slog.NewTextHandler(&logs, nil)))
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	require.Equal(t, http.StatusInternalServerError, get("/api/v1/query"))
	require.Equal(t, http.StatusNoContent, get("/loki/api/v1/labels"))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	panics := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "sightline_http_panics_total" {
			for _, m := range mf.GetMetric() {
				panics += m.GetCounter().GetValue()
			}
		}
	}
	require.Equal(t, 1.0, panics)
	require.Contains(t, logs.String(), "boom")
}

// /-/reload and /debug/pprof/ are closed unless enabled, as Prometheus
// keeps its lifecycle API.
func TestLifecycleAndPprofOffByDefault(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	parts := httpParts{promAPI: ok, logsAPI: ok, remoteWrite: ok, lokiPush: ok, alertmanager: ok, tempoAPI: ok, correlate: ok}
	reloaded := 0
	for _, enabled := range []bool{false, true} {
		cfg := defaultConfig()
		cfg.EnableLifecycle, cfg.EnablePprof = enabled, enabled
		parts.reload = lifecycle(cfg, func() error { reloaded++; return nil })
		parts.pprof = cfg.EnablePprof
		h := newHTTPHandler(parts, prometheus.NewRegistry(), func() bool { return true }, slog.New(slog.DiscardHandler))
		do := func(method, path string) int {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			return rec.Code
		}
		if enabled {
			require.Equal(t, http.StatusOK, do(http.MethodPost, "/-/reload"))
			require.Equal(t, http.StatusOK, do(http.MethodGet, "/debug/pprof/cmdline"))
		} else {
			require.Equal(t, http.StatusForbidden, do(http.MethodPost, "/-/reload"))
			require.Equal(t, http.StatusNotFound, do(http.MethodGet, "/debug/pprof/cmdline"))
		}
	}
	require.Equal(t, 1, reloaded)
}

// TestGOGCMustBePositive: -runtime.gogc 0 would make Go collect without
// pause; Sightline refuses it before it opens anything.
func TestGOGCMustBePositive(t *testing.T) {
	cfg, err := loadConfig([]string{"-runtime.gogc", "0", "-data.dir", t.TempDir()}, io.Discard)
	require.NoError(t, err)
	require.ErrorContains(t, run(context.Background(), cfg), "runtime.gogc is 0: it must be at least 1")
}

// TestGCHeadroomNotNegative: a negative floor of headroom is a mistake
// (0 turns the floor off), refused before anything is opened.
func TestGCHeadroomNotNegative(t *testing.T) {
	cfg, err := loadConfig([]string{"-runtime.gc-min-headroom", "-1KiB", "-data.dir", t.TempDir()}, io.Discard)
	require.NoError(t, err)
	require.ErrorContains(t, run(context.Background(), cfg), "runtime.gc-min-headroom is -1024 bytes: it must not be negative")
}

package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

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
	require.Equal(t, 30*24*time.Hour, time.Duration(cfg.MetricsRetention))
	require.EqualValues(t, 2<<30, cfg.LogsRetentionSize)
	require.Equal(t, ":5678", cfg.HTTPListen, "flags win over the file")

	require.NoError(t, os.WriteFile(file, []byte("no.such.setting: 1\n"), 0o644))
	_, err = loadConfig([]string{"-config.file", file}, &out)
	require.ErrorContains(t, err, "no.such.setting")

	_, err = loadConfig([]string{"-metrics.retention", "forever"}, &out)
	require.ErrorContains(t, err, "invalid duration")

	out.Reset()
	_, err = loadConfig([]string{"-h"}, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	require.Contains(t, out.String(), "-otlp.grpc.listen-address")
	require.Contains(t, out.String(), "-logs.retention")
}

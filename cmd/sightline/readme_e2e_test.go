package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// readmeBlocks returns the README's fenced code blocks of a language.
func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	var out []string
	for _, part := range strings.Split(string(b), "```"+lang+"\n")[1:] {
		block, _, ok := strings.Cut(part, "```")
		require.True(t, ok, "an unterminated %s block", lang)
		out = append(out, block)
	}
	return out
}

// TestREADMERuleFiles: the README's example rule files, as it says to
// check them: the PromQL file passes promtool check rules (which refuses
// the LogQL one), both pass sightline check rules, and a running Sightline
// loads both.
func TestREADMERuleFiles(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, block := range readmeBlocks(t, "yaml") {
		name, ok := strings.CutPrefix(block, "# rules/")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, ":")
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(block), 0o644))
		files = append(files, p)
	}
	require.Len(t, files, 2, "the README's rules/checkout.yml and rules/checkout-logs.yml")
	promQL, logQL := files[0], files[1]

	run := func(name string, args ...string) (string, error) {
		out, err := exec.CommandContext(ctxT(t), name, args...).CombinedOutput()
		return string(out), err
	}
	out, err := run(binary, "check", "rules", promQL, logQL)
	require.NoError(t, err, out)
	require.Equal(t, "Checking "+promQL+"\n  SUCCESS: 3 rules found\n\nChecking "+logQL+"\n  SUCCESS: 1 rules found\n\n", out)
	broken := filepath.Join(dir, "broken.yml")
	require.NoError(t, os.WriteFile(broken, []byte(strings.Replace(readFile(t, logQL), "[5m]", "[5m", 1)), 0o644))
	out, err = run(binary, "check", "rules", broken)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, out)
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, out, "FAILED:")

	promtool := lookTool(t, "promtool", "github.com/prometheus/prometheus/cmd/promtool@v0.308.0")
	out, err = run(promtool, "check", "rules", promQL)
	require.NoError(t, err, out)
	require.Contains(t, out, "SUCCESS: 3 rules found")
	out, err = run(promtool, "check", "rules", logQL)
	require.Error(t, err, "promtool refuses type: logql, which is why it has a file of its own: %s", out)

	s := startServer(t, filepath.Join(dir, "data"), "-rules.file", promQL, "-rules.file", logQL)
	rules, err := s.prom().Rules(ctxT(t))
	require.NoError(t, err)
	var groups []string
	for _, g := range rules.Groups {
		groups = append(groups, g.Name)
	}
	require.ElementsMatch(t, []string{"checkout", "checkout-logs"}, groups)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// TestREADMETracesToMetrics: the queries of the README's Grafana
// provisioning for "Metrics for this span" find the span metrics of a span,
// interpolated as Grafana interpolates them (public/app/features/explore/
// TraceView/createSpanLink.tsx: $__tags becomes the mapped tags as
// key="value" pairs, ${__span.name} the span's name), once provisioning
// has turned $$ into $.
func TestREADMETracesToMetrics(t *testing.T) {
	var provisioning struct {
		Datasources []struct {
			Type     string `yaml:"type"`
			JSONData struct {
				TracesToMetrics struct {
					DatasourceUID string `yaml:"datasourceUid"`
					Tags          []struct{ Key, Value string }
					Queries       []struct{ Name, Query string }
				} `yaml:"tracesToMetrics"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	for _, block := range readmeBlocks(t, "yaml") {
		if strings.Contains(block, "tracesToMetrics") {
			require.NoError(t, yaml.Unmarshal([]byte(block), &provisioning))
		}
	}
	require.NotEmpty(t, provisioning.Datasources)
	t2m := provisioning.Datasources[len(provisioning.Datasources)-1].JSONData.TracesToMetrics
	require.Equal(t, "sl-prom", t2m.DatasourceUID)
	require.Equal(t, []struct{ Key, Value string }{{"service.name", "service"}}, t2m.Tags)
	names := []string{}
	for _, q := range t2m.Queries {
		names = append(names, q.Name)
	}
	require.Equal(t, []string{"Request rate", "Error rate", "Latency p95"}, names)

	s := startServer(t, t.TempDir(), "-spanmetrics.flush-interval", "1s")
	checkoutTrace(t, s) // payment's "charge" span failed
	api := s.prom()
	for _, q := range t2m.Queries {
		expr := strings.ReplaceAll(q.Query, "$$", "$")
		expr = strings.ReplaceAll(expr, "$__tags", `service="payment"`)
		expr = strings.ReplaceAll(expr, "${__span.name}", "charge")
		eventually(t, 30*time.Second, q.Name, func() bool {
			v, _, err := api.Query(ctxT(t), expr, time.Now())
			require.NoError(t, err, expr)
			return len(v.(model.Vector)) > 0
		})
	}
}

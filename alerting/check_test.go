package alerting

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckRuleFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	good := write("good.yml", `groups:
  - name: metrics
    rules:
      - alert: Down
        expr: up == 0
      - record: job:up:sum
        expr: WITH (x = up) sum(x) by (job)
  - name: logs
    type: logql
    rules:
      - alert: Errors
        expr: sum(count_over_time({service_name="a"} |= "error" [5m])) > 1
`)
	badLogQL := write("bad-logql.yml", `groups: [{name: logs, type: logql, rules: [{alert: A, expr: '{service_name="a"}'}]}]`)
	badPromQL := write("bad-promql.yml", "groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: up ==\n")

	var out strings.Builder
	require.True(t, CheckRuleFiles(&out, good))
	require.Equal(t, "Checking "+good+"\n  SUCCESS: 3 rules found\n\n", out.String())

	out.Reset()
	require.False(t, CheckRuleFiles(&out, badLogQL, good, badPromQL, filepath.Join(dir, "missing.yml")))
	report := out.String()
	require.Contains(t, report, "Checking "+badLogQL+"\n  FAILED:\n")
	require.Contains(t, report, "is a log query")
	require.Contains(t, report, "Checking "+good+"\n  SUCCESS: 3 rules found\n")
	require.Contains(t, report, "Checking "+badPromQL+"\n  FAILED:\n")
	require.Contains(t, report, "parse error")
	require.Contains(t, report, "missing.yml\n  FAILED:\n")
}

package logql

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current behaviour")

// readQueries returns the non-comment lines of a testdata file.
func readQueries(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err)
	defer f.Close()
	var qs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "#") {
			qs = append(qs, l)
		}
	}
	require.NoError(t, sc.Err())
	return qs
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create %s", path)
	require.Equal(t, string(want), got, "%s differs; run with -update if the change is intended", path)
}

func TestGoldenParse(t *testing.T) {
	var sb strings.Builder
	for _, q := range readQueries(t, "parse.txt") {
		fmt.Fprintf(&sb, "query: %s\n", q)
		e, err := ParseExpr(q)
		if err != nil {
			fmt.Fprintf(&sb, "error: %T: %v\n\n", err, err)
			continue
		}
		fmt.Fprintf(&sb, "%T: %s\n\n", e, e)
	}
	checkGolden(t, "parse.golden", sb.String())
}

func TestGoldenEval(t *testing.T) {
	var sb strings.Builder
	for _, q := range readQueries(t, "eval.txt") {
		fmt.Fprintf(&sb, "query: %s\n", q)
		m, err := ParseMetricQuery(q)
		if err != nil {
			fmt.Fprintf(&sb, "error: %v\n\n", err)
			continue
		}
		res, err := m.Eval(context.Background(), t0.Add(30*time.Second), t0.Add(120*time.Second), 30*time.Second, testStore().fetch)
		if err != nil {
			fmt.Fprintf(&sb, "error: %T: %s\n\n", err, strings.SplitN(err.Error(), "\n", 2)[0])
			continue
		}
		for _, s := range res {
			fmt.Fprintf(&sb, "%s", s.Metric)
			for _, p := range s.Floats {
				at := time.UnixMilli(p.T).Sub(t0)
				fmt.Fprintf(&sb, " %s:%s", formatDuration(at), strconv.FormatFloat(p.F, 'g', 6, 64))
			}
			sb.WriteByte('\n')
		}
		sb.WriteByte('\n')
	}
	checkGolden(t, "eval.golden", sb.String())
}

package traceql

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		e, err := Parse(q)
		if err != nil {
			fmt.Fprintf(&sb, "error: %T: %v\n\n", err, err)
			continue
		}
		fmt.Fprintf(&sb, "canonical: %s\n", e)
		for _, c := range e.Conditions() {
			fmt.Fprintf(&sb, "condition: %s\n", c)
		}
		sb.WriteByte('\n')
	}
	checkGolden(t, "parse.golden", sb.String())
}

// spanNames labels the spans of testTrace in match.golden.
var spanNames = [numTestSpans]string{
	"frontendServer", "frontendClient", "checkoutServer", "checkoutClient", "paymentServer",
	"paymentDB", "checkoutRender", "checkoutPublish", "fulfillmentConsume",
}

func TestGoldenMatch(t *testing.T) {
	trace := testTrace()
	var sb strings.Builder
	for _, q := range readQueries(t, "match.txt") {
		fmt.Fprintf(&sb, "query: %s\n", q)
		e, err := Parse(q)
		if err != nil {
			fmt.Fprintf(&sb, "error: %T: %v\n\n", err, err)
			continue
		}
		idx := e.Match(trace)
		if idx == nil {
			sb.WriteString("no match\n\n")
			continue
		}
		for _, i := range idx {
			fmt.Fprintf(&sb, "  %s\n", spanNames[i])
		}
		sb.WriteByte('\n')
	}
	checkGolden(t, "match.golden", sb.String())
}

package logql

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/query/internal/qlparse/qltest"
)

func TestGoldenParse(t *testing.T) {
	var sb strings.Builder
	for _, q := range qltest.ReadQueries(t, "parse.txt") {
		fmt.Fprintf(&sb, "query: %s\n", q)
		e, err := ParseExpr(q)
		if err != nil {
			fmt.Fprintf(&sb, "error: %T: %v\n\n", err, err)
			continue
		}
		fmt.Fprintf(&sb, "%T: %s\n\n", e, e)
	}
	qltest.CheckGolden(t, "parse.golden", sb.String())
}

func TestGoldenEval(t *testing.T) {
	var sb strings.Builder
	for _, q := range qltest.ReadQueries(t, "eval.txt") {
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
	qltest.CheckGolden(t, "eval.golden", sb.String())
}

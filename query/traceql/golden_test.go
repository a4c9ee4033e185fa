package traceql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sightline-dev/sightline/query/internal/qlparse/qltest"
)

func TestGoldenParse(t *testing.T) {
	var sb strings.Builder
	for _, q := range qltest.ReadQueries(t, "parse.txt") {
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
	qltest.CheckGolden(t, "parse.golden", sb.String())
}

// spanNames labels the spans of testTrace in match.golden.
var spanNames = [numTestSpans]string{
	"frontendServer", "frontendClient", "checkoutServer", "checkoutClient", "paymentServer",
	"paymentDB", "checkoutRender", "checkoutPublish", "fulfillmentConsume",
}

func TestGoldenMatch(t *testing.T) {
	trace := testTrace()
	var sb strings.Builder
	for _, q := range qltest.ReadQueries(t, "match.txt") {
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
	qltest.CheckGolden(t, "match.golden", sb.String())
}

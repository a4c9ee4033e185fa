package traceql

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/query/internal/qlparse/qltest"
)

func TestConditions(t *testing.T) {
	f := func(q string, want ...string) {
		t.Helper()
		query, err := Parse(q)
		require.NoError(t, err, q)
		var got []string
		for _, c := range query.Conditions() {
			got = append(got, c.String())
		}
		require.Equal(t, want, got, q)
	}
	f(`{}`)
	f(`{ true }`)
	f(`{ .a = 1 }`, `.a = 1`)
	f(`{ .a = 1 && span.b =~ "x.*" && duration > 1s }`, `.a = 1`, `span.b =~ "x.*"`, `duration > 1s`)
	f(`{ .a = 1 || .b = 2 }`)
	f(`{ (.a = 1 && .c = 3) || (.b = 2 && .c = 3) }`, `.c = 3`)
	f(`{ .a = 1 || .b = 2 && .c = 3 }`, `.c = 3`) // (.a || .b) && .c
	f(`{ .flag }`, `.flag = true`)
	f(`{ .a = 1 } && { .b = 2 }`, `.a = 1`, `.b = 2`)
	f(`{ .a = 1 } > { .b = 2 }`, `.a = 1`, `.b = 2`)
	f(`{ .a = 1 } || { .b = 2 }`)
	f(`{ .a = 1 && kind = server } || { .b = 2 && kind = server }`, `kind = server`)
	f(`{ .a = 1 } && { .a = 1 }`, `.a = 1`)
	f(`{ 5 < .a }`, `.a > 5`)
	f(`{ rootServiceName = "frontend" } && {}`, `rootServiceName = "frontend"`)
}

// TestConditionsSound checks the promise of Conditions on the test trace:
// when the trace matches, some span meets each condition.
func TestConditionsSound(t *testing.T) {
	trace := testTrace()
	for _, q := range qltest.ReadQueries(t, "match.txt") {
		query, err := Parse(q)
		if err != nil {
			continue
		}
		if query.Match(trace) == nil {
			continue
		}
		for _, c := range query.Conditions() {
			cond, err := Parse("{ " + c.String() + " }")
			require.NoError(t, err, c.String())
			require.NotNil(t, cond.Match(trace), "%s: condition %s", q, c)
		}
	}
}

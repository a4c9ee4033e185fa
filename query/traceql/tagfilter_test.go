package traceql

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tracestore/tracestoretest"
)

func TestParseTagFilter(t *testing.T) {
	for q, want := range map[string]string{
		// Filters that narrow: as written.
		`{resource.service.name="api"}`:                                 `{ resource.service.name = "api" }`,
		`{ resource.service.name = "api" && span.http.method = "GET" }`: `{ resource.service.name = "api" && span.http.method = "GET" }`,
		`{ .a = "x" || .b = "y" }`:                                      `{ .a = "x" || .b = "y" }`,
		`{ status = error && duration > 1s }`:                           `{ status = error && duration > 1s }`,
		// What the user is still typing: the conditions that parse.
		`{ resource.service.name = "api" && name = }`:            `{ resource.service.name = "api" && true }`,
		`{ resource.service.name = "api" && name =`:              `{ resource.service.name = "api" && true }`,
		`{ name = "a" && resource.service.name = "it's \"}\" &&`: `{ name = "a" && true }`,
		`{ name = "a && b" && .x`:                                `{ name = "a && b" && true }`,
		`{ .a = 1 && (.b = 2 || .c = 3) && .d != nil }`:          `{ .a = 1 && (.b = 2 || .c = 3) && .d != nil }`,
		`{ .a = 1 } | rate()`:                                    `{ .a = 1 }`,
		`{ .a = 1 } | select(`:                                   `{ .a = 1 }`,
		`{ .a = 1 && .cache_hit }`:                               `{ .a = 1 && true }`,
		// Nothing that narrows: nil, every value.
		``: ``, `  `: ``, `{}`: ``, `{ }`: ``, `{ true }`: ``, `{ .a = 1 || true }`: ``,
		`{ .a = "x" || .b = }`: ``, `{ .http`: ``, `{`: ``, `nonsense`: ``, `{ .a = 1 } && { .b = 2 }`: ``,
		`{ .a = 1 } > { .b = 2 }`: ``,
	} {
		got := ParseTagFilter(q)
		if want == "" {
			require.Nil(t, got, "%q", q)
			continue
		}
		require.NotNil(t, got, "%q", q)
		require.Equal(t, want, got.String(), "%q", q)
	}
}

// FuzzParseTagFilter: whatever Grafana sends, ParseTagFilter does not
// panic, and what it returns is one filter that prints and parses back.
func FuzzParseTagFilter(f *testing.F) {
	for _, q := range fuzzQueries {
		f.Add(q)
		f.Add(q[:len(q)/2])
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := ParseTagFilter(q)
		if got == nil {
			return
		}
		again, err := Parse(got.String())
		require.NoError(t, err, "%q gave %q", q, got)
		require.True(t, isCondition(again), "%q gave %q", q, got)
		require.Equal(t, got.String(), ParseTagFilter(got.String()).String())
	})
}

func TestMatchSpans(t *testing.T) {
	a, b := tracestoretest.Trace(1, true), tracestoretest.Trace(2, false)
	f := &fakeFetcher{sets: []record.Spanset{spanset(a), spanset(b)}}
	type got struct {
		trace   [16]byte
		matched []int
	}
	var all []got
	collect := func(ss *record.Spanset, matched []int) error {
		all = append(all, got{ss.TraceID, matched})
		return nil
	}
	q := mustParse(t, `{ status = error }`)
	st, err := MatchSpans(context.Background(), f, q, 5, 10, collect)
	require.NoError(t, err)
	require.Equal(t, record.FetchStats{Segments: 1, SpansScanned: len(a) + len(b)}, st)
	require.Equal(t, record.FetchSpansRequest{Start: 5, End: 10, Conditions: fetchConditions(q)}, f.got)
	require.Len(t, all, 1, "trace 2 has no error")
	require.Equal(t, a[0].TraceID, all[0].trace)
	for _, i := range all[0].matched {
		require.Equal(t, record.StatusError, a[i].StatusCode)
	}

	stop := errors.New("stop")
	_, err = MatchSpans(context.Background(), f, mustParse(t, `{}`), 0, 10, func(*record.Spanset, []int) error { return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 3, f.handled, "stopped at the first spanset of the second fetch")
}

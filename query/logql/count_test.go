package logql

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/query/internal/qlparse/qltest"
)

// countFromFetch is a CountFunc over a FetchFunc, as a store would answer
// it: each entry's labels limited to names, keyed by label set.
func countFromFetch(fetch FetchFunc, calls *int) CountFunc {
	return func(ctx context.Context, matchers []*labels.Matcher, names []string, from, to time.Time, _ func(minT, maxT int64) bool, fn func(CountEntry) error) error {
		*calls++
		keys := map[string]int{}
		return fetch(ctx, matchers, from, to, func(e Entry) error {
			b := labels.NewScratchBuilder(len(names))
			var key []byte
			for _, n := range names {
				v := e.Labels.Get(n)
				key = append(binary.AppendUvarint(key, uint64(len(v))), v...)
				if v != "" {
					b.Add(n, v)
				}
			}
			b.Sort()
			k, ok := keys[string(key)]
			if !ok {
				k = len(keys)
				keys[string(key)] = k
			}
			return fn(CountEntry{Timestamp: e.Timestamp.UnixNano(), Size: len(e.Line), Labels: b.Labels(), Key: k, N: 1})
		})
	}
}

// TestCountPath: every query evaluates to the same result, or the same
// error, with and without a CountFunc, and the CountFunc is used exactly
// for the queries whose line does not matter.
func TestCountPath(t *testing.T) {
	queries := append(qltest.ReadQueries(t, "eval.txt"),
		`sum by (env) (count_over_time({app=~".+"} | drop __error__ [1m]))`,
		`sum by (level, detected_level) (count_over_time({app=~".+"} | drop __error__ [1m]))`,
		`sum(bytes_over_time({app="web"}[1m]))`,
		`topk(1, sum by (app) (bytes_rate({app=~".+"}[2m])))`,
		`sum by (app) (rate({app=~".+"} | env="prod" or env="dev" [30s]))`,
		`sum by (app) (rate({app=~".+"} | env!="prod" | drop env [1m] offset 30s))`,
		`max(sum by (app, env) (count_over_time({app=~".+"} | drop env="dev" [1m])))`,
		`sum without (env) (count_over_time({app=~".+"}[1m]))`,
		`sum(count_over_time({app="web"} |= "info" [1m]))`,
		`sum by (env) (count_over_time({app=~".+"} | keep app, env="prod" | decolorize [1m]))`,
		`sum by (app) (bytes_over_time({app=~".+"} | keep env [1m]))`,
	)
	counted := map[string]bool{
		`sum by (env) (count_over_time({app=~".+"} | drop __error__ [1m]))`:                    true,
		`sum by (level, detected_level) (count_over_time({app=~".+"} | drop __error__ [1m]))`:  true,
		`sum(bytes_over_time({app="web"}[1m]))`:                                                true,
		`topk(1, sum by (app) (bytes_rate({app=~".+"}[2m])))`:                                  true,
		`sum by (app) (rate({app=~".+"} | env="prod" or env="dev" [30s]))`:                     true,
		`sum by (app) (rate({app=~".+"} | env!="prod" | drop env [1m] offset 30s))`:            true,
		`max(sum by (app, env) (count_over_time({app=~".+"} | drop env="dev" [1m])))`:          true,
		`sum(count_over_time({app=~".+"}[1m])) by (app) > 1`:                                   true,
		`sum by (env) (count_over_time({app=~".+"} | keep app, env="prod" | decolorize [1m]))`: true,
		`sum by (app) (bytes_over_time({app=~".+"} | keep env [1m]))`:                          true,
		// Absence is a count.
		`absent_over_time({app="web", env="staging"}[30s])`:                                  true,
		`label_replace(sum by (env) (rate({app="web"}[1m])), "short", "$1", "env", "(.).*")`: true,
		// Its right-hand side.
		`count_over_time({app="web"} | logfmt | level="error" | line_format "{{.level}}!" [1m]) * 100 / on (app, env) group_left sum by (app, env) (count_over_time({app="web"}[1m]))`: true,
	}
	for _, q := range queries {
		m, err := ParseMetricQuery(q)
		if err != nil {
			continue
		}
		for _, unordered := range []bool{false, true} {
			s := testStore()
			s.unordered = unordered
			start, end, step := t0.Add(30*time.Second), t0.Add(120*time.Second), 30*time.Second
			want, wantErr := m.Eval(context.Background(), start, end, step, s.fetch)
			calls := 0
			opts := DefaultEvalOptions()
			opts.Count = countFromFetch(s.fetch, &calls)
			got, err := m.EvalWithOptions(context.Background(), start, end, step, s.fetch, opts)
			if wantErr != nil {
				require.EqualError(t, err, wantErr.Error(), q)
				continue
			}
			require.NoError(t, err, q)
			require.Equal(t, want, got, q)
			require.Equal(t, counted[q], calls > 0, q)
		}
	}
}

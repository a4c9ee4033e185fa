package logql

import (
	"context"
	"errors"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/stretchr/testify/require"
)

// memStore is an in-memory log store with the FetchFunc contract.
type memStore struct {
	streams []memStream
	// unordered delivers entries stream by stream instead of in global
	// timestamp order, to check that evaluation does not depend on it.
	unordered bool
	calls     []fetchCall
}

type memStream struct {
	lbls    labels.Labels
	entries []Entry
}

type fetchCall struct {
	matchers string
	from, to time.Time
}

func (s *memStore) add(lbls labels.Labels, at time.Duration, line string) {
	for i := range s.streams {
		if labels.Equal(s.streams[i].lbls, lbls) {
			s.streams[i].entries = append(s.streams[i].entries, Entry{Timestamp: t0.Add(at), Line: line, Labels: lbls})
			return
		}
	}
	s.streams = append(s.streams, memStream{lbls: lbls, entries: []Entry{{Timestamp: t0.Add(at), Line: line, Labels: lbls}}})
}

func (s *memStore) fetch(ctx context.Context, matchers []*labels.Matcher, from, to time.Time, fn func(Entry) error) error {
	s.calls = append(s.calls, fetchCall{matchers: matchersString(matchers), from: from, to: to})
	var out []Entry
	for _, st := range s.streams {
		ok := true
		for _, m := range matchers {
			ok = ok && m.Matches(st.lbls.Get(m.Name))
		}
		if !ok {
			continue
		}
		for _, e := range st.entries {
			if e.Timestamp.After(from) && !e.Timestamp.After(to) {
				out = append(out, e)
			}
		}
	}
	if !s.unordered {
		sort.SliceStable(out, func(i, j int) bool { return out[i].Timestamp.Before(out[j].Timestamp) })
	}
	for _, e := range out {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

var (
	t0   = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	prod = labels.FromStrings("app", "web", "env", "prod")
	dev  = labels.FromStrings("app", "web", "env", "dev")
	db   = labels.FromStrings("app", "db", "env", "prod")
)

// testStore: prod logs at 0s 15s 30s 45s 60s 89s 90s 120s, dev at 100s,
// db at 50s. Queries run from t0+30s to t0+120s every 30s, so a 1m window
// is (t-60s, t] and these counts follow:
//
//	step   prod entries in window      count  bytes
//	 30s   0 15 30                      3      31
//	 60s   15 30 45 60                  4      42
//	 90s   45 60 89 90                  4      41
//	120s   89 90 120                    3      31     (+ dev: 100 → 1, 11 bytes)
func testStore() *memStore {
	s := &memStore{}
	for _, e := range []struct {
		at   int
		line string
	}{
		{0, "level=info"}, {15, "level=error"}, {30, "level=info"}, {45, "level=info"},
		{60, "level=error"}, {89, "level=warn"}, {90, "level=info"}, {120, "level=error"},
	} {
		s.add(prod, time.Duration(e.at)*time.Second, e.line)
	}
	s.add(dev, 100*time.Second, "level=debug")
	s.add(db, 50*time.Second, "level=info")
	return s
}

type pt struct {
	at int // seconds after t0
	v  float64
}

func wantSeries(lbls labels.Labels, pts ...pt) promql.Series {
	s := promql.Series{Metric: lbls}
	for _, p := range pts {
		s.Floats = append(s.Floats, promql.FPoint{T: t0.Add(time.Duration(p.at) * time.Second).UnixMilli(), F: p.v})
	}
	return s
}

func ls(kv ...string) labels.Labels { return labels.FromStrings(kv...) }

// evalTest evaluates query over store from t0+30s to t0+120s, step 30s.
func evalTest(t *testing.T, store func() *memStore) func(query string, want ...promql.Series) {
	return func(query string, want ...promql.Series) {
		t.Helper()
		m, err := ParseMetricQuery(query)
		require.NoError(t, err, query)
		got, err := m.Eval(context.Background(), t0.Add(30*time.Second), t0.Add(120*time.Second), 30*time.Second, store().fetch)
		require.NoError(t, err, query)
		if want == nil {
			want = promql.Matrix{}
		}
		requireMatrix(t, promql.Matrix(want), got, query)
	}
}

func requireMatrix(t *testing.T, want, got promql.Matrix, msg string) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s: got %s", msg, got)
	for i := range want {
		require.Equal(t, want[i].Metric.String(), got[i].Metric.String(), msg)
		require.Equal(t, len(want[i].Floats), len(got[i].Floats), "%s: series %s: got %v", msg, got[i].Metric, got[i].Floats)
		for j, p := range want[i].Floats {
			require.Equal(t, p.T, got[i].Floats[j].T, "%s: series %s point %d", msg, got[i].Metric, j)
			if math.IsNaN(p.F) {
				require.True(t, math.IsNaN(got[i].Floats[j].F), msg)
				continue
			}
			require.InDelta(t, p.F, got[i].Floats[j].F, 1e-9, "%s: series %s point %d", msg, got[i].Metric, j)
		}
	}
}

func TestEvalRangeAggregations(t *testing.T) {
	f := evalTest(t, testStore)
	f(`count_over_time({app="web"}[1m])`,
		wantSeries(dev, pt{120, 1}),
		wantSeries(prod, pt{30, 3}, pt{60, 4}, pt{90, 4}, pt{120, 3}))
	f(`rate({app="web"}[1m])`,
		wantSeries(dev, pt{120, 1.0 / 60}),
		wantSeries(prod, pt{30, 3.0 / 60}, pt{60, 4.0 / 60}, pt{90, 4.0 / 60}, pt{120, 3.0 / 60}))
	f(`bytes_over_time({app="web"}[1m])`,
		wantSeries(dev, pt{120, 11}),
		wantSeries(prod, pt{30, 31}, pt{60, 42}, pt{90, 41}, pt{120, 31}))
	f(`bytes_rate({app="web", env="prod"}[1m])`,
		wantSeries(prod, pt{30, 31.0 / 60}, pt{60, 42.0 / 60}, pt{90, 41.0 / 60}, pt{120, 31.0 / 60}))
	// bytes count the stored line, not the line_format output.
	f(`bytes_over_time({env="dev"} | line_format "{{.app}}{{.app}}{{.app}}" [1m])`, wantSeries(dev, pt{120, 11}))
	// The window is (t-offset-range, t-offset].
	f(`count_over_time({env="prod", app="web"}[1m] offset 30s)`,
		wantSeries(prod, pt{30, 1}, pt{60, 3}, pt{90, 4}, pt{120, 4}))
	// A range shorter than the step leaves entries between windows uncounted.
	f(`count_over_time({app="web"}[10s])`,
		wantSeries(prod, pt{30, 1}, pt{60, 1}, pt{90, 2}, pt{120, 1}))
	// Line filters; steps without entries have no point.
	f(`count_over_time({app="web"} |= "error" [1m])`,
		wantSeries(prod, pt{30, 1}, pt{60, 2}, pt{90, 1}, pt{120, 1}))
	f(`count_over_time({app="web"} |= "warn" [30s])`, wantSeries(prod, pt{90, 1})) // (60s, 90s] only
	f(`count_over_time({app="nothing"}[1m])`)
	// Parsers multiply series: one per label set after the pipeline.
	f(`count_over_time({app="web"} | logfmt [1m])`,
		wantSeries(ls("app", "web", "env", "dev", "level", "debug"), pt{120, 1}),
		wantSeries(ls("app", "web", "env", "prod", "level", "error"), pt{30, 1}, pt{60, 2}, pt{90, 1}, pt{120, 1}),
		wantSeries(ls("app", "web", "env", "prod", "level", "info"), pt{30, 2}, pt{60, 2}, pt{90, 2}, pt{120, 1}),
		wantSeries(ls("app", "web", "env", "prod", "level", "warn"), pt{90, 1}, pt{120, 1}))
	f(`count_over_time({app="web"} | logfmt | level=~"warn|debug" [1m])`,
		wantSeries(ls("app", "web", "env", "dev", "level", "debug"), pt{120, 1}),
		wantSeries(ls("app", "web", "env", "prod", "level", "warn"), pt{90, 1}, pt{120, 1}))
}

func TestEvalVectorAggregations(t *testing.T) {
	f := evalTest(t, testStore)
	f(`sum(count_over_time({app="web"}[1m]))`,
		wantSeries(ls(), pt{30, 3}, pt{60, 4}, pt{90, 4}, pt{120, 4}))
	f(`sum by (app) (count_over_time({app=~"web|db"}[1m]))`,
		wantSeries(ls("app", "db"), pt{60, 1}, pt{90, 1}),
		wantSeries(ls("app", "web"), pt{30, 3}, pt{60, 4}, pt{90, 4}, pt{120, 4}))
	f(`sum without (env) (rate({app="web"}[1m]))`,
		wantSeries(ls("app", "web"), pt{30, 3.0 / 60}, pt{60, 4.0 / 60}, pt{90, 4.0 / 60}, pt{120, 4.0 / 60}))
	f(`sum by (level) (count_over_time({app="web"} | logfmt [1m]))`,
		wantSeries(ls("level", "debug"), pt{120, 1}),
		wantSeries(ls("level", "error"), pt{30, 1}, pt{60, 2}, pt{90, 1}, pt{120, 1}),
		wantSeries(ls("level", "info"), pt{30, 2}, pt{60, 2}, pt{90, 2}, pt{120, 1}),
		wantSeries(ls("level", "warn"), pt{90, 1}, pt{120, 1}))
	f(`sum(count_over_time({app="web"} | logfmt [1m])) by (env, level)`,
		wantSeries(ls("env", "dev", "level", "debug"), pt{120, 1}),
		wantSeries(ls("env", "prod", "level", "error"), pt{30, 1}, pt{60, 2}, pt{90, 1}, pt{120, 1}),
		wantSeries(ls("env", "prod", "level", "info"), pt{30, 2}, pt{60, 2}, pt{90, 2}, pt{120, 1}),
		wantSeries(ls("env", "prod", "level", "warn"), pt{90, 1}, pt{120, 1}))
	f(`avg by (app) (count_over_time({app="web"}[1m]))`,
		wantSeries(ls("app", "web"), pt{30, 3}, pt{60, 4}, pt{90, 4}, pt{120, 2}))
	f(`min(count_over_time({app="web"}[1m]))`, wantSeries(ls(), pt{30, 3}, pt{60, 4}, pt{90, 4}, pt{120, 1}))
	f(`max(count_over_time({app="web"}[1m]))`, wantSeries(ls(), pt{30, 3}, pt{60, 4}, pt{90, 4}, pt{120, 3}))
	f(`count(count_over_time({app="web"}[1m]))`, wantSeries(ls(), pt{30, 1}, pt{60, 1}, pt{90, 1}, pt{120, 2}))
	f(`count by (level) (count_over_time({app="web"} | logfmt [1m]))`,
		wantSeries(ls("level", "debug"), pt{120, 1}),
		wantSeries(ls("level", "error"), pt{30, 1}, pt{60, 1}, pt{90, 1}, pt{120, 1}),
		wantSeries(ls("level", "info"), pt{30, 1}, pt{60, 1}, pt{90, 1}, pt{120, 1}),
		wantSeries(ls("level", "warn"), pt{90, 1}, pt{120, 1}))
	// topk and bottomk choose at every step and keep the series' labels.
	f(`topk(1, count_over_time({app="web"}[1m]))`,
		wantSeries(prod, pt{30, 3}, pt{60, 4}, pt{90, 4}, pt{120, 3}))
	f(`bottomk(1, count_over_time({app="web"}[1m]))`,
		wantSeries(dev, pt{120, 1}),
		wantSeries(prod, pt{30, 3}, pt{60, 4}, pt{90, 4}))
	f(`topk(2, sum by (level) (count_over_time({app="web"} | logfmt [1m])))`,
		// At 120s all four levels have 1: ties go to the smallest labels.
		wantSeries(ls("level", "debug"), pt{120, 1}),
		wantSeries(ls("level", "error"), pt{30, 1}, pt{60, 2}, pt{90, 1}, pt{120, 1}),
		wantSeries(ls("level", "info"), pt{30, 2}, pt{60, 2}, pt{90, 2}))
	f(`topk by (env) (1, count_over_time({app="web"} | logfmt [1m]))`,
		wantSeries(ls("app", "web", "env", "dev", "level", "debug"), pt{120, 1}),
		wantSeries(ls("app", "web", "env", "prod", "level", "error"), pt{60, 2}, pt{120, 1}),
		wantSeries(ls("app", "web", "env", "prod", "level", "info"), pt{30, 2}, pt{90, 2}))
	f(`topk(10, count_over_time({app="web"}[1m]))`,
		wantSeries(dev, pt{120, 1}),
		wantSeries(prod, pt{30, 3}, pt{60, 4}, pt{90, 4}, pt{120, 3}))
	f(`sum(1)`, wantSeries(ls(), pt{30, 1}, pt{60, 1}, pt{90, 1}, pt{120, 1}))
}

func TestEvalBinaryOps(t *testing.T) {
	f := evalTest(t, testStore)
	f(`1 + 2 * 3`, wantSeries(ls(), pt{30, 7}, pt{60, 7}, pt{90, 7}, pt{120, 7}))
	f(`2 > 1`, wantSeries(ls(), pt{30, 1}, pt{60, 1}, pt{90, 1}, pt{120, 1}))
	f(`sum(count_over_time({app="web"} |= "error" [1m])) / sum(count_over_time({app="web"}[1m])) * 100`,
		wantSeries(ls(), pt{30, 100.0 / 3}, pt{60, 50}, pt{90, 25}, pt{120, 25}))
	f(`count_over_time({app="web"}[1m]) * 2`,
		wantSeries(dev, pt{120, 2}),
		wantSeries(prod, pt{30, 6}, pt{60, 8}, pt{90, 8}, pt{120, 6}))
	f(`10 - count_over_time({env="prod"}[1m])`,
		wantSeries(db, pt{60, 9}, pt{90, 9}),
		wantSeries(prod, pt{30, 7}, pt{60, 6}, pt{90, 6}, pt{120, 7}))
	f(`count_over_time({app="web"}[1m]) > 3`, wantSeries(prod, pt{60, 4}, pt{90, 4}))
	f(`3 < count_over_time({app="web"}[1m])`, wantSeries(prod, pt{60, 4}, pt{90, 4}))
	f(`count_over_time({app="web"}[1m]) > bool 3`,
		wantSeries(dev, pt{120, 0}),
		wantSeries(prod, pt{30, 0}, pt{60, 1}, pt{90, 1}, pt{120, 0}))
	f(`count_over_time({app="web"}[1m]) / 0`,
		wantSeries(dev, pt{120, math.NaN()}),
		wantSeries(prod, pt{30, math.NaN()}, pt{60, math.NaN()}, pt{90, math.NaN()}, pt{120, math.NaN()}))
	// One-to-one matching on all labels.
	f(`count_over_time({app="web"} |= "error" [1m]) / count_over_time({app="web"}[1m])`,
		wantSeries(prod, pt{30, 1.0 / 3}, pt{60, 0.5}, pt{90, 0.25}, pt{120, 1.0 / 3}))
	f(`count_over_time({app="web"}[1m]) >= count_over_time({app="web"}[1m] offset 30s)`,
		wantSeries(prod, pt{30, 3}, pt{60, 4}, pt{90, 4}))
	// Each series' share of its app.
	f(`count_over_time({app="web"}[1m]) / on (app) group_left sum by (app) (count_over_time({app="web"}[1m]))`,
		wantSeries(dev, pt{120, 0.25}),
		wantSeries(prod, pt{30, 1}, pt{60, 1}, pt{90, 1}, pt{120, 0.75}))
	f(`sum by (app) (count_over_time({app="web"}[1m])) - on (app) group_right count_over_time({app="web"}[1m])`,
		wantSeries(dev, pt{120, 3}),
		wantSeries(prod, pt{30, 0}, pt{60, 0}, pt{90, 0}, pt{120, 1}))
	f(`count_over_time({app="web", env="prod"}[1m]) + ignoring (app) count_over_time({app="web", env="prod"}[1m])`,
		wantSeries(ls("env", "prod"), pt{30, 6}, pt{60, 8}, pt{90, 8}, pt{120, 6}))
	// Set operations.
	f(`count_over_time({app="web"}[1m]) and count_over_time({env="dev"}[1m])`, wantSeries(dev, pt{120, 1}))
	f(`count_over_time({env="dev"}[1m]) or count_over_time({app="web"}[1m])`,
		wantSeries(dev, pt{120, 1}),
		wantSeries(prod, pt{30, 3}, pt{60, 4}, pt{90, 4}, pt{120, 3}))
	f(`count_over_time({app="web"}[1m]) unless count_over_time({env="dev"}[1m])`,
		wantSeries(prod, pt{30, 3}, pt{60, 4}, pt{90, 4}, pt{120, 3}))
	f(`count_over_time({app="web"}[1m]) unless on (app) count_over_time({env="dev"}[1m])`,
		wantSeries(prod, pt{30, 3}, pt{60, 4}, pt{90, 4}))
}

func TestEvalBinaryErrors(t *testing.T) {
	f := func(query, want string) {
		t.Helper()
		m, err := ParseMetricQuery(query)
		require.NoError(t, err)
		_, err = m.Eval(context.Background(), t0.Add(30*time.Second), t0.Add(120*time.Second), 30*time.Second, testStore().fetch)
		require.EqualError(t, err, want)
	}
	f(`count_over_time({app="web"}[1m]) / on (app) count_over_time({app="web"}[1m])`,
		`found duplicate series on the right hand-side of the operation "/" at 2024-05-01T12:02:00Z; many-to-many matching not allowed: matching labels must be unique on one side`)
	f(`count_over_time({app="web"}[1m]) / on (app) sum by (app) (count_over_time({app="web"}[1m]))`,
		`multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)`)
}

func TestEvalSteps(t *testing.T) {
	store := testStore()
	m, err := ParseMetricQuery(`count_over_time({app="web"}[1m])`)
	require.NoError(t, err)
	ctx := context.Background()

	// Instant query: step is ignored.
	got, err := m.Eval(ctx, t0.Add(60*time.Second), t0.Add(60*time.Second), 0, store.fetch)
	require.NoError(t, err)
	requireMatrix(t, promql.Matrix{wantSeries(prod, pt{60, 4})}, got, "instant")
	require.Equal(t, []fetchCall{{`{app="web"}`, t0, t0.Add(60 * time.Second)}}, store.calls)

	// An entry exactly at the step time counts; one exactly range earlier does not.
	got, err = m.Eval(ctx, t0.Add(75*time.Second), t0.Add(75*time.Second), time.Minute, store.fetch)
	require.NoError(t, err)
	requireMatrix(t, promql.Matrix{wantSeries(prod, pt{75, 3})}, got, "instant 75s") // (15s, 75s]: 30 45 60
	got, err = m.Eval(ctx, t0.Add(120*time.Second), t0.Add(120*time.Second), time.Minute, store.fetch)
	require.NoError(t, err)
	requireMatrix(t, promql.Matrix{wantSeries(dev, pt{120, 1}), wantSeries(prod, pt{120, 3})}, got, "instant 120s")

	// Steps that do not divide the range; end is not on the step grid.
	store.calls = nil
	got, err = m.Eval(ctx, t0.Add(10*time.Second), t0.Add(100*time.Second), 40*time.Second, store.fetch)
	require.NoError(t, err)
	// steps 10s (-50,10]: 0 → 1; 50s (-10,50]: 0 15 30 45 → 4; 90s (30,90]: 45 60 89 90 → 4; dev@100 is after the last step.
	requireMatrix(t, promql.Matrix{wantSeries(prod, pt{10, 1}, pt{50, 4}, pt{90, 4})}, got, "step 40s")
	require.Equal(t, []fetchCall{{`{app="web"}`, t0.Add(-50 * time.Second), t0.Add(90 * time.Second)}}, store.calls)

	// Entries delivered out of order give the same result.
	unordered := testStore()
	unordered.unordered = true
	unordered.add(prod, 5*time.Second, "late")
	sorted := testStore()
	sorted.add(prod, 5*time.Second, "late")
	q, err := ParseMetricQuery(`sum(count_over_time({app="web"}[1m]))`)
	require.NoError(t, err)
	a, err := q.Eval(ctx, t0, t0.Add(2*time.Minute), 5*time.Second, unordered.fetch)
	require.NoError(t, err)
	b, err := q.Eval(ctx, t0, t0.Add(2*time.Minute), 5*time.Second, sorted.fetch)
	require.NoError(t, err)
	requireMatrix(t, b, a, "unordered")
	require.Len(t, a[0].Floats, 25)

	// Bad time ranges.
	_, err = m.Eval(ctx, t0, t0.Add(-time.Second), time.Second, store.fetch)
	require.EqualError(t, err, "invalid time range: end 2024-05-01T11:59:59Z is before start 2024-05-01T12:00:00Z")
	_, err = m.Eval(ctx, t0, t0.Add(time.Minute), 0, store.fetch)
	require.EqualError(t, err, "invalid step 0s: must be positive for a range query")
}

func TestEvalErrors(t *testing.T) {
	ctx := context.Background()
	store := testStore()
	store.add(prod, 70*time.Second, "not json")
	eval := func(q string, opts EvalOptions) (promql.Matrix, error) {
		m, err := ParseMetricQuery(q)
		require.NoError(t, err)
		return m.EvalWithOptions(ctx, t0.Add(30*time.Second), t0.Add(120*time.Second), 30*time.Second, store.fetch, opts)
	}

	// Entries that keep a pipeline error fail the query, as in Loki ...
	_, err := eval(`sum by (env) (count_over_time({app="web"} | json [1m]))`, DefaultEvalOptions())
	var pe *PipelineError
	require.True(t, errors.As(err, &pe), "%v", err)
	require.Equal(t, ErrJSONParser, pe.ErrorType)
	require.Contains(t, err.Error(), "pipeline error: 'JSONParserErr' for series: '{__error__=\"JSONParserErr\"")
	_, err = eval(`count_over_time({app="web"} | logfmt --strict [1m])`, DefaultEvalOptions())
	require.NoError(t, err)
	_, err = eval(`count_over_time({app="web"} |= "json" | logfmt --strict | line_format "{{.x}}" [1m])`, DefaultEvalOptions())
	require.NoError(t, err)
	_, err = eval(`rate({app="web"} | json [1m])`, DefaultEvalOptions())
	require.True(t, errors.As(err, &pe), "%v", err)
	// ... except where no label the parser extracts can matter: like
	// Loki's parser hints, a sum without grouping skips the parser.
	got, err := eval(`sum(count_over_time({app="web"} | json [1m]))`, DefaultEvalOptions())
	require.NoError(t, err)
	requireMatrix(t, promql.Matrix{wantSeries(ls(), pt{30, 3}, pt{60, 4}, pt{90, 5}, pt{120, 5})}, got, "sum json")
	_, err = eval(`sum(count_over_time({app="web"} | json | level!="info" [1m]))`, DefaultEvalOptions())
	require.True(t, errors.As(err, &pe), "%v", err)
	// ... unless they are filtered out.
	got, err = eval(`sum(count_over_time({app="web"} | json | __error__="" [1m]))`, DefaultEvalOptions())
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = eval(`sum(count_over_time({app="web"} | json | __error__!="" [1m]))`, DefaultEvalOptions())
	require.Error(t, err)
	require.Nil(t, got)

	// Series limit: the logfmt labels make 5 series (4 levels, and the
	// "not json" line without one).
	_, err = eval(`count_over_time({app="web"} | logfmt | __error__="" [1m])`, EvalOptions{MaxSeries: 5})
	require.NoError(t, err)
	_, err = eval(`count_over_time({app="web"} | logfmt | __error__="" [1m])`, EvalOptions{MaxSeries: 3})
	var le *LimitError
	require.True(t, errors.As(err, &le), "%v", err)
	require.Equal(t, "MaxSeries", le.Limit)
	require.Contains(t, err.Error(), "maximum number of series (3) reached for a single query (limit MaxSeries)")
	// sum is pushed into the extraction, so its input never has 4 series.
	_, err = eval(`sum(count_over_time({app="web"} | logfmt | __error__="" [1m]))`, EvalOptions{MaxSeries: 1})
	require.NoError(t, err)
	_, err = eval(`max(count_over_time({app="web"} | logfmt | __error__="" [1m]))`, EvalOptions{MaxSeries: 1})
	require.True(t, errors.As(err, &le), "%v", err)

	// Step limit.
	m, err := ParseMetricQuery(`count_over_time({app="web"}[1m])`)
	require.NoError(t, err)
	_, err = m.Eval(ctx, t0, t0.Add(24*time.Hour), time.Second, store.fetch)
	require.True(t, errors.As(err, &le), "%v", err)
	require.Equal(t, "MaxSteps", le.Limit)
	require.EqualError(t, err, "query would evaluate 86401 steps per series, more than the limit of 11000 (limit MaxSteps); try increasing the step or reducing the time range")
	_, err = m.EvalWithOptions(ctx, t0, t0.Add(24*time.Hour), time.Second, store.fetch, EvalOptions{})
	require.NoError(t, err)

	// Fetch errors and cancellation come back as they are.
	boom := errors.New("boom")
	_, err = m.Eval(ctx, t0, t0.Add(time.Minute), time.Second,
		func(context.Context, []*labels.Matcher, time.Time, time.Time, func(Entry) error) error { return boom })
	require.ErrorIs(t, err, boom)
	big := &memStore{}
	for i := 0; i < 3*ctxCheckInterval; i++ {
		big.add(prod, time.Duration(i)*time.Millisecond, "x")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = m.Eval(cctx, t0, t0.Add(time.Minute), time.Second, big.fetch)
	require.ErrorIs(t, err, context.Canceled)
}

func TestEvalSelectorsAndFetches(t *testing.T) {
	store := testStore()
	m, err := ParseMetricQuery(`sum(rate({app="web"}[5m] offset 1m)) / sum(rate({app=~"web|db"}[1m]))`)
	require.NoError(t, err)
	var sels []string
	for _, s := range m.Selectors() {
		sels = append(sels, matchersString(s))
	}
	require.Equal(t, []string{`{app="web"}`, `{app=~"web|db"}`}, sels)
	_, err = m.Eval(context.Background(), t0.Add(10*time.Minute), t0.Add(20*time.Minute), time.Minute, store.fetch)
	require.NoError(t, err)
	require.Equal(t, []fetchCall{
		{`{app="web"}`, t0.Add(4 * time.Minute), t0.Add(19 * time.Minute)},
		{`{app=~"web|db"}`, t0.Add(9 * time.Minute), t0.Add(20 * time.Minute)},
	}, store.calls)
}

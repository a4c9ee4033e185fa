package shard

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// Engine is a promql.QueryEngine that evaluates the shardable aggregations
// of a query on shards of its series in parallel (see the package comment) and
// passes every other query to QueryEngine unchanged.
//
// QueryEngine must not bound how many queries run at once (Prometheus'
// ActiveQueryTracker): a split query's shards would wait for slots that
// split queries hold.
type Engine struct {
	promql.QueryEngine
	// Shards is how many shards a range query's parts are split into;
	// below 2 nothing is split. An evaluation holds every step of its
	// shard's series, so more shards than run at once hold less memory
	// at once; each costs a pass over the selected postings of the head.
	// The parts direct.go evaluates, which hold only their groups' steps,
	// and a query split series by series, whose result holds every
	// series' steps anyway, are split into no more shards than run at
	// once (see newQuery).
	Shards int
	// Parallel is how many evaluations of one query run at once; 0 for
	// as many as Go has cores. An instant query, which holds a point a
	// series, is split into no more shards than that: the final
	// evaluation reads every shard's groups.
	Parallel int
	// Timeout bounds a split query's evaluations together, as the
	// engine's bounds one query's; 0 for no bound of their own.
	Timeout time.Duration
	// MaxSamples is the engine's -query.max-samples. A range query's
	// parts that direct.go evaluates hold no more points than that,
	// and leave a query that would hold more to the engine; 0 leaves
	// every part to the engine.
	MaxSamples int
	// LookbackDelta is the engine's, for the parts direct.go evaluates
	// (0 for the engine's default, 5 minutes); a query's own replaces it.
	LookbackDelta time.Duration
}

func (e Engine) NewInstantQuery(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, ts time.Time) (promql.Query, error) {
	return e.newQuery(ctx, q, opts, qs, ts, ts, 0)
}

func (e Engine) NewRangeQuery(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, start, end time.Time, step time.Duration) (promql.Query, error) {
	return e.newQuery(ctx, q, opts, qs, start, end, step)
}

// newQuery splits qs, or returns the engine's query of it if it has no
// shardable part. A step of 0 is an instant query at start.
func (e Engine) newQuery(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, start, end time.Time, step time.Duration) (promql.Query, error) {
	newQuery := func(q storage.Queryable, qs string) (promql.Query, error) {
		if step == 0 {
			return e.QueryEngine.NewInstantQuery(ctx, q, opts, qs, start)
		}
		return e.QueryEngine.NewRangeQuery(ctx, q, opts, qs, start, end, step)
	}
	parallel := e.Parallel
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	shards := e.Shards
	if step == 0 {
		shards = min(shards, parallel)
	}
	if shards < 2 {
		return newQuery(q, qs)
	}
	expr, err := parser.ParseExpr(qs)
	if err != nil {
		return newQuery(q, qs) // which names the error as Prometheus does
	}
	parts := split(expr)
	if len(parts) == 0 {
		return newQuery(q, qs)
	}
	r := newRun(q, start, end, step, len(parts))
	sq := &query{qs: qs, run: r, parallel: parallel, timeout: e.Timeout, partials: make([][]promql.Query, len(parts)), whole: parts[0].whole}
	lookback := e.LookbackDelta
	if lookback <= 0 {
		lookback = 5 * time.Minute // the engine's default
	}
	if opts != nil && opts.LookbackDelta() > 0 {
		lookback = opts.LookbackDelta()
	}
	for i, p := range parts {
		direct := p.direct != nil && e.MaxSamples > 0
		n := shards
		if direct || p.whole {
			// Each shard costs a pass over the postings its selector
			// selects in the head, and a lookup of every series in it:
			// with 8 shards instead of 2, a tenth of a 1-hour sum by
			// (job, code) (rate(...))'s CPU. A direct evaluation holds
			// only its groups' steps, and a whole query's result holds
			// every series' steps anyway, so more shards than run at
			// once would save them no memory. (An evaluation that goes
			// to the engine after all holds a bigger shard's series.)
			n = min(shards, parallel)
		}
		for j := range n {
			engineQuery := func() (promql.Query, error) { return newQuery(r.shard(j, n), p.expr) }
			if direct {
				sq.partials[i] = append(sq.partials[i], &directQuery{
					p: p.direct, lookback: lookback, expr: p.expr, q: r.shard(j, n),
					start: r.start, end: r.end, step: r.step, maxSamples: e.MaxSamples, engine: engineQuery,
				})
				continue
			}
			pq, err := engineQuery()
			if err != nil {
				sq.Close()
				return nil, err
			}
			sq.partials[i] = append(sq.partials[i], pq)
		}
	}
	// A whole query's final "evaluation" is its shards' results together:
	// the embedded query is the unsplit one, for its statement, and is
	// not executed.
	if sq.Query, err = newQuery(r.shard(0, 0), expr.String()); err != nil {
		sq.Close()
		return nil, err
	}
	return sq, nil
}

// query is a split query: its parts' evaluations on every shard, then the
// final evaluation (the embedded promql.Query) over their results; or,
// for a whole query, its shards' results together.
type query struct {
	promql.Query
	qs       string
	run      *run
	parallel int
	timeout  time.Duration
	partials [][]promql.Query // [part][shard]; each nil once closed
	whole    bool             // partials is the query's one part, the whole query

	mu     sync.Mutex
	cancel context.CancelFunc // guarded by mu; of the running Exec
}

// Exec evaluates the parts on their shards, Parallel at a time, then the
// query over their results. The first error stops the other evaluations
// and is the query's.
func (q *query) Exec(ctx context.Context) *promql.Result {
	if q.timeout > 0 {
		// The engine answers the deadline as its own timeout.
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithTimeout(ctx, q.timeout)
		defer cancelTimeout()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q.mu.Lock()
	q.cancel = cancel
	q.mu.Unlock()
	defer q.run.close()

	warnings, err := q.evalPartials(ctx, cancel)
	if err != nil {
		return &promql.Result{Err: err, Warnings: warnings}
	}
	if q.whole {
		return &promql.Result{Value: q.run.union(), Warnings: warnings}
	}
	res := q.Query.Exec(ctx)
	res.Warnings.Merge(warnings)
	return res
}

func (q *query) evalPartials(ctx context.Context, cancel context.CancelFunc) (warnings annotations.Annotations, firstErr error) {
	results := make([][][]storage.Series, len(q.partials)) // [part][shard]
	var mu sync.Mutex                                      // guards warnings and firstErr
	var wg sync.WaitGroup
	slots := make(chan struct{}, q.parallel)
	for i := range q.partials {
		results[i] = make([][]storage.Series, len(q.partials[i]))
		for j := range q.partials[i] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				slots <- struct{}{}
				defer func() { <-slots }()
				pq := q.partials[i][j]
				res := pq.Exec(ctx)
				if res.Err == nil && q.whole {
					// The engine takes its result's memory back when its
					// query is closed; a direct evaluation's is its own.
					d, direct := pq.(*directQuery)
					q.run.addWhole(res.Value, !direct || d.fallback != nil)
				} else if res.Err == nil {
					results[i][j] = q.run.series(res.Value, j)
				}
				pq.Close() // the results are copied
				q.partials[i][j] = nil
				mu.Lock()
				defer mu.Unlock()
				warnings.Merge(res.Warnings)
				if res.Err != nil && firstErr == nil {
					firstErr = res.Err
					cancel()
				}
			}()
		}
	}
	wg.Wait()
	if firstErr == nil {
		q.run.setResults(results)
	}
	return warnings, firstErr
}

// Cancel stops the running Exec, its parts' evaluations included.
func (q *query) Cancel() {
	q.mu.Lock()
	if q.cancel != nil {
		q.cancel()
	}
	q.mu.Unlock()
	q.Query.Cancel()
}

// Close recovers the memory of the final result and of any part not
// evaluated.
func (q *query) Close() {
	for _, shards := range q.partials {
		for _, pq := range shards {
			if pq != nil {
				pq.Close()
			}
		}
	}
	if q.Query != nil {
		q.Query.Close()
	}
}

// String is the query as asked, not as rewritten.
func (q *query) String() string { return q.qs }

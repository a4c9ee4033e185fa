// Package traceql implements the subset of Grafana Tempo's TraceQL that
// trace search and TraceQL metrics need (Grafana's Tempo datasource, its
// search builder, hand-written spanset and metrics queries, and the Traces
// Drilldown app), with Tempo's syntax and semantics. Tempo's
// own parser cannot be imported (its module needs dependency versions that
// do not build with ours), so this is a separate implementation checked
// against Tempo's grammar and evaluation rules.
//
// Entry points:
//
//   - Parse parses a query into a *Query. Errors are *ParseError (with
//     Tempo's "parse error at line 1, col 14: syntax error: unexpected ..."
//     shape) or *UnsupportedError for valid TraceQL this package does not
//     implement (`unsupported TraceQL: "| count()"`).
//   - Query.Match evaluates the query over all the spans of one trace and
//     returns the indices of the matching spans, or nil when the trace does
//     not match.
//   - Query.Conditions lists conditions that some span of every matching
//     trace meets, so a store can skip traces before calling Match.
//   - Query.String prints the query in canonical form.
//   - ParseTagFilter reads the q of Tempo's tag autocomplete requests
//     leniently (what the user is still typing), and MatchSpans runs a
//     query over a fetcher's spansets, handing over the matched spans.
//   - Metrics evaluates a metrics query ({...} | rate() by (...)) over a
//     time range at steps, as Tempo's query_range and instant queries do,
//     streaming over the spansets a SpansetFetcher returns: it keeps a
//     value (or a histogram of power-of-two buckets) per series and step,
//     at most MaxSeries series (past them the result is partial), and up
//     to a number of exemplars. Query.IsMetrics tells a metrics query.
//   - Search is the engine: it runs a query over the spansets a
//     SpansetFetcher (the trace store) returns for the query's conditions,
//     and returns trace summaries (root service and span name, start,
//     duration, matched spans), newest first, up to a limit. This is Tempo's
//     split between its engine and its storage: the store narrows down
//     candidates with what it can check (time range, conditions), the
//     engine evaluates the whole query (spanset filters, && and || between
//     spansets, >, trace-level intrinsics). StoredValue is how the engine
//     types stored attribute values.
//
// Supported:
//
//   - Spanset filters { <condition> } and {} (every span).
//   - Conditions <field> <op> <literal> with = != > >= < <= =~ !~ (a
//     literal on the left, 500 <= span.code, is turned around), joined by
//     && and || with parentheses inside one filter. As in Tempo's grammar
//     && and || have the SAME precedence and associate to the left:
//     { .a = 1 || .b = 2 && .c = 3 } is { (.a = 1 || .b = 2) && .c = 3 };
//     String() prints such parentheses explicitly. { true }, { false } and
//     a lone attribute { .cache_hit } (true when it is the boolean true) are
//     accepted as in Tempo.
//   - Fields: span.<name>, resource.<name> and unscoped .<name> (the span
//     attribute when the span has one by that name, else the resource
//     attribute, as Tempo's span.AttributeFor). Names run to the next blank
//     or one of {}()=~!<>&|^, so dots and dashes are part of them
//     (span.http.status_code); "quoted" parts may hold anything
//     (span."my attr", with \" and \\ escapes). Intrinsics: name, status,
//     statusMessage, duration, kind, traceDuration (latest span end minus
//     earliest span start), rootName and rootServiceName (from the first span
//     with an all-zero ParentSpanID; "" when the trace has no root, as Tempo
//     stores it), and their scoped spellings span:name, span:status,
//     span:statusMessage, span:duration, span:kind, trace:duration,
//     trace:rootName, trace:rootService.
//   - Literals: "double-quoted" (Go escapes) and `backtick` strings,
//     integers, floats (1.5, .5, 1e3), -negated numbers, true, false,
//     durations (10ns, 500us, 500µs, 100ms, 1.5s, 2m, 1h30m, and Prometheus'
//     2d, 1w, 1y), status keywords ok, error, unset and kind keywords server,
//     client, producer, consumer, internal, unspecified.
//   - Type-aware comparisons as in Tempo: ints, floats and durations compare
//     as numbers (a duration is its nanoseconds, so span.latency_ns > 1ms
//     works on an int attribute); strings compare lexically with > >= < <=;
//     =~ and !~ match the whole string (the pattern is anchored, and "."
//     matches newlines, as Tempo's Prometheus-style matchers); booleans,
//     statuses and kinds only compare with = and !=. A comparison with a
//     missing attribute, or between incompatible types, is false whatever
//     the operator (so `.missing != "x"` is false). Comparisons whose types
//     are wrong whatever the data (name = 5, status > ok, .a =~ 5,
//     .a > true) and invalid regular expressions are parse errors, as in
//     Tempo's validation.
//   - Between spansets: {A} && {B} (the trace has a span matching A and a
//     span matching B; the result is the union of those spans), {A} || {B}
//     (union) and the structural operators, which keep the spans matching
//     B that stand in a relation to some span matching A: {A} > {B} (B's
//     direct parent matches A), {A} < {B} (B is the direct parent of an A),
//     {A} >> {B} (B descends from an A), {A} << {B} (B is an ancestor of an
//     A), {A} ~ {B} (B has a sibling, another span with the same parent,
//     matching A), their union forms &>, &<, &>>, &<<, &~, which keep
//     the related spans of both sides (Traces Drilldown's structure tab
//     sends {root} &>> {...}), and the negated forms Tempo calls
//     experimental, !>, !<, !>>, !<<, !~, which keep the spans matching B
//     that stand in the relation to no span matching A (nothing when no
//     span matches A, as for the others). Parents are found by ParentSpanID
//     among the spans matched together, so when a trace comes in several
//     spansets (one per segment, see Search) a relation across two of them
//     is not seen: {A} > {B} misses such a B, and {A} !> {B} keeps it. && and || share a precedence and the structural operators
//     share a higher one, all associating to the left, as in Tempo:
//     {A} || {B} && {C} is ({A} || {B}) && {C}, {A} && {B} > {C} is
//     {A} && ({B} > {C}) and {A} > {B} >> {C} is ({A} > {B}) >> {C}.
//   - | select(field, ...) after a search's spanset expression (several
//     selects run together): the search returns the selected fields among
//     the attributes of each matched span, after the fields the query
//     tests (Query.Selected); select does not change what matches. As
//     Tempo leaves out a selected field a span does not have, select()
//     accepts the intrinsics Sightline does not keep (nestedSetLeft,
//     nestedSetRight, nestedSetParent, which Traces Drilldown selects,
//     span:id, childCount, ...) and leaves them out. select() inside
//     parentheses or before a metrics function is unsupported.
//   - Aggregate filters after a search's spanset expression, as Tempo's
//     docs' "Aggregators": | count() op n, | avg(f) op n, | min(f) op n,
//     | max(f) op n and | sum(f) op n with = != > >= < <=, n a number or a
//     duration, f a field. The aggregate is computed over the spans the
//     expression before it matched (its spanset) and the spanset is
//     dropped when the comparison is false; otherwise it passes unchanged.
//     Spans whose field is missing or not a number are left out of avg,
//     min, max and sum (with none left the comparison is false); durations
//     aggregate as durations. Stages chain, with selects among them:
//     {...} | count() > 1 | select(.a) | avg(duration) > 1s. A trace that
//     comes in several spansets (one per segment, see Search) is
//     aggregated per spanset, so count() counts the spans of one segment.
//     Aggregate filters inside parentheses or before a metrics function are
//     unsupported.
//   - Spanset expressions as pipeline stages, {A} | {B} (Tempo's "pipeline
//     of spanset filters"): the expression after | runs over the spans the
//     stage before it kept, so its structural operators relate those spans
//     only and && needs both sides among them; trace-level intrinsics still
//     read the whole trace. A spanset left with no span is dropped.
//   - | coalesce(), which merges a trace's spansets into one: with no by()
//     a trace has one spanset here, so it keeps the spanset as it is.
//   - // and /* */ comments, as Tempo's lexer skips them.
//   - Existence tests <field> != nil and <field> = nil, and the comparisons
//     of nestedSetParent that only tell a root span from the others
//     (nestedSetParent < 0, = -1, >= 0, ...), which Grafana's Traces
//     Drilldown writes; Sightline keeps no nested set numbers, so other
//     comparisons of nestedSetParent are unsupported.
//   - Metrics queries: a spanset expression followed by | and one of
//     rate(), count_over_time(), sum_over_time(f), avg_over_time(f),
//     min_over_time(f), max_over_time(f), quantile_over_time(f, q...),
//     histogram_over_time(f) (each optionally followed by by (fields...),
//     possibly empty) or compare({filter}[, topN[, start, end]]), then any
//     number of | topk(k) and | bottomk(k), then an optional with (...) of
//     query hints, which are accepted and ignored. Series are labelled as
//     Tempo labels them: by() fields by their TraceQL names,
//     {__name__="rate"} without by(), p for quantiles, __bucket (seconds
//     for durations) for histograms, __meta_type for compare. Durations
//     aggregate in seconds; a span whose field is missing or not a number
//     is left out of the *_over_time functions.
//
// Rejected with *UnsupportedError (Feature in parentheses): "| by()" (a
// trace's matches are one spanset in Search's results, and by() makes
// several), "| count() after a metrics function", "search pipeline
// (aggregate, | { }, coalesce()) before a metrics function" and pipeline
// stages inside parentheses ("| count()", "| { } (pipeline of spanset
// filters)"), functions at the start
// of a query ("count()", "by()", "rate()", ...), query hints on a search
// ("with() (query hints)"), "nil" other than in field != nil and
// field = nil, arithmetic ("+ (arithmetic)", "- (negation)", ...), "!
// (not)", chained comparisons, comparisons of two fields or of two literals,
// a regular expression taken from a field, parent., event., link. and
// instrumentation. attributes, and the intrinsics childCount, parent,
// nestedSetLeft, nestedSetRight, span:id, span:parentID, span:childCount,
// trace:id, event:*, link:* and instrumentation:* (other than in
// select(), which leaves them out), minInt and maxInt.
package traceql

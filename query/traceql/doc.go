// Package traceql implements the subset of Grafana Tempo's TraceQL that
// trace search needs (Grafana's Tempo datasource, its search builder and
// hand-written spanset queries), with Tempo's syntax and semantics. Tempo's
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
//     (union) and the child operator {A} > {B} (spans matching B whose
//     direct parent matches A), with parentheses. && and || share a
//     precedence and > binds more tightly, all associating to the left, as
//     in Tempo: {A} || {B} && {C} is ({A} || {B}) && {C} and
//     {A} && {B} > {C} is {A} && ({B} > {C}).
//   - // and /* */ comments, as Tempo's lexer skips them.
//
// Rejected with *UnsupportedError (Feature in parentheses): pipelines of any
// kind ("| count()", "| avg()", "| min()", "| max()", "| sum()",
// "| by()", "| select()", "| coalesce()", "| { } (pipeline of spanset
// filters)"), metrics functions ("| rate()", "| count_over_time()",
// "| quantile_over_time()", ..., "| compare()", "| topk()"; also at the
// start of a query: "count()", "by()", "rate()", ...), query hints
// ("with() (query hints)"), the structural operators other than > (">>
// (descendant)", "< (parent)", "<< (ancestor)", "~ (sibling)", "!> (not
// child)", "!< (not parent)", "!>> (not descendant)", "!<< (not
// ancestor)", "!~ (not sibling)", "&> (union child)", "&< (union parent)",
// "&>> (union descendant)", "&<< (union ancestor)", "&~ (union sibling)"),
// "nil" (existence tests such as .a != nil), arithmetic ("+ (arithmetic)",
// "- (negation)", ...), "! (not)", chained comparisons, comparisons of two
// fields or of two literals, a regular expression taken from a field,
// parent., event., link. and instrumentation. attributes, and the intrinsics
// childCount, parent, nestedSet*, span:id, span:parentID, span:childCount,
// trace:id, event:*, link:* and instrumentation:*, minInt and maxInt.
package traceql

// Package logql implements the subset of Loki's LogQL that Grafana's Loki
// datasource and logcli need, with Loki's syntax and semantics. Loki's own
// parser cannot be imported (Loki v3 pins Prometheus and gRPC versions that
// conflict with ours), so this is a separate implementation checked against
// Loki's behaviour.
//
// Entry points:
//
//   - ParseExpr parses a query into a *LogQuery or a *MetricQuery
//     (ParseLogQuery and ParseMetricQuery when the kind is known). Errors are
//     *ParseError (with Loki's "parse error at line 1, col 12: ..." text) or
//     *UnsupportedError for valid LogQL this package does not implement.
//   - LogQuery.Process runs a log pipeline over one Entry: the HTTP layer
//     fetches entries with LogQuery.Matchers and keeps what Process keeps.
//   - MetricQuery.Eval (or EvalWithOptions, with EvalOptions limits) evaluates
//     a metric query at every step of a range through a FetchFunc and returns
//     a promql.Matrix; MetricQuery.Selectors lists the stream selectors for
//     planning. With EvalOptions.Count, range aggregations summed by labels
//     whose pipeline does not need the line are counted through a
//     CountFunc (a store's per-entry stream and size columns) instead.
//
// Supported:
//
//   - Stream selectors {a="v", b!="v", c=~"re", d!~"re"}; at least one
//     matcher must not match the empty string, as Loki requires.
//   - Line filters |= != |~ !~ with "double-quoted" (Go escapes) or
//     `backtick` strings, chained, and Loki 3's |= "a" or "b".
//   - Parsers | json (nested keys joined with "_", arrays and null skipped)
//     and | logfmt [--strict] [--keep-empty]; keys are sanitised to label
//     names, a key that clashes with an entry label gets the "_extracted"
//     suffix, the first value extracted for a name wins, and a line that does
//     not parse gets __error__="JSONParserErr" (or "LogfmtParserErr" with
//     --strict) plus __error_details__, as in Loki.
//   - Label filters: = != =~ !~ "string"; == != > >= < <= with numbers,
//     durations (1.5s, 5m) and byte sizes (10KB, 1MiB); combined with and,
//     or, "," and juxtaposition (with Loki's precedence), parentheses;
//     | __error__="" to drop errored lines. A value that does not convert
//     marks the line with __error__="LabelFilterErr".
//   - | line_format "{{.level}} {{.msg}}" with Go text/template over the
//     current labels, __line__, __timestamp__ and Loki's string functions
//     (ToUpper, ToLower, Replace, Trim*, regexReplaceAll, lower, upper,
//     title, trunc, substr, contains, replace, repeat, default, ...).
//   - | drop a, b="v", c=~"re" removes labels (those with a matcher when
//     it matches); | drop __error__ clears a pipeline error.
//   - Range aggregations count_over_time, rate, bytes_over_time, bytes_rate
//     over [range] with optional offset; the window at step t is
//     (t-offset-range, t-offset], series labels are the entries' labels after
//     the pipeline, steps without entries have no point, and an entry that
//     still carries __error__ fails the query with a *PipelineError.
//   - Vector aggregations sum, avg, min, max, count, topk, bottomk with
//     by (...) / without (...) before or after the argument.
//   - Number literals and binary operations + - * / % ^ == != > >= < <=
//     (with bool) and, or, unless, with on/ignoring and
//     group_left/group_right, PromQL-style (division by zero is NaN, as in
//     Loki).
//
// Rejected with *UnsupportedError: the pattern, regexp and unpack parsers,
// json/logfmt with parameters, unwrap and the range functions that need it
// (sum_over_time, quantile_over_time, ...), absent_over_time, label_format,
// keep, decolorize, ip(), the |> and !> pattern filters, stddev,
// stdvar, sort, sort_desc, approx_topk, label_replace, vector(), subqueries
// and line_format functions such as toDate.
//
// Entry.Labels holds stream labels and structured metadata together, so a
// parsed key that clashes with either gets the "_extracted" suffix, and a
// metric query's series include structured metadata, both as in Loki 3.
package logql

// Package logql implements Loki's LogQL, with Loki's syntax and
// semantics. Loki's own parser cannot be imported (Loki v3 pins Prometheus
// and gRPC versions that conflict with ours), so this is a separate
// implementation checked against Loki's documentation
// (conformance_test.go, conformance_metric_test.go).
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
// Supported (Loki's LogQL as documented, with the exceptions below):
//
//   - Stream selectors {a="v", b!="v", c=~"re", d!~"re"}; at least one
//     matcher must not match the empty string, as Loki requires.
//   - Line filters |= != |~ !~ with "double-quoted" (Go escapes) or
//     `backtick` strings, chained, and Loki 3's |= "a" or "b"; pattern
//     filters |> "<_> error <_>" and !> (or-able too; <_> only, each
//     matching at least one character); |= ip("10.0.0.0/8") and
//     != ip(...) with an address, a CIDR or a range a-b, IPv4 or IPv6.
//   - Parsers | json (nested keys joined with "_", arrays and null skipped)
//     and | json a="b.c[0]", d (JSON paths; objects and arrays as their
//     text, a missing path as ""), | logfmt [--strict] [--keep-empty]
//     [a="key", b], | regexp "(?P<name>...)", | pattern "<a> - <_>"
//     (anchored at the start; a literal not found gives the rest of the
//     line to the capture before it), and | unpack (for a line with an
//     _entry field: _entry becomes the line, the other string fields
//     labels). Keys are sanitised
//     to label names, a key that clashes with an entry label gets the
//     "_extracted" suffix, the first value extracted for a name wins, and a
//     line that does not parse gets __error__="JSONParserErr" (or
//     "LogfmtParserErr" with --strict) plus __error_details__, as in Loki.
//   - Label filters: = != =~ !~ "string"; == != > >= < <= with numbers,
//     durations (1.5s, 5m) and byte sizes (10KB, 20kb, 1MiB); = and !=
//     ip("..."); combined with and, or (either case), "," and
//     juxtaposition (with Loki's precedence), parentheses; | __error__=""
//     to drop errored lines. A value that does not convert marks the line
//     with __error__="LabelFilterErr".
//   - | line_format "{{.level}} {{.msg}}" and | label_format a="{{...}}",
//     b=c (in order: renames of present labels, and templates over the
//     labels as they were at the stage's first template; a label set
//     replaces one of the same name) with Go
//     text/template, __line__, __timestamp__ and every template function
//     Loki documents (string, regex, url, base64, date and time, math,
//     int/float64, bytes, duration, fromJson, ...; times in UTC).
//   - | drop and | keep a, b="v", c=~"re" remove labels (keep: all but
//     those); dropping __error__ clears a pipeline error, keep never drops
//     it. | decolorize strips ANSI sequences.
//   - Range aggregations count_over_time, rate, bytes_over_time,
//     bytes_rate, absent_over_time over [range] with optional offset; with
//     | unwrap label (or duration(label), duration_seconds(label),
//     bytes(label)) and label filters after it: rate, rate_counter,
//     sum/avg/min/max/stdvar/stddev/first/last_over_time,
//     quantile_over_time(φ, ...) and absent_over_time, with by/without
//     for those Loki allows.
//     The window at step t is (t-offset-range, t-offset], series labels
//     are the entries' labels after the pipeline (minus the unwrapped
//     label), steps without entries have no point, and an entry that still
//     carries __error__ (SampleExtractionErr for a value that does not
//     convert) fails the query with a *PipelineError.
//   - Vector aggregations sum, avg, min, max, count, stddev, stdvar, topk,
//     bottomk with by (...) / without (...) before or after the argument;
//     sort and sort_desc (ordering an instant result); label_replace and
//     vector(s).
//   - Number literals and binary operations + - * / % ^ == != > >= < <=
//     (with bool) and, or, unless, with on/ignoring and
//     group_left/group_right, PromQL-style (division by zero is NaN, as in
//     Loki).
//   - approx_topk(k, ...) for instant queries, answered exactly (as topk),
//     without grouping, as Loki allows it.
//
// Rejected with *UnsupportedError: subqueries ([5m:1m]), which are not
// LogQL (Loki refuses them too).
//
// Entry.Labels holds stream labels and structured metadata together, so a
// parsed key that clashes with either gets the "_extracted" suffix, and a
// metric query's series include structured metadata, both as in Loki 3.
package logql

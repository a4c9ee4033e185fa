// Package qlparse holds the lexing and error plumbing that the query
// languages' hand-written parsers (query/logql, query/traceql) have in
// common, so that both locate and word their errors the same way.
//
// Entry points:
//
//   - ParseError and UnsupportedError are the located errors. Each language
//     declares its exported types over them (type ParseError
//     qlparse.ParseError) and converts what this package returns, so that
//     callers' errors.As and the %T in messages keep naming the language;
//     UnsupportedError's text names the language, so it has no Error method
//     here.
//   - Position turns a byte offset into the 1-based line and column (in
//     runes) that errors carry; Errorf, Unexpected (yacc's "syntax error:
//     unexpected X, expecting Y") and Unsupported build the errors at an
//     offset.
//   - ScanString scans a "double-quoted" or `backtick` literal and unquotes
//     it with Go's rules; ScanNumber scans the digits, fraction and exponent
//     of a number literal.
//   - MaxQueryLength is the bound on a query's size.
//
// What differs between the languages stays with them: tokens, keywords,
// comments, duration and byte-size literals (LogQL tries Prometheus
// durations first and has byte sizes; TraceQL tries Go durations first and
// takes any unit letters), and how the size bound is compared. The
// golden-file test harness is in the qltest subpackage.
package qlparse

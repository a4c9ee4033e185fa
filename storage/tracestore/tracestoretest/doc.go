// Package tracestoretest builds test traces, for the tests of the trace
// store and of the TraceQL engine over it (query/traceql), which search the
// same data.
package tracestoretest

// Package gcgoal sets the Go garbage collector's heap goal for the server:
// a percentage (GOGC) above the live heap, as Go does, but never less than
// a fixed headroom above it.
//
// Go starts a collection once the heap has grown by GOGC percent of what
// the last one found live, so a collection comes every GOGC percent of the
// live heap allocated. A large heap makes that many megabytes; a server
// holding little (a few thousand series, or just started) collects after
// every few megabytes of requests instead, and spends on the collector a
// share of its CPU that a larger heap would not. On the long-retention
// benchmark (5,000 series, about 45 MiB live) GOGC 50 gave 22 MiB of
// headroom. The floor gives a small heap the headroom a large one has
// anyway, where the memory is cheapest to give.
//
// A Tuner re-reads the live heap after every collection, from a cleanup
// (runtime.AddCleanup) of an object it drops each cycle, and sets the
// percentage that gives the larger of the two goals.
package gcgoal

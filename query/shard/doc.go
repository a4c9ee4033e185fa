// Package shard runs the costly part of a PromQL query on several cores.
//
// Prometheus' engine evaluates a query on one goroutine. Most expensive
// queries are an aggregation over many series of a per-series function,
// such as sum by (job) (rate(http_requests_total[5m])), and those split
// exactly: the sum of the series of shard 0, plus the sum of those of shard
// 1, is the sum of all. Engine finds such aggregations in a query
// (parts.go), evaluates each once per shard in parallel, every shard
// selecting only its series (storage.SelectHints' ShardIndex and
// ShardCount, which Prometheus' head answers from the shard hash it keeps
// of each series, and package colblock from the shards it keeps of each
// block's series), and evaluates the rest of the query with the engine over the
// shards' results, which a selector of a reserved label reads back
// (partials.go). This is the query sharding of Thanos and Mimir, inside
// one process.
//
// A query with no such aggregation, computed series by series
// (max_over_time(x[1h]) for a table of instances, rate(x[5m]) over a
// range), is split too: its result is its shards' results together.
//
// A range query is split into more shards than run at once, so that each
// evaluation, which holds every step of its shard's series, holds fewer;
// the parts that direct.go evaluates, which hold only their groups'
// steps, and a query split series by series, whose result holds every
// series' steps anyway, into as many as run at once, as each shard costs
// a pass over the selected postings.
//
// The commonest parts of a query, sum by (…) (rate(x[5m])) (or increase,
// irate, idelta) and sum by (…) (x), and a query that is rate(x[5m]) (or
// increase, irate, idelta) itself, split series by series, are evaluated
// without the engine (direct.go), in a range query and in an instant
// query (an alerting rule's): a series at a time, in one pass over its samples, with the
// engine's arithmetic in the engine's order, so that each shard's result
// is the engine's to the bit. At a histogram sample, a warning or
// an error, the part goes to the engine after all.
//
// What differs from one evaluation: float sums are added in another order,
// so they may differ from Prometheus' in the last bits; an instant vector's
// series may come in another order (Prometheus leaves it undefined); a
// query's statistics (stats=all) count only the final evaluation, which a
// query split series by series does not have (they are zero); and each
// shard may hold -query.max-samples at once.
package shard

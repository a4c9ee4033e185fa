// Package record holds what the stores and the query side share about
// stored data, so that neither has to import the other:
//
//   - attributes (KV, ValueType) and their encoding (EncodeKVs, DecodeKVs),
//     used alike by the log store and the trace store;
//   - Repairer, which both stores run on what they are sent, and
//     ParseTraceID;
//   - the span as the trace store keeps it (Span, Event, Link);
//   - the seam through which a query engine reads a trace store: the engine
//     sends a FetchSpansRequest (a time range and Conditions) and the store
//     answers with Spansets. query/traceql defines the fetcher interface and
//     evaluates queries; storage/tracestore implements it. The types live
//     here because storage must not import query.
//
// It imports no store and no query package.
package record

package logstore

import (
	"fmt"

	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/segment"
)

// Columns of a log segment block. Each is compressed on its own, so like
// values sit together: timestamps as deltas, trace IDs as raw bytes,
// resources and scopes as per-block dictionaries.
const (
	colTime      = "time"      // varint deltas of Timestamp
	colObserved  = "observed"  // varint ObservedTimestamp-Timestamp
	colSeverity  = "severity"  // varint number, string text
	colBody      = "body"      // uvarint type, string body
	colTraceDict = "tracedict" // distinct trace IDs of the block, 16 bytes each
	colTrace     = "trace"     // uvarint 1+index into tracedict (0: none), 8 bytes span ID, uvarint flags
	colResDict   = "resdict"   // distinct resources
	colResource  = "resource"  // uvarint index into resdict
	colScopeDict = "scopedict" // distinct (name, version)
	colScope     = "scope"     // uvarint index into scopedict
	colAttrs     = "attrs"     // attributes, dropped count
	// Count (count.go) reads these and time, not the records. Segments
	// written before them lack them and are counted from the records.
	colStream = "stream" // uvarint index into the segment's streams (logmeta.json)
	colSize   = "size"   // uvarint len(Body), the bytes a line counts for
)

var allColumns = []string{colTime, colObserved, colSeverity, colBody, colTraceDict, colTrace, colResDict, colResource, colScopeDict, colScope, colAttrs}

// encodeBlock encodes records (sorted by time) into columns.
func encodeBlock(recs []*Record) segment.Columns {
	var tm, obs, sev, body, traceDict, trace, resDict, res, scopeDict, scope, attrs segment.Enc
	// A trace's records sit close together in time, so a block holds few
	// distinct traces: random 16-byte IDs, which do not compress, are
	// stored once per block.
	traceIDs := map[[16]byte]uint64{}
	resIDs := map[string]uint64{}
	scopeIDs := map[string]uint64{}
	prev := int64(0)
	for _, r := range recs {
		tm.Varint(r.Timestamp - prev)
		prev = r.Timestamp
		obs.Varint(r.ObservedTimestamp - r.Timestamp)
		sev.Varint(int64(r.SeverityNumber))
		sev.String(r.SeverityText)
		body.Uvarint(uint64(r.BodyType))
		body.String(r.Body)
		if r.HasTrace() {
			id, ok := traceIDs[r.TraceID]
			if !ok {
				id = uint64(len(traceIDs))
				traceIDs[r.TraceID] = id
				traceDict.Fixed(r.TraceID[:])
			}
			trace.Uvarint(id + 1)
		} else {
			trace.Uvarint(0)
		}
		trace.Fixed(r.SpanID[:])
		trace.Uvarint(uint64(r.Flags))

		var re segment.Enc
		record.EncodeKVs(&re, r.Resource)
		id, ok := resIDs[string(re.B)]
		if !ok {
			id = uint64(len(resIDs))
			resIDs[string(re.B)] = id
			resDict.Fixed(re.B)
		}
		res.Uvarint(id)

		key := r.ScopeName + "\x00" + r.ScopeVersion
		sid, ok := scopeIDs[key]
		if !ok {
			sid = uint64(len(scopeIDs))
			scopeIDs[key] = sid
			scopeDict.String(r.ScopeName)
			scopeDict.String(r.ScopeVersion)
		}
		scope.Uvarint(sid)

		record.EncodeKVs(&attrs, r.Attributes)
		attrs.Uvarint(uint64(r.DroppedAttributesCount))
	}
	return segment.Columns{
		colTime: tm.B, colObserved: obs.B, colSeverity: sev.B, colBody: body.B, colTraceDict: traceDict.B, colTrace: trace.B,
		colResDict: resDict.B, colResource: res.B, colScopeDict: scopeDict.B, colScope: scope.B, colAttrs: attrs.B,
	}
}

// encodeCountColumns encodes the stream and size columns of records (in
// block order), streams[i] being the index of record i's stream.
func encodeCountColumns(recs []*Record, streams []int) (stream, size []byte) {
	var st, sz segment.Enc
	for i, r := range recs {
		st.Uvarint(uint64(streams[i]))
		sz.Uvarint(uint64(len(r.Body)))
	}
	return st.B, sz.B
}

// decodeBlock decodes rows records from cols.
func decodeBlock(cols segment.Columns, rows int) ([]Record, error) {
	recs := make([]Record, rows)
	tm := segment.Dec{B: cols[colTime]}
	obs := segment.Dec{B: cols[colObserved]}
	sev := segment.Dec{B: cols[colSeverity]}
	body := segment.Dec{B: cols[colBody]}
	trace := segment.Dec{B: cols[colTrace]}
	res := segment.Dec{B: cols[colResource]}
	scope := segment.Dec{B: cols[colScope]}
	attrs := segment.Dec{B: cols[colAttrs]}

	var resources [][]record.KV
	rd := segment.Dec{B: cols[colResDict]}
	for len(rd.B) > 0 && rd.Err == nil {
		resources = append(resources, record.DecodeKVs(&rd))
	}
	type sc struct{ name, version string }
	var scopes []sc
	sd := segment.Dec{B: cols[colScopeDict]}
	for len(sd.B) > 0 && sd.Err == nil {
		scopes = append(scopes, sc{sd.String(), sd.String()})
	}
	if rd.Err != nil || sd.Err != nil {
		return nil, segment.ErrCorrupt
	}
	traceDict := cols[colTraceDict]
	if len(traceDict)%16 != 0 {
		return nil, fmt.Errorf("%w: trace dictionary of %d bytes", segment.ErrCorrupt, len(traceDict))
	}

	prev := int64(0)
	for i := range recs {
		r := &recs[i]
		prev += tm.Varint()
		r.Timestamp = prev
		r.ObservedTimestamp = r.Timestamp + obs.Varint()
		r.SeverityNumber = int32(sev.Varint())
		r.SeverityText = sev.String()
		r.BodyType = record.ValueType(body.Uvarint())
		r.Body = body.String()
		if id := trace.Uvarint(); id > 0 {
			if id > uint64(len(traceDict)/16) {
				return nil, fmt.Errorf("%w: trace %d of %d", segment.ErrCorrupt, id, len(traceDict)/16)
			}
			copy(r.TraceID[:], traceDict[(id-1)*16:id*16])
		}
		copy(r.SpanID[:], trace.Fixed(8))
		r.Flags = uint32(trace.Uvarint())
		if id := res.Uvarint(); id < uint64(len(resources)) {
			r.Resource = resources[id]
		} else {
			return nil, fmt.Errorf("%w: resource %d of %d", segment.ErrCorrupt, id, len(resources))
		}
		if id := scope.Uvarint(); id < uint64(len(scopes)) {
			r.ScopeName, r.ScopeVersion = scopes[id].name, scopes[id].version
		} else {
			return nil, fmt.Errorf("%w: scope %d of %d", segment.ErrCorrupt, id, len(scopes))
		}
		r.Attributes = record.DecodeKVs(&attrs)
		r.DroppedAttributesCount = uint32(attrs.Uvarint())
	}
	for _, d := range []*segment.Dec{&tm, &obs, &sev, &body, &trace, &res, &scope, &attrs} {
		if d.Err != nil {
			return nil, d.Err
		}
	}
	return recs, nil
}

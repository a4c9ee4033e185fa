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
func encodeBlock(recs []*Record) segment.Columns { return new(blockEncoder).encode(recs) }

// blockEncoder encodes blocks into columns, reusing its buffers from one
// block to the next: the columns it returns are valid until the next
// encode (a segment writer compresses them at once).
type blockEncoder struct {
	tm, obs, sev, body, traceDict, trace, resDict, res, scopeDict, scope, attrs, re segment.Enc

	traceIDs map[[16]byte]uint64
	resIDs   map[string]uint64
	resOf    map[record.KVsID]uint64 // resource slices already looked up
	scopeIDs map[string]uint64
}

func (e *blockEncoder) encode(recs []*Record) segment.Columns {
	for _, c := range []*segment.Enc{&e.tm, &e.obs, &e.sev, &e.body, &e.traceDict, &e.trace, &e.resDict, &e.res, &e.scopeDict, &e.scope, &e.attrs} {
		c.B = c.B[:0]
	}
	if e.traceIDs == nil {
		e.traceIDs, e.resIDs, e.resOf, e.scopeIDs = map[[16]byte]uint64{}, map[string]uint64{}, map[record.KVsID]uint64{}, map[string]uint64{}
	}
	// A trace's records sit close together in time, so a block holds few
	// distinct traces: random 16-byte IDs, which do not compress, are
	// stored once per block.
	clear(e.traceIDs)
	clear(e.resIDs)
	clear(e.resOf)
	clear(e.scopeIDs)
	prev := int64(0)
	for _, r := range recs {
		e.tm.Varint(r.Timestamp - prev)
		prev = r.Timestamp
		e.obs.Varint(r.ObservedTimestamp - r.Timestamp)
		e.sev.Varint(int64(r.SeverityNumber))
		e.sev.String(r.SeverityText)
		e.body.Uvarint(uint64(r.BodyType))
		e.body.String(r.Body)
		if r.HasTrace() {
			id, ok := e.traceIDs[r.TraceID]
			if !ok {
				id = uint64(len(e.traceIDs))
				e.traceIDs[r.TraceID] = id
				e.traceDict.Fixed(r.TraceID[:])
			}
			e.trace.Uvarint(id + 1)
		} else {
			e.trace.Uvarint(0)
		}
		e.trace.Fixed(r.SpanID[:])
		e.trace.Uvarint(uint64(r.Flags))

		// Records of one request share their resource's slice: it is
		// encoded once.
		first := record.IDOf(r.Resource)
		id, ok := e.resOf[first]
		if !ok || first == (record.KVsID{}) {
			e.re.B = e.re.B[:0]
			record.EncodeKVs(&e.re, r.Resource)
			if id, ok = e.resIDs[string(e.re.B)]; !ok {
				id = uint64(len(e.resIDs))
				e.resIDs[string(e.re.B)] = id
				e.resDict.Fixed(e.re.B)
			}
			if first != (record.KVsID{}) {
				e.resOf[first] = id
			}
		}
		e.res.Uvarint(id)

		sid, ok := e.scopeIDs[r.ScopeName+"\x00"+r.ScopeVersion]
		if !ok {
			sid = uint64(len(e.scopeIDs))
			e.scopeIDs[r.ScopeName+"\x00"+r.ScopeVersion] = sid
			e.scopeDict.String(r.ScopeName)
			e.scopeDict.String(r.ScopeVersion)
		}
		e.scope.Uvarint(sid)

		record.EncodeKVs(&e.attrs, r.Attributes)
		e.attrs.Uvarint(uint64(r.DroppedAttributesCount))
	}
	return segment.Columns{
		colTime: e.tm.B, colObserved: e.obs.B, colSeverity: e.sev.B, colBody: e.body.B, colTraceDict: e.traceDict.B, colTrace: e.trace.B,
		colResDict: e.resDict.B, colResource: e.res.B, colScopeDict: e.scopeDict.B, colScope: e.scope.B, colAttrs: e.attrs.B,
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

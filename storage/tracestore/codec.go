package tracestore

import (
	"bytes"
	"fmt"

	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/segment"
)

// encodeSpan appends the WAL encoding of s; decodeSpan reads it back.
func encodeSpan(e *segment.Enc, s *Span) {
	e.Fixed(s.TraceID[:])
	e.Fixed(s.SpanID[:])
	e.Fixed(s.ParentSpanID[:])
	e.String(s.TraceState)
	e.Uvarint(uint64(s.Flags))
	e.String(s.Name)
	e.Uvarint(uint64(s.Kind))
	e.Varint(s.Start)
	e.Varint(s.End - s.Start)
	e.Uvarint(uint64(s.StatusCode))
	e.String(s.StatusMessage)
	encodeAttrs(e, s.Attributes, s.DroppedAttributesCount)
	encodeEvents(e, s)
	encodeLinks(e, s)
	record.EncodeKVs(e, s.Resource)
	e.String(s.ScopeName)
	e.String(s.ScopeVersion)
	record.EncodeKVs(e, s.ScopeAttributes)
}

func decodeSpan(d *segment.Dec, s *Span) {
	copy(s.TraceID[:], d.Fixed(16))
	copy(s.SpanID[:], d.Fixed(8))
	copy(s.ParentSpanID[:], d.Fixed(8))
	s.TraceState = d.String()
	s.Flags = uint32(d.Uvarint())
	s.Name = d.String()
	s.Kind = int32(d.Uvarint())
	s.Start = d.Varint()
	s.End = s.Start + d.Varint()
	s.StatusCode = int32(d.Uvarint())
	s.StatusMessage = d.String()
	s.Attributes, s.DroppedAttributesCount = decodeAttrs(d)
	decodeEvents(d, s)
	decodeLinks(d, s)
	s.Resource = record.DecodeKVs(d)
	s.ScopeName = d.String()
	s.ScopeVersion = d.String()
	s.ScopeAttributes = record.DecodeKVs(d)
}

func encodeAttrs(e *segment.Enc, kvs []record.KV, dropped uint32) {
	record.EncodeKVs(e, kvs)
	e.Uvarint(uint64(dropped))
}

func decodeAttrs(d *segment.Dec) ([]record.KV, uint32) {
	kvs := record.DecodeKVs(d)
	return kvs, uint32(d.Uvarint())
}

// encodeEvents writes event times relative to the span's start, which
// keeps them small.
func encodeEvents(e *segment.Enc, s *Span) {
	e.Uvarint(uint64(len(s.Events)))
	for _, ev := range s.Events {
		e.Varint(ev.Time - s.Start)
		e.String(ev.Name)
		encodeAttrs(e, ev.Attributes, ev.DroppedAttributesCount)
	}
	e.Uvarint(uint64(s.DroppedEventsCount))
}

func decodeEvents(d *segment.Dec, s *Span) {
	n := d.Uvarint()
	if n > uint64(len(d.B)) {
		d.Err = segment.ErrCorrupt
		return
	}
	if n > 0 {
		s.Events = make([]record.Event, n)
	}
	for i := range s.Events {
		ev := &s.Events[i]
		ev.Time = s.Start + d.Varint()
		ev.Name = d.String()
		ev.Attributes, ev.DroppedAttributesCount = decodeAttrs(d)
	}
	s.DroppedEventsCount = uint32(d.Uvarint())
}

func encodeLinks(e *segment.Enc, s *Span) {
	e.Uvarint(uint64(len(s.Links)))
	for _, l := range s.Links {
		e.Fixed(l.TraceID[:])
		e.Fixed(l.SpanID[:])
		e.String(l.TraceState)
		e.Uvarint(uint64(l.Flags))
		encodeAttrs(e, l.Attributes, l.DroppedAttributesCount)
	}
	e.Uvarint(uint64(s.DroppedLinksCount))
}

func decodeLinks(d *segment.Dec, s *Span) {
	n := d.Uvarint()
	if n > uint64(len(d.B)) {
		d.Err = segment.ErrCorrupt
		return
	}
	if n > 0 {
		s.Links = make([]record.Link, n)
	}
	for i := range s.Links {
		l := &s.Links[i]
		copy(l.TraceID[:], d.Fixed(16))
		copy(l.SpanID[:], d.Fixed(8))
		l.TraceState = d.String()
		l.Flags = uint32(d.Uvarint())
		l.Attributes, l.DroppedAttributesCount = decodeAttrs(d)
	}
	s.DroppedLinksCount = uint32(d.Uvarint())
}

// Columns of a trace segment block. Each is compressed on its own so like
// values sit together. Rows are grouped by trace, so a block holds few
// distinct trace IDs (random 16 bytes, which do not compress) and each is
// stored once; parents are mostly rows of the same block and are stored as
// row numbers.
const (
	colTraceDict = "tracedict" // distinct trace IDs of the block, 16 bytes each
	colTrace     = "trace"     // uvarint index into tracedict
	colSpanID    = "spanid"    // 8 bytes
	colParent    = "parent"    // uvarint: 0 root, 1 explicit (8 bytes in parentid), 2+row of the parent in this block
	colParentID  = "parentid"  // parent span IDs not in the block
	colTime      = "time"      // varint start delta to the previous row, varint end - start
	colNameDict  = "namedict"  // distinct span names
	colName      = "name"      // uvarint index into namedict
	colKind      = "kind"      // uvarint kind, uvarint status code, string status message, uvarint flags, string trace state
	colResDict   = "resdict"   // distinct resources
	colResource  = "resource"  // uvarint index into resdict
	colScopeDict = "scopedict" // distinct scopes (name, version, attributes)
	colScope     = "scope"     // uvarint index into scopedict
	colAttrs     = "attrs"     // span attributes, dropped count
	colEvents    = "events"    // events, dropped count
	colLinks     = "links"     // links, dropped count
)

var allColumns = []string{colTraceDict, colTrace, colSpanID, colParent, colParentID, colTime, colNameDict, colName, colKind,
	colResDict, colResource, colScopeDict, colScope, colAttrs, colEvents, colLinks}

// searchColumns are what TraceQL reads: not the scope, events and links,
// which can be large (exception events with stack traces).
var searchColumns = []string{colTraceDict, colTrace, colSpanID, colParent, colParentID, colTime, colNameDict, colName, colKind,
	colResDict, colResource, colAttrs}

// searchColumnsNoAttrs are searchColumns without the span attributes, the
// largest of them, for queries that read none (record.FetchSpansRequest's
// SkipSpanAttributes).
var searchColumnsNoAttrs = searchColumns[:len(searchColumns)-1]

// dict numbers distinct byte strings in the order first seen and writes
// each once into its column.
type dict struct {
	ids map[string]uint64
	col segment.Enc
	// The key asked for last and its number: spans come grouped by trace,
	// and a service's spans in runs, so most keys are the last one again.
	last   []byte
	lastID uint64
}

func (d *dict) reset() {
	if d.ids == nil {
		d.ids = map[string]uint64{}
	}
	clear(d.ids)
	d.col.B = d.col.B[:0]
	d.last = d.last[:0]
}

// id returns key's number, calling write to add it to the column when it
// is new.
func (d *dict) id(key []byte, write func(*segment.Enc)) uint64 {
	if len(d.ids) > 0 && bytes.Equal(key, d.last) {
		return d.lastID
	}
	id, ok := d.ids[string(key)]
	if !ok {
		id = uint64(len(d.ids))
		d.ids[string(key)] = id
		write(&d.col)
	}
	d.last, d.lastID = append(d.last[:0], key...), id
	return id
}

// encodeBlock encodes spans (grouped by trace) into columns.
func encodeBlock(spans []*Span) segment.Columns { return new(blockEncoder).encode(spans) }

// blockEncoder encodes blocks into columns, reusing its buffers and maps
// from one block to the next: the columns it returns are valid until the
// next encode (a segment writer compresses them at once).
type blockEncoder struct {
	trace, spanID, parent, parentID, tm, name, kind, res, scope, attrs, events, links, scratch segment.Enc
	traces, names, resources, scopes                                                           dict
	rowOf                                                                                      map[[8]byte]int
	resOf                                                                                      map[record.KVsID]uint64 // resource slices already numbered
}

func (e *blockEncoder) encode(spans []*Span) segment.Columns {
	for _, c := range []*segment.Enc{&e.trace, &e.spanID, &e.parent, &e.parentID, &e.tm, &e.name, &e.kind, &e.res, &e.scope, &e.attrs, &e.events, &e.links} {
		c.B = c.B[:0]
	}
	for _, d := range []*dict{&e.traces, &e.names, &e.resources, &e.scopes} {
		d.reset()
	}
	if e.rowOf == nil {
		e.rowOf, e.resOf = map[[8]byte]int{}, map[record.KVsID]uint64{}
	}
	clear(e.rowOf)
	clear(e.resOf)
	for i, s := range spans {
		e.rowOf[s.SpanID] = i
	}
	prev := int64(0)
	for _, s := range spans {
		e.trace.Uvarint(e.traces.id(s.TraceID[:], func(c *segment.Enc) { c.Fixed(s.TraceID[:]) }))
		e.spanID.Fixed(s.SpanID[:])
		switch row, ok := e.rowOf[s.ParentSpanID]; {
		case s.IsRoot():
			e.parent.Uvarint(0)
		case ok:
			e.parent.Uvarint(uint64(row) + 2)
		default:
			e.parent.Uvarint(1)
			e.parentID.Fixed(s.ParentSpanID[:])
		}
		e.tm.Varint(s.Start - prev)
		prev = s.Start
		e.tm.Varint(s.End - s.Start) // signed: a bad sender's end before start is kept as sent
		e.name.Uvarint(e.names.id([]byte(s.Name), func(c *segment.Enc) { c.String(s.Name) }))
		e.kind.Uvarint(uint64(s.Kind))
		e.kind.Uvarint(uint64(s.StatusCode))
		e.kind.String(s.StatusMessage)
		e.kind.Uvarint(uint64(s.Flags))
		e.kind.String(s.TraceState)

		rs := record.IDOf(s.Resource)
		id, ok := e.resOf[rs]
		if !ok || rs == (record.KVsID{}) {
			e.scratch.B = e.scratch.B[:0]
			record.EncodeKVs(&e.scratch, s.Resource)
			id = e.resources.id(e.scratch.B, func(c *segment.Enc) { c.Fixed(e.scratch.B) })
			if rs != (record.KVsID{}) {
				e.resOf[rs] = id
			}
		}
		e.res.Uvarint(id)
		e.scratch.B = e.scratch.B[:0]
		e.scratch.String(s.ScopeName)
		e.scratch.String(s.ScopeVersion)
		record.EncodeKVs(&e.scratch, s.ScopeAttributes)
		e.scope.Uvarint(e.scopes.id(e.scratch.B, func(c *segment.Enc) { c.Fixed(e.scratch.B) }))

		encodeAttrs(&e.attrs, s.Attributes, s.DroppedAttributesCount)
		encodeEvents(&e.events, s)
		encodeLinks(&e.links, s)
	}
	return segment.Columns{
		colTraceDict: e.traces.col.B, colTrace: e.trace.B, colSpanID: e.spanID.B, colParent: e.parent.B, colParentID: e.parentID.B,
		colTime: e.tm.B, colNameDict: e.names.col.B, colName: e.name.B, colKind: e.kind.B, colResDict: e.resources.col.B,
		colResource: e.res.B, colScopeDict: e.scopes.col.B, colScope: e.scope.B, colAttrs: e.attrs.B, colEvents: e.events.B, colLinks: e.links.B,
	}
}

// decodeBlock decodes rows spans from cols into buf (reused when large
// enough). The scope, events and links are left empty when cols lacks
// their columns (searchColumns).
func decodeBlock(cols segment.Columns, rows int, buf []Span) ([]Span, error) {
	if cap(buf) < rows {
		buf = make([]Span, rows)
	}
	spans := buf[:rows]
	clear(spans)
	_, full := cols[colEvents]
	_, withAttrs := cols[colAttrs] // not read for queries that need no span attributes
	trace := segment.Dec{B: cols[colTrace]}
	spanID := segment.Dec{B: cols[colSpanID]}
	parent := segment.Dec{B: cols[colParent]}
	parentID := segment.Dec{B: cols[colParentID]}
	tm := segment.Dec{B: cols[colTime]}
	name := segment.Dec{B: cols[colName]}
	kind := segment.Dec{B: cols[colKind]}
	res := segment.Dec{B: cols[colResource]}
	scope := segment.Dec{B: cols[colScope]}
	attrs := segment.Dec{B: cols[colAttrs]}
	events := segment.Dec{B: cols[colEvents]}
	links := segment.Dec{B: cols[colLinks]}

	traceDict := cols[colTraceDict]
	if len(traceDict)%16 != 0 {
		return nil, fmt.Errorf("%w: trace dictionary of %d bytes", segment.ErrCorrupt, len(traceDict))
	}
	var names []string
	nd := segment.Dec{B: cols[colNameDict]}
	for len(nd.B) > 0 && nd.Err == nil {
		names = append(names, nd.String())
	}
	var resources [][]record.KV
	rd := segment.Dec{B: cols[colResDict]}
	for len(rd.B) > 0 && rd.Err == nil {
		resources = append(resources, record.DecodeKVs(&rd))
	}
	type sc struct {
		name, version string
		attrs         []record.KV
	}
	var scopes []sc
	sd := segment.Dec{B: cols[colScopeDict]}
	for len(sd.B) > 0 && sd.Err == nil {
		scopes = append(scopes, sc{sd.String(), sd.String(), record.DecodeKVs(&sd)})
	}
	if nd.Err != nil || rd.Err != nil || sd.Err != nil {
		return nil, segment.ErrCorrupt
	}
	index := func(d *segment.Dec, n int, what string) (int, error) {
		i := d.Uvarint()
		if i >= uint64(n) {
			return 0, fmt.Errorf("%w: %s %d of %d", segment.ErrCorrupt, what, i, n)
		}
		return int(i), nil
	}

	prev := int64(0)
	for i := range spans {
		s := &spans[i]
		t, err := index(&trace, len(traceDict)/16, "trace")
		if err != nil {
			return nil, err
		}
		copy(s.TraceID[:], traceDict[t*16:t*16+16])
		copy(s.SpanID[:], spanID.Fixed(8))
		switch p := parent.Uvarint(); {
		case p == 0:
		case p == 1:
			copy(s.ParentSpanID[:], parentID.Fixed(8))
		case p-2 < uint64(rows):
			// The parent row may come later; its span ID is in the column.
			off := int(p-2) * 8
			if off+8 > len(cols[colSpanID]) {
				return nil, segment.ErrCorrupt
			}
			copy(s.ParentSpanID[:], cols[colSpanID][off:off+8])
		default:
			return nil, fmt.Errorf("%w: parent row %d of %d", segment.ErrCorrupt, p-2, rows)
		}
		prev += tm.Varint()
		s.Start = prev
		s.End = s.Start + tm.Varint()
		n, err := index(&name, len(names), "name")
		if err != nil {
			return nil, err
		}
		s.Name = names[n]
		s.Kind = int32(kind.Uvarint())
		s.StatusCode = int32(kind.Uvarint())
		s.StatusMessage = kind.String()
		s.Flags = uint32(kind.Uvarint())
		s.TraceState = kind.String()
		r, err := index(&res, len(resources), "resource")
		if err != nil {
			return nil, err
		}
		s.Resource = resources[r]
		if withAttrs {
			s.Attributes, s.DroppedAttributesCount = decodeAttrs(&attrs)
		}
		if !full {
			continue
		}
		c, err := index(&scope, len(scopes), "scope")
		if err != nil {
			return nil, err
		}
		s.ScopeName, s.ScopeVersion, s.ScopeAttributes = scopes[c].name, scopes[c].version, scopes[c].attrs
		decodeEvents(&events, s)
		decodeLinks(&links, s)
	}
	for _, d := range []*segment.Dec{&trace, &spanID, &parent, &parentID, &tm, &name, &kind, &res, &scope, &attrs, &events, &links} {
		if d.Err != nil {
			return nil, d.Err
		}
	}
	return spans, nil
}

package tracestore

// head holds the spans appended since the last cut, in append order.
// Spans are never changed once added, so a reader may keep a prefix of
// spans (taken under the tenant's lock) while appends go on.
type head struct {
	spans  []*Span
	minT   int64
	maxT   int64
	traces map[[16]byte][]int32
	tags   *tagIndex
}

func newHead() *head {
	return &head{traces: map[[16]byte][]int32{}, tags: newTagIndex()}
}

// Rows is the number of spans in the head.
func (h *head) Rows() int { return len(h.spans) }

// MinT is the start of the earliest span.
func (h *head) MinT() int64 { return h.minT }

// add adds the spans of one request (or WAL record).
func (h *head) add(spans []*Span) {
	for _, s := range spans {
		i := int32(len(h.spans))
		h.spans = append(h.spans, s)
		if i == 0 || s.Start < h.minT {
			h.minT = s.Start
		}
		if i == 0 || s.Start > h.maxT {
			h.maxT = s.Start
		}
		h.traces[s.TraceID] = append(h.traces[s.TraceID], i)
	}
	h.tags.add(spans)
}

package logstore

import (
	"github.com/prometheus/prometheus/model/labels"
)

// head holds the records appended since the last cut, in append order.
// Records are never changed once added, so a reader may keep a prefix of
// recs (taken under the store's lock) while appends go on.
type head struct {
	recs    []*Record
	minT    int64
	maxT    int64
	traces  map[[16]byte][]int32
	streams map[string]*streamStats // by labels string
}

// streamStats describes one Loki stream of a head or segment.
type streamStats struct {
	Labels  labels.Labels     `json:"-"`
	LabelsM map[string]string `json:"labels"`
	Blocks  []int             `json:"blocks,omitempty"`
	Entries int               `json:"entries"`
	Bytes   int64             `json:"bytes"`
	MinT    int64             `json:"minT"`
	MaxT    int64             `json:"maxT"`
}

func newHead() *head {
	return &head{traces: map[[16]byte][]int32{}, streams: map[string]*streamStats{}}
}

// Rows is the number of records in the head.
func (h *head) Rows() int { return len(h.recs) }

// MinT is the time of the oldest record.
func (h *head) MinT() int64 { return h.minT }

func (h *head) add(r *Record, stream labels.Labels, key string) {
	i := int32(len(h.recs))
	h.recs = append(h.recs, r)
	if len(h.recs) == 1 || r.Timestamp < h.minT {
		h.minT = r.Timestamp
	}
	if len(h.recs) == 1 || r.Timestamp > h.maxT {
		h.maxT = r.Timestamp
	}
	if r.HasTrace() {
		h.traces[r.TraceID] = append(h.traces[r.TraceID], i)
	}
	st := h.streams[key]
	if st == nil {
		st = &streamStats{Labels: stream, MinT: r.Timestamp, MaxT: r.Timestamp}
		h.streams[key] = st
	}
	st.Entries++
	st.Bytes += int64(len(r.Body))
	st.MinT = min(st.MinT, r.Timestamp)
	st.MaxT = max(st.MaxT, r.Timestamp)
}

// headView is what a query reads of a head: the records appended so far,
// taken under the tenant lock (appends may move h.recs meanwhile).
type headView struct {
	recs []*Record
	minT int64
	maxT int64
}

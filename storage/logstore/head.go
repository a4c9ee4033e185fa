package logstore

import (
	"slices"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/sightline-dev/sightline/storage/record"
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
	// Metadata lists the structured metadata names that the stream's
	// records may have from attributes (their own, and resource ones that
	// are not stream labels), unless MetadataCapped: there were too many
	// to list. Count decodes only the blocks of streams whose labels it
	// needs from there. Names from the records' own fields (metadataFields)
	// are not listed: any record may have them. Segments only.
	Metadata       []string `json:"metadata,omitempty"`
	MetadataCapped bool     `json:"metadataCapped,omitempty"`

	// sk is the stream's key, which its records get (Record.stream); set
	// when a segment is opened or written.
	sk *streamKey

	// While a segment is written: the stream's index in its list, the
	// attribute keys seen and the resource whose keys were added last
	// (records of one resource come in runs).
	id       int
	metaKeys map[string]struct{}
	lastRes  record.KVsID
}

// maxMetadataKeys bounds the attribute keys a segment lists per stream, and
// so the size of logmeta.json.
const maxMetadataKeys = 256

// mayHaveMetadata reports whether the stream's records may have structured
// metadata name (see Metadata).
func (st *streamStats) mayHaveMetadata(name string) bool {
	return st.MetadataCapped || isMetadataField(name) || slices.Contains(st.Metadata, name)
}

// addMetadataKeys notes the attribute keys of r that become structured
// metadata, for Metadata.
func (st *streamStats) addMetadataKeys(r *Record) {
	add := func(k string) {
		if _, ok := st.metaKeys[k]; ok || st.MetadataCapped {
			return
		}
		if len(st.metaKeys) >= maxMetadataKeys {
			st.MetadataCapped, st.metaKeys = true, nil
			return
		}
		st.metaKeys[k] = struct{}{}
	}
	for _, kv := range r.Attributes {
		add(kv.Key)
	}
	if id := record.IDOf(r.Resource); id != (record.KVsID{}) && id != st.lastRes {
		st.lastRes = id
		all := allStreamLabels(r.Resource)
		for _, kv := range r.Resource {
			if isMetadataAttr(kv.Key, all) {
				add(kv.Key)
			}
		}
	}
}

// add counts a record of the stream in block b.
func (st *streamStats) add(b int, ts int64, size int) {
	if n := len(st.Blocks); n == 0 || st.Blocks[n-1] != b {
		st.Blocks = append(st.Blocks, b)
	}
	st.Entries++
	st.Bytes += int64(size)
	st.MinT, st.MaxT = min(st.MinT, ts), max(st.MaxT, ts)
}

// addMetadataNames takes the metadata names of src, the same stream in a
// merge's source segment (LabelName leaves label names as they are).
func (st *streamStats) addMetadataNames(src *streamStats) {
	if src.MetadataCapped {
		st.MetadataCapped, st.metaKeys = true, nil
		return
	}
	for _, name := range src.Metadata {
		if st.MetadataCapped {
			return
		}
		if len(st.metaKeys) >= maxMetadataKeys {
			st.MetadataCapped, st.metaKeys = true, nil
			return
		}
		st.metaKeys[name] = struct{}{}
	}
}

// finishMetadata turns the attribute keys seen into Metadata.
func (st *streamStats) finishMetadata() {
	for k := range st.metaKeys {
		st.Metadata = append(st.Metadata, LabelName(k))
	}
	slices.Sort(st.Metadata)
	st.Metadata = slices.Compact(st.Metadata)
	st.metaKeys, st.lastRes = nil, record.KVsID{}
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

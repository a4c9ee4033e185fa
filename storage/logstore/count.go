package logstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/sightline-dev/sightline/storage/segment"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// Count calls fn for every record of the tenant of ctx in (from, to] whose
// stream labels match matchers (the records Fetch would hand over, in no
// particular order) with what counting them needs: its timestamp, the
// length of its body (a line's bytes, as bytes_over_time counts them), and
// its labels (Entry.Labels) limited to names, labels with empty values left
// out. key identifies those labels within the call: records of equal
// labels get the same key and the same lbls, so a caller can work per
// label set rather than per record. When fn returns an error, Count stops
// and returns it.
//
// It is how volume queries (count_over_time, rate, bytes_over_time by
// stream labels) avoid decoding records: a segment block is read by its
// time, stream and size columns only, each row's labels being its
// stream's. Blocks are decoded as Fetch decodes them only where that
// cannot answer: in segments written before those columns, and for
// streams whose records may carry one of names as structured metadata
// (the segment's stream stats list the metadata names of each stream).
// Heads are walked record by record.
//
// together, if not nil, says whether records at times in [minT, maxT]
// count alike for the caller (the same windows of a range query). A block
// wholly in the range for which it says so is counted per label set: fn
// gets n records of that key and their total size at ts = the block's
// first time, and the block's time column is not read. Otherwise, and for
// heads, fn gets each record with n = 1.
//
// MaxScanRecords bounds the decoded records (stats RecordsScanned) only: a
// row counted from columns (RecordsCounted) costs nanoseconds, where a
// decoded record costs about a microsecond.
func (s *Store) Count(ctx context.Context, matchers []*labels.Matcher, names []string, from, to int64, together func(minT, maxT int64) bool, fn CountFn) (SearchStats, error) {
	var st SearchStats
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return st, nil
	}
	sn := takeSnapshot(t, from+1, to)
	defer sn.release()
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	c := &counter{
		names: names, matches: streamMatcher(matchers), vals: make([]string, len(names)), keys: map[string]int{},
		cache: streamCache{}, streams: map[string]int{}, segs: map[*segment.Reader]*segmentKeys{},
	}
	units, err := fetchUnits(ctx, sn, from, to, c.matches, passAll, nil, &st)
	if err != nil {
		return st, err
	}
	for _, u := range units {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := s.countUnit(c, u, from, to, together, &st, fn); err != nil {
			return st, err
		}
	}
	return st, nil
}

// CountFn is what Count calls: n records (n > 1 only when Count's
// together allowed it) of label set key, lbls, of size bytes in all, at ts.
type CountFn func(key int, lbls labels.Labels, ts int64, size, n int) error

// counter holds the label sets of one Count, by key.
type counter struct {
	names   []string // sorted, distinct
	matches func(labels.Labels) bool
	vals    []string       // a record's values of names
	buf     []byte         // their encoding, the map key of the label set
	keys    map[string]int // label set key by encoded values
	sets    []labels.Labels
	cache   streamCache
	streams map[string]int // by stream: a label set key, noMatch or perRecord
	segs    map[*segment.Reader]*segmentKeys
}

// What a stream's records count for, besides a label set key.
const (
	noMatch   = -1 // nothing: the stream does not match
	perRecord = -2 // each record's own labels: they need its metadata
)

// segmentKeys is what the records of each stream of a segment count for,
// and the blocks that must be decoded for it.
type segmentKeys struct {
	keys   []int // by index in the segment's streams
	decode map[int]bool
}

// labelsKey returns the key of the label set whose values of c.names value
// gives, adding the set if it is new.
func (c *counter) labelsKey(value func(name string) string) int {
	c.buf = c.buf[:0]
	for i, n := range c.names {
		c.vals[i] = value(n)
		c.buf = binary.AppendUvarint(c.buf, uint64(len(c.vals[i])))
		c.buf = append(c.buf, c.vals[i]...)
	}
	if k, ok := c.keys[string(c.buf)]; ok {
		return k
	}
	b := labels.NewScratchBuilder(len(c.names))
	for i, n := range c.names {
		if c.vals[i] != "" {
			b.Add(n, c.vals[i])
		}
	}
	k := len(c.sets)
	c.sets = append(c.sets, b.Labels()) // names are sorted
	c.keys[string(c.buf)] = k
	return k
}

// streamKey is what the records of a stream count for; mayHaveMetadata
// tells whether they may have a structured metadata name.
func (c *counter) streamKey(ls labels.Labels, mayHaveMetadata func(name string) bool) int {
	if !c.matches(ls) {
		return noMatch
	}
	for _, n := range c.names {
		// Stream labels win a clash with metadata, and have no empty values.
		if !ls.Has(n) && mayHaveMetadata(n) {
			return perRecord
		}
	}
	return c.labelsKey(ls.Get)
}

// record counts a decoded record, which matches if its stream does.
func (c *counter) record(r *Record, fn CountFn) error {
	if len(c.cache) > 1024 {
		// Keyed by resource slices, which decoded blocks hand out anew.
		c.cache = streamCache{}
	}
	sk := streamOf(r, c.cache)
	k, ok := c.streams[sk.key]
	if !ok {
		k = c.streamKey(sk.labels, func(string) bool { return true })
		c.streams[sk.key] = k
	}
	switch k {
	case noMatch:
		return nil
	case perRecord:
		k = c.labelsKey(func(n string) string {
			if v := sk.labels.Get(n); v != "" {
				return v
			}
			return metadataValue(r, n)
		})
	}
	return fn(k, c.sets[k], r.Timestamp, len(r.Body), 1)
}

// segment returns what the streams of r count for.
func (c *counter) segment(r *segment.Reader) *segmentKeys {
	if sk := c.segs[r]; sk != nil {
		return sk
	}
	streams := r.Extra().(*segExtra).meta.Streams
	sk := &segmentKeys{keys: make([]int, len(streams)), decode: map[int]bool{}}
	for i, st := range streams {
		sk.keys[i] = c.streamKey(st.Labels, st.mayHaveMetadata)
		if sk.keys[i] == perRecord {
			for _, b := range st.Blocks {
				sk.decode[b] = true
			}
		}
	}
	c.segs[r] = sk
	return sk
}

// countUnit counts the records of a head or a block in (from, to].
func (s *Store) countUnit(c *counter, u unit, from, to int64, together func(minT, maxT int64) bool, st *SearchStats, fn CountFn) error {
	if u.head == nil {
		sk := c.segment(u.seg)
		blk := &u.seg.Blocks[u.block]
		_, hasStream := blk.Column(colStream)
		_, hasSize := blk.Column(colSize)
		if hasStream && hasSize && !sk.decode[u.block] {
			if together != nil && blk.MinT > from && blk.MaxT <= to && together(blk.MinT, blk.MaxT) {
				return countBlock(u.seg, u.block, sk.keys, c.sets, st, fn)
			}
			return countColumns(u.seg, u.block, sk.keys, c.sets, from, to, st, fn)
		}
	}
	var err error
	serr := s.scanUnit(u, from+1, to, func(*Record) bool { return err == nil }, st, func(r *Record) {
		err = c.record(r, fn)
	})
	if serr != nil {
		return serr
	}
	return err
}

// countColumns counts the rows of block b of r in (from, to] from its time,
// stream and size columns; keys are the segment's streams' label set keys.
func countColumns(r *segment.Reader, b int, keys []int, sets []labels.Labels, from, to int64, st *SearchStats, fn CountFn) error {
	cols, err := r.ReadBlock(b, colTime, colStream, colSize)
	if err != nil {
		return err
	}
	rows := r.Blocks[b].Rows
	st.BlocksRead++
	st.RecordsCounted += rows
	corrupt := func(what string) error {
		return fmt.Errorf("segment %s block %d: %w: %s", r.Dir(), b, segment.ErrCorrupt, what)
	}
	// The hot loop of a volume query: varints read in place (segment.Dec
	// costs a third more here).
	tm, stream, size := cols[colTime], cols[colStream], cols[colSize]
	ts := int64(0)
	for range rows {
		d, n1 := binary.Varint(tm)
		i, n2 := binary.Uvarint(stream)
		n, n3 := binary.Uvarint(size)
		if n1 <= 0 || n2 <= 0 || n3 <= 0 {
			return corrupt("short column")
		}
		tm, stream, size = tm[n1:], stream[n2:], size[n3:]
		ts += d
		if i >= uint64(len(keys)) {
			return corrupt(fmt.Sprintf("stream %d of %d", i, len(keys)))
		}
		if ts <= from || ts > to || keys[i] < 0 {
			continue // a stream that does not match (never perRecord: its blocks are decoded)
		}
		if err := fn(keys[i], sets[keys[i]], ts, int(n), 1); err != nil {
			return err
		}
	}
	return nil
}

// countBlock counts the rows of block b of r, all of which are in the
// range and count alike, per label set from its stream and size columns:
// one call of fn per label set, at the block's first time.
func countBlock(r *segment.Reader, b int, keys []int, sets []labels.Labels, st *SearchStats, fn CountFn) error {
	cols, err := r.ReadBlock(b, colStream, colSize)
	if err != nil {
		return err
	}
	blk := &r.Blocks[b]
	st.BlocksRead++
	st.RecordsCounted += blk.Rows
	n := make([]int, len(sets))
	size := make([]int, len(sets))
	stream, sz := cols[colStream], cols[colSize]
	for range blk.Rows {
		i, n1 := binary.Uvarint(stream)
		s, n2 := binary.Uvarint(sz)
		if n1 <= 0 || n2 <= 0 || i >= uint64(len(keys)) {
			return fmt.Errorf("segment %s block %d: %w: stream or size column", r.Dir(), b, segment.ErrCorrupt)
		}
		stream, sz = stream[n1:], sz[n2:]
		if k := keys[i]; k >= 0 { // a stream that matches (never perRecord: its blocks are decoded)
			n[k]++
			size[k] += int(s)
		}
	}
	for k := range n {
		if n[k] > 0 {
			if err := fn(k, sets[k], blk.MinT, size[k], n[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

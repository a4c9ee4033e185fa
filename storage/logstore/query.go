package logstore

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/sightline-dev/sightline/storage/segment"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// snapshot is what one query reads: head prefixes and segments, taken
// together under the tenant lock so that a flush finishing meanwhile
// neither hides nor doubles records.
type snapshot struct {
	heads []headView
	segs  []*segment.Reader
}

func takeSnapshot(t *tenantStore, from, to int64) snapshot {
	var sn snapshot
	sn.segs = t.Snapshot(from, to, func(h *head) {
		if len(h.recs) > 0 && h.maxT >= from && h.minT <= to {
			sn.heads = append(sn.heads, headView{recs: h.recs[:len(h.recs):len(h.recs)], minT: h.minT, maxT: h.maxT})
		}
	})
	return sn
}

func (sn snapshot) release() {
	for _, r := range sn.segs {
		r.Release()
	}
}

// unit is a piece of a search: a head, or one candidate block of a segment.
type unit struct {
	head  *headView
	seg   *segment.Reader
	block int
	minT  int64
	maxT  int64
}

// SearchRequest is a native log search.
type SearchRequest struct {
	Query    query.Query // from ParseQuery
	From, To int64       // unix nanoseconds, inclusive
	Limit    int
	Backward bool // newest first (the default in the API)
}

// SearchStats tells how much a query read.
type SearchStats struct {
	Segments       int `json:"segments"`
	BlocksRead     int `json:"blocksRead"`
	RecordsScanned int `json:"recordsScanned"`
}

// Search returns the records of the tenant of ctx that match the request,
// at most Limit, newest first when Backward.
func (s *Store) Search(ctx context.Context, req SearchRequest) ([]*Record, SearchStats, error) {
	var st SearchStats
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return nil, st, nil
	}
	sn := takeSnapshot(t, req.From, req.To)
	defer sn.release()
	units, err := s.candidates(ctx, sn, req.Query, req.From, req.To, &st)
	if err != nil {
		return nil, st, err
	}
	if req.Backward {
		sort.Slice(units, func(i, j int) bool { return units[i].maxT > units[j].maxT })
	} else {
		sort.Slice(units, func(i, j int) bool { return units[i].minT < units[j].minT })
	}
	less := func(a, b *Record) bool {
		if req.Backward {
			return a.Timestamp > b.Timestamp
		}
		return a.Timestamp < b.Timestamp
	}
	var out []*Record
	m := newMatcher(req.Query, s.im)
	for _, u := range units {
		if req.Limit > 0 && len(out) >= req.Limit {
			cut := out[req.Limit-1].Timestamp
			if (req.Backward && u.maxT < cut) || (!req.Backward && u.minT > cut) {
				break
			}
		}
		err := s.scanUnit(u, req.From, req.To, m, &st, func(r *Record) {
			out = append(out, r)
		})
		if err != nil {
			return nil, st, err
		}
		sort.SliceStable(out, func(i, j int) bool { return less(out[i], out[j]) })
		if req.Limit > 0 && len(out) > req.Limit {
			out = out[:req.Limit]
		}
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
	}
	return out, st, nil
}

// candidates lists the heads and the blocks that bleve says may match.
func (s *Store) candidates(ctx context.Context, sn snapshot, q query.Query, from, to int64, st *SearchStats) ([]unit, error) {
	var units []unit
	for i := range sn.heads {
		h := &sn.heads[i]
		units = append(units, unit{head: h, minT: h.minT, maxT: h.maxT})
	}
	relaxed := relax(q)
	_, all := relaxed.(*query.MatchAllQuery)
	for _, r := range sn.segs {
		st.Segments++
		inRange := func(b int) bool { return r.Blocks[b].MaxT >= from && r.Blocks[b].MinT <= to }
		if all {
			for b := range r.Blocks {
				if inRange(b) {
					units = append(units, unit{seg: r, block: b, minT: r.Blocks[b].MinT, maxT: r.Blocks[b].MaxT})
				}
			}
			continue
		}
		x := r.Extra().(*segExtra)
		res, err := x.index.SearchInContext(ctx, bleve.NewSearchRequestOptions(relaxed, (len(r.Blocks)+x.meta.BlocksPerDoc-1)/x.meta.BlocksPerDoc, 0, false))
		if err != nil {
			return nil, fmt.Errorf("full-text index of %s: %w", r.Dir(), err)
		}
		for _, hit := range res.Hits {
			d, err := strconv.Atoi(hit.ID)
			per := x.meta.BlocksPerDoc
			if err != nil || d < 0 || d*per >= len(r.Blocks) {
				return nil, fmt.Errorf("full-text index of %s: bad document ID %q", r.Dir(), hit.ID)
			}
			for b := d * per; b < min((d+1)*per, len(r.Blocks)); b++ {
				if inRange(b) {
					units = append(units, unit{seg: r, block: b, minT: r.Blocks[b].MinT, maxT: r.Blocks[b].MaxT})
				}
			}
		}
	}
	return units, nil
}

// scanUnit calls fn with every record of u in [from, to] that m matches.
func (s *Store) scanUnit(u unit, from, to int64, m *Matcher, st *SearchStats, fn func(*Record)) error {
	check := func(r *Record) {
		if r.Timestamp >= from && r.Timestamp <= to && m.Match(r) {
			fn(r)
		}
	}
	if u.head != nil {
		st.RecordsScanned += len(u.head.recs)
		if err := s.checkScan(st); err != nil {
			return err
		}
		for _, r := range u.head.recs {
			check(r)
		}
		return nil
	}
	recs, err := readBlock(u.seg, u.block)
	if err != nil {
		return err
	}
	st.BlocksRead++
	st.RecordsScanned += len(recs)
	if err := s.checkScan(st); err != nil {
		return err
	}
	for i := range recs {
		check(&recs[i])
	}
	return nil
}

func (s *Store) checkScan(st *SearchStats) error {
	if s.opts.MaxScanRecords > 0 && st.RecordsScanned > s.opts.MaxScanRecords {
		return fmt.Errorf("%w: more than %d records to read; narrow the time range or the query", ErrTooMuchData, s.opts.MaxScanRecords)
	}
	return nil
}

func readBlock(r *segment.Reader, b int) ([]Record, error) {
	cols, err := r.ReadBlock(b, allColumns...)
	if err != nil {
		return nil, err
	}
	recs, err := decodeBlock(cols, r.Blocks[b].Rows)
	if err != nil {
		return nil, fmt.Errorf("segment %s block %d: %w", r.Dir(), b, err)
	}
	return recs, nil
}

// ByTrace returns every record of the tenant of ctx that carries trace id,
// oldest first, from the trace indexes: no time range is needed.
func (s *Store) ByTrace(ctx context.Context, id [16]byte) ([]*Record, error) {
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return nil, nil
	}
	var out []*Record
	segs := t.Snapshot(math.MinInt64, math.MaxInt64, func(h *head) {
		for _, i := range h.traces[id] {
			out = append(out, h.recs[i])
		}
	})
	defer func() {
		for _, r := range segs {
			r.Release()
		}
	}()
	for _, r := range segs {
		rows := r.LookupTrace(id)
		var recs []Record
		cur := -1
		for _, row := range rows {
			b := int(row) / segment.BlockRows
			if b != cur {
				var err error
				if recs, err = readBlock(r, b); err != nil {
					return nil, err
				}
				cur = b
			}
			if i := int(row) % segment.BlockRows; i < len(recs) {
				out = append(out, &recs[i])
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Timestamp < out[j].Timestamp })
	return out, nil
}

// Histogram counts the matching records of the tenant of ctx per step,
// for a volume chart: bucket i covers [from+i*step, from+(i+1)*step).
func (s *Store) Histogram(ctx context.Context, q query.Query, from, to, step int64) ([]int64, SearchStats, error) {
	var st SearchStats
	if step <= 0 {
		return nil, st, fmt.Errorf("step must be positive")
	}
	n := (to-from)/step + 1
	if n > 11000 {
		return nil, st, fmt.Errorf("%d buckets is too many (at most 11000): use a larger step", n)
	}
	counts := make([]int64, n)
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return counts, st, nil
	}
	sn := takeSnapshot(t, from, to)
	defer sn.release()
	units, err := s.candidates(ctx, sn, q, from, to, &st)
	if err != nil {
		return nil, st, err
	}
	m := newMatcher(q, s.im)
	for _, u := range units {
		if err := s.scanUnit(u, from, to, m, &st, func(r *Record) { counts[(r.Timestamp-from)/step]++ }); err != nil {
			return nil, st, err
		}
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
	}
	return counts, st, nil
}

// Entry is a record as the Loki API sees it.
type Entry struct {
	Timestamp int64
	Line      string
	// Stream are the stream labels, Metadata the structured metadata.
	Stream, Metadata labels.Labels
	Record           *Record
}

// Fetch calls fn, in ascending time order, with every record of the tenant
// of ctx in (from, to] whose stream labels match matchers.
func (s *Store) Fetch(ctx context.Context, matchers []*labels.Matcher, from, to int64, fn func(Entry) error) error {
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return nil
	}
	sn := takeSnapshot(t, from+1, to)
	defer sn.release()
	matches := func(ls labels.Labels) bool {
		for _, m := range matchers {
			if !m.Matches(ls.Get(m.Name)) {
				return false
			}
		}
		return true
	}
	var st SearchStats
	var out []Entry
	cache := streamCache{}
	take := func(r *Record) {
		if r.Timestamp <= from || r.Timestamp > to {
			return
		}
		sk := streamOf(r, cache)
		if matches(sk.labels) {
			out = append(out, Entry{Timestamp: r.Timestamp, Line: r.Body, Stream: sk.labels, Record: r})
		}
	}
	for _, h := range sn.heads {
		st.RecordsScanned += len(h.recs)
		if err := s.checkScan(&st); err != nil {
			return err
		}
		for _, r := range h.recs {
			take(r)
		}
	}
	for _, r := range sn.segs {
		blocks := map[int]bool{}
		for _, stream := range r.Extra().(*segExtra).meta.Streams {
			if stream.MaxT > from && stream.MinT <= to && matches(stream.Labels) {
				for _, b := range stream.Blocks {
					blocks[b] = true
				}
			}
		}
		ids := make([]int, 0, len(blocks))
		for b := range blocks {
			if r.Blocks[b].MaxT > from && r.Blocks[b].MinT <= to {
				ids = append(ids, b)
			}
		}
		sort.Ints(ids)
		for _, b := range ids {
			recs, err := readBlock(r, b)
			if err != nil {
				return err
			}
			st.RecordsScanned += len(recs)
			if err := s.checkScan(&st); err != nil {
				return err
			}
			for i := range recs {
				take(&recs[i])
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Timestamp < out[j].Timestamp })
	for _, e := range out {
		e.Metadata = Metadata(e.Record)
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// StreamInfo is one stream seen in a time range.
type StreamInfo struct {
	Labels  labels.Labels
	Entries int
	Bytes   int64
}

// Streams returns the streams of the tenant of ctx with records in
// [from, to] that match matchers, with their entry counts and bytes, from
// the heads' and segments' stream lists (no records are read).
func (s *Store) Streams(ctx context.Context, matchers []*labels.Matcher, from, to int64) ([]StreamInfo, int, error) {
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return nil, 0, nil
	}
	byKey := map[string]*StreamInfo{}
	add := func(st *streamStats) {
		if st.MaxT < from || st.MinT > to {
			return
		}
		for _, m := range matchers {
			if !m.Matches(st.Labels.Get(m.Name)) {
				return
			}
		}
		k := st.Labels.String()
		si := byKey[k]
		if si == nil {
			si = &StreamInfo{Labels: st.Labels}
			byKey[k] = si
		}
		si.Entries += st.Entries
		si.Bytes += st.Bytes
	}
	segs := t.Snapshot(from, to, func(h *head) {
		for _, st := range h.streams {
			add(st)
		}
	})
	chunks := 0
	for _, r := range segs {
		chunks += len(r.Blocks)
		for _, st := range r.Extra().(*segExtra).meta.Streams {
			add(st)
		}
		r.Release()
	}
	out := make([]StreamInfo, 0, len(byKey))
	for _, si := range byKey {
		out = append(out, *si)
	}
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].Labels, out[j].Labels) < 0 })
	return out, chunks, nil
}

package colblock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/encoding"
	"github.com/prometheus/prometheus/tsdb/index"

	"github.com/sightline-dev/sightline/storage/segment"
)

// HintPostings marks, in meta.json's compaction hints, a block whose index
// holds packed postings lists (EncodePostings). Blocks without it (from
// Prometheus, or Sightline before packed postings) hold Prometheus' raw
// lists, which PostingsDecoderFor reads with Prometheus' decoder.
const HintPostings = "sightline-postings-v1"

// postingsGroup is the number of references a postings list packs
// together, and so the most Seek decodes to find one.
const postingsGroup = 128

// EncodePostings is the index.PostingsEncoder of columnar blocks. A
// postings list is a sorted list of series references (a series' offset in
// the index / 16); Prometheus writes each in 4 bytes. Here they are packed
// in groups of 128, as the deltas from one reference to the next, so that a
// list of series that sort together (a job's, an instance's, a metric's)
// takes a few bits a series:
//
//	uvarint n | if n > 128: per group, BE32 first reference, BE32 offset of
//	its deltas from the first group's | else uvarint first reference |
//	per group, its packed deltas (appendPacked)
//
// The table of first references lets Seek find a group by binary search.
func EncodePostings(e *encoding.Encbuf, refs []uint32) error {
	n := len(refs)
	e.PutUvarint(n)
	if n == 0 {
		return nil
	}
	groups := (n + postingsGroup - 1) / postingsGroup
	var us []uint64
	var bodies []byte
	for g := range groups {
		lo, hi := g*postingsGroup, min((g+1)*postingsGroup, n)
		if groups > 1 {
			e.PutBE32(refs[lo])
			e.PutBE32int(len(bodies))
		} else {
			e.PutUvarint32(refs[lo])
		}
		us = us[:0]
		for i := lo + 1; i < hi; i++ {
			if refs[i] <= refs[i-1] {
				return fmt.Errorf("postings not sorted: %d after %d", refs[i], refs[i-1])
			}
			us = append(us, uint64(refs[i]-refs[i-1]))
		}
		bodies = appendPacked(bodies, us)
	}
	if len(bodies) > math.MaxUint32 {
		return errors.New("postings list longer than 4 GiB")
	}
	e.PutBytes(bodies)
	return nil
}

// DecodePostings is the index.PostingsDecoder of EncodePostings' lists.
func DecodePostings(d encoding.Decbuf) (int, index.Postings, error) {
	b := d.Get()
	n, k := binary.Uvarint(b)
	if k <= 0 || n > math.MaxUint32 {
		return 0, nil, errCorruptPostings
	}
	b = b[k:]
	p := &packedPostings{n: int(n)}
	if n == 0 {
		return 0, index.EmptyPostings(), nil
	}
	groups := (int(n) + postingsGroup - 1) / postingsGroup
	if groups > 1 {
		if len(b) < 8*groups {
			return 0, nil, errCorruptPostings
		}
		p.table, b = b[:8*groups], b[8*groups:]
		// Seek's binary search needs the table in order: checked once.
		for g := 1; g < groups; g++ {
			if p.firstOf(g) <= p.firstOf(g-1) || p.offsetOf(g) < p.offsetOf(g-1) {
				return 0, nil, errCorruptPostings
			}
		}
		if p.offsetOf(groups-1) > len(b) {
			return 0, nil, errCorruptPostings
		}
	} else {
		first, k := binary.Uvarint(b)
		if k <= 0 || first > math.MaxUint32 {
			return 0, nil, errCorruptPostings
		}
		p.first, b = uint32(first), b[k:]
	}
	p.groups, p.bodies, p.group = groups, b, -1
	return int(n), p, nil
}

var errCorruptPostings = errors.New("corrupt packed postings list")

// PostingsDecoderFor is the tsdb.Options.PostingsDecoderFactory: packed
// postings for the blocks that have them, Prometheus' raw ones otherwise.
func PostingsDecoderFor(meta *tsdb.BlockMeta) index.PostingsDecoder {
	if slices.Contains(meta.Compaction.Hints, HintPostings) {
		return DecodePostings
	}
	return index.DecodePostingsRaw
}

// packedPostings iterates a packed postings list, one decoded group at a
// time.
type packedPostings struct {
	n, groups int
	table     []byte // per group: BE32 first reference, BE32 body offset; nil for one group
	first     uint32 // the first reference, when there is one group
	bodies    []byte

	group int      // the decoded group, -1 before the first
	refs  []uint64 // its references
	i     int      // the current one in refs
	err   error
}

func (p *packedPostings) At() storage.SeriesRef { return storage.SeriesRef(p.refs[p.i]) }
func (p *packedPostings) Err() error            { return p.err }

func (p *packedPostings) Next() bool {
	if p.group >= 0 && p.i+1 < len(p.refs) {
		p.i++
		return true
	}
	return p.load(p.group + 1)
}

func (p *packedPostings) Seek(x storage.SeriesRef) bool {
	if p.group >= p.groups {
		return false
	}
	if p.group >= 0 && p.refs[p.i] >= uint64(x) {
		return true
	}
	// The group to look in is the last whose first reference is ≤ x, from
	// the current one on.
	g := max(p.group, 0)
	if p.table != nil {
		g += max(0, sort.Search(p.groups-g, func(i int) bool {
			return p.firstOf(g+i) > uint64(x)
		})-1)
	}
	if g != p.group && !p.load(g) {
		return false
	}
	for {
		if j, _ := slices.BinarySearch(p.refs[p.i:], uint64(x)); p.i+j < len(p.refs) {
			p.i += j
			return true
		}
		if !p.load(p.group + 1) {
			return false
		}
	}
}

func (p *packedPostings) firstOf(g int) uint64 {
	return uint64(binary.BigEndian.Uint32(p.table[8*g:]))
}

func (p *packedPostings) offsetOf(g int) int {
	return int(binary.BigEndian.Uint32(p.table[8*g+4:]))
}

// load decodes group g and stands on its first reference.
func (p *packedPostings) load(g int) bool {
	if g >= p.groups || p.err != nil {
		p.group, p.refs, p.i = p.groups, p.refs[:0], 0
		return false
	}
	size := min(postingsGroup, p.n-g*postingsGroup)
	first, body := uint64(p.first), p.bodies
	next := uint64(math.MaxUint32 + 1) // the next group's first reference
	if p.table != nil {
		first = p.firstOf(g)
		hi := len(p.bodies)
		if g+1 < p.groups {
			next, hi = p.firstOf(g+1), p.offsetOf(g+1)
		}
		body = p.bodies[p.offsetOf(g):hi]
	}
	p.refs = growUint64(p.refs, size)
	r := &segment.Dec{B: body}
	readPacked(r, p.refs[1:], false)
	if r.Err != nil {
		p.err = errCorruptPostings
		return p.load(p.groups)
	}
	p.refs[0] = first
	for i := 1; i < size; i++ {
		d := p.refs[i]
		if p.refs[i] = p.refs[i-1] + d; d == 0 || d > math.MaxUint32 || p.refs[i] >= next {
			p.err = errCorruptPostings
			return p.load(p.groups)
		}
	}
	p.group, p.i = g, 0
	return true
}

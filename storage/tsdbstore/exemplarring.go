package tsdbstore

import (
	"context"
	"math"
	"sync"

	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
)

// minExemplarRing is the size of the exemplar ring of a tenant that has
// sent no exemplar: 40 KB.
const minExemplarRing = 1 << 10

// exemplarRing sizes a tenant's exemplar ring to what the tenant sends.
//
// TSDB allocates its ring (-metrics.max-exemplars, 100,000 by default)
// whole when it opens: 4 MB of heap for every tenant, most of which send
// no exemplar, which was 6 MB of RSS a tenant at GOGC=50, two thirds of
// what a new tenant cost (Mimir keeps exemplars off per tenant by default
// for the same reason). So the ring starts at minExemplarRing and grows
// fourfold, up to its configured size, before a commit could make it
// overwrite an exemplar: until it reaches that size it never turns over,
// so it holds what a ring of full size would, and after that it is one.
// Growing is TSDB's own resize (Head.ApplyConfig), which copies the
// entries: up to the default size, four times in a tenant's life.
type exemplarRing struct {
	head *tsdb.Head
	ooo  int64 // the head's out-of-order window, which Head.ApplyConfig sets too
	max  int64 // -metrics.max-exemplars

	mu    sync.Mutex
	size  int64 // the ring's size now
	taken int64 // the exemplars put in the ring since it opened, at most
}

// newExemplarRing fits the ring of db, opened at limit so that its WAL
// replay kept every exemplar the ring had, to the exemplars it holds.
func newExemplarRing(db *tsdb.DB, limit, ooo int64) (*exemplarRing, error) {
	n, err := exemplarsInRing(db)
	if err != nil {
		return nil, err
	}
	r := &exemplarRing{head: db.Head(), ooo: ooo, max: limit, size: limit, taken: n}
	r.resize(r.fit(n))
	return r, nil
}

// exemplarsInRing counts the exemplars in db's ring.
func exemplarsInRing(db *tsdb.DB) (int64, error) {
	q, err := db.ExemplarQuerier(context.Background())
	if err != nil {
		return 0, err
	}
	all := []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".*")}
	res, err := q.Select(math.MinInt64, math.MaxInt64, all)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, s := range res {
		n += int64(len(s.Exemplars))
	}
	return n, nil
}

// reserve grows the ring, before a commit of n exemplars, so that it
// takes them without overwriting any while it is below its limit.
func (r *exemplarRing) reserve(n int) {
	if r == nil || n == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.taken += int64(n)
	if r.taken > r.size {
		r.resize(r.fit(r.taken))
	}
}

// fit is the size of a ring for n exemplars: the smallest of
// minExemplarRing times a power of four that holds them, or max.
func (r *exemplarRing) fit(n int64) int64 {
	size := min(minExemplarRing, r.max)
	for size < n && size < r.max {
		size = min(4*size, r.max)
	}
	return size
}

func (r *exemplarRing) resize(size int64) {
	if size == r.size {
		return
	}
	r.size = size
	r.head.ApplyConfig(&config.Config{StorageConfig: config.StorageConfig{
		TSDBConfig:      &config.TSDBConfig{OutOfOrderTimeWindow: r.ooo},
		ExemplarsConfig: &config.ExemplarsConfig{MaxExemplars: size},
	}}, nil)
}

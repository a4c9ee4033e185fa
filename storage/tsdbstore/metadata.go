package tsdbstore

import (
	"sort"
	"sync"

	"github.com/prometheus/prometheus/model/metadata"
)

// metadataIndex keeps, per tenant and metric family, the distinct metadata
// seen at ingest. TSDB writes metadata to its WAL but offers no way to read
// it back, so the index lives here; it is rebuilt as data arrives after a
// restart.
type metadataIndex struct {
	mu       sync.RWMutex
	byTenant map[string]map[string][]metadata.Metadata // guarded by mu
}

func newMetadataIndex() *metadataIndex {
	return &metadataIndex{byTenant: map[string]map[string][]metadata.Metadata{}}
}

// SetMetadata records the metadata of metric family name for tenant id.
func (s *Store) SetMetadata(id, name string, md metadata.Metadata) {
	m := s.meta
	m.mu.RLock()
	for _, have := range m.byTenant[id][name] {
		if have == md {
			m.mu.RUnlock()
			return
		}
	}
	m.mu.RUnlock()

	m.mu.Lock()
	defer m.mu.Unlock()
	fams := m.byTenant[id]
	if fams == nil {
		fams = map[string][]metadata.Metadata{}
		m.byTenant[id] = fams
	}
	for _, have := range fams[name] {
		if have == md {
			return
		}
	}
	fams[name] = append(fams[name], md)
}

// Metadata returns tenant id's metadata by metric family, as Prometheus'
// /api/v1/metadata does: all families, or only metric if it is not empty;
// limit bounds the families and limitPerMetric the entries of each (<= 0:
// no limit).
func (s *Store) Metadata(id, metric string, limit, limitPerMetric int) map[string][]metadata.Metadata {
	m := s.meta
	m.mu.RLock()
	defer m.mu.RUnlock()
	fams := m.byTenant[id]
	names := make([]string, 0, len(fams))
	for name := range fams {
		if metric == "" || name == metric {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := map[string][]metadata.Metadata{}
	for _, name := range names {
		if limit > 0 && len(out) >= limit {
			break
		}
		mds := fams[name]
		if limitPerMetric > 0 && len(mds) > limitPerMetric {
			mds = mds[:limitPerMetric]
		}
		out[name] = append([]metadata.Metadata(nil), mds...)
	}
	return out
}

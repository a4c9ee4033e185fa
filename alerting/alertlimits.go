package alerting

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/common/model"

	"github.com/sightline-dev/sightline/storage/tenant"
)

// AlertLimits are the tenants' bounds on the alerts they hold in the
// Alertmanager (limits.Registry).
type AlertLimits interface {
	// AlertmanagerLimits returns the alerts the tenant may hold and the
	// bytes of their labels, annotations and generator URLs; 0 for no
	// limit.
	AlertmanagerLimits(tenant string) (maxAlerts, maxBytes int)
	// Refused counts alerts refused by the limit named reason.
	Refused(reason string)
}

// ErrAlertLimit refuses alerts beyond a tenant's AlertLimits; the tenant
// view answers it with 429.
var ErrAlertLimit = errors.New("alert limit reached")

// Reasons of refused alerts, Mimir's names of the limits, for
// sightline_limits_refused_total{reason}.
const (
	ReasonMaxAlerts     = "alertmanager_max_alerts_count"
	ReasonMaxAlertsSize = "alertmanager_max_alerts_size_bytes"
)

// alertsLimiter keeps each tenant's count and size of the alerts in the
// Alertmanager's store, as its callback (so that it follows every put and
// every garbage collection of resolved alerts), and refuses what would take
// a tenant beyond its limits, as Mimir's alertsLimiter does for its
// per-tenant Alertmanagers. Here all tenants share one store, told apart by
// their tenant label, so one tenant at its limit leaves the others as they
// are.
type alertsLimiter struct {
	limits AlertLimits

	mu      sync.Mutex
	tenants map[string]*heldAlerts // guarded by mu; tenants holding alerts
}

// heldAlerts are one tenant's alerts in the store.
type heldAlerts struct {
	bytes int
	sizes map[model.Fingerprint]int
}

// sizedAlert is an alert as the limits see it.
type sizedAlert struct {
	fp   model.Fingerprint
	size int
}

func newAlertsLimiter(limits AlertLimits) *alertsLimiter {
	return &alertsLimiter{limits: limits, tenants: map[string]*heldAlerts{}}
}

// tenantOf is the tenant of an alert with these labels.
func tenantOf(ls model.LabelSet) string {
	if id := ls[TenantLabel]; id != "" {
		return string(id)
	}
	return tenant.Default
}

// alertSize is what an alert counts against the size limit, as Mimir
// counts it.
func alertSize(a model.Alert) int {
	n := len(a.GeneratorURL)
	for k, v := range a.Labels {
		n += len(k) + len(v)
	}
	for k, v := range a.Annotations {
		n += len(k) + len(v)
	}
	return n
}

// admit refuses the alerts (all of tenant id) if holding them would take
// the tenant beyond its limits; alerts it holds already count no more
// than the change of their size.
func (l *alertsLimiter) admit(id string, alerts []sizedAlert) error {
	maxAlerts, maxBytes := l.limits.AlertmanagerLimits(id)
	if maxAlerts <= 0 && maxBytes <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	held := l.tenants[id]
	if held == nil {
		held = &heldAlerts{}
	}
	count, bytes := len(held.sizes), held.bytes
	seen := make(map[model.Fingerprint]int, len(alerts))
	for _, a := range alerts {
		old, ok := seen[a.fp]
		if !ok {
			old, ok = held.sizes[a.fp]
		}
		if !ok {
			count++
		}
		bytes += a.size - old
		seen[a.fp] = a.size
	}
	if maxAlerts > 0 && count > maxAlerts {
		l.limits.Refused(ReasonMaxAlerts)
		return fmt.Errorf("%w: tenant %q may hold at most %d alerts (-limits.alertmanager-max-alerts, alertmanager_max_alerts_count) and holds %d; resolved alerts are forgotten after 30 minutes",
			ErrAlertLimit, id, maxAlerts, len(held.sizes))
	}
	if maxBytes > 0 && bytes > maxBytes {
		l.limits.Refused(ReasonMaxAlertsSize)
		return fmt.Errorf("%w: tenant %q may hold at most %d bytes of alert labels, annotations and generator URLs (-limits.alertmanager-max-alerts-size-bytes, alertmanager_max_alerts_size_bytes); these alerts would take it to %d",
			ErrAlertLimit, id, maxBytes, bytes)
	}
	return nil
}

// PreStore is the store's check before it keeps an alert (from the API or
// the rules): the bound holds even for alerts that no API check saw.
func (l *alertsLimiter) PreStore(a *types.Alert, _ bool) error {
	return l.admit(tenantOf(a.Labels), []sizedAlert{{fp: a.Fingerprint(), size: alertSize(a.Alert)}})
}

// PostStore counts an alert the store keeps.
func (l *alertsLimiter) PostStore(a *types.Alert, _ bool) {
	id, fp, size := tenantOf(a.Labels), a.Fingerprint(), alertSize(a.Alert)
	l.mu.Lock()
	defer l.mu.Unlock()
	held := l.tenants[id]
	if held == nil {
		held = &heldAlerts{sizes: map[model.Fingerprint]int{}}
		l.tenants[id] = held
	}
	held.bytes += size - held.sizes[fp]
	held.sizes[fp] = size
}

// PostDelete forgets an alert the store has let go (resolved, then
// garbage-collected).
func (l *alertsLimiter) PostDelete(a *types.Alert) {
	id, fp := tenantOf(a.Labels), a.Fingerprint()
	l.mu.Lock()
	defer l.mu.Unlock()
	held := l.tenants[id]
	if held == nil {
		return
	}
	held.bytes -= held.sizes[fp]
	delete(held.sizes, fp)
	if len(held.sizes) == 0 {
		delete(l.tenants, id) // a tenant holding nothing takes no memory
	}
}

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
	// Admit admits a tenant that posts alerts, or refuses it (too many
	// tenants): without it, alerts posted under ever new tenant names
	// would each have a quota of their own.
	Admit(tenant string) error
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

// tally is what a tenant would hold with some more alerts.
type tally struct {
	held         *heldAlerts
	count, bytes int
	added        map[model.Fingerprint]int // sizes of the alerts added
}

// tallyLocked starts a tally of what tenant id holds. l.mu is held.
func (l *alertsLimiter) tallyLocked(id string) *tally {
	held := l.tenants[id]
	if held == nil {
		held = &heldAlerts{}
	}
	return &tally{held: held, count: len(held.sizes), bytes: held.bytes, added: map[model.Fingerprint]int{}}
}

// with returns what the tenant would hold with a as well: an alert it
// holds already counts no more than the change of its size.
func (t *tally) with(a sizedAlert) (count, bytes int) {
	old, ok := t.added[a.fp]
	if !ok {
		old, ok = t.held.sizes[a.fp]
	}
	if !ok {
		return t.count + 1, t.bytes + a.size - old
	}
	return t.count, t.bytes + a.size - old
}

func (t *tally) add(a sizedAlert) {
	t.count, t.bytes = t.with(a)
	t.added[a.fp] = a.size
}

// overErr is the refusal of holding count alerts of bytes, or nil if the
// tenant's limits allow it; it counts the refusal.
func (l *alertsLimiter) overErr(id string, count, bytes, maxAlerts, maxBytes, holds int) error {
	if maxAlerts > 0 && count > maxAlerts {
		l.limits.Refused(ReasonMaxAlerts)
		return fmt.Errorf("%w: tenant %q may hold at most %d alerts (-limits.alertmanager-max-alerts, alertmanager_max_alerts_count) and holds %d; resolved alerts are forgotten after 30 minutes",
			ErrAlertLimit, id, maxAlerts, holds)
	}
	if maxBytes > 0 && bytes > maxBytes {
		l.limits.Refused(ReasonMaxAlertsSize)
		return fmt.Errorf("%w: tenant %q may hold at most %d bytes of alert labels, annotations and generator URLs (-limits.alertmanager-max-alerts-size-bytes, alertmanager_max_alerts_size_bytes); these alerts would take it to %d",
			ErrAlertLimit, id, maxBytes, bytes)
	}
	return nil
}

// admit refuses the alerts (all of tenant id) if holding them all would
// take the tenant beyond its limits.
func (l *alertsLimiter) admit(id string, alerts []sizedAlert) error {
	maxAlerts, maxBytes := l.limits.AlertmanagerLimits(id)
	if maxAlerts <= 0 && maxBytes <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tallyLocked(id)
	for _, a := range alerts {
		t.add(a)
	}
	return l.overErr(id, t.count, t.bytes, maxAlerts, maxBytes, len(t.held.sizes))
}

// fit tells which of the tenant's alerts fit within its limits, taken in
// order as the store takes them: those that do not are refused (and
// counted) one by one, and the others kept.
func (l *alertsLimiter) fit(id string, alerts []sizedAlert) (fits []bool, err error) {
	maxAlerts, maxBytes := l.limits.AlertmanagerLimits(id)
	fits = make([]bool, len(alerts))
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tallyLocked(id)
	for i, a := range alerts {
		count, bytes := t.with(a)
		if e := l.overErr(id, count, bytes, maxAlerts, maxBytes, len(t.held.sizes)); e != nil {
			err = e
			continue
		}
		t.add(a)
		fits[i] = true
	}
	return fits, err
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

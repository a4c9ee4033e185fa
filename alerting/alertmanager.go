package alerting

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/api"
	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/config/receiver"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/route"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"

	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/internal/throttle"
)

// DefaultAlertmanagerConfig routes every alert to a receiver without
// integrations: alerts are kept and shown by the API but sent nowhere.
const DefaultAlertmanagerConfig = `
route:
  receiver: default
  group_by: [alertname]
receivers:
  - name: default
`

// AlertmanagerOptions configure the embedded Alertmanager.
type AlertmanagerOptions struct {
	// ConfigFile is an Alertmanager configuration file; empty means
	// DefaultAlertmanagerConfig.
	ConfigFile string
	// DataDir keeps the silences and notification-log snapshots.
	DataDir string
	// Retention of silences and of the notification log.
	Retention time.Duration
	// ExternalURL is where notifications link back to.
	ExternalURL *url.URL
	// Limits, if not nil, bound the alerts each tenant may hold. Not a
	// flag.
	Limits AlertLimits
}

// DefaultAlertmanagerOptions are Alertmanager's defaults.
func DefaultAlertmanagerOptions() AlertmanagerOptions {
	return AlertmanagerOptions{Retention: 120 * time.Hour}
}

// RegisterFlags declares the options a user sets as flags, with their
// current values as defaults.
func (o *AlertmanagerOptions) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.ConfigFile, "alertmanager.config.file", o.ConfigFile, "Alertmanager configuration file (Alertmanager's format) for the built-in Alertmanager; default routes every alert to a receiver that sends nothing.")
	flagext.Duration(fs, &o.Retention, "alertmanager.data-retention", "How long the built-in Alertmanager keeps silences and its notification log.")
}

// Alertmanager is an Alertmanager embedded in Sightline. It is safe for
// concurrent use.
type Alertmanager struct {
	opts     AlertmanagerOptions
	logger   *slog.Logger
	marker   *types.MemMarker
	alerts   *mem.Alerts
	silences *silence.Silences
	nflog    *nflog.Log
	api      *api.API
	handler  http.Handler
	limiter  *alertsLimiter // nil: no limits
	refused  *throttle.Logger
	pipeline *notify.PipelineBuilder
	dispM    *dispatch.DispatcherMetrics

	stop chan struct{}
	wg   sync.WaitGroup

	snapMu sync.Mutex // one silences snapshot at a time

	mu        sync.Mutex // guards the fields below and serialises reloads
	disp      *dispatch.Dispatcher
	inhibitor *inhibit.Inhibitor
	stopped   bool
}

// NewAlertmanager starts the embedded Alertmanager with the configuration
// of opts.ConfigFile; an invalid one is an error.
func NewAlertmanager(opts AlertmanagerOptions, logger *slog.Logger, reg prometheus.Registerer) (*Alertmanager, error) {
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("alertmanager data dir: %w", err)
	}
	am := &Alertmanager{opts: opts, logger: logger, stop: make(chan struct{}), refused: throttle.New(logger, time.Minute)}
	var err error
	am.nflog, err = nflog.New(nflog.Options{
		SnapshotFile: filepath.Join(opts.DataDir, "nflog"),
		Retention:    opts.Retention,
		Logger:       logger.With("component", "nflog"),
		Metrics:      reg,
	})
	if err != nil {
		return nil, fmt.Errorf("notification log: %w", err)
	}
	am.marker = types.NewMarker(reg)
	am.silences, err = silence.New(silence.Options{
		SnapshotFile: filepath.Join(opts.DataDir, "silences"),
		Retention:    opts.Retention,
		Logger:       logger.With("component", "silences"),
		Metrics:      reg,
	})
	if err != nil {
		return nil, fmt.Errorf("silences: %w", err)
	}
	// Snapshots every 15 minutes and at Stop, as Alertmanager does.
	am.wg.Add(2)
	go func() {
		defer am.wg.Done()
		am.nflog.Maintenance(15*time.Minute, filepath.Join(opts.DataDir, "nflog"), am.stop, nil)
	}()
	go func() {
		defer am.wg.Done()
		// Its snapshots go through snapshotSilences too, so that they and
		// the ones written for API changes never overtake each other.
		am.silences.Maintenance(15*time.Minute, filepath.Join(opts.DataDir, "silences"), am.stop, func() (int64, error) {
			if _, err := am.silences.GC(); err != nil {
				return 0, err
			}
			return am.snapshotSilences()
		})
	}()

	var callback mem.AlertStoreCallback // nil: none
	if opts.Limits != nil {
		am.limiter = newAlertsLimiter(opts.Limits)
		callback = am.limiter
	}
	am.alerts, err = mem.NewAlerts(context.Background(), am.marker, 30*time.Minute, callback, logger, reg)
	if err != nil {
		am.Stop()
		return nil, fmt.Errorf("alert store: %w", err)
	}
	am.api, err = api.New(api.Options{
		Alerts:          am.alerts,
		Silences:        am.silences,
		AlertStatusFunc: am.marker.Status,
		GroupMutedFunc:  am.marker.Muted,
		Timeout:         time.Minute,
		Logger:          logger.With("component", "alertmanager-api"),
		Registry:        reg,
		GroupFunc: func(rf func(*dispatch.Route) bool, af func(*types.Alert, time.Time) bool) (dispatch.AlertGroups, map[model.Fingerprint][]string) {
			am.mu.Lock()
			d := am.disp
			am.mu.Unlock()
			return d.Groups(rf, af)
		},
	})
	if err != nil {
		am.Stop()
		return nil, fmt.Errorf("alertmanager API: %w", err)
	}
	// Only /api/v2 is served: Alertmanager's removed /api/v1 would shadow
	// Prometheus' /api/v1/alerts.
	am.handler = am.persistingSilences(am.api.Register(route.New(), "/"))
	am.pipeline = notify.NewPipelineBuilder(reg, featurecontrol.NoopFlags{})
	am.dispM = dispatch.NewDispatcherMetrics(false, reg)
	if err := am.Reload(); err != nil {
		am.Stop()
		return nil, err
	}
	return am, nil
}

// persistingSilences wraps the API so that a silence created, changed or
// expired through it is in the snapshot on disk before the client hears it
// was: Alertmanager itself snapshots every 15 minutes, and a silence
// acknowledged in between would not survive kill -9.
func (am *Alertmanager) persistingSilences(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		changes := (r.Method == http.MethodPost && r.URL.Path == "/api/v2/silences") ||
			(r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/api/v2/silence/"))
		if !changes {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if rec.Code/100 == 2 {
			if _, err := am.snapshotSilences(); err != nil {
				am.logger.Error("writing the silences snapshot failed", "err", err)
				http.Error(w, "silence changed but not saved to disk: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		copyResponse(w, rec)
	})
}

// snapshotSilences writes the silences to their snapshot file (a synced
// temporary file renamed into place) and returns its size.
func (am *Alertmanager) snapshotSilences() (int64, error) {
	am.snapMu.Lock()
	defer am.snapMu.Unlock()
	f, err := os.CreateTemp(am.opts.DataDir, "silences.tmp*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name()) // after a successful rename, there is nothing to remove
	size, err := am.silences.Snapshot(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(am.opts.DataDir, "silences"))
	}
	if err != nil {
		return 0, fmt.Errorf("silences snapshot: %w", err)
	}
	d, err := os.Open(am.opts.DataDir)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	return size, d.Sync()
}

// Reload reads the configuration file again and, if it is valid, rebuilds
// routing, receivers and inhibition; if not, the running configuration stays.
func (am *Alertmanager) Reload() error {
	var conf *config.Config
	var err error
	if am.opts.ConfigFile == "" {
		conf, err = config.Load(DefaultAlertmanagerConfig)
	} else {
		conf, err = config.LoadFile(am.opts.ConfigFile)
	}
	if err != nil {
		return fmt.Errorf("load alertmanager config: %w", err)
	}
	tmpl, err := template.FromGlobs(conf.Templates)
	if err != nil {
		return fmt.Errorf("alertmanager templates: %w", err)
	}
	if am.opts.ExternalURL != nil {
		tmpl.ExternalURL = am.opts.ExternalURL
	}
	routes := dispatch.NewRoute(conf.Route, nil)
	active := map[string]bool{}
	routes.Walk(func(r *dispatch.Route) { active[r.RouteOpts.Receiver] = true })
	receivers := map[string][]notify.Integration{}
	for _, rcv := range conf.Receivers {
		if !active[rcv.Name] {
			continue
		}
		integrations, err := receiver.BuildReceiverIntegrations(rcv, tmpl, am.logger)
		if err != nil {
			return fmt.Errorf("receiver %q: %w", rcv.Name, err)
		}
		receivers[rcv.Name] = integrations
	}
	intervals := map[string][]timeinterval.TimeInterval{}
	for _, ti := range conf.MuteTimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	for _, ti := range conf.TimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}

	am.mu.Lock()
	defer am.mu.Unlock()
	if am.stopped {
		return errors.New("alertmanager stopped")
	}
	if am.inhibitor != nil {
		am.inhibitor.Stop()
	}
	if am.disp != nil {
		am.disp.Stop()
	}
	am.inhibitor = inhibit.NewInhibitor(am.alerts, conf.InhibitRules, am.marker, am.logger)
	silencer := silence.NewSilencer(am.silences, am.marker, am.logger)
	pipeline := am.pipeline.New(receivers, func() time.Duration { return 0 }, am.inhibitor, silencer,
		timeinterval.NewIntervener(intervals), am.marker, am.nflog, nil)
	inhibitor := am.inhibitor
	am.api.Update(conf, func(ls model.LabelSet) {
		inhibitor.Mutes(ls)
		silencer.Mutes(ls)
	})
	timeout := func(d time.Duration) time.Duration { return max(d, notify.MinTimeout) }
	am.disp = dispatch.NewDispatcher(am.alerts, routes, pipeline, am.marker, timeout, 30*time.Second, nil, am.logger, am.dispM)
	go am.disp.Run()
	go am.inhibitor.Run()
	return nil
}

// Send puts alerts from the rule engine into the Alertmanager, as a
// Prometheus server's POST /api/v2/alerts would.
func (am *Alertmanager) Send(alerts ...*notifier.Alert) {
	now := time.Now()
	out := make([]*types.Alert, 0, len(alerts))
	for _, a := range alerts {
		ta := &types.Alert{
			Alert: model.Alert{
				Labels:       model.LabelSet{},
				Annotations:  model.LabelSet{},
				StartsAt:     a.StartsAt,
				EndsAt:       a.EndsAt,
				GeneratorURL: a.GeneratorURL,
			},
			UpdatedAt: now,
		}
		a.Labels.Range(func(l labels.Label) { ta.Labels[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
		a.Annotations.Range(func(l labels.Label) { ta.Annotations[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
		if err := ta.Validate(); err != nil {
			am.logger.Warn("dropping invalid alert", "alert", ta.Name(), "err", err)
			continue
		}
		out = append(out, ta)
	}
	out = am.withinLimits(out)
	if err := am.alerts.Put(out...); err != nil {
		am.logger.Error("storing alerts", "err", err)
	}
}

// withinLimits drops the rule alerts that would take their tenants beyond
// their limits, counted and logged at a bounded rate (the store would
// refuse them too, with a log line each).
func (am *Alertmanager) withinLimits(alerts []*types.Alert) []*types.Alert {
	if am.limiter == nil {
		return alerts
	}
	byTenant := map[string][]int{}
	for i, a := range alerts {
		id := tenantOf(a.Labels)
		byTenant[id] = append(byTenant[id], i)
	}
	keep := make([]bool, len(alerts))
	for id, idx := range byTenant {
		sized := make([]sizedAlert, len(idx))
		for j, i := range idx {
			sized[j] = sizedAlert{fp: alerts[i].Fingerprint(), size: alertSize(alerts[i].Alert)}
		}
		fits, err := am.limiter.fit(id, sized)
		if err != nil {
			am.refused.Warn("dropping rule alerts over the tenant's limits", "err", err)
		}
		for j, i := range idx {
			keep[i] = fits[j]
		}
	}
	kept := alerts[:0]
	for i, a := range alerts {
		if keep[i] {
			kept = append(kept, a)
		}
	}
	return kept
}

// Stop stops dispatching and writes the silence and notification-log
// snapshots.
func (am *Alertmanager) Stop() {
	am.mu.Lock()
	if am.stopped {
		am.mu.Unlock()
		return
	}
	am.stopped = true
	if am.inhibitor != nil {
		am.inhibitor.Stop()
	}
	if am.disp != nil {
		am.disp.Stop()
	}
	am.mu.Unlock()
	if am.alerts != nil {
		am.alerts.Close()
	}
	close(am.stop)
	am.wg.Wait()
}

package alerting

import (
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/notifier"

	"github.com/sightline-dev/sightline/internal/flagext"
)

// External sends alerts to external Alertmanagers through Prometheus' own
// notifier: the same queue, batching, v2 API and metrics
// (prometheus_notifications_*) as a Prometheus server.
type External struct {
	*notifier.Manager
	done chan struct{}
}

// ExternalOptions name the external Alertmanagers.
type ExternalOptions struct {
	// URLs of the Alertmanagers, e.g. http://alertmanager:9093.
	URLs []string
}

// RegisterFlags declares the options as flags.
func (o *ExternalOptions) RegisterFlags(fs *flag.FlagSet) {
	flagext.Strings(fs, &o.URLs, "alertmanager.url", "An external Alertmanager to send alerts to as well, e.g. http://alertmanager:9093 (repeatable).")
}

// NewExternal starts sending to the Alertmanagers of opts.
func NewExternal(opts ExternalOptions, logger *slog.Logger, reg prometheus.Registerer) (*External, error) {
	n := notifier.NewManager(&notifier.Options{QueueCapacity: 10_000, Registerer: reg, DrainOnShutdown: true}, model.UTF8Validation, logger)
	cfg := config.DefaultConfig
	tsets := map[string][]*targetgroup.Group{}
	for i, raw := range opts.URLs {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("alertmanager URL %q: want http(s)://host:port[/prefix]", raw)
		}
		amc := config.DefaultAlertmanagerConfig
		amc.Scheme = u.Scheme
		amc.PathPrefix = u.Path
		cfg.AlertingConfig.AlertmanagerConfigs = append(cfg.AlertingConfig.AlertmanagerConfigs, &amc)
		// The notifier names each configuration config-<index>; static
		// targets are handed to it as discovery would.
		tsets["config-"+strconv.Itoa(i)] = []*targetgroup.Group{{
			Source:  raw,
			Targets: []model.LabelSet{{model.AddressLabel: model.LabelValue(u.Host)}},
		}}
	}
	if err := n.ApplyConfig(&cfg); err != nil {
		return nil, fmt.Errorf("alertmanager URLs: %w", err)
	}
	ch := make(chan map[string][]*targetgroup.Group, 1)
	ch <- tsets
	e := &External{Manager: n, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		n.Run(ch)
	}()
	return e, nil
}

// Stop drains the queue and stops.
func (e *External) Stop() {
	e.Manager.Stop()
	<-e.done
}

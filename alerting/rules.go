package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"gopkg.in/yaml.v3"

	"github.com/sightline-dev/sightline/query/mql"
)

// RulesOptions configure the rule engine.
type RulesOptions struct {
	// Files are rule files or globs, in Prometheus' rule-file format.
	Files []string
	// EvaluationInterval is the interval of groups that set none.
	EvaluationInterval time.Duration
	// ExternalURL is the base of alerts' generator URLs.
	ExternalURL *url.URL
	// OutageTolerance, ForGracePeriod and ResendDelay have Prometheus'
	// meaning (--rules.alert.for-outage-tolerance and so on).
	OutageTolerance time.Duration
	ForGracePeriod  time.Duration
	ResendDelay     time.Duration
}

// DefaultRulesOptions are Prometheus' defaults.
func DefaultRulesOptions() RulesOptions {
	return RulesOptions{
		EvaluationInterval: time.Minute,
		OutageTolerance:    time.Hour,
		ForGracePeriod:     10 * time.Minute,
		ResendDelay:        time.Minute,
	}
}

// Sender receives the alerts of the rule engine: the embedded Alertmanager,
// Prometheus' notifier for external ones, or both.
type Sender interface {
	Send(alerts ...*notifier.Alert)
}

// Senders sends to each of its members.
type Senders []Sender

// Send implements Sender.
func (s Senders) Send(alerts ...*notifier.Alert) {
	for _, x := range s {
		x.Send(alerts...)
	}
}

// Rules evaluates rule files with Prometheus' rules manager.
type Rules struct {
	opts    RulesOptions
	manager *rules.Manager
	loader  loader
	logger  *slog.Logger
}

// NewRules builds the rule engine: expressions are evaluated by engine over
// queryable, recording rules append to appendable (which also restores alert
// state from ALERTS_FOR_STATE), alerts go to send. Call Reload to load the
// files, then Run.
func NewRules(opts RulesOptions, engine promql.QueryEngine, queryable storage.Queryable, appendable storage.Appendable, send Sender, logger *slog.Logger, reg prometheus.Registerer) *Rules {
	r := &Rules{opts: opts, logger: logger}
	external := ""
	if opts.ExternalURL != nil {
		external = opts.ExternalURL.String()
	}
	r.manager = rules.NewManager(&rules.ManagerOptions{
		ExternalURL:     opts.ExternalURL,
		QueryFunc:       rules.EngineQueryFunc(engine, queryable),
		NotifyFunc:      rules.SendAlerts(send, external),
		Context:         context.Background(),
		Appendable:      appendable,
		Queryable:       queryable,
		Logger:          logger,
		Registerer:      reg,
		OutageTolerance: opts.OutageTolerance,
		ForGracePeriod:  opts.ForGracePeriod,
		ResendDelay:     opts.ResendDelay,
		GroupLoader:     r.loader,
	})
	return r
}

// Files expands the configured globs.
func (r *Rules) Files() ([]string, error) {
	var files []string
	for _, pat := range r.opts.Files {
		fs, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("rule files %q: %w", pat, err)
		}
		files = append(files, fs...)
	}
	return files, nil
}

// Reload loads the rule files again. Invalid files are reported with the
// messages promtool check rules gives, and the running rules stay as they
// were.
func (r *Rules) Reload() error {
	files, err := r.Files()
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		rgs, ferrs := r.loader.Load(f, false, model.UTF8Validation)
		for _, e := range ferrs {
			errs = append(errs, fmt.Errorf("%s: %w", f, e))
		}
		if rgs == nil {
			continue
		}
		for _, g := range rgs.Groups {
			for _, rl := range g.Rules {
				if _, err := r.loader.Parse(rl.Expr); err != nil {
					errs = append(errs, fmt.Errorf("%s: group %q: %w", f, g.Name, err))
				}
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	external := ""
	if r.opts.ExternalURL != nil {
		external = r.opts.ExternalURL.String()
	}
	if err := r.manager.Update(r.opts.EvaluationInterval, files, labels.EmptyLabels(), external, nil); err != nil {
		return fmt.Errorf("update rules: %w", err)
	}
	return nil
}

// Run starts evaluating; it returns at once.
func (r *Rules) Run() { go r.manager.Run() }

// Stop stops every group.
func (r *Rules) Stop() { r.manager.Stop() }

// RuleGroups and AlertingRules serve /api/v1/rules and /api/v1/alerts.
func (r *Rules) RuleGroups() []*rules.Group { return r.manager.RuleGroups() }

// AlertingRules returns the alerting rules of every group.
func (r *Rules) AlertingRules() []*rules.AlertingRule { return r.manager.AlertingRules() }

// loader reads Prometheus rule files whose expressions may be MetricsQL.
type loader struct{}

// Load parses a rule file. A file that rulefmt accepts as it is keeps
// promtool's exact messages; otherwise its expressions are translated from
// MetricsQL and the file is checked again.
func (loader) Load(file string, ignoreUnknownFields bool, scheme model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	rgs, errs := rulefmt.ParseFile(file, ignoreUnknownFields, scheme)
	if len(errs) == 0 {
		return rgs, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, []error{err}
	}
	var doc rulefmt.RuleGroups
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, errs
	}
	translated := false
	for gi := range doc.Groups {
		for ri := range doc.Groups[gi].Rules {
			rl := &doc.Groups[gi].Rules[ri]
			if _, err := parser.ParseExpr(rl.Expr); err == nil {
				continue
			}
			if pq, err := mql.Translate(rl.Expr, 0); err == nil {
				rl.Expr = pq
				translated = true
			}
		}
	}
	if !translated {
		return nil, errs
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, errs
	}
	return rulefmt.Parse(out, ignoreUnknownFields, scheme)
}

// Parse parses a (translated) expression.
func (loader) Parse(q string) (parser.Expr, error) {
	pq, err := mql.Translate(q, 0)
	if err != nil {
		return nil, err
	}
	return parser.ParseExpr(pq)
}

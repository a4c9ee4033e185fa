package alerting

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
	"gopkg.in/yaml.v3"

	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/query/logql"
	"github.com/sightline-dev/sightline/query/mql"
	"github.com/sightline-dev/sightline/storage/tenant"
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
	// TenantDir holds other tenants' rule files, as Loki's ruler keeps
	// them locally: <TenantDir>/<tenant>/*.yml. "" for none.
	TenantDir string
	// LogQuery evaluates LogQL metric queries at an instant, for groups of
	// `type: logql`; nil refuses such groups.
	LogQuery rules.QueryFunc
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

// RegisterFlags declares the options a user sets as flags, with their
// current values as defaults.
func (o *RulesOptions) RegisterFlags(fs *flag.FlagSet) {
	flagext.Strings(fs, &o.Files, "rules.file", "A Prometheus rule file or glob (repeatable), of the default tenant. Reloaded on SIGHUP and POST /-/reload (-web.enable-lifecycle).")
	fs.StringVar(&o.TenantDir, "rules.tenant-dir", o.TenantDir, "A directory of other tenants' rule files, as Loki's ruler keeps them: <dir>/<tenant>/*.yml. Their rules read and write that tenant's data; their alerts carry tenant=\"<tenant>\". Reloaded with the rule files.")
	flagext.Duration(fs, &o.EvaluationInterval, "rules.evaluation-interval", "Evaluation interval of rule groups that set none.")
	flagext.Duration(fs, &o.ResendDelay, "rules.alert.resend-delay", "Minimum wait before a firing alert is sent again to the Alertmanagers.")
	flagext.Duration(fs, &o.OutageTolerance, "rules.alert.for-outage-tolerance", "Longest outage after which 'for' state of alerts is still restored at start-up.")
	flagext.Duration(fs, &o.ForGracePeriod, "rules.alert.for-grace-period", "Minimum time an alert waits after a restart before firing, when restoring its 'for' state.")
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

// Rules evaluates rule files with Prometheus' rules manager, one manager
// per tenant, as Loki's and Mimir's rulers do: a tenant's rules query and
// write that tenant's data only.
type Rules struct {
	opts    RulesOptions
	loader  *loader
	logger  *slog.Logger
	metrics *rules.Metrics
	newMgr  func(tenantID string) *rules.Manager

	mu      sync.Mutex
	tenants map[string]*rules.Manager // guarded by mu
	running bool                      // guarded by mu

	// logQLGroups holds, per tenant, the keys (rules.GroupKey) of its
	// groups of `type: logql`, replaced whole on every reload.
	logQLGroups sync.Map // tenant → map[string]bool
}

// NewRules builds the rule engine: expressions are evaluated by engine over
// queryable, recording rules append to appendable (which also restores alert
// state from ALERTS_FOR_STATE), alerts go to send; each through the tenant
// of the rule's file. Call Reload to load the files, then Run.
func NewRules(opts RulesOptions, engine promql.QueryEngine, queryable storage.Queryable, appendable storage.Appendable, send Sender, logger *slog.Logger, reg prometheus.Registerer) *Rules {
	r := &Rules{opts: opts, logger: logger, loader: &loader{allowLogQL: opts.LogQuery != nil},
		metrics: rules.NewGroupMetrics(reg), tenants: map[string]*rules.Manager{}}
	external := ""
	if opts.ExternalURL != nil {
		external = opts.ExternalURL.String()
	}
	r.newMgr = func(id string) *rules.Manager {
		q := tenantQueryable{queryable, id}
		promQuery := rules.EngineQueryFunc(engine, q)
		query := func(ctx context.Context, expr string, t time.Time) (promql.Vector, error) {
			ctx = tenant.With(ctx, id)
			if r.isLogQL(ctx, id) {
				return opts.LogQuery(ctx, expr, t)
			}
			return promQuery(ctx, expr, t)
		}
		var sender Sender = send
		if id != tenant.Default {
			sender = tenantSender{send, id}
		}
		return rules.NewManager(&rules.ManagerOptions{
			ExternalURL:     opts.ExternalURL,
			QueryFunc:       query,
			NotifyFunc:      rules.SendAlerts(sender, external),
			Context:         tenant.With(context.Background(), id),
			Appendable:      tenantAppendable{appendable, id},
			Queryable:       q,
			Logger:          logger.With("tenant", id),
			Metrics:         r.metrics,
			OutageTolerance: opts.OutageTolerance,
			ForGracePeriod:  opts.ForGracePeriod,
			ResendDelay:     opts.ResendDelay,
			GroupLoader:     r.loader,
			// Dependency analysis inspects PromQL syntax trees; LogQL rules
			// have none, and groups are evaluated rule by rule anyway.
			RuleDependencyController: noDependencies{},
		})
	}
	return r
}

// Files returns the rule files of each tenant: the configured globs are
// the default tenant's, and <TenantDir>/<tenant>/*.{yml,yaml} each
// tenant's.
func (r *Rules) Files() (map[string][]string, error) {
	files := map[string][]string{}
	for _, pat := range r.opts.Files {
		fs, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("rule files %q: %w", pat, err)
		}
		files[tenant.Default] = append(files[tenant.Default], fs...)
	}
	if r.opts.TenantDir == "" {
		return files, nil
	}
	dirs, err := os.ReadDir(r.opts.TenantDir)
	if err != nil {
		return nil, fmt.Errorf("rule directory: %w", err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		if err := tenant.Validate(d.Name()); err != nil {
			return nil, fmt.Errorf("rule directory %s: %w", filepath.Join(r.opts.TenantDir, d.Name()), err)
		}
		for _, ext := range []string{"*.yml", "*.yaml"} {
			fs, _ := filepath.Glob(filepath.Join(r.opts.TenantDir, d.Name(), ext)) // the pattern is valid
			files[d.Name()] = append(files[d.Name()], fs...)
		}
	}
	return files, nil
}

// Reload loads the rule files again. Invalid files are reported with the
// messages promtool check rules gives, and the running rules of every
// tenant stay as they were.
func (r *Rules) Reload() error {
	files, err := r.Files()
	if err != nil {
		return err
	}
	var errs []error
	logQLGroups := map[string]map[string]bool{}
	for id, tf := range files {
		logQLGroups[id] = map[string]bool{}
		for _, f := range tf {
			rgs, ferrs := r.loader.Load(f, false, model.UTF8Validation)
			for _, e := range ferrs {
				errs = append(errs, fmt.Errorf("%s: %w", f, e))
			}
			if rgs == nil {
				continue
			}
			for _, g := range rgs.Groups {
				for _, rl := range g.Rules {
					if isLogQLExpr(rl.Expr) {
						logQLGroups[id][rules.GroupKey(f, g.Name)] = true
					}
					if _, err := r.loader.Parse(rl.Expr); err != nil {
						errs = append(errs, fmt.Errorf("%s: group %q: %w", f, g.Name, err))
					}
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
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := files[tenant.Default]; !ok {
		files[tenant.Default] = nil // the default tenant's manager always exists
	}
	// Tenants whose files are gone keep a manager with no groups.
	for id := range r.tenants {
		if _, ok := files[id]; !ok {
			files[id] = nil
		}
	}
	for id, tf := range files {
		r.logQLGroups.Store(id, logQLGroups[id])
		m := r.tenants[id]
		if m == nil {
			m = r.newMgr(id)
			r.tenants[id] = m
			if r.running {
				go m.Run()
			}
		}
		if err := m.Update(r.opts.EvaluationInterval, tf, labels.EmptyLabels(), external, nil); err != nil {
			return fmt.Errorf("update rules of tenant %q: %w", id, err)
		}
	}
	return nil
}

// isLogQL tells whether the rule being evaluated in ctx belongs to one of
// the tenant's `type: logql` groups. The rules manager names the group of
// every evaluation in the query origin of ctx (rules.Group.run); the
// language is the group's, never decided by the expression's text, which
// can be valid in both languages (count_over_time({job="x"}[5m])).
func (r *Rules) isLogQL(ctx context.Context, id string) bool {
	origin, _ := ctx.Value(promql.QueryOrigin{}).(map[string]any)
	g, _ := origin["ruleGroup"].(map[string]string)
	groups, _ := r.logQLGroups.Load(id)
	set, _ := groups.(map[string]bool)
	return set[rules.GroupKey(g["file"], g["name"])]
}

// Run starts evaluating; it returns at once.
func (r *Rules) Run() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running = true
	for _, m := range r.tenants {
		go m.Run()
	}
}

// Stop stops every group.
func (r *Rules) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running = false
	for _, m := range r.tenants {
		m.Stop()
	}
}

// ForContext returns what /api/v1/rules and /api/v1/alerts show for the
// tenant of ctx: its groups and alerting rules.
func (r *Rules) ForContext(ctx context.Context) TenantRules {
	r.mu.Lock()
	defer r.mu.Unlock()
	return TenantRules{r.tenants[tenant.FromContext(ctx)]}
}

// TenantRules are one tenant's rules (none if it has no manager).
type TenantRules struct{ m *rules.Manager }

// RuleGroups returns the tenant's groups.
func (t TenantRules) RuleGroups() []*rules.Group {
	if t.m == nil {
		return nil
	}
	return t.m.RuleGroups()
}

// AlertingRules returns the alerting rules of the tenant's groups.
func (t TenantRules) AlertingRules() []*rules.AlertingRule {
	if t.m == nil {
		return nil
	}
	return t.m.AlertingRules()
}

// tenantQueryable reads the data of one tenant whatever the context says.
type tenantQueryable struct {
	q  storage.Queryable
	id string
}

func (t tenantQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := t.q.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return tenantQuerier{q, t.id}, nil
}

type tenantQuerier struct {
	storage.Querier
	id string
}

func (t tenantQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	return t.Querier.Select(tenant.With(ctx, t.id), sortSeries, hints, ms...)
}

func (t tenantQuerier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return t.Querier.LabelValues(tenant.With(ctx, t.id), name, hints, ms...)
}

func (t tenantQuerier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return t.Querier.LabelNames(tenant.With(ctx, t.id), hints, ms...)
}

// tenantAppendable writes into the data of one tenant.
type tenantAppendable struct {
	a  storage.Appendable
	id string
}

func (t tenantAppendable) Appender(ctx context.Context) storage.Appender {
	return t.a.Appender(tenant.With(ctx, t.id))
}

// tenantSender labels the alerts of a tenant other than the default one
// with tenant="<id>", so that one Alertmanager can route them apart.
type tenantSender struct {
	next Sender
	id   string
}

func (t tenantSender) Send(alerts ...*notifier.Alert) {
	for _, a := range alerts {
		b := labels.NewBuilder(a.Labels)
		b.Set("tenant", t.id)
		a.Labels = b.Labels()
	}
	t.next.Send(alerts...)
}

type noDependencies struct{}

func (noDependencies) AnalyseRules([]rules.Rule) {}

// Group types, as vmalert names them: a group's expressions are PromQL (or
// MetricsQL) unless it says `type: logql`.
const (
	typePromQL = "prometheus"
	typeLogQL  = "logql"
)

// loader reads Prometheus rule files whose expressions may be MetricsQL,
// and whose groups may be LogQL (`type: logql`), evaluated over the log
// store like Loki's ruler.
type loader struct {
	allowLogQL bool
}

// logQLMark starts the expressions of LogQL groups as Load returns them,
// so that Parse, which sees one expression and not its group, knows its
// language. It is a PromQL comment, and Parse removes it: the rules API
// shows the expression as written.
const logQLMark = "# logql\n"

func isLogQLExpr(expr string) bool { return strings.HasPrefix(expr, logQLMark) }

// Load parses a rule file. A file that rulefmt accepts as it is keeps
// promtool's exact messages; otherwise the group types are read, LogQL
// expressions checked with the LogQL parser and MetricsQL ones translated,
// and the file is checked again.
func (l *loader) Load(file string, ignoreUnknownFields bool, scheme model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	rgs, errs := rulefmt.ParseFile(file, ignoreUnknownFields, scheme)
	if len(errs) == 0 {
		return rgs, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, []error{err}
	}
	var doc struct {
		Groups []map[string]any `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, errs
	}
	changed := false
	logQL := map[[2]int]string{} // group, rule → LogQL expression
	var typeErrs []error
	for gi, g := range doc.Groups {
		typ, _ := g["type"].(string)
		if _, ok := g["type"]; ok {
			delete(g, "type")
			changed = true
		}
		name, _ := g["name"].(string)
		switch typ {
		case "", typePromQL, "promql", "metricsql":
		case typeLogQL:
			if !l.allowLogQL {
				typeErrs = append(typeErrs, fmt.Errorf("group %q: LogQL rules need the log store", name))
			}
		default:
			typeErrs = append(typeErrs, fmt.Errorf("group %q: unknown type %q (want prometheus or logql)", name, typ))
			continue
		}
		rs, _ := g["rules"].([]any)
		for ri, x := range rs {
			rule, ok := x.(map[string]any)
			if !ok {
				continue
			}
			expr, _ := rule["expr"].(string)
			if typ == typeLogQL {
				e, err := logql.ParseExpr(expr)
				if err != nil {
					typeErrs = append(typeErrs, fmt.Errorf("group %q, rule %d: %w", name, ri+1, err))
					continue
				}
				if _, ok := e.(*logql.MetricQuery); !ok {
					typeErrs = append(typeErrs, fmt.Errorf("group %q, rule %d: %q is a log query; rules need a metric query such as sum(count_over_time({...}[5m]))", name, ri+1, expr))
					continue
				}
				// rulefmt checks PromQL; a stand-in keeps its other checks.
				logQL[[2]int{gi, ri}] = expr
				rule["expr"] = "vector(0)"
				changed = true
				continue
			}
			if _, err := parser.ParseExpr(expr); err == nil {
				continue
			}
			if pq, err := mql.Translate(expr, 0); err == nil {
				rule["expr"] = pq
				changed = true
			}
		}
	}
	if len(typeErrs) > 0 {
		return nil, typeErrs
	}
	if !changed {
		return nil, errs
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, errs
	}
	rgs, errs = rulefmt.Parse(out, ignoreUnknownFields, scheme)
	if len(errs) > 0 {
		return nil, errs
	}
	for k, expr := range logQL {
		rgs.Groups[k[0]].Rules[k[1]].Expr = logQLMark + expr
	}
	return rgs, nil
}

// Parse parses a (translated) expression; a LogQL one becomes a node that
// only carries its text, which is all the rules manager reads of it.
func (l *loader) Parse(q string) (parser.Expr, error) {
	if isLogQLExpr(q) {
		return logQLExpr(strings.TrimPrefix(q, logQLMark)), nil
	}
	pq, err := mql.Translate(q, 0)
	if err != nil {
		return nil, err
	}
	return parser.ParseExpr(pq)
}

// logQLExpr is a LogQL expression in the rules manager's PromQL syntax tree.
type logQLExpr string

func (e logQLExpr) String() string                        { return string(e) }
func (e logQLExpr) Pretty(int) string                     { return string(e) }
func (e logQLExpr) PositionRange() posrange.PositionRange { return posrange.PositionRange{} }
func (e logQLExpr) Type() parser.ValueType                { return parser.ValueTypeVector }
func (e logQLExpr) PromQLExpr()                           {}

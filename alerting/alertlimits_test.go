package alerting

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/internal/limits"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// A tenant holds at most -limits.alertmanager-max-alerts alerts of at most
// -limits.alertmanager-max-alerts-size-bytes: posting beyond them is
// refused with 429 naming the limit, alerts it holds already may still be
// updated, rule alerts beyond them are not kept, and another tenant posts
// as before.
func TestAlertLimits(t *testing.T) {
	file := filepath.Join(t.TempDir(), "overrides.yml")
	require.NoError(t, os.WriteFile(file, []byte("overrides:\n  small:\n    alertmanager_max_alerts_size_bytes: 200\n"), 0o644))
	lim, err := limits.New(limits.Options{Defaults: limits.Limits{AlertmanagerMaxAlerts: 3}, MaxTenants: 4, OverridesFile: file}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(lim.Close)
	opts := DefaultAlertmanagerOptions()
	opts.DataDir = t.TempDir()
	opts.Limits = lim
	am, err := NewAlertmanager(opts, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(am.Stop)
	srv := httptest.NewServer(tenant.Middleware(am.TenantHandler()))
	t.Cleanup(srv.Close)

	type alert struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	do := func(id, method string, body any) (int, string) {
		t.Helper()
		b, err := json.Marshal(body)
		require.NoError(t, err)
		req, err := http.NewRequest(method, srv.URL+"/api/v2/alerts", bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Scope-OrgID", id)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		return resp.StatusCode, out.String()
	}
	named := func(names ...string) []alert {
		var as []alert
		for _, n := range names {
			as = append(as, alert{Labels: map[string]string{"alertname": n}})
		}
		return as
	}
	held := func(id string) []string {
		t.Helper()
		code, body := do(id, http.MethodGet, nil)
		require.Equal(t, http.StatusOK, code, body)
		var as []alert
		require.NoError(t, json.Unmarshal([]byte(body), &as))
		var names []string
		for _, a := range as {
			names = append(names, a.Labels["alertname"])
		}
		return names
	}

	code, body := do("a", http.MethodPost, named("A1", "A2"))
	require.Equal(t, http.StatusOK, code, body)
	code, body = do("a", http.MethodPost, named("A3", "A4"))
	require.Equal(t, http.StatusTooManyRequests, code, body)
	require.Contains(t, body, "-limits.alertmanager-max-alerts")
	require.Contains(t, body, "at most 3 alerts")
	require.ElementsMatch(t, []string{"A1", "A2"}, held("a"), "a refused batch keeps none of its alerts")
	code, body = do("a", http.MethodPost, named("A1", "A2", "A3", "A3"))
	require.Equal(t, http.StatusOK, code, "updates of held alerts and one new one: %s", body)
	code, body = do("b", http.MethodPost, named("B1", "B2", "B3"))
	require.Equal(t, http.StatusOK, code, "b has limits of its own: %s", body)

	// Alerts of a's rules beyond the limit are not kept either.
	am.Send(&notifier.Alert{Labels: labels.FromStrings("alertname", "FromRule", TenantLabel, "a"), StartsAt: time.Now()})
	am.Send(&notifier.Alert{Labels: labels.FromStrings("alertname", "FromRule", TenantLabel, "b2"), StartsAt: time.Now()})
	require.ElementsMatch(t, []string{"A1", "A2", "A3"}, held("a"))
	require.ElementsMatch(t, []string{"FromRule"}, held("b2"))
	var five []*notifier.Alert
	for i := range 5 {
		five = append(five, &notifier.Alert{Labels: labels.FromStrings("alertname", fmt.Sprint("R", i), TenantLabel, "r"), StartsAt: time.Now()})
	}
	am.Send(five...)
	require.ElementsMatch(t, []string{"R0", "R1", "R2"}, held("r"), "the rule alerts that fit are kept, in order")

	big := named("Big")
	big[0].Annotations = map[string]string{"description": strings.Repeat("x", 200)}
	code, body = do("small", http.MethodPost, big)
	require.Equal(t, http.StatusTooManyRequests, code, body)
	require.Contains(t, body, "-limits.alertmanager-max-alerts-size-bytes")
	code, body = do("small", http.MethodPost, named("Small"))
	require.Equal(t, http.StatusOK, code, body)

	// Each tenant name that posts is a tenant, within -limits.max-tenants
	// (a, b, small and one more).
	code, body = do("fourth", http.MethodPost, named("F"))
	require.Equal(t, http.StatusOK, code, body)
	code, body = do("fifth", http.MethodPost, named("F"))
	require.Equal(t, http.StatusTooManyRequests, code, body)
	require.Contains(t, body, "max-tenants")
}

// An alert the store forgets (resolved, then garbage-collected) gives its
// place back.
func TestAlertsLimiterForgets(t *testing.T) {
	lim, err := limits.New(limits.Options{Defaults: limits.Limits{AlertmanagerMaxAlerts: 2}}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(lim.Close)
	l := newAlertsLimiter(lim)
	alert := func(i int) *types.Alert {
		return &types.Alert{Alert: model.Alert{Labels: model.LabelSet{"alertname": model.LabelValue(fmt.Sprint("A", i)), TenantLabel: "a"}}}
	}
	for i := range 2 {
		require.NoError(t, l.PreStore(alert(i), false))
		l.PostStore(alert(i), false)
	}
	require.ErrorIs(t, l.PreStore(alert(2), false), ErrAlertLimit)
	require.NoError(t, l.PreStore(&types.Alert{Alert: model.Alert{Labels: model.LabelSet{"alertname": "A2"}}}, false), "the default tenant's places are its own")
	l.PostDelete(alert(0))
	require.NoError(t, l.PreStore(alert(2), false))
	l.PostDelete(alert(1))
	l.PostDelete(alert(1)) // twice: the store says so once, but no harm
	require.Empty(t, l.tenants, "a tenant that holds nothing is forgotten")
}

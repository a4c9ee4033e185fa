package alerting

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/common/model"

	"github.com/sightline-dev/sightline/storage/tenant"
)

// TenantLabel is the label that names the tenant of an alert of a tenant
// other than the default one (rules add it; see tenantSender).
const TenantLabel = "tenant"

// maxAPIBody bounds the alerts or silence a client posts.
const maxAPIBody = 4 << 20

// TenantHandler serves Alertmanager's v2 API (/api/v2/alerts, silences,
// status, receivers, alerts/groups) to the tenant of each request
// (tenant.Middleware puts it in the context) as if the Alertmanager were its
// own, as Mimir's multi-tenant Alertmanager does: it sees only its alerts,
// groups and silences; its silences match only its alerts; the alerts it
// posts are its own; and another tenant's silence does not exist for it.
// The default tenant's alerts are those without a tenant label.
func (am *Alertmanager) TenantHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := tenant.FromContext(r.Context())
		own := ""
		if id != tenant.Default {
			own = id
		}
		switch {
		case r.Method == http.MethodGet && (r.URL.Path == "/api/v2/alerts" || r.URL.Path == "/api/v2/alerts/groups"):
			q := r.URL.Query()
			q.Add("filter", fmt.Sprintf("%s=%s", TenantLabel, strconv.Quote(own)))
			r.URL.RawQuery = q.Encode()
			am.handler.ServeHTTP(w, r)
		case r.Method == http.MethodPost && r.URL.Path == "/api/v2/alerts":
			am.postAlerts(w, r, own)
		case r.Method == http.MethodGet && r.URL.Path == "/api/v2/silences":
			am.listSilences(w, r, own)
		case r.Method == http.MethodPost && r.URL.Path == "/api/v2/silences":
			am.postSilence(w, r, own)
		case strings.HasPrefix(r.URL.Path, "/api/v2/silence/"):
			sil, err := am.silences.QueryOne(silence.QIDs(strings.TrimPrefix(r.URL.Path, "/api/v2/silence/")))
			if err != nil || !silenceOf(sil, own) {
				http.Error(w, "silence not found", http.StatusNotFound)
				return
			}
			am.handler.ServeHTTP(w, r)
		default: // status and receivers: the configuration, shared
			am.handler.ServeHTTP(w, r)
		}
	})
}

// silenceOf tells whether the silence belongs to the tenant whose tenant
// label value is own: it has the matcher tenant="<own>" (the default
// tenant's may have none).
func silenceOf(s *silencepb.Silence, own string) bool {
	for _, m := range s.Matchers {
		if m.Name == TenantLabel {
			return m.Type == silencepb.Matcher_EQUAL && m.Pattern == own
		}
	}
	return own == ""
}

// postAlerts takes the posted alerts as the tenant's: their tenant label
// is set to it (removed for the default tenant). Alerts that would take the
// tenant beyond its limits are refused all together with 429, naming the
// limit, before any is stored.
func (am *Alertmanager) postAlerts(w http.ResponseWriter, r *http.Request, own string) {
	var alerts []map[string]json.RawMessage
	if !readJSON(w, r, &alerts) {
		return
	}
	sized := make([]sizedAlert, 0, len(alerts))
	for _, a := range alerts {
		var posted struct {
			Labels       map[string]string
			Annotations  map[string]string
			GeneratorURL string
		}
		for name, dst := range map[string]any{"labels": &posted.Labels, "annotations": &posted.Annotations, "generatorURL": &posted.GeneratorURL} {
			if raw, ok := a[name]; ok {
				if err := json.Unmarshal(raw, dst); err != nil {
					http.Error(w, "alert "+name+": "+err.Error(), http.StatusBadRequest)
					return
				}
			}
		}
		ls := posted.Labels
		if ls == nil {
			ls = map[string]string{}
		}
		delete(ls, TenantLabel)
		if own != "" {
			ls[TenantLabel] = own
		}
		a["labels"] = mustMarshal(ls)
		sized = append(sized, sizeOf(ls, posted.Annotations, posted.GeneratorURL))
	}
	if am.limiter != nil {
		id := own
		if id == "" {
			id = tenant.Default
		}
		err := am.limiter.limits.Admit(id)
		if err == nil {
			err = am.limiter.admit(id, sized)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusTooManyRequests)
			return
		}
	}
	am.forward(w, r, alerts)
}

// sizeOf is a posted alert as the limits count it, with the labels the
// API keeps (it drops those with empty values).
func sizeOf(labels, annotations map[string]string, generatorURL string) sizedAlert {
	a := model.Alert{Labels: model.LabelSet{}, Annotations: model.LabelSet{}, GeneratorURL: generatorURL}
	for k, v := range labels {
		if v != "" {
			a.Labels[model.LabelName(k)] = model.LabelValue(v)
		}
	}
	for k, v := range annotations {
		a.Annotations[model.LabelName(k)] = model.LabelValue(v)
	}
	return sizedAlert{fp: a.Labels.Fingerprint(), size: alertSize(a)}
}

// mustMarshal marshals what always marshals: maps of strings and raw JSON
// that was just decoded.
func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return b
}

// postSilence creates or changes a silence of the tenant: its tenant
// matcher is set to the tenant's, and a silence it changes must be its own.
func (am *Alertmanager) postSilence(w http.ResponseWriter, r *http.Request, own string) {
	var s map[string]json.RawMessage
	if !readJSON(w, r, &s) {
		return
	}
	var id string
	if raw, ok := s["id"]; ok {
		_ = json.Unmarshal(raw, &id) // a malformed id is the API's to refuse
	}
	if id != "" {
		old, err := am.silences.QueryOne(silence.QIDs(id))
		if err != nil || !silenceOf(old, own) {
			http.Error(w, "silence not found", http.StatusNotFound)
			return
		}
	}
	var matchers []map[string]any
	if raw, ok := s["matchers"]; ok {
		if err := json.Unmarshal(raw, &matchers); err != nil {
			http.Error(w, "silence matchers: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	kept := matchers[:0]
	for _, m := range matchers {
		if m["name"] != TenantLabel {
			kept = append(kept, m)
		}
	}
	if own != "" {
		kept = append(kept, map[string]any{"name": TenantLabel, "value": own, "isRegex": false, "isEqual": true})
	}
	s["matchers"], _ = json.Marshal(kept)
	am.forward(w, r, s)
}

// listSilences answers GET /api/v2/silences with the tenant's silences.
func (am *Alertmanager) listSilences(w http.ResponseWriter, r *http.Request, own string) {
	rec := httptest.NewRecorder()
	am.handler.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		copyResponse(w, rec)
		return
	}
	var all []json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &all); err != nil {
		http.Error(w, "silences: unexpected answer of the Alertmanager", http.StatusInternalServerError)
		return
	}
	mine := []json.RawMessage{}
	for _, raw := range all {
		var s struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &s) != nil {
			continue
		}
		if sil, err := am.silences.QueryOne(silence.QIDs(s.ID)); err == nil && silenceOf(sil, own) {
			mine = append(mine, raw)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(mine)
}

// readJSON decodes the request body into v, or answers 400 and says so.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		http.Error(w, "request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

// forward passes the request on with body v.
func (am *Alertmanager) forward(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	am.handler.ServeHTTP(w, r)
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

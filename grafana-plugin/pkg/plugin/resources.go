package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// resources serves the autocomplete lists of the query editor
// (CallResource). Every answer is a sorted JSON array of strings; optional
// start and end (Unix seconds) narrow the time range where Sightline's API
// takes one. Bad parameters answer 400 naming them; Sightline's errors pass
// through with their status.
func (d *Datasource) resources() http.Handler {
	mux := http.NewServeMux()
	list := func(pattern string, fetch func(r *http.Request, p url.Values) ([]string, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			p, err := rangeParams(r)
			if err != nil {
				writeResource(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
			out, err := fetch(r, p)
			if err != nil {
				status := statusOf(err)
				if errors.Is(err, errParam) {
					status = http.StatusBadRequest
				}
				writeResource(w, status, map[string]string{"error": err.Error()})
				return
			}
			if out == nil {
				out = []string{}
			}
			sort.Strings(out)
			writeResource(w, http.StatusOK, out)
		})
	}
	strs := func(r *http.Request, path string, p url.Values) ([]string, error) {
		var out []string
		err := d.api.getJSON(r.Context(), path, p, &out)
		return out, err
	}
	withMatch := func(r *http.Request, p url.Values) url.Values {
		if m := r.URL.Query().Get("match"); m != "" {
			p.Set("match[]", m)
		}
		return p
	}
	list("GET /metrics/names", func(r *http.Request, p url.Values) ([]string, error) {
		return strs(r, "/api/v1/label/__name__/values", withMatch(r, p))
	})
	list("GET /metrics/labels", func(r *http.Request, p url.Values) ([]string, error) {
		return strs(r, "/api/v1/labels", withMatch(r, p))
	})
	list("GET /metrics/label-values", func(r *http.Request, p url.Values) ([]string, error) {
		label, err := param(r, "label")
		if err != nil {
			return nil, err
		}
		return strs(r, "/api/v1/label/"+url.PathEscape(label)+"/values", withMatch(r, p))
	})
	lokiRange := func(p url.Values) url.Values { // Loki's times are nanoseconds
		for _, k := range []string{"start", "end"} {
			if v := p.Get(k); v != "" {
				s, _ := strconv.ParseInt(v, 10, 64)
				p.Set(k, strconv.FormatInt(s*int64(time.Second), 10))
			}
		}
		return p
	}
	list("GET /logs/labels", func(r *http.Request, p url.Values) ([]string, error) {
		return strs(r, "/loki/api/v1/labels", lokiRange(p))
	})
	list("GET /logs/label-values", func(r *http.Request, p url.Values) ([]string, error) {
		label, err := param(r, "label")
		if err != nil {
			return nil, err
		}
		return strs(r, "/loki/api/v1/label/"+url.PathEscape(label)+"/values", lokiRange(p))
	})
	list("GET /logs/fields", func(r *http.Request, p url.Values) ([]string, error) {
		p = lokiRange(p)
		q := r.URL.Query().Get("query")
		if q == "" {
			q = `{service_name=~".+"}`
		}
		p.Set("query", q)
		var res struct {
			Fields []struct {
				Label string `json:"label"`
			} `json:"fields"`
		}
		if err := d.api.getJSON(r.Context(), "/loki/api/v1/detected_fields", p, &res); err != nil {
			return nil, err
		}
		out := make([]string, 0, len(res.Fields))
		for _, f := range res.Fields {
			out = append(out, f.Label)
		}
		return out, nil
	})
	list("GET /traces/tags", func(r *http.Request, p url.Values) ([]string, error) {
		var res struct {
			Scopes []struct {
				Name string   `json:"name"`
				Tags []string `json:"tags"`
			} `json:"scopes"`
		}
		if err := d.api.getJSON(r.Context(), "/api/v2/search/tags", p, &res); err != nil {
			return nil, err
		}
		var out []string
		for _, s := range res.Scopes {
			for _, t := range s.Tags {
				if s.Name == "intrinsic" {
					out = append(out, t)
				} else {
					out = append(out, s.Name+"."+t)
				}
			}
		}
		return out, nil
	})
	tagValues := func(r *http.Request, tag string, p url.Values) ([]string, error) {
		var res struct {
			TagValues []struct {
				Value string `json:"value"`
			} `json:"tagValues"`
		}
		if err := d.api.getJSON(r.Context(), "/api/v2/search/tag/"+url.PathEscape(tag)+"/values", p, &res); err != nil {
			return nil, err
		}
		out := make([]string, 0, len(res.TagValues))
		for _, v := range res.TagValues {
			out = append(out, v.Value)
		}
		return out, nil
	}
	list("GET /traces/tag-values", func(r *http.Request, p url.Values) ([]string, error) {
		tag, err := param(r, "tag")
		if err != nil {
			return nil, err
		}
		return tagValues(r, tag, p)
	})
	list("GET /services", func(r *http.Request, p url.Values) ([]string, error) {
		return tagValues(r, "resource.service.name", p)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeResource(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no resource %s %s", r.Method, r.URL.Path)})
	})
	return mux
}

var errParam = errors.New("bad parameter")

// param is a required query parameter.
func param(r *http.Request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", fmt.Errorf("%w: %s is required", errParam, name)
	}
	return v, nil
}

// rangeParams checks the optional start and end (Unix seconds).
func rangeParams(r *http.Request) (url.Values, error) {
	p := url.Values{}
	for _, k := range []string{"start", "end"} {
		v := r.URL.Query().Get(k)
		if v == "" {
			continue
		}
		// Bounded so that Loki's nanoseconds (×1e9) cannot overflow.
		if s, err := strconv.ParseInt(v, 10, 64); err != nil || s < 0 || s > 1<<33 {
			return nil, fmt.Errorf("invalid %s %q: want Unix seconds", k, v)
		}
		p.Set(k, v)
	}
	return p, nil
}

func writeResource(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

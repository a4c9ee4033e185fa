package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxResponseBytes bounds what the plugin reads of one answer, so a
// misconfigured URL or an enormous result cannot exhaust its memory. Sightline
// bounds its answers itself (-query.max-response-bytes); this is the
// plugin's own guard.
const maxResponseBytes = 256 << 20

// client calls Sightline's HTTP API for one datasource.
type client struct {
	base   *url.URL
	http   *http.Client
	tenant string
	bearer string
}

// apiError is an answer of Sightline other than 2xx.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("sightline answered %d: %s", e.Status, e.Message)
}

// do sends one request and returns the body of a 2xx answer.
func (c *client) do(ctx context.Context, method, path string, params url.Values, accept string) ([]byte, error) {
	u := *c.base
	u.Path += path
	if len(params) > 0 {
		u.RawQuery = params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if c.tenant != "" {
		req.Header.Set("X-Scope-OrgID", c.tenant)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	// Loki's categorised labels keep stream labels, structured metadata
	// and parsed labels apart, as Grafana's Loki datasource asks.
	req.Header.Set("X-Loki-Response-Encoding-Flags", "categorize-labels")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxResponseBytes {
		return nil, fmt.Errorf("answer of %s is larger than %d MiB: narrow the query", path, maxResponseBytes>>20)
	}
	if resp.StatusCode/100 != 2 {
		return nil, &apiError{Status: resp.StatusCode, Message: errorMessage(body)}
	}
	return body, nil
}

// getJSON GETs path and decodes its JSON answer into out. Answers in the
// Prometheus envelope ({"status":"success","data":...}) are decoded from
// their data.
func (c *client) getJSON(ctx context.Context, path string, params url.Values, out any) error {
	body, err := c.do(ctx, http.MethodGet, path, params, "application/json")
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &env) == nil && env.Status == "success" && env.Data != nil {
		body = env.Data
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decoding the answer of %s: %w", path, err)
	}
	return nil
}

// errorMessage takes the message out of an error answer: the Prometheus
// envelope's "error", a Tempo/Loki plain text body, or the status line.
func errorMessage(body []byte) string {
	var env struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &env) == nil {
		if env.Error != "" {
			return env.Error
		}
		if env.Message != "" {
			return env.Message
		}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	return msg
}

// statusOf is the HTTP status an error maps to in a data response: a
// Sightline 4xx is the query's fault, anything else a failure downstream.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

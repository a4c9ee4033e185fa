package plugin

import (
	"context"
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Datasource is one configured Sightline datasource. The SDK creates one per
// datasource and settings version (datasource.Manage) and calls its
// handlers.
type Datasource struct {
	backend.CallResourceHandler // resources.go
	api                         *client
	uid, name                   string
}

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ backend.StreamHandler         = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// NewDatasource builds a datasource from its settings.
func NewDatasource(ctx context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	settings, err := parseSettings(s)
	if err != nil {
		return nil, err
	}
	opts, err := s.HTTPClientOptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("http client options: %w", err)
	}
	hc, err := httpclient.New(opts)
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	d := &Datasource{
		api:  &client{base: settings.URL, http: hc, tenant: settings.Tenant, bearer: settings.BearerToken},
		uid:  s.UID,
		name: s.Name,
	}
	d.CallResourceHandler = httpadapter.New(d.resources())
	return d, nil
}

// Dispose closes idle connections when Grafana replaces the datasource.
func (d *Datasource) Dispose() { d.api.http.CloseIdleConnections() }

// QueryData answers each query of the request on its own: one query's error
// is that query's response and does not fail the others.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, dq := range req.Queries {
		resp.Responses[dq.RefID] = d.query(ctx, dq)
	}
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, dq backend.DataQuery) backend.DataResponse {
	q, err := parseQuery(dq.JSON, dq.QueryType)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourcePlugin, err.Error())
	}
	var frames data.Frames
	switch q.QueryType {
	case TypeMetrics:
		frames, err = d.metrics(ctx, q, dq)
	case TypeLogs:
		frames, err = d.logs(ctx, q, dq.TimeRange)
	case TypeLogsVolume:
		frames, err = d.logsVolume(ctx, q, dq)
	case TypeTraces:
		frames, err = d.traces(ctx, q, dq.TimeRange)
	case TypeCorrelate:
		frames, err = d.correlate(ctx, q)
	}
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.Status(statusOf(err)), backend.ErrorSourceDownstream, err.Error())
	}
	for _, f := range frames {
		f.RefID = dq.RefID
	}
	return backend.DataResponse{Frames: frames}
}

// link is a data link to another query of this same datasource, which
// Grafana opens in Explore (or a split pane) without any configuration.
func (d *Datasource) link(title string, q Query) data.DataLink {
	return data.DataLink{
		Title: title,
		Internal: &data.InternalDataLink{
			DatasourceUID:  d.uid,
			DatasourceName: d.name,
			Query:          q,
		},
	}
}

// withLinks sets the data links of a field.
func withLinks(f *data.Field, links ...data.DataLink) *data.Field {
	if f.Config == nil {
		f.Config = &data.FieldConfig{}
	}
	f.Config.Links = append(f.Config.Links, links...)
	return f
}

package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Live tail of a logs query. Grafana's frontend subscribes to the channel
// "tail/<key>" of this datasource with the query in the subscription's data;
// Grafana calls RunStream once per channel, whatever the number of viewers,
// and cancels it when the last one leaves.
//
// The tail polls: every tailInterval it asks for the lines after the newest
// one sent, forward, at most tailBatch at a time. Polling uses the same
// queries as QueryData, so LogQL and full-text search tail alike, and it
// carries the datasource's tenant header, which Loki's tail websocket from a
// browser could not.
const (
	tailInterval = time.Second
	tailBatch    = 1000
	tailLookback = 10 * time.Second // what a new tail shows first
)

// SubscribeStream accepts a channel whose data is a valid logs query.
func (d *Datasource) SubscribeStream(_ context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	if _, err := tailQuery(req.Path, req.Data); err != nil {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusOK}, nil
}

// PublishStream refuses: viewers of a tail do not write to it.
func (d *Datasource) PublishStream(context.Context, *backend.PublishStreamRequest) (*backend.PublishStreamResponse, error) {
	return &backend.PublishStreamResponse{Status: backend.PublishStreamStatusPermissionDenied}, nil
}

// RunStream sends the query's new lines as logs frames until ctx ends.
func (d *Datasource) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	q, err := tailQuery(req.Path, req.Data)
	if err != nil {
		return err
	}
	from := time.Now().Add(-tailLookback)
	tick := time.NewTicker(tailInterval)
	defer tick.Stop()
	for {
		to := time.Now()
		lines, _, err := d.fetchLogs(ctx, q, from, to)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			// A failed poll is retried at the next tick; the viewer keeps
			// the lines already sent.
			backend.Logger.Warn("live tail poll failed", "error", err)
		case len(lines) > 0:
			for _, l := range lines {
				if !l.t.Before(from) {
					from = l.t.Add(time.Nanosecond)
				}
			}
			if err := sender.SendFrame(d.logsFrame(lines, q), data.IncludeAll); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// tailQuery reads and checks a tail channel's query: a LogQL log query or
// a full-text search, read forward in batches.
func tailQuery(path string, raw json.RawMessage) (Query, error) {
	if !strings.HasPrefix(path, "tail/") {
		return Query{}, fmt.Errorf("unknown channel %q", path)
	}
	q, err := parseQuery(raw, TypeLogs)
	if err != nil {
		return q, err
	}
	if q.QueryType != TypeLogs || q.LogsMode == "trace" || q.Expr == "" {
		return q, fmt.Errorf("a tail needs a LogQL or search logs query")
	}
	q.Direction, q.Limit = "forward", tailBatch
	return q, nil
}

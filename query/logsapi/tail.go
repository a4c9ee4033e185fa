package logsapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sightline-dev/sightline/query/logql"
)

// tailPoll is how often a tail looks for new entries.
const tailPoll = time.Second

// tailGrace is how late an entry may be stored after its timestamp and
// still reach a tail that polled meanwhile: a poll that finds nothing only
// moves the window's start to tailGrace before its end.
const tailGrace = 10 * time.Second

var upgrader = websocket.Upgrader{
	// Grafana's frontend connects from its own origin.
	CheckOrigin: func(*http.Request) bool { return true },
}

// tail is Loki's /loki/api/v1/tail: a websocket on which every new entry of
// a log query is sent as {"streams": [...], "dropped_entries": null}.
func (a *API) tail(w http.ResponseWriter, r *http.Request) {
	expr, err := logql.ParseExpr(r.FormValue("query"))
	if err != nil {
		a.badReq.WithLabelValues("tail").Inc()
		lokiError(w, http.StatusBadRequest, err)
		return
	}
	lq, ok := expr.(*logql.LogQuery)
	if !ok {
		lokiError(w, http.StatusBadRequest, fmt.Errorf("tail needs a log query, not a metric query"))
		return
	}
	limit, err := parseInt(r.FormValue("limit"), 100, a.opts.MaxEntries)
	if err != nil {
		lokiError(w, http.StatusBadRequest, err)
		return
	}
	delay, err := parseInt(r.FormValue("delay_for"), 0, 5)
	if err != nil {
		lokiError(w, http.StatusBadRequest, fmt.Errorf("invalid delay_for (at most 5 seconds): %w", err))
		return
	}
	from, err := parseTime(r.FormValue("start"), time.Now().Add(-time.Hour))
	if err != nil {
		lokiError(w, http.StatusBadRequest, err)
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	a.tails.Add(1)
	defer a.tails.Done()
	defer conn.Close()

	// The client only closes; reading notices that.
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	tick := time.NewTicker(tailPoll)
	defer tick.Stop()
	for {
		to := time.Now().Add(-time.Duration(delay) * time.Second)
		if to.After(from) {
			lines, err := a.runLogQuery(r.Context(), lq, from, to, limit, false)
			if err != nil {
				_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, err.Error()), time.Now().Add(time.Second))
				return
			}
			if len(lines) > 0 {
				from = time.Unix(0, lines[len(lines)-1].ts+1)
				msg := map[string]any{"streams": streamsResult(lines, false), "dropped_entries": nil}
				_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := conn.WriteJSON(msg); err != nil {
					return
				}
				if len(lines) == limit {
					continue // more are waiting
				}
			} else if g := to.Add(-tailGrace); g.After(from) {
				from = g
			}
		}
		select {
		case <-gone:
			return
		case <-a.stop:
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
			return
		case <-tick.C:
		}
	}
}

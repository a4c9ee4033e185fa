package main_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"
	"github.com/stretchr/testify/require"
)

// rssBytes is the resident set size of the process pid.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// overloadRequest is one way of sending logs: where, how, with which
// success code, and a body of n records made once (so that the senders
// spend their CPU on sending) that a sender sends again and again.
type overloadRequest struct {
	path, contentType string
	ok                int
	body              func(sender, n int) []byte
}

// Under 5 times the load a tenant's limit admits, OTLP (HTTP) and Loki
// push writes of logs beyond it get 429 (never a 5xx or a broken
// connection), the accepted rate stays near the limit, /-/ready answers
// every probe within 100 ms, RSS stays bounded, and every acknowledged
// record is readable (issue 12: under 4x overload the accepted rate fell
// to less than half).
func TestOverloadLogs(t *testing.T) {
	line := func(sender, i int) string {
		return fmt.Sprintf("overload sender %d record %d %s", sender, i, strings.Repeat("x", 80))
	}
	for name, req := range map[string]overloadRequest{
		"otlp": {path: "otlp:/v1/logs", contentType: "application/json", ok: http.StatusOK, body: func(sender, n int) []byte {
			recs := make([]string, n)
			for j := range recs {
				recs[j] = fmt.Sprintf(`{"timeUnixNano":"%d","severityText":"INFO","body":{"stringValue":%q}}`, time.Now().UnixNano(), line(sender, j))
			}
			return []byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"overload"}}]},"scopeLogs":[{"logRecords":[` + strings.Join(recs, ",") + `]}]}]}`)
		}},
		"loki": {path: "/loki/api/v1/push", contentType: "application/x-protobuf", ok: http.StatusNoContent, body: func(sender, n int) []byte {
			entries := make([]push.Entry, n)
			for j := range entries {
				entries[j] = push.Entry{Timestamp: time.Now(), Line: line(sender, j)}
			}
			raw, err := (&push.PushRequest{Streams: []push.Stream{{Labels: `{service_name="overload"}`, Entries: entries}}}).Marshal()
			require.NoError(t, err)
			return snappy.Encode(nil, raw)
		}},
	} {
		t.Run(name, func(t *testing.T) { overload(t, req) })
	}
}

func overload(t *testing.T, req overloadRequest) {
	const (
		limit       = 20_000 // records/s the tenant may write
		offeredRate = 5 * limit
		senders     = 4
		perBody     = 1000
		duration    = 4 * time.Second
		// Each sender sends a body this often: together, offeredRate records
		// a second. Paced, as a fleet of senders is, rather than as fast
		// as the test's own CPU allows: on 2 shared cores that measured
		// the scheduler, not Sightline.
		every = time.Duration(senders * perBody * int64(time.Second) / offeredRate)
	)
	s := startServer(t, t.TempDir(), "-limits.ingestion-rate", strconv.Itoa(limit), "-limits.ingestion-burst", strconv.Itoa(limit))
	since := time.Now().Add(-time.Minute)
	pid := s.cmd.Process.Pid
	idle, err := rssBytes(pid)
	require.NoError(t, err)
	target := s.url(req.path)
	if path, ok := strings.CutPrefix(req.path, "otlp:"); ok {
		target = "http://" + s.otlpHTTP + path
	}
	bodies := make([][]byte, senders)
	for i := range bodies {
		bodies[i] = req.body(i, perBody)
	}

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var (
		wg                   sync.WaitGroup
		sent, acked, refused atomic.Int64
		mu                   sync.Mutex
		unexpected           []string // guarded by mu
		slowest, maxRSS      atomic.Int64
		probes, failedProbes atomic.Int64
		client               = &http.Client{Timeout: 30 * time.Second}
		note                 = func(s string) { mu.Lock(); unexpected = append(unexpected, s); mu.Unlock() }
		storeMax             = func(a *atomic.Int64, v int64) {
			for old := a.Load(); v > old && !a.CompareAndSwap(old, v); old = a.Load() {
			}
		}
	)
	start := time.Now()
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pace := time.NewTicker(every)
			defer pace.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-pace.C:
				}
				resp, err := client.Post(target, req.contentType, bytes.NewReader(bodies[i]))
				if err != nil {
					note(err.Error())
					return
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				sent.Add(perBody)
				switch resp.StatusCode {
				case req.ok:
					acked.Add(perBody)
				case http.StatusTooManyRequests:
					refused.Add(perBody)
				default:
					note(fmt.Sprintf("%d %s", resp.StatusCode, msg))
				}
			}
		}()
	}
	// Readiness probes, as a load balancer or kubelet sends them, and RSS,
	// every 25 ms while the senders run.
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		probe := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			t0 := time.Now()
			resp, err := probe.Get(s.url("/-/ready"))
			took := time.Since(t0)
			probes.Add(1)
			if err != nil || resp.StatusCode != http.StatusOK {
				failedProbes.Add(1)
			}
			if err == nil {
				resp.Body.Close()
			}
			storeMax(&slowest, int64(took))
			if rss, err := rssBytes(pid); err == nil {
				storeMax(&maxRSS, rss)
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)

	offered := float64(sent.Load()) / elapsed.Seconds()
	goodput := float64(acked.Load()) / elapsed.Seconds()
	t.Logf("offered %.0f records/s (%.1fx the limit), accepted %.0f/s, refused %d records; /-/ready: %d probes, slowest %s; RSS idle %d MiB, max %d MiB",
		offered, offered/limit, goodput, refused.Load(), probes.Load(), time.Duration(slowest.Load()), idle>>20, maxRSS.Load()>>20)
	require.Empty(t, unexpected, "answers other than 200 and 429")
	require.Greater(t, offered, 3.0*limit, "the load was not several times the limit; the test proves nothing")
	require.Positive(t, refused.Load())
	// The token bucket admits the burst and then the rate: backpressure
	// must not cost goodput.
	require.GreaterOrEqual(t, goodput, 0.8*limit, "accepted rate fell under overload")
	require.Zero(t, failedProbes.Load())
	require.Less(t, time.Duration(slowest.Load()), 100*time.Millisecond, "a /-/ready probe took too long")
	// What the tenant may hold is its accepted records (about 100k of
	// 200 bytes here, 20 MiB in the WAL and the head, more as Go
	// objects); the refused ones are refused, 4 bodies of at most 150 KB
	// at a time. 256 MiB over idle leaves room for the garbage
	// collector's headroom (GOGC=100 lets the heap double) and nothing
	// for an unbounded queue.
	require.Less(t, maxRSS.Load()-idle, int64(256<<20), "RSS grew by more than 256 MiB")

	require.Equal(t, int(acked.Load()), countLines(t, s, "overload", since), "every acknowledged record is readable")
}

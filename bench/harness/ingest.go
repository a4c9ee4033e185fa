package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/bench/workload"
)

// IngestResult is what one ingest phase achieved.
type IngestResult struct {
	// Samples were acknowledged by the system; for OTLP these include the
	// exponential histogram samples.
	Samples int64
	// Requests were acknowledged; Failed were refused for good (after
	// retries, if the error was retryable), with FailedSamples in them;
	// Retries counts retried attempts.
	Requests, Failed, FailedSamples, Retries int64
	// NotSent samples were never sent because the phase timed out.
	NotSent int64
	// FirstError is the first refusal, verbatim.
	FirstError string
	// Duration is from the first request to the last acknowledgement, and
	// Rate is Samples/Duration.
	Duration time.Duration
	Rate     float64
	// Timeline is the acknowledged samples per second, second by second.
	Timeline []float64
}

// sendFunc sends one request's body; retryable says whether a failure may
// succeed when tried again (overload, unavailability).
type sendFunc func(ctx context.Context, body []byte) (retryable bool, err error)

// maxAttempts bounds the tries of one request. Retries are what every real
// sender does on 429/503; they are counted, and a request that still fails
// is counted as refused.
const maxAttempts = 5

// ingest replays d with one sender per shard. otlp selects the OTLP bodies
// and sample counts; send delivers one body.
func ingest(ctx context.Context, d *workload.Dataset, otlp bool, window int, timeout time.Duration, send sendFunc) IngestResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		res              IngestResult
		acked, requests  atomic.Int64
		failed, failedS  atomic.Int64
		retries, notSent atomic.Int64
		firstErr         sync.Once
	)
	g := newGate(len(d.Shards), window)
	stop := context.AfterFunc(ctx, g.wake)
	defer stop()

	start := time.Now()
	sampled := make(chan []float64, 1)
	samplerDone := make(chan struct{})
	go func() {
		// One point per second until the senders are done.
		var timeline []float64
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last := int64(0)
		for {
			select {
			case <-samplerDone:
				sampled <- timeline
				return
			case <-tick.C:
				n := acked.Load()
				timeline = append(timeline, float64(n-last))
				last = n
			}
		}
	}()

	var wg sync.WaitGroup
	for s, shard := range d.Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer g.done(s)
			for i := range shard {
				req := &shard[i]
				n := int64(req.Samples)
				body := req.RW
				if otlp {
					n += int64(req.ExtraOTLPSamples)
					body = req.OTLP
				}
				if err := g.wait(ctx, s, req.Interval); err != nil {
					for _, r := range shard[i:] {
						notSent.Add(int64(r.Samples))
						if otlp {
							notSent.Add(int64(r.ExtraOTLPSamples))
						}
					}
					return
				}
				var err error
				for attempt := 1; ; attempt++ {
					var retryable bool
					retryable, err = send(ctx, body)
					if err == nil || !retryable || attempt == maxAttempts || ctx.Err() != nil {
						break
					}
					retries.Add(1)
					if sleepCtx(ctx, time.Duration(50<<attempt)*time.Millisecond) != nil {
						break
					}
				}
				if err != nil {
					failed.Add(1)
					failedS.Add(n)
					firstErr.Do(func() { res.FirstError = err.Error() })
					continue
				}
				requests.Add(1)
				acked.Add(n)
			}
		}()
	}
	wg.Wait()
	res.Duration = time.Since(start)
	close(samplerDone)
	res.Timeline = <-sampled

	res.Samples, res.Requests = acked.Load(), requests.Load()
	res.Failed, res.FailedSamples = failed.Load(), failedS.Load()
	res.Retries, res.NotSent = retries.Load(), notSent.Load()
	if res.Duration > 0 {
		res.Rate = float64(res.Samples) / res.Duration.Seconds()
	}
	return res
}

// sleepCtx waits d unless ctx ends first; for retry backoff only.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gate keeps every shard's sender within window intervals of the slowest
// one, so the samples any system sees are never more than window intervals
// apart in time.
type gate struct {
	window int

	mu       sync.Mutex
	cond     *sync.Cond
	progress []int // guarded by mu; per shard, the interval being sent
}

func newGate(shards, window int) *gate {
	g := &gate{window: window, progress: make([]int, shards)}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) wake() {
	g.mu.Lock()
	g.cond.Broadcast()
	g.mu.Unlock()
}

// wait records that shard is at interval k and blocks until k is within
// the window of the slowest shard, or ctx ends.
func (g *gate) wait(ctx context.Context, shard, k int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.progress[shard] != k {
		g.progress[shard] = k
		g.cond.Broadcast()
	}
	for k >= g.min()+g.window {
		if err := ctx.Err(); err != nil {
			return err
		}
		g.cond.Wait()
	}
	return ctx.Err()
}

// done takes shard out of the minimum.
func (g *gate) done(shard int) {
	g.mu.Lock()
	g.progress[shard] = math.MaxInt
	g.cond.Broadcast()
	g.mu.Unlock()
}

func (g *gate) min() int {
	m := math.MaxInt
	for _, p := range g.progress {
		m = min(m, p)
	}
	return m
}

// remoteWriteSender posts snappy-compressed remote_write 1.0 bodies.
func remoteWriteSender(client *http.Client, url string) sendFunc {
	return httpSender(client, url, "remote write", map[string]string{
		"Content-Type":                      "application/x-protobuf",
		"Content-Encoding":                  "snappy",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
		"User-Agent":                        "sightline-bench",
	})
}

// otlpHTTPSender posts pre-encoded OTLP requests to url (OTLP/HTTP with
// protobuf bodies).
func otlpHTTPSender(client *http.Client, url string) sendFunc {
	return httpSender(client, url, "OTLP/HTTP", map[string]string{"Content-Type": "application/x-protobuf"})
}

// httpSender posts bodies to url with headers; 429 and 5xx are retried.
func httpSender(client *http.Client, url, what string, headers map[string]string) sendFunc {
	return func(ctx context.Context, body []byte) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return false, err
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return true, err
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return false, nil
		}
		retryable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode/100 == 5
		return retryable, fmt.Errorf("%s: %s: %s", what, resp.Status, bytes.TrimSpace(msg))
	}
}

// otlpExportMethod is the OTLP/gRPC metrics export RPC.
const otlpExportMethod = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

// rawCodec passes pre-encoded protobuf bytes through gRPC untouched, so the
// load generator spends no CPU marshalling during the measurement.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// dialOTLP connects to an OTLP gRPC endpoint (with TLS and the user of
// -tls when set).
func dialOTLP(addr string) (*grpc.ClientConn, error) {
	if secure != nil {
		return grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(secure.tls)), grpc.WithPerRPCCredentials(secure))
	}
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// otlpSender exports pre-encoded OTLP requests over conn and treats a
// partial success as a refusal.
func otlpSender(conn *grpc.ClientConn) sendFunc {
	return func(ctx context.Context, body []byte) (bool, error) {
		var out []byte
		err := conn.Invoke(ctx, otlpExportMethod, &body, &out, grpc.ForceCodec(rawCodec{}))
		if err != nil {
			switch status.Code(err) {
			case codes.Unavailable, codes.ResourceExhausted, codes.Aborted, codes.DeadlineExceeded:
				return true, err
			}
			return false, err
		}
		resp := pmetricotlp.NewExportResponse()
		if err := resp.UnmarshalProto(out); err != nil {
			return false, fmt.Errorf("decode OTLP response: %w", err)
		}
		if ps := resp.PartialSuccess(); ps.RejectedDataPoints() > 0 {
			return false, fmt.Errorf("OTLP partial success: %d data points rejected: %s", ps.RejectedDataPoints(), ps.ErrorMessage())
		}
		return false, nil
	}
}

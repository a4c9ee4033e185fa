package workload

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// The series of one instance, by remote_write index:
//
//	 0..19  http_requests_total{route,code}                  counter
//	20..84  http_request_duration_seconds_{bucket,sum,count}{route} classic histogram (11 buckets)
//	85      process_cpu_seconds_total                         counter
//	86      process_resident_memory_bytes                     gauge
//	87      go_goroutines                                     gauge
//	88..92  http_inflight_requests{route}                     gauge
//	93..99  queue_length{queue}                               gauge
//
// plus, in OTLP only, rpc_duration_seconds{route}, an exponential histogram.
var (
	routes = [...]string{"/api/orders", "/api/users", "/api/cart", "/api/search", "/healthz"}
	codes  = [...]string{"200", "404", "500", "503"}
	queues = [...]string{"email", "billing", "search", "export", "import", "audit", "webhook"}
	// bounds are the classic histogram's upper bounds, Prometheus' defaults.
	bounds = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
	// routeRate is requests per route per 15 s of one instance.
	routeRate = [...]float64{60, 35, 20, 10, 3}
	// routeMedian is each route's median latency in seconds.
	routeMedian = [...]float64{0.02, 0.05, 0.03, 0.2, 0.002}
	// codeShare is each code's share of the requests.
	codeShare = [...]float64{0.9, 0.05, 0.04, 0.01}
)

const (
	nRoutes  = len(routes)
	nCodes   = len(codes)
	nQueues  = len(queues)
	nBuckets = len(bounds) + 1 // with +Inf

	idxRequests   = 0
	idxHistogram  = idxRequests + nRoutes*nCodes
	histSeries    = nBuckets + 2 // buckets, _sum, _count
	idxCPU        = idxHistogram + nRoutes*histSeries
	idxMemory     = idxCPU + 1
	idxGoroutines = idxMemory + 1
	idxInflight   = idxGoroutines + 1
	idxQueue      = idxInflight + nRoutes
	nSeries       = idxQueue + nQueues

	// Exponential histograms: scale 2 (4 buckets per power of two) from
	// 0.5 ms to 30 s.
	expScale   = 2
	expOffset  = -44
	expBuckets = 64
	// latencySigma is the spread of the log-normal latencies.
	latencySigma = 1.0
)

func init() {
	if nSeries != SeriesPerInstance {
		panic(fmt.Sprintf("BUG: instance has %d series, SeriesPerInstance says %d", nSeries, SeriesPerInstance))
	}
}

// Per-route bucket probabilities, computed once: they are constants of the
// load, not state.
var (
	classicPDF [nRoutes][nBuckets]float64
	expPDF     [nRoutes][expBuckets]float64
)

func init() {
	cdf := func(r int, x float64) float64 {
		return 0.5 * math.Erfc(-(math.Log(x)-math.Log(routeMedian[r]))/(latencySigma*math.Sqrt2))
	}
	base := math.Pow(2, math.Pow(2, -expScale))
	for r := range nRoutes {
		prev := 0.0
		for b := range nBuckets {
			c := 1.0
			if b < len(bounds) {
				c = cdf(r, bounds[b])
			}
			classicPDF[r][b] = c - prev
			prev = c
		}
		prev = cdf(r, math.Pow(base, expOffset))
		for b := range expBuckets {
			c := cdf(r, math.Pow(base, float64(expOffset+b+1)))
			expPDF[r][b] = c - prev
			prev = c
		}
	}
}

type expHist struct {
	counts [expBuckets]uint64
	zero   uint64
	count  uint64
	sum    float64
}

// instance is the state of one simulated instance.
type instance struct {
	id       int
	job      string
	offsetMs int64
	churns   bool
	phase    int
	gen      int
	name     string // the instance label of the current generation
	startNs  int64  // start time of the current generation's counters
	rng      *rand.Rand
	labels   [nSeries][]prompb.Label

	reqs       [nRoutes][nCodes]float64
	hist       [nRoutes][nBuckets]uint64 // per bucket, not cumulative over buckets
	histSum    [nRoutes]float64
	cpu        float64
	memory     float64
	goroutines float64
	inflight   [nRoutes]float64
	queue      [nQueues]float64
	exp        [nRoutes]expHist
}

type shardGen struct {
	o          Options
	intervalMs int64
	startMs    int64
	groups     [][]*instance
	series     int
}

func newShardGen(o Options, groups [][]int) *shardGen {
	g := &shardGen{o: o, intervalMs: o.Interval.Milliseconds(), startMs: o.Start().UnixMilli()}
	for _, ids := range groups {
		var insts []*instance
		for _, id := range ids {
			in := &instance{
				id:         id,
				job:        fmt.Sprintf("svc-%02d", id%o.Jobs),
				offsetMs:   1 + int64(id*7919+13)%(g.intervalMs-1),
				churns:     (id*37+11)%100 < o.ChurnPercent,
				gen:        -1,
				rng:        rand.New(rand.NewPCG(o.Seed, uint64(id))),
				memory:     float64(150<<20 + (id%50)<<20),
				goroutines: float64(40 + id%30),
			}
			if in.churns {
				in.phase = (id * 7919) % o.ChurnEvery
			}
			insts = append(insts, in)
		}
		g.groups = append(g.groups, insts)
	}
	return g
}

func (g *shardGen) seriesTotal() int { return g.series }

func (g *shardGen) tsMs(in *instance, k int) int64 {
	return g.startMs + int64(k)*g.intervalMs + in.offsetMs
}

// advance moves in to interval k: a new generation if it churned, then one
// interval's worth of requests, CPU and so on.
func (g *shardGen) advance(in *instance, k int) {
	gen := 0
	if in.churns {
		gen = (k + in.phase) / g.o.ChurnEvery
	}
	if gen != in.gen {
		if in.gen < 0 {
			// Running since before the data starts.
			in.startNs = (g.startMs - 3600_000) * 1e6
		} else {
			in.startNs = (g.tsMs(in, k) - g.intervalMs/2) * 1e6
		}
		in.gen = gen
		in.reset()
		g.series += nSeries
	}
	u := in.rng.Float64
	scale := float64(g.intervalMs) / 15000
	jobFactor := 1 + float64(in.id%7)/7
	for r := range nRoutes {
		n := math.Round(routeRate[r] * scale * jobFactor * (0.8 + 0.4*u()))
		total := 0.0
		for c := range nCodes {
			inc := math.Round(n * codeShare[c] * (0.5 + u()))
			in.reqs[r][c] += inc
			total += inc
		}
		var counted uint64
		for b := range nBuckets {
			cnt := uint64(math.Round(total * classicPDF[r][b] * (0.8 + 0.4*u())))
			in.hist[r][b] += cnt
			counted += cnt
			in.histSum[r] += float64(cnt) * routeMedian[r] * (0.5 + u())
		}
		if g.o.ExpHistograms {
			e := &in.exp[r]
			for b := range expBuckets {
				if expPDF[r][b] < 1e-4 {
					continue
				}
				cnt := uint64(math.Round(total * expPDF[r][b] * (0.8 + 0.4*u())))
				e.counts[b] += cnt
				e.count += cnt
			}
			e.sum += total * routeMedian[r] * (0.8 + 0.4*u())
		}
		in.inflight[r] = math.Floor(u() * 6)
	}
	in.cpu += float64(g.intervalMs) / 1000 * (0.05 + 0.2*u())
	in.memory = math.Max(64<<20, in.memory+math.Round((u()-0.5)*256)*4096)
	in.goroutines = math.Max(10, in.goroutines+math.Round((u()-0.5)*4))
	for q := range nQueues {
		in.queue[q] = math.Max(0, in.queue[q]+math.Round((u()-0.45)*10))
	}
}

func (in *instance) reset() {
	in.name = fmt.Sprintf("10.%d.%d.%d:%d", 1+in.id/65536, in.id/256%256, in.id%256, 8080+in.gen)
	in.reqs = [nRoutes][nCodes]float64{}
	in.hist = [nRoutes][nBuckets]uint64{}
	in.histSum = [nRoutes]float64{}
	in.cpu = 0
	in.exp = [nRoutes]expHist{}
	in.buildLabels()
}

// buildLabels makes the remote_write label sets of the current generation,
// sorted by name as Prometheus keeps them.
func (in *instance) buildLabels() {
	mk := func(name string, extra ...string) []prompb.Label {
		ls := []prompb.Label{{Name: "__name__", Value: name}}
		for i := 0; i < len(extra); i += 2 {
			ls = append(ls, prompb.Label{Name: extra[i], Value: extra[i+1]})
		}
		ls = append(ls, prompb.Label{Name: "instance", Value: in.name}, prompb.Label{Name: "job", Value: in.job})
		sortLabels(ls)
		return ls
	}
	for r, route := range routes {
		for c, code := range codes {
			in.labels[idxRequests+r*nCodes+c] = mk("http_requests_total", "code", code, "route", route)
		}
		base := idxHistogram + r*histSeries
		for b := range nBuckets {
			in.labels[base+b] = mk("http_request_duration_seconds_bucket", "le", leString(b), "route", route)
		}
		in.labels[base+nBuckets] = mk("http_request_duration_seconds_sum", "route", route)
		in.labels[base+nBuckets+1] = mk("http_request_duration_seconds_count", "route", route)
		in.labels[idxInflight+r] = mk("http_inflight_requests", "route", route)
	}
	in.labels[idxCPU] = mk("process_cpu_seconds_total")
	in.labels[idxMemory] = mk("process_resident_memory_bytes")
	in.labels[idxGoroutines] = mk("go_goroutines")
	for q, queue := range queues {
		in.labels[idxQueue+q] = mk("queue_length", "queue", queue)
	}
}

func sortLabels(ls []prompb.Label) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j].Name < ls[j-1].Name; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

// leString formats a bucket bound as Prometheus' OTLP translator does, so
// both protocols produce the same le values.
func leString(b int) string {
	if b == len(bounds) {
		return "+Inf"
	}
	return strconv.FormatFloat(bounds[b], 'f', -1, 64)
}

// values are the instance's current sample values, by remote_write index.
func (in *instance) values(out *[nSeries]float64) {
	for r := range nRoutes {
		for c := range nCodes {
			out[idxRequests+r*nCodes+c] = in.reqs[r][c]
		}
		base := idxHistogram + r*histSeries
		var cum uint64
		for b := range nBuckets {
			cum += in.hist[r][b]
			out[base+b] = float64(cum)
		}
		out[base+nBuckets] = in.histSum[r]
		out[base+nBuckets+1] = float64(cum)
		out[idxInflight+r] = in.inflight[r]
	}
	out[idxCPU] = in.cpu
	out[idxMemory] = in.memory
	out[idxGoroutines] = in.goroutines
	for q := range nQueues {
		out[idxQueue+q] = in.queue[q]
	}
}

// request advances the instances of group gi to interval k and encodes them.
func (g *shardGen) request(k, gi int) (Request, error) {
	insts := g.groups[gi]
	req := Request{Interval: k}
	series := make([]prompb.TimeSeries, 0, len(insts)*nSeries)
	samples := make([]prompb.Sample, len(insts)*nSeries)
	md := pmetric.NewMetrics()
	var vals [nSeries]float64
	for _, in := range insts {
		g.advance(in, k)
		in.values(&vals)
		ts := g.tsMs(in, k)
		for i := range nSeries {
			s := samples[:1:1]
			samples = samples[1:]
			s[0] = prompb.Sample{Value: vals[i], Timestamp: ts}
			series = append(series, prompb.TimeSeries{Labels: in.labels[i], Samples: s})
		}
		req.Samples += nSeries
		if !g.o.RemoteWriteOnly {
			req.ExtraOTLPSamples += g.appendOTLP(md, in, ts)
		}
	}
	raw, err := (&prompb.WriteRequest{Timeseries: series}).Marshal()
	if err != nil {
		return req, fmt.Errorf("marshal remote write request: %w", err)
	}
	req.RW = snappy.Encode(nil, raw)
	if g.o.RemoteWriteOnly {
		return req, nil
	}
	req.OTLP, err = pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		return req, fmt.Errorf("marshal OTLP request: %w", err)
	}
	return req, nil
}

// appendOTLP adds the instance's metrics at time tsMs to md and returns the
// number of OTLP-only samples it added.
func (g *shardGen) appendOTLP(md pmetric.Metrics, in *instance, tsMs int64) int {
	rm := md.ResourceMetrics().AppendEmpty()
	// Only the identifying attributes: they become job and instance, and
	// the translator then adds no target_info series, so OTLP and
	// remote_write yield the same series.
	rm.Resource().Attributes().PutStr("service.name", in.job)
	rm.Resource().Attributes().PutStr("service.instance.id", in.name)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("sightline-bench")
	ms := sm.Metrics()
	start := pcommon.Timestamp(in.startNs)
	ts := pcommon.Timestamp(tsMs * int64(time.Millisecond))

	counter := func(name, unit string) pmetric.NumberDataPointSlice {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		return s.DataPoints()
	}
	gauge := func(name, unit string) pmetric.NumberDataPointSlice {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		return m.SetEmptyGauge().DataPoints()
	}
	point := func(dps pmetric.NumberDataPointSlice, v float64, attrs ...string) {
		dp := dps.AppendEmpty()
		for i := 0; i < len(attrs); i += 2 {
			dp.Attributes().PutStr(attrs[i], attrs[i+1])
		}
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(ts)
		dp.SetDoubleValue(v)
	}

	reqs := counter("http.requests", "{request}")
	for r, route := range routes {
		for c, code := range codes {
			point(reqs, in.reqs[r][c], "route", route, "code", code)
		}
	}

	hm := ms.AppendEmpty()
	hm.SetName("http.request.duration")
	hm.SetUnit("s")
	h := hm.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for r, route := range routes {
		dp := h.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("route", route)
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(ts)
		dp.ExplicitBounds().FromRaw(bounds[:])
		var total uint64
		for b := range nBuckets {
			total += in.hist[r][b]
		}
		dp.BucketCounts().FromRaw(in.hist[r][:])
		dp.SetCount(total)
		dp.SetSum(in.histSum[r])
		if g.o.Exemplars {
			// IDs as random as real trace IDs (so they do not compress),
			// but made of the point, so every encoding of the load is the
			// same.
			e := dp.Exemplars().AppendEmpty()
			key := strconv.FormatInt(tsMs, 10) + in.name + route
			var id [16]byte
			binary.LittleEndian.PutUint64(id[:8], xxhash.Sum64String("trace-hi"+key))
			binary.LittleEndian.PutUint64(id[8:], xxhash.Sum64String("trace-lo"+key))
			e.SetTraceID(pcommon.TraceID(id))
			var span [8]byte
			binary.LittleEndian.PutUint64(span[:], xxhash.Sum64String("span"+key))
			e.SetSpanID(pcommon.SpanID(span))
			e.SetTimestamp(ts)
			e.SetDoubleValue(bounds[(int(tsMs/1000)+r)%len(bounds)] * 0.9)
		}
	}

	point(counter("process.cpu", "s"), in.cpu)
	point(gauge("process.resident_memory", "By"), in.memory)
	point(gauge("go.goroutines", "{goroutine}"), in.goroutines)
	inflight := gauge("http.inflight_requests", "{request}")
	for r, route := range routes {
		point(inflight, in.inflight[r], "route", route)
	}
	ql := gauge("queue.length", "{item}")
	for q, queue := range queues {
		point(ql, in.queue[q], "queue", queue)
	}

	if !g.o.ExpHistograms {
		return 0
	}
	em := ms.AppendEmpty()
	em.SetName("rpc.duration")
	em.SetUnit("s")
	eh := em.SetEmptyExponentialHistogram()
	eh.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for r, route := range routes {
		e := &in.exp[r]
		dp := eh.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("route", route)
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(ts)
		dp.SetScale(expScale)
		dp.SetZeroCount(e.zero)
		dp.SetCount(e.count + e.zero)
		dp.SetSum(e.sum)
		dp.Positive().SetOffset(expOffset)
		dp.Positive().BucketCounts().FromRaw(e.counts[:])
	}
	return nRoutes
}

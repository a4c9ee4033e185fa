package lokipush

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/internal/limits"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
)

// Options configure the receiver.
type Options struct {
	// MaxBodyBytes bounds a push body, compressed and decompressed (413
	// above it).
	MaxBodyBytes int64
}

// DefaultOptions are Loki's defaults.
func DefaultOptions() Options {
	return Options{MaxBodyBytes: 16 << 20}
}

// RegisterFlags declares the options as flags, with their current values
// as defaults.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	flagext.Bytes(fs, &o.MaxBodyBytes, "loki.push.max-request-body-size", "Largest Loki push body accepted on /loki/api/v1/push, compressed or not; larger ones get 413.")
}

// Receiver is Loki's POST /loki/api/v1/push into the log store.
type Receiver struct {
	store  *logstore.Store
	opts   Options
	logger *slog.Logger
	pushed *prometheus.CounterVec
	bad    prometheus.Counter
}

// New returns the receiver; mount it behind tenant.Middleware.
func New(store *logstore.Store, opts Options, logger *slog.Logger, reg prometheus.Registerer) *Receiver {
	r := &Receiver{store: store, opts: opts, logger: logger,
		pushed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_loki_push_entries_total", Help: "Entries received on the Loki push API, by format.",
		}, []string{"format"}),
		bad: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_loki_push_bad_requests_total", Help: "Loki push requests refused as bad input.",
		}),
	}
	reg.MustRegister(r.pushed, r.bad)
	return r
}

// ServeHTTP takes a push: protobuf (snappy) or JSON (optionally gzipped).
func (a *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bad := func(code int, err error) {
		a.bad.Inc()
		http.Error(w, err.Error(), code)
	}
	max := a.opts.MaxBodyBytes
	if r.ContentLength > max {
		bad(http.StatusRequestEntityTooLarge, fmt.Errorf("push body of %d bytes is over the limit of %d bytes", r.ContentLength, max))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			bad(http.StatusRequestEntityTooLarge, fmt.Errorf("push body is over the limit of %d bytes", max))
			return
		}
		bad(http.StatusBadRequest, fmt.Errorf("read push body: %w", err))
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var recs []*logstore.Record
	switch ct {
	case "application/x-protobuf", "":
		recs, err = decodeProtoPush(body, max)
		a.pushed.WithLabelValues("protobuf").Add(float64(len(recs)))
	case "application/json":
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, zerr := gzip.NewReader(strings.NewReader(string(body)))
			if zerr != nil {
				bad(http.StatusBadRequest, fmt.Errorf("gzip: %w", zerr))
				return
			}
			if body, err = io.ReadAll(io.LimitReader(zr, max+1)); err != nil || int64(len(body)) > max {
				bad(http.StatusRequestEntityTooLarge, fmt.Errorf("decompressed push body is over the limit of %d bytes", max))
				return
			}
		}
		recs, err = decodeJSONPush(body)
		a.pushed.WithLabelValues("json").Add(float64(len(recs)))
	default:
		bad(http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Type %q: push takes application/x-protobuf (snappy) or application/json", r.Header.Get("Content-Type")))
		return
	}
	if errors.Is(err, errTooLarge) {
		bad(http.StatusRequestEntityTooLarge, err)
		return
	}
	if err != nil {
		bad(http.StatusBadRequest, err)
		return
	}
	res, err := a.store.Append(r.Context(), recs)
	if errors.Is(err, logstore.ErrBackpressure) || errors.Is(err, limits.ErrLimited) {
		http.Error(w, err.Error(), http.StatusTooManyRequests)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if len(res.Rejected) > 0 {
		bad(http.StatusBadRequest, fmt.Errorf("%d entries rejected: %v (the others were stored)", len(recs)-res.Accepted, res.Rejected))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// errTooLarge is a push whose decoded body is over the limit.
var errTooLarge = errors.New("decompressed push body is over the limit")

// decodeProtoPush decodes a snappy-compressed push of at most max bytes
// once decompressed: snappy states the decoded length first, and a few
// bytes may state gigabytes.
func decodeProtoPush(body []byte, max int64) ([]*logstore.Record, error) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, fmt.Errorf("malformed push request: snappy: %w", err)
	}
	if int64(n) > max {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", errTooLarge, n, max)
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("malformed push request: snappy: %w", err)
	}
	var req push.PushRequest
	if err := req.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("malformed push request: protobuf: %w", err)
	}
	var out []*logstore.Record
	for i, s := range req.Streams {
		ls, err := parser.ParseMetric(s.Labels)
		if err != nil {
			return nil, fmt.Errorf("stream %d: invalid labels %q: %w", i, s.Labels, err)
		}
		res, sev := resourceFromLabels(ls)
		for _, e := range s.Entries {
			md := make([]labels.Label, 0, len(e.StructuredMetadata))
			for _, m := range e.StructuredMetadata {
				md = append(md, labels.Label{Name: m.Name, Value: m.Value})
			}
			out = append(out, entryRecord(e.Timestamp.UnixNano(), e.Line, res, sev, md))
		}
	}
	return out, nil
}

// jsonPush is Loki's JSON push body.
type jsonPush struct {
	Streams []struct {
		Stream map[string]string `json:"stream"`
		Values []json.RawMessage `json:"values"`
	} `json:"streams"`
}

func decodeJSONPush(body []byte) ([]*logstore.Record, error) {
	var req jsonPush
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("malformed push request: JSON: %w", err)
	}
	var out []*logstore.Record
	for i, s := range req.Streams {
		if len(s.Stream) == 0 {
			return nil, fmt.Errorf("stream %d: no labels", i)
		}
		res, sev := resourceFromLabels(labels.FromMap(s.Stream))
		for j, raw := range s.Values {
			var v []json.RawMessage
			if err := json.Unmarshal(raw, &v); err != nil || len(v) < 2 || len(v) > 3 {
				return nil, fmt.Errorf("stream %d value %d: want [\"<unix ns>\", \"<line>\"] or with a metadata object", i, j)
			}
			var tsStr, line string
			if err := json.Unmarshal(v[0], &tsStr); err != nil {
				return nil, fmt.Errorf("stream %d value %d: timestamp must be a string of Unix nanoseconds", i, j)
			}
			ts, err := strconv.ParseInt(tsStr, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("stream %d value %d: timestamp %q is not Unix nanoseconds", i, j, tsStr)
			}
			if err := json.Unmarshal(v[1], &line); err != nil {
				return nil, fmt.Errorf("stream %d value %d: line must be a string", i, j)
			}
			var md []labels.Label
			if len(v) == 3 {
				var m map[string]string
				if err := json.Unmarshal(v[2], &m); err != nil {
					return nil, fmt.Errorf("stream %d value %d: structured metadata must be an object of strings", i, j)
				}
				for k, val := range m {
					md = append(md, labels.Label{Name: k, Value: val})
				}
				sort.Slice(md, func(a, b int) bool { return md[a].Name < md[b].Name })
			}
			out = append(out, entryRecord(ts, line, res, sev, md))
		}
	}
	return out, nil
}

// resourceFromLabels maps Loki stream labels onto OTLP resource attributes,
// every one of which stays a stream label (logstore.StreamLabelsAttr): the
// index labels under their OTLP names (service_name becomes service.name),
// the others as they are. A level or severity label is the severity text
// too. Without service_name, the service is the first of Loki's
// discover_service_name labels the stream has, as Loki does.
func resourceFromLabels(ls labels.Labels) ([]record.KV, string) {
	res := []record.KV{{Key: logstore.StreamLabelsAttr, Value: "true", Type: record.TypeString}}
	sev := ""
	ls.Range(func(l labels.Label) {
		switch l.Name {
		case "level", "severity", "detected_level":
			sev = l.Value
		}
		res = append(res, record.KV{Key: otelName(l.Name), Value: l.Value, Type: record.TypeString})
	})
	if !ls.Has("service_name") {
		for _, name := range discoverServiceName {
			if v := ls.Get(name); v != "" {
				res = append(res, record.KV{Key: "service.name", Value: v, Type: record.TypeString})
				break
			}
		}
	}
	return res, sev
}

// discoverServiceName are the labels Loki takes service_name from, in its
// order (its discover_service_name default).
var discoverServiceName = []string{"service", "app", "application", "app_name", "name", "app_kubernetes_io_name",
	"container", "container_name", "k8s_container_name", "component", "workload", "job", "k8s_job_name"}

// otelName is the OTLP attribute an index label came from, if any.
func otelName(label string) string {
	for _, k := range []string{"service.name", "service.namespace", "service.instance.id", "deployment.environment",
		"k8s.namespace.name", "k8s.pod.name", "k8s.container.name", "k8s.cluster.name", "k8s.deployment.name", "container.name"} {
		if logstore.LabelName(k) == label {
			return k
		}
	}
	return label
}

func entryRecord(ts int64, line string, res []record.KV, sev string, md []labels.Label) *logstore.Record {
	r := &logstore.Record{Timestamp: ts, ObservedTimestamp: time.Now().UnixNano(), Body: line, BodyType: record.TypeString, Resource: res, SeverityText: sev}
	for _, m := range md {
		switch m.Name {
		case "trace_id", "traceID", "traceid":
			if id, err := record.ParseTraceID(strings.ToLower(m.Value)); err == nil {
				r.TraceID = id
				continue
			}
		case "span_id", "spanID":
			var sid [8]byte
			if n, err := hexDecode(sid[:], m.Value); err == nil && n == 8 {
				r.SpanID = sid
				continue
			}
		}
		r.Attributes = append(r.Attributes, record.KV{Key: m.Name, Value: m.Value, Type: record.TypeString})
	}
	return r
}

func hexDecode(dst []byte, s string) (int, error) {
	if len(s) != 2*len(dst) {
		return 0, fmt.Errorf("want %d hex digits", 2*len(dst))
	}
	return hex.Decode(dst, []byte(strings.ToLower(s)))
}

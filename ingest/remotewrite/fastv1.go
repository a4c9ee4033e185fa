package remotewrite

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/easyproto"
	"github.com/klauspost/compress/snappy"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"

	"github.com/sightline-dev/sightline/internal/throttle"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

// v1Handler takes remote_write 1.0 bodies, the protocol every Prometheus
// and agent sends by default, without Prometheus' generated unmarshalling:
// that builds a Go value of the whole request (a slice per series, a
// string per label) and then a labels.Labels per series, and the head
// then finds each series by the hash of those labels. Profiled under the
// benchmark's load, the three were two thirds of the receiver's CPU.
//
// Here the body is read in place with easyproto, a series is named by a
// hash of its label messages as they arrive, and the tenant's
// tsdbstore.SeriesRefs gives the head's reference and labels of a series
// seen before (as Prometheus' scrape cache does for a target), so a known
// series costs no allocation and has no label decoded. A series not in
// the cache has its labels decoded, built, sorted and checked as
// Prometheus' handler does. Everything else is Prometheus' behaviour too:
// samples, then exemplars, then native histograms of each series; the
// first sample the store refuses fails the request (400 for out of order,
// out of bounds, duplicate, too old or an invalid histogram, else 500) and
// nothing of it is kept.
//
// A body this decoder does not read exactly as Prometheus' would (bad
// snappy, malformed protobuf, a field of the wrong wire type) is handed to
// Prometheus' handler, whose answer it gets, after anything appended from
// it has been rolled back.
type v1Handler struct {
	app      storage.Appendable
	prom     http.Handler // Prometheus' handler: remote_write 2.0 and what v1Handler leaves to it
	invalid  prometheus.Counter
	logger   *slog.Logger
	badInput *throttle.Logger
	pool     sync.Pool // of *v1Request
}

// errMalformed marks a body the decoder leaves to Prometheus' handler.
var errMalformed = errors.New("malformed remote_write 1.0 body")

func (h *v1Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.takes(r) {
		h.prom.ServeHTTP(w, r)
		return
	}
	req, _ := h.pool.Get().(*v1Request)
	if req == nil {
		req = &v1Request{}
		// The strings in req point into a body that is reused: the
		// builder's labels must own theirs (stringlabels copies them
		// anyway; the other label implementations clone on Add).
		req.builder.SetUnsafeAdd(true)
	}
	defer h.pool.Put(req)
	req.body.Reset()
	if _, err := req.body.ReadFrom(r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	err := h.write(r.Context(), req)
	if errors.Is(err, errMalformed) {
		r.Body = io.NopCloser(bytes.NewReader(req.body.Bytes()))
		h.prom.ServeHTTP(w, r)
		return
	}
	// The headers Prometheus' handler sets on every answer; remote_write
	// 1.0 does not count what was written.
	for _, name := range []string{"X-Prometheus-Remote-Write-Samples-Written", "X-Prometheus-Remote-Write-Histograms-Written", "X-Prometheus-Remote-Write-Exemplars-Written"} {
		w.Header().Set(name, "0")
	}
	if err != nil {
		code := statusOf(err)
		if code == http.StatusInternalServerError {
			h.logger.Error("Error while storing the remote write request", "err", err)
		} else {
			h.badInput.Warn("Out of order sample from remote write", "err", err)
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// statusOf is the status Prometheus' handler answers a remote_write 1.0
// request with when appending it failed with err: 400 for a sample that
// would fail again, so that the sender does not retry it, else 500.
func statusOf(err error) int {
	switch {
	case errors.Is(err, storage.ErrOutOfOrderSample), errors.Is(err, storage.ErrOutOfBounds),
		errors.Is(err, storage.ErrDuplicateSampleForTimestamp), errors.Is(err, storage.ErrTooOldSample),
		errors.As(err, new(histogram.Error)):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// takes says whether r is a remote_write 1.0 request this handler reads;
// any other goes to Prometheus' handler as it is.
func (h *v1Handler) takes(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != string(remoteapi.SnappyBlockCompression) {
		return false
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	t, err := remoteapi.ParseProtoMsg(ct)
	return err == nil && t == remoteapi.WriteV1MessageType
}

// v1Request is the scratch space of one request, reused across requests.
type v1Request struct {
	body       bytes.Buffer
	plain      []byte
	key        []byte      // the series' label messages, each after its length: its ID
	labels     []labelPair // the series' labels, decoded only when needed
	canon      []byte      // a label message as prompb marshals it
	samples    []prompb.Sample
	exemplars  []prompb.Exemplar
	histograms []prompb.Histogram
	builder    labels.ScratchBuilder
	cursor     tsdbstore.Cursor // the request's lookups in the series cache
}

type labelPair struct{ name, value string }

// write decodes req's body and appends it: all of it or, on an error,
// nothing.
func (h *v1Handler) write(ctx context.Context, req *v1Request) (err error) {
	compressed := req.body.Bytes()
	n, err := snappy.DecodedLen(compressed)
	if err != nil {
		return errMalformed
	}
	req.plain = slices.Grow(req.plain[:0], n)[:n]
	plain, err := snappy.Decode(req.plain, compressed)
	if err != nil {
		return errMalformed
	}

	app := h.app.Appender(ctx)
	req.cursor = tsdbstore.Cursor{}
	var refs *tsdbstore.SeriesRefs
	if a, ok := app.(tsdbstore.Appender); ok {
		refs = a.SeriesRefs()
	}
	invalid := 0
	defer func() {
		if err != nil {
			_ = app.Rollback()
			return
		}
		err = app.Commit()
		if invalid > 0 {
			h.invalid.Add(float64(invalid))
		}
	}()

	// Prometheus' handler decodes the whole body before it appends: after
	// a refused sample the rest is still read, since a malformed body
	// gets Prometheus' answer.
	var refused error
	var fc easyproto.FieldContext
	for len(plain) > 0 {
		if plain, err = fc.NextField(plain); err != nil || fc.FieldNum == 0 {
			return errMalformed
		}
		switch fc.FieldNum {
		case 1: // timeseries
			data, ok := fc.MessageData()
			if !ok {
				return errMalformed
			}
			if err := req.decodeSeries(data); err != nil {
				return err
			}
			if refused != nil {
				// Still read: a malformed label gets Prometheus' answer.
				if err := req.decodeLabels(); err != nil {
					return err
				}
				continue
			}
			valid, err := h.appendSeries(app, refs, req)
			if errors.Is(err, errMalformed) {
				return err
			}
			refused = err
			if !valid {
				invalid++
			}
		case 3: // metadata, which Prometheus' handler reads but does not store
			data, ok := fc.MessageData()
			if !ok || (&prompb.MetricMetadata{}).Unmarshal(data) != nil {
				return errMalformed
			}
		}
	}
	return refused
}

// decodeSeries reads one prompb.TimeSeries into req's slices; the label
// strings point into the body.
func (req *v1Request) decodeSeries(src []byte) error {
	req.key, req.samples = req.key[:0], req.samples[:0]
	req.exemplars, req.histograms = req.exemplars[:0], req.histograms[:0]
	var fc easyproto.FieldContext
	for len(src) > 0 {
		var err error
		if src, err = fc.NextField(src); err != nil || fc.FieldNum == 0 {
			return errMalformed
		}
		if fc.FieldNum > 4 {
			continue // unknown, as protobuf skips it
		}
		data, ok := fc.MessageData()
		if !ok {
			return errMalformed
		}
		switch fc.FieldNum {
		case 1: // decoded only for a series the cache does not have
			req.key = append(binary.AppendUvarint(req.key, uint64(len(data))), data...)
		case 2:
			s, err := decodeSample(data)
			if err != nil {
				return err
			}
			req.samples = append(req.samples, s)
		case 3: // rare: with Prometheus' generated code
			req.exemplars = append(req.exemplars, prompb.Exemplar{})
			if req.exemplars[len(req.exemplars)-1].Unmarshal(data) != nil {
				return errMalformed
			}
		case 4:
			req.histograms = append(req.histograms, prompb.Histogram{})
			if req.histograms[len(req.histograms)-1].Unmarshal(data) != nil {
				return errMalformed
			}
		}
	}
	return nil
}

func decodeLabel(src []byte) (labelPair, error) {
	var l labelPair
	var fc easyproto.FieldContext
	for len(src) > 0 {
		var err error
		if src, err = fc.NextField(src); err != nil || fc.FieldNum == 0 {
			return l, errMalformed
		}
		if fc.FieldNum > 2 {
			continue
		}
		s, ok := fc.String()
		if !ok {
			return l, errMalformed
		}
		if fc.FieldNum == 1 {
			l.name = s
		} else {
			l.value = s
		}
	}
	return l, nil
}

func decodeSample(src []byte) (prompb.Sample, error) {
	var s prompb.Sample
	var fc easyproto.FieldContext
	for len(src) > 0 {
		var err error
		if src, err = fc.NextField(src); err != nil || fc.FieldNum == 0 {
			return s, errMalformed
		}
		var ok bool
		switch fc.FieldNum {
		case 1:
			s.Value, ok = fc.Double()
		case 2:
			s.Timestamp, ok = fc.Int64()
		default:
			ok = true
		}
		if !ok {
			return s, errMalformed
		}
	}
	return s, nil
}

// id names the series by its label messages as they arrived, for the
// series cache: a series found under it needs no label decoded, sorted or
// compared, which was 28% of remote_write ingest's CPU. Labels sent
// otherwise (out of order, say) have another ID, which is not cached
// (build). 128 bits of a hash seeded at random per process: no two series share
// one in practice, nor can a sender make them.
func (req *v1Request) id() tsdbstore.ID {
	return tsdbstore.ID{maphash.Bytes(idSeeds[0], req.key), maphash.Bytes(idSeeds[1], req.key)}
}

var idSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// labelMessages yields the series' label messages, in the order they
// arrived, from req.key.
func (req *v1Request) labelMessages() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for k := req.key; len(k) > 0; {
			n, w := binary.Uvarint(k)
			if !yield(k[w : w+int(n)]) {
				return
			}
			k = k[w+int(n):]
		}
	}
}

// decodeLabels decodes the series' label messages into req.labels; the
// strings point into the body.
func (req *v1Request) decodeLabels() error {
	req.labels = req.labels[:0]
	for data := range req.labelMessages() {
		l, err := decodeLabel(data)
		if err != nil {
			return err
		}
		req.labels = append(req.labels, l)
	}
	return nil
}

// build decodes the series' labels and returns them sorted by name, as a
// labels.Labels of their own. canonical says whether they arrived as
// Prometheus encodes them: sorted, each label message as prompb marshals
// it. Only such a series is cached under the ID of its label messages, so
// that a series has one entry however a sender varies its encoding (a
// sender that orders its labels at random would make one per order).
func (req *v1Request) build() (ls labels.Labels, canonical bool, err error) {
	if err := req.decodeLabels(); err != nil {
		return labels.EmptyLabels(), false, err
	}
	canonical = slices.IsSortedFunc(req.labels, compareNames) && req.encodedAsPrompb()
	if !canonical {
		slices.SortFunc(req.labels, compareNames)
	}
	req.builder.Reset()
	for _, l := range req.labels {
		req.builder.Add(l.name, l.value)
	}
	return req.builder.Labels(), canonical, nil
}

// encodedAsPrompb says whether each label message is as prompb marshals
// the label decoded from it.
func (req *v1Request) encodedAsPrompb() bool {
	i := 0
	for data := range req.labelMessages() {
		l := req.labels[i]
		i++
		pl := prompb.Label{Name: l.name, Value: l.value}
		req.canon = slices.Grow(req.canon[:0], pl.Size())[:pl.Size()]
		if _, err := pl.MarshalToSizedBuffer(req.canon); err != nil || !bytes.Equal(req.canon, data) {
			return false
		}
	}
	return true
}

func compareNames(a, b labelPair) int { return strings.Compare(a.name, b.name) }

// appendSeries appends the series decoded into req, as Prometheus'
// handler does; valid is false for a series whose labels it skips.
func (h *v1Handler) appendSeries(app storage.Appender, refs *tsdbstore.SeriesRefs, req *v1Request) (valid bool, err error) {
	id := req.id()
	known, ok := refs.Entry(&req.cursor, id)
	ls, ref, cache := known.Labels, known.Ref, ok
	if !ok {
		if ls, cache, err = req.build(); err != nil {
			return true, err
		}
		ref = 0
		// The checks of Prometheus' handler; a cached series passed them.
		if !ls.Has(labels.MetricName) || !ls.IsValid(model.UTF8Validation) {
			h.badInput.Warn("Invalid metric names or labels", "got", ls.String())
			return false, nil
		}
		if name, dup := ls.HasDuplicateLabelNames(); dup {
			h.badInput.Warn("Invalid labels for series.", "labels", ls.String(), "duplicated_label", name)
			return false, nil
		}
	}
	for _, s := range req.samples {
		if ref, err = app.Append(ref, ls, s.Timestamp, s.Value); err != nil {
			return true, err
		}
	}
	for _, ep := range req.exemplars {
		// Exemplar storage is best effort, as in Prometheus: a refused
		// exemplar does not fail the request.
		_, _ = app.AppendExemplar(ref, ls, ep.ToExemplar(&req.builder, nil))
	}
	for _, hp := range req.histograms {
		if hp.IsFloatHistogram() {
			ref, err = app.AppendHistogram(ref, ls, hp.Timestamp, nil, hp.ToFloatHistogram())
		} else {
			ref, err = app.AppendHistogram(ref, ls, hp.Timestamp, hp.ToIntHistogram(), nil)
		}
		if err != nil {
			return true, err
		}
	}
	// A series of native histograms only is cached too.
	if cache && ref != 0 && (!ok || ref != known.Ref) {
		refs.PutEntry(id, tsdbstore.SeriesEntry{Ref: ref, Labels: ls})
	}
	return true, nil
}

// capture is a Registerer that keeps what is registered through it, so
// that the v1 path counts into the counters of Prometheus' handler.
type capture struct {
	prometheus.Registerer
	got []prometheus.Collector
}

func (c *capture) Register(col prometheus.Collector) error {
	c.got = append(c.got, col)
	return c.Registerer.Register(col)
}

func (c *capture) MustRegister(cols ...prometheus.Collector) {
	for _, col := range cols {
		if err := c.Register(col); err != nil {
			panic(err)
		}
	}
}

// counter returns the captured counter named name.
func (c *capture) counter(name string) (prometheus.Counter, error) {
	for _, col := range c.got {
		if cnt, ok := col.(prometheus.Counter); ok && strings.Contains(cnt.Desc().String(), `"`+name+`"`) {
			return cnt, nil
		}
	}
	return nil, fmt.Errorf("prometheus' remote-write handler registered no counter %s", name)
}

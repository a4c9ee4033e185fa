package logstore

import (
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/sightline-dev/sightline/storage/record"
)

// indexAttributes are the resource attributes that become Loki stream
// labels: Loki's own default list for OTLP. The severity and the detected
// level are stream labels too (StreamLabels); every other attribute is
// structured metadata.
var indexAttributes = map[string]bool{
	"cloud.availability_zone": true, "cloud.region": true, "container.name": true,
	"deployment.environment": true, "deployment.environment.name": true,
	"k8s.cluster.name": true, "k8s.container.name": true, "k8s.cronjob.name": true,
	"k8s.daemonset.name": true, "k8s.deployment.name": true, "k8s.job.name": true,
	"k8s.namespace.name": true, "k8s.pod.name": true, "k8s.replicaset.name": true,
	"k8s.statefulset.name": true, "service.instance.id": true, "service.name": true,
	"service.namespace": true,
}

// StreamLabelsAttr marks a resource whose every other attribute is a
// stream label: the resource of records pushed to Loki's push API, whose
// labels are stream labels whatever their names (a Loki user's {job="x"}
// must find what Promtail pushed). It is itself neither a label nor
// structured metadata.
const StreamLabelsAttr = "sightline.loki.stream_labels"

// allStreamLabels reports whether res carries StreamLabelsAttr.
func allStreamLabels(res []record.KV) bool {
	for _, kv := range res {
		if kv.Key == StreamLabelsAttr {
			return true
		}
	}
	return false
}

// isStreamAttr reports whether resource attribute key is a stream label in
// a resource whose every attribute is one (all) or not.
func isStreamAttr(key string, all bool) bool {
	return key != StreamLabelsAttr && (all || indexAttributes[key])
}

// isMetadataAttr reports whether resource attribute key is structured
// metadata: neither a stream label nor the marker.
func isMetadataAttr(key string, all bool) bool {
	return key != StreamLabelsAttr && !all && !indexAttributes[key]
}

// LabelName turns an OTLP attribute name into a Loki/Prometheus label name
// as Loki does: every character outside [a-zA-Z0-9_] becomes '_'.
func LabelName(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = labelByte(c, i)
	}
	return string(b)
}

// labelByte is byte i of a label name whose attribute name has c there.
func labelByte(c byte, i int) byte {
	if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0 {
		return c
	}
	return '_'
}

// isLabelName reports whether LabelName(key) == name, without building it:
// counting looks up a few metadata names in every record.
func isLabelName(key, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i := 0; i < len(key); i++ {
		if labelByte(key[i], i) != name[i] {
			return false
		}
	}
	return true
}

// SeverityLabel is the value of the severity stream label: the severity
// text in lower case, or the OTLP severity number's name.
func SeverityLabel(r *Record) string {
	if r.SeverityText != "" {
		return strings.ToLower(r.SeverityText)
	}
	if l, ok := severityNumberLevel(r.SeverityNumber); ok {
		return l
	}
	if r.SeverityNumber > 24 {
		return LevelFatal
	}
	return LevelUnknown
}

// StreamLabels are the Loki stream labels of r: its index attributes (every
// resource attribute, when the resource has StreamLabelsAttr), severity and
// detected_level (DetectedLevel). A pushed severity or detected_level label
// is kept as it was pushed.
func StreamLabels(r *Record) labels.Labels {
	b := labels.NewScratchBuilder(8)
	all := allStreamLabels(r.Resource)
	var seen map[string]bool // by name, for pushed labels only
	if all {
		seen = map[string]bool{}
	}
	hasService := false
	for _, kv := range r.Resource {
		if kv.Value == "" || !isStreamAttr(kv.Key, all) {
			continue
		}
		name := LabelName(kv.Key)
		if all {
			if seen[name] || name == "" {
				continue // two attributes of one label name (a.b and a_b), or no name
			}
			seen[name] = true
		}
		b.Add(name, kv.Value)
		hasService = hasService || name == "service_name"
	}
	if !hasService {
		b.Add("service_name", "unknown_service")
	}
	if !seen["severity"] {
		b.Add("severity", SeverityLabel(r))
	}
	if !seen[DetectedLevelLabel] {
		b.Add(DetectedLevelLabel, DetectedLevel(r))
	}
	b.Sort()
	return b.Labels()
}

// metadataFields are the structured metadata that come from a record's own
// OTLP fields, in the order Metadata takes them (the first value of a name
// wins); an empty value means the record has none.
var metadataFields = []struct {
	name  string
	value func(r *Record) string
}{
	{"trace_id", func(r *Record) string {
		if !r.HasTrace() {
			return ""
		}
		return hex.EncodeToString(r.TraceID[:])
	}},
	{"span_id", func(r *Record) string {
		if r.SpanID == ([8]byte{}) {
			return ""
		}
		return hex.EncodeToString(r.SpanID[:])
	}},
	{"severity_number", func(r *Record) string {
		if r.SeverityNumber == 0 {
			return ""
		}
		return strconv.Itoa(int(r.SeverityNumber))
	}},
	{"severity_text", func(r *Record) string { return r.SeverityText }},
	{"flags", func(r *Record) string {
		if r.Flags == 0 {
			return ""
		}
		return strconv.FormatUint(uint64(r.Flags), 10)
	}},
	{"observed_timestamp", func(r *Record) string { return strconv.FormatInt(r.ObservedTimestamp, 10) }},
	{"scope_name", func(r *Record) string { return r.ScopeName }},
	{"scope_version", func(r *Record) string { return r.ScopeVersion }},
}

// isMetadataField reports whether name is one of metadataFields.
func isMetadataField(name string) bool {
	for _, f := range metadataFields {
		if f.name == name {
			return true
		}
	}
	return false
}

// Metadata is r's structured metadata in Loki's sense: every field that is
// not a stream label. A name's first non-empty value wins: the record's own
// fields, then its attributes, then resource attributes that are not stream
// labels. metadataValue is the same rule for one name.
func Metadata(r *Record) labels.Labels {
	b := labels.NewScratchBuilder(len(r.Resource) + len(r.Attributes) + len(metadataFields))
	seen := map[string]bool{}
	add := func(k, v string) {
		if v == "" || seen[k] {
			return
		}
		seen[k] = true
		b.Add(k, v)
	}
	for _, f := range metadataFields {
		add(f.name, f.value(r))
	}
	for _, kv := range r.Attributes {
		add(LabelName(kv.Key), kv.Value)
	}
	all := allStreamLabels(r.Resource)
	for _, kv := range r.Resource {
		if isMetadataAttr(kv.Key, all) {
			add(LabelName(kv.Key), kv.Value)
		}
	}
	b.Sort()
	return b.Labels()
}

// metadataValue is Metadata(r).Get(name), without building the rest.
func metadataValue(r *Record, name string) string {
	for _, f := range metadataFields {
		if f.name == name {
			if v := f.value(r); v != "" {
				return v
			}
			break
		}
	}
	for _, kv := range r.Attributes {
		if kv.Value != "" && isLabelName(kv.Key, name) {
			return kv.Value
		}
	}
	all := allStreamLabels(r.Resource)
	for _, kv := range r.Resource {
		if kv.Value != "" && isMetadataAttr(kv.Key, all) && isLabelName(kv.Key, name) {
			return kv.Value
		}
	}
	return ""
}

package logstore

import (
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
)

// indexAttributes are the resource attributes that become Loki stream
// labels: Loki's own default list for OTLP, plus the severity. Every other
// attribute is structured metadata.
var indexAttributes = map[string]bool{
	"cloud.availability_zone": true, "cloud.region": true, "container.name": true,
	"deployment.environment": true, "deployment.environment.name": true,
	"k8s.cluster.name": true, "k8s.container.name": true, "k8s.cronjob.name": true,
	"k8s.daemonset.name": true, "k8s.deployment.name": true, "k8s.job.name": true,
	"k8s.namespace.name": true, "k8s.pod.name": true, "k8s.replicaset.name": true,
	"k8s.statefulset.name": true, "service.instance.id": true, "service.name": true,
	"service.namespace": true,
}

// LabelName turns an OTLP attribute name into a Loki/Prometheus label name
// as Loki does: every character outside [a-zA-Z0-9_] becomes '_'.
func LabelName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0) {
			b[i] = '_'
		}
	}
	return string(b)
}

// SeverityLabel is the value of the severity stream label: the severity
// text in lower case, or the OTLP severity number's name.
func SeverityLabel(r *Record) string {
	if r.SeverityText != "" {
		return strings.ToLower(r.SeverityText)
	}
	switch n := r.SeverityNumber; {
	case n >= 1 && n <= 4:
		return "trace"
	case n >= 5 && n <= 8:
		return "debug"
	case n >= 9 && n <= 12:
		return "info"
	case n >= 13 && n <= 16:
		return "warn"
	case n >= 17 && n <= 20:
		return "error"
	case n >= 21:
		return "fatal"
	}
	return "unknown"
}

// StreamLabels are the Loki stream labels of r.
func StreamLabels(r *Record) labels.Labels {
	b := labels.NewScratchBuilder(8)
	hasService := false
	for _, kv := range r.Resource {
		if indexAttributes[kv.Key] && kv.Value != "" {
			b.Add(LabelName(kv.Key), kv.Value)
			hasService = hasService || kv.Key == "service.name"
		}
	}
	if !hasService {
		b.Add("service_name", "unknown_service")
	}
	b.Add("severity", SeverityLabel(r))
	b.Sort()
	return b.Labels()
}

// Metadata is r's structured metadata in Loki's sense: every field that is
// not a stream label.
func Metadata(r *Record) labels.Labels {
	b := labels.NewScratchBuilder(len(r.Resource) + len(r.Attributes) + 8)
	seen := map[string]bool{}
	add := func(k, v string) {
		if v == "" || seen[k] {
			return
		}
		seen[k] = true
		b.Add(k, v)
	}
	if r.HasTrace() {
		add("trace_id", hex.EncodeToString(r.TraceID[:]))
	}
	if r.SpanID != ([8]byte{}) {
		add("span_id", hex.EncodeToString(r.SpanID[:]))
	}
	if r.SeverityNumber != 0 {
		add("severity_number", strconv.Itoa(int(r.SeverityNumber)))
	}
	add("severity_text", r.SeverityText)
	if r.Flags != 0 {
		add("flags", strconv.FormatUint(uint64(r.Flags), 10))
	}
	add("observed_timestamp", strconv.FormatInt(r.ObservedTimestamp, 10))
	add("scope_name", r.ScopeName)
	add("scope_version", r.ScopeVersion)
	for _, kv := range r.Attributes {
		add(LabelName(kv.Key), kv.Value)
	}
	for _, kv := range r.Resource {
		if !indexAttributes[kv.Key] {
			add(LabelName(kv.Key), kv.Value)
		}
	}
	b.Sort()
	return b.Labels()
}

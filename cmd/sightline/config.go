package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/sightline-dev/sightline/alerting"
	"github.com/sightline-dev/sightline/collector"
	"github.com/sightline-dev/sightline/exporters/spanmetrics"
	"github.com/sightline-dev/sightline/query/promapi"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/tracestore"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

// Config is everything Sightline can be told, by flag or by the YAML file of
// -config.file (flags win). The YAML keys are the flag names.
type Config struct {
	DataDir    string `yaml:"data.dir"`
	HTTPListen string `yaml:"http.listen-address"`
	LogLevel   string `yaml:"log.level"`

	OTLPGRPCListen      string      `yaml:"otlp.grpc.listen-address"`
	OTLPHTTPListen      string      `yaml:"otlp.http.listen-address"`
	OTLPMaxRecvMsgMiB   int         `yaml:"otlp.grpc.max-recv-msg-size-mib"`
	OTLPMaxBodySize     bytesFlag   `yaml:"otlp.http.max-request-body-size"`
	MemoryLimitPercent  uint        `yaml:"memory.limit-percentage"`
	MemorySpikePercent  uint        `yaml:"memory.spike-percentage"`
	MemoryLimitMiB      uint        `yaml:"memory.limit-mib"`
	CollectorConfigs    stringsFlag `yaml:"collector.config"`
	CollectorLogLevel   string      `yaml:"collector.log-level"`
	RemoteWriteMaxBody  bytesFlag   `yaml:"remote-write.max-request-body-size"`
	MetricsRetention    durFlag     `yaml:"metrics.retention"`
	MetricsRetentionMax bytesFlag   `yaml:"metrics.retention-size"`
	MetricsOOOWindow    durFlag     `yaml:"metrics.out-of-order-window"`
	MetricsMaxExemplars int64       `yaml:"metrics.max-exemplars"`
	QueryTimeout        durFlag     `yaml:"query.timeout"`
	QueryMaxSamples     int         `yaml:"query.max-samples"`
	QueryLookbackDelta  durFlag     `yaml:"query.lookback-delta"`

	LogsRetention      durFlag   `yaml:"logs.retention"`
	LogsRetentionSize  bytesFlag `yaml:"logs.retention-size"`
	LogsMaxRecordSize  bytesFlag `yaml:"logs.max-record-size"`
	LogsMaxScanRecords int       `yaml:"logs.query.max-scan-records"`
	LogsHeadMaxRecords int       `yaml:"logs.head.max-records"`
	LogsHeadMaxAge     durFlag   `yaml:"logs.head.max-age"`
	LogsWALSync        durFlag   `yaml:"logs.wal.sync-interval"`
	LogsMergeMaxRecs   int       `yaml:"logs.merge.max-records"`
	LogsFullTextMin    int       `yaml:"logs.full-text.min-records"`

	TracesRetention     durFlag   `yaml:"traces.retention"`
	TracesRetentionSize bytesFlag `yaml:"traces.retention-size"`
	TracesMaxSpanSize   bytesFlag `yaml:"traces.max-span-size"`
	TracesMaxScanSpans  int       `yaml:"traces.query.max-scan-spans"`
	TracesHeadMaxSpans  int       `yaml:"traces.head.max-spans"`
	TracesHeadMaxAge    durFlag   `yaml:"traces.head.max-age"`
	TracesWALSync       durFlag   `yaml:"traces.wal.sync-interval"`
	TracesMergeMaxSpans int       `yaml:"traces.merge.max-spans"`
	SpanMetricsInterval durFlag   `yaml:"spanmetrics.flush-interval"`

	ExternalURL         string      `yaml:"web.external-url"`
	RuleFiles           stringsFlag `yaml:"rules.file"`
	RuleTenantDir       string      `yaml:"rules.tenant-dir"`
	RuleEvalInterval    durFlag     `yaml:"rules.evaluation-interval"`
	RuleResendDelay     durFlag     `yaml:"rules.alert.resend-delay"`
	RuleOutageTolerance durFlag     `yaml:"rules.alert.for-outage-tolerance"`
	RuleForGracePeriod  durFlag     `yaml:"rules.alert.for-grace-period"`
	AlertmanagerConfig  string      `yaml:"alertmanager.config.file"`
	AlertmanagerURLs    stringsFlag `yaml:"alertmanager.url"`
	AlertmanagerRetain  durFlag     `yaml:"alertmanager.data-retention"`
}

func defaultConfig() Config {
	col := collector.DefaultOptions()
	st := tsdbstore.DefaultOptions()
	eng := promapi.DefaultEngineOptions()
	rules := alerting.DefaultRulesOptions()
	logs := logstore.DefaultOptions()
	traces := tracestore.DefaultOptions()
	spans := spanmetrics.DefaultOptions()
	return Config{
		DataDir:             "./data",
		HTTPListen:          ":9750",
		LogLevel:            "info",
		OTLPGRPCListen:      col.GRPCEndpoint,
		OTLPHTTPListen:      col.HTTPEndpoint,
		OTLPMaxRecvMsgMiB:   col.MaxRecvMsgSizeMiB,
		OTLPMaxBodySize:     bytesFlag(col.MaxRequestBodyBytes),
		MemoryLimitPercent:  uint(col.MemoryLimitPercentage),
		MemorySpikePercent:  uint(col.MemorySpikePercentage),
		CollectorLogLevel:   col.LogLevel,
		RemoteWriteMaxBody:  bytesFlag(promapi.DefaultOptions().MaxRequestBodyBytes),
		MetricsRetention:    durFlag(st.Retention),
		MetricsOOOWindow:    durFlag(st.OutOfOrderWindow),
		MetricsMaxExemplars: st.MaxExemplars,
		QueryTimeout:        durFlag(eng.QueryTimeout),
		QueryMaxSamples:     eng.MaxSamples,
		QueryLookbackDelta:  durFlag(eng.LookbackDelta),
		RuleEvalInterval:    durFlag(rules.EvaluationInterval),
		RuleResendDelay:     durFlag(rules.ResendDelay),
		RuleOutageTolerance: durFlag(rules.OutageTolerance),
		RuleForGracePeriod:  durFlag(rules.ForGracePeriod),
		AlertmanagerRetain:  durFlag(120 * time.Hour),
		LogsRetention:       durFlag(logs.Retention),
		LogsMaxRecordSize:   bytesFlag(logs.MaxRecordBytes),
		LogsMaxScanRecords:  logs.MaxScanRecords,
		LogsHeadMaxRecords:  logs.HeadMaxRows,
		LogsHeadMaxAge:      durFlag(logs.HeadMaxAge),
		LogsWALSync:         durFlag(logs.WALSyncInterval),
		LogsMergeMaxRecs:    logs.MergeMaxRows,
		LogsFullTextMin:     logs.FullTextMinRecords,
		TracesRetention:     durFlag(traces.Retention),
		TracesMaxSpanSize:   bytesFlag(traces.MaxSpanBytes),
		TracesMaxScanSpans:  traces.MaxScanSpans,
		TracesHeadMaxSpans:  traces.HeadMaxRows,
		TracesHeadMaxAge:    durFlag(traces.HeadMaxAge),
		TracesWALSync:       durFlag(traces.WALSyncInterval),
		TracesMergeMaxSpans: traces.MergeMaxRows,
		SpanMetricsInterval: durFlag(spans.FlushInterval),
	}
}

func (c *Config) register(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data.dir", c.DataDir, "Directory for all stored data; each tenant gets <data.dir>/tenants/<tenant>.")
	fs.StringVar(&c.HTTPListen, "http.listen-address", c.HTTPListen, "Address of the HTTP port: Prometheus API, remote_write, /metrics, /-/healthy, /-/ready, /debug/pprof.")
	fs.StringVar(&c.LogLevel, "log.level", c.LogLevel, "Log level: debug, info, warn or error.")
	fs.StringVar(&c.OTLPGRPCListen, "otlp.grpc.listen-address", c.OTLPGRPCListen, "Address of the OTLP gRPC receiver.")
	fs.StringVar(&c.OTLPHTTPListen, "otlp.http.listen-address", c.OTLPHTTPListen, "Address of the OTLP HTTP receiver (/v1/metrics, protobuf and JSON).")
	fs.IntVar(&c.OTLPMaxRecvMsgMiB, "otlp.grpc.max-recv-msg-size-mib", c.OTLPMaxRecvMsgMiB, "Largest OTLP gRPC message accepted, in MiB.")
	fs.Var(&c.OTLPMaxBodySize, "otlp.http.max-request-body-size", "Largest OTLP HTTP request body accepted (e.g. 16MiB); larger ones get 413.")
	fs.UintVar(&c.MemoryLimitPercent, "memory.limit-percentage", c.MemoryLimitPercent, "memory_limiter: refuse ingest (429 / ResourceExhausted) above this share of the machine's memory.")
	fs.UintVar(&c.MemorySpikePercent, "memory.spike-percentage", c.MemorySpikePercent, "memory_limiter: headroom for spikes, as a share of the machine's memory.")
	fs.UintVar(&c.MemoryLimitMiB, "memory.limit-mib", c.MemoryLimitMiB, "memory_limiter: absolute limit in MiB; overrides the percentages when set.")
	fs.Var(&c.CollectorConfigs, "collector.config", "A collector configuration file merged over Sightline's own (repeatable), e.g. to add receivers.")
	fs.StringVar(&c.CollectorLogLevel, "collector.log-level", c.CollectorLogLevel, "Log level of the embedded collector.")
	fs.Var(&c.RemoteWriteMaxBody, "remote-write.max-request-body-size", "Largest remote_write body accepted on /api/v1/write; larger ones get 413.")
	fs.Var(&c.MetricsRetention, "metrics.retention", "Drop metric blocks older than this (e.g. 15d); 0 keeps everything.")
	fs.Var(&c.MetricsRetentionMax, "metrics.retention-size", "Per-tenant size limit of the metrics store (e.g. 50GB); oldest blocks go first; 0 for none.")
	fs.Var(&c.MetricsOOOWindow, "metrics.out-of-order-window", "Accept samples up to this much older than the newest of their series.")
	fs.Int64Var(&c.MetricsMaxExemplars, "metrics.max-exemplars", c.MetricsMaxExemplars, "Exemplars kept per tenant (circular buffer); 0 disables exemplar storage.")
	fs.Var(&c.QueryTimeout, "query.timeout", "Longest a query may run.")
	fs.IntVar(&c.QueryMaxSamples, "query.max-samples", c.QueryMaxSamples, "Most samples a query may load into memory at once.")
	fs.Var(&c.QueryLookbackDelta, "query.lookback-delta", "PromQL staleness lookback.")
	fs.Var(&c.LogsRetention, "logs.retention", "Drop log partitions older than this (e.g. 7d); 0 keeps everything.")
	fs.Var(&c.LogsRetentionSize, "logs.retention-size", "Per-tenant size limit of the log store (e.g. 50GB); oldest partitions go first; 0 for none.")
	fs.Var(&c.LogsMaxRecordSize, "logs.max-record-size", "Largest log record accepted (body and attributes); larger ones are rejected and counted.")
	fs.IntVar(&c.LogsMaxScanRecords, "logs.query.max-scan-records", c.LogsMaxScanRecords, "A log query that would read more records than this is stopped with an error.")
	fs.IntVar(&c.LogsHeadMaxRecords, "logs.head.max-records", c.LogsHeadMaxRecords, "Records in memory (and in the WAL) before they are flushed into an indexed segment.")
	fs.Var(&c.LogsHeadMaxAge, "logs.head.max-age", "Longest time records wait in memory before they are flushed into an indexed segment.")
	fs.Var(&c.LogsWALSync, "logs.wal.sync-interval", "How often the log WAL is fsynced; a power loss loses at most this much of what was acknowledged (a killed process loses nothing). 0 fsyncs every request before acknowledging it.")
	fs.IntVar(&c.LogsMergeMaxRecs, "logs.merge.max-records", c.LogsMergeMaxRecs, "Segments are merged in the background until they hold this many records.")
	fs.IntVar(&c.LogsFullTextMin, "logs.full-text.min-records", c.LogsFullTextMin, "Merged segments of at least this many records get a full-text (bleve) index for prefix, wildcard and regexp searches; every segment has per-block word filters.")
	fs.Var(&c.TracesRetention, "traces.retention", "Drop trace partitions older than this (e.g. 7d); 0 keeps everything.")
	fs.Var(&c.TracesRetentionSize, "traces.retention-size", "Per-tenant size limit of the trace store (e.g. 50GB); oldest partitions go first; 0 for none.")
	fs.Var(&c.TracesMaxSpanSize, "traces.max-span-size", "Largest span accepted (names, attributes, events, links); larger ones are rejected and counted.")
	fs.IntVar(&c.TracesMaxScanSpans, "traces.query.max-scan-spans", c.TracesMaxScanSpans, "A trace search that would read more spans than this is stopped with an error.")
	fs.IntVar(&c.TracesHeadMaxSpans, "traces.head.max-spans", c.TracesHeadMaxSpans, "Spans in memory (and in the WAL) before they are flushed into a segment.")
	fs.Var(&c.TracesHeadMaxAge, "traces.head.max-age", "Longest time spans wait in memory before they are flushed into a segment.")
	fs.Var(&c.TracesWALSync, "traces.wal.sync-interval", "How often the trace WAL is fsynced; a power loss loses at most this much of what was acknowledged (a killed process loses nothing). 0 fsyncs every request before acknowledging it.")
	fs.IntVar(&c.TracesMergeMaxSpans, "traces.merge.max-spans", c.TracesMergeMaxSpans, "Segments are merged in the background until they hold this many spans.")
	fs.Var(&c.SpanMetricsInterval, "spanmetrics.flush-interval", "How often span metrics and service-graph series are written to the metrics store.")
	fs.StringVar(&c.ExternalURL, "web.external-url", c.ExternalURL, "URL under which Sightline is reached by users; alerts and notifications link to it. Default: http://<hostname><http.listen-address>.")
	fs.Var(&c.RuleFiles, "rules.file", "A Prometheus rule file or glob (repeatable), of the default tenant. Reloaded on SIGHUP and POST /-/reload.")
	fs.StringVar(&c.RuleTenantDir, "rules.tenant-dir", "", "A directory of other tenants' rule files, as Loki's ruler keeps them: <dir>/<tenant>/*.yml. Their rules read and write that tenant's data; their alerts carry tenant=\"<tenant>\". Reloaded with the rule files.")
	fs.Var(&c.RuleEvalInterval, "rules.evaluation-interval", "Evaluation interval of rule groups that set none.")
	fs.Var(&c.RuleResendDelay, "rules.alert.resend-delay", "Minimum wait before a firing alert is sent again to the Alertmanagers.")
	fs.Var(&c.RuleOutageTolerance, "rules.alert.for-outage-tolerance", "Longest outage after which 'for' state of alerts is still restored at start-up.")
	fs.Var(&c.RuleForGracePeriod, "rules.alert.for-grace-period", "Minimum time an alert waits after a restart before firing, when restoring its 'for' state.")
	fs.StringVar(&c.AlertmanagerConfig, "alertmanager.config.file", c.AlertmanagerConfig, "Alertmanager configuration file (Alertmanager's format) for the built-in Alertmanager; default routes every alert to a receiver that sends nothing.")
	fs.Var(&c.AlertmanagerURLs, "alertmanager.url", "An external Alertmanager to send alerts to as well, e.g. http://alertmanager:9093 (repeatable).")
	fs.Var(&c.AlertmanagerRetain, "alertmanager.data-retention", "How long the built-in Alertmanager keeps silences and its notification log.")
}

// loadConfig reads -config.file (if given) and then the flags over it.
func loadConfig(args []string, out io.Writer) (Config, error) {
	cfg := defaultConfig()
	var file string
	newFlagSet := func(c *Config) *flag.FlagSet {
		fs := flag.NewFlagSet("sightline", flag.ContinueOnError)
		fs.SetOutput(out)
		fs.StringVar(&file, "config.file", "", "Optional YAML file of settings; its keys are these flag names. Flags override it.")
		c.register(fs)
		fs.Usage = func() {
			fmt.Fprintf(out, "Usage: sightline [flags]\n\nSightline: OTLP metrics into Prometheus TSDB, the Prometheus HTTP API out, in one binary.\n\nFlags:\n")
			fs.PrintDefaults()
		}
		return fs
	}
	if err := newFlagSet(&cfg).Parse(args); err != nil {
		return cfg, err
	}
	if file == "" {
		return cfg, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return cfg, fmt.Errorf("read config file: %w", err)
	}
	cfg = defaultConfig()
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config file %s: %w", file, err)
	}
	// Flags given on the command line win over the file.
	if err := newFlagSet(&cfg).Parse(args); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// bytesFlag is a size such as 16MiB or 50GB.
type bytesFlag int64

func (b *bytesFlag) String() string { return units.Base2Bytes(*b).String() }
func (b *bytesFlag) Set(s string) error {
	v, err := units.ParseBase2Bytes(s)
	if err != nil {
		if n, err2 := units.ParseMetricBytes(s); err2 == nil {
			*b = bytesFlag(n)
			return nil
		}
		return fmt.Errorf("invalid size %q: %w", s, err)
	}
	*b = bytesFlag(v)
	return nil
}
func (b *bytesFlag) UnmarshalYAML(n *yaml.Node) error { return b.Set(n.Value) }

// durFlag is a Prometheus duration such as 30m or 15d.
type durFlag time.Duration

func (d *durFlag) String() string { return model.Duration(*d).String() }
func (d *durFlag) Set(s string) error {
	v, err := model.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: %w", s, err)
	}
	*d = durFlag(v)
	return nil
}
func (d *durFlag) UnmarshalYAML(n *yaml.Node) error { return d.Set(n.Value) }

// stringsFlag is a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

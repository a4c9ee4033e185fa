package collector

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sort"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/deltatocumulativeprocessor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/featuregate"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
	"gopkg.in/yaml.v3"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/flagext"
)

// Options configure the embedded collector.
type Options struct {
	// GRPCEndpoint and HTTPEndpoint are the OTLP listen addresses.
	GRPCEndpoint string
	HTTPEndpoint string
	// MaxRecvMsgSizeMiB bounds one OTLP gRPC message.
	MaxRecvMsgSizeMiB int
	// MaxRequestBodyBytes bounds one OTLP HTTP request body (413 above it).
	MaxRequestBodyBytes int64
	// MemoryLimitPercentage and MemorySpikePercentage set memory_limiter:
	// above limit-spike of the machine's (or cgroup's) memory, data is
	// refused with ResourceExhausted / 429.
	MemoryLimitPercentage uint
	MemorySpikePercentage uint
	// MemoryLimitMiB, if set, is used instead of the percentages.
	MemoryLimitMiB uint
	// ConfigFiles are user collector configurations merged over Sightline's,
	// e.g. to add receivers; they may use the sightline_* exporters.
	ConfigFiles []string
	// LogLevel of the collector's own logs (debug, info, warn, error).
	LogLevel string
	// Tenants, if not nil, admits a tenant before the collector keeps
	// state for it (a delta-to-cumulative processor), so that state is
	// bounded by the number of tenants allowed. Not a flag.
	Tenants interface{ Admit(tenant string) error }
	// PDataPooling reuses the memory of decoded OTLP requests once the
	// pipeline is done with them (the collector's pdata.useProtoPooling
	// gate): a third fewer allocations, about a tenth less CPU per metric
	// sample. Safe because every Sightline component copies what it keeps;
	// it is process-wide, as feature gates are.
	PDataPooling bool
	// Auth, if not nil, puts TLS (if its file sets any) and basic
	// authentication, one user per tenant, on both receivers. Not a flag:
	// main loads it from -web.config.file.
	Auth *auth.Auth
}

// DefaultOptions are the embedded defaults of `sightline` with no flags.
func DefaultOptions() Options {
	return Options{
		GRPCEndpoint:          ":4317",
		HTTPEndpoint:          ":4318",
		MaxRecvMsgSizeMiB:     16,
		MaxRequestBodyBytes:   16 << 20,
		MemoryLimitPercentage: 80,
		MemorySpikePercentage: 20,
		LogLevel:              "warn",
		PDataPooling:          true,
	}
}

// RegisterFlags declares the options as flags, with their current values
// as defaults.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.GRPCEndpoint, "otlp.grpc.listen-address", o.GRPCEndpoint, "Address of the OTLP gRPC receiver (metrics, logs and traces).")
	fs.StringVar(&o.HTTPEndpoint, "otlp.http.listen-address", o.HTTPEndpoint, "Address of the OTLP HTTP receiver: /v1/metrics, /v1/logs and /v1/traces, protobuf and JSON.")
	fs.IntVar(&o.MaxRecvMsgSizeMiB, "otlp.grpc.max-recv-msg-size-mib", o.MaxRecvMsgSizeMiB, "Largest OTLP gRPC message accepted, in MiB.")
	flagext.Bytes(fs, &o.MaxRequestBodyBytes, "otlp.http.max-request-body-size", "Largest OTLP HTTP request body accepted (e.g. 16MiB); larger ones get 413.")
	fs.UintVar(&o.MemoryLimitPercentage, "memory.limit-percentage", o.MemoryLimitPercentage, "memory_limiter: refuse ingest (429 / ResourceExhausted) above this share of the machine's memory.")
	fs.UintVar(&o.MemorySpikePercentage, "memory.spike-percentage", o.MemorySpikePercentage, "memory_limiter: headroom for spikes, as a share of the machine's memory.")
	fs.UintVar(&o.MemoryLimitMiB, "memory.limit-mib", o.MemoryLimitMiB, "memory_limiter: absolute limit in MiB; overrides the percentages when set.")
	flagext.Strings(fs, &o.ConfigFiles, "collector.config", "A collector configuration file merged over Sightline's own (repeatable), e.g. to add receivers.")
	fs.StringVar(&o.LogLevel, "collector.log-level", o.LogLevel, "Log level of the embedded collector.")
	fs.BoolVar(&o.PDataPooling, "otlp.pdata-pooling", o.PDataPooling, "Reuse the memory of decoded OTLP requests (the collector's pdata.useProtoPooling feature gate); -otlp.pdata-pooling=false if a component from -collector.config keeps data after its pipeline returns.")
}

const pdataPoolingGate = "pdata.useProtoPooling"

// Exporters are Sightline's exporter factories, one per signal; a nil one
// leaves its signal's pipeline out.
type Exporters struct {
	Metrics exporter.Factory
	Logs    exporter.Factory
	Traces  exporter.Factory
}

// Collector is the embedded OpenTelemetry Collector.
type Collector struct {
	col *otelcol.Collector
}

// New builds the collector. It does not listen until Run.
func New(opts Options, exps Exporters, logger *slog.Logger, reg prometheus.Registerer) (*Collector, error) {
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sightline_ingest_refused_requests_total",
		Help: "OTLP requests refused with ResourceExhausted/429 because Sightline was over its memory limit.",
	}, []string{"signal"})
	if err := reg.Register(refused); err != nil {
		return nil, fmt.Errorf("register collector metrics: %w", err)
	}

	if err := featuregate.GlobalRegistry().Set(pdataPoolingGate, opts.PDataPooling); err != nil {
		return nil, fmt.Errorf("set %s: %w", pdataPoolingGate, err)
	}

	cfg, err := buildConfig(opts, exps)
	if err != nil {
		return nil, err
	}
	logger.Debug("embedded collector configuration", "yaml", cfg)

	otlp := otlpreceiver.NewFactory()
	ml := memoryLimiterFactory(refused)
	d2c := perTenant(deltatocumulativeprocessor.NewFactory(), opts.Tenants)
	factories := otelcol.Factories{
		Receivers:  map[component.Type]receiver.Factory{otlp.Type(): otlp},
		Processors: map[component.Type]processor.Factory{ml.Type(): ml, d2c.Type(): d2c},
		Exporters:  map[component.Type]exporter.Factory{},
		Extensions: map[component.Type]extension.Factory{bodyLimitType: bodyLimitFactory(), authType: authFactory(opts.Auth)},
		Telemetry:  otelconftelemetry.NewFactory(),
	}
	for _, f := range []exporter.Factory{exps.Metrics, exps.Logs, exps.Traces} {
		if f != nil {
			factories.Exporters[f.Type()] = f
		}
	}

	uris := []string{"yaml:" + cfg}
	for _, f := range opts.ConfigFiles {
		uris = append(uris, "file:"+f)
	}
	col, err := otelcol.NewCollector(otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{Command: "sightline", Description: "Sightline embedded OpenTelemetry Collector", Version: "embedded"},
		Factories: func() (otelcol.Factories, error) { return factories, nil },
		ConfigProviderSettings: otelcol.ConfigProviderSettings{ResolverSettings: confmap.ResolverSettings{
			URIs:              uris,
			ProviderFactories: []confmap.ProviderFactory{yamlprovider.NewFactory(), fileprovider.NewFactory(), envprovider.NewFactory()},
			DefaultScheme:     "env",
		}},
		// Sightline's main handles signals and shuts the collector down in order.
		DisableGracefulShutdown: true,
		SkipSettingGRPCLogger:   true,
	})
	if err != nil {
		return nil, fmt.Errorf("create collector: %w", err)
	}
	return &Collector{col: col}, nil
}

// Run starts the receivers and blocks until ctx is done or Shutdown is
// called. It returns an error if the configuration is invalid or a listener
// cannot be opened.
func (c *Collector) Run(ctx context.Context) error {
	if err := c.col.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("collector: %w", err)
	}
	return nil
}

// Running reports whether the collector's pipelines are up.
func (c *Collector) Running() bool {
	return c.col.GetState() == otelcol.StateRunning
}

// Shutdown stops the receivers first, then processors and exporters, so no
// request is accepted that cannot be stored.
func (c *Collector) Shutdown() {
	c.col.Shutdown()
}

// receiverTLS is the receivers' TLS settings (the collector's configtls)
// for the tls_server_config of the web configuration file; nil if it sets
// no certificate.
func receiverTLS(c web.TLSConfig) (map[string]any, error) {
	if c.TLSCertPath == "" && c.TLSCert == "" {
		return nil, nil
	}
	if c.ClientCAsText != "" {
		return nil, errors.New("web.config.file: the OTLP receivers take client_ca_file, not client_ca")
	}
	if c.ClientAuth != "" && c.ClientAuth != "NoClientCert" && c.ClientAuth != "RequireAndVerifyClientCert" {
		return nil, fmt.Errorf("web.config.file: the OTLP receivers take client_auth_type NoClientCert or RequireAndVerifyClientCert, not %s", c.ClientAuth)
	}
	tls := map[string]any{"min_version": "1.2"}
	if c.TLSCertPath != "" {
		tls["cert_file"], tls["key_file"] = c.TLSCertPath, c.TLSKeyPath
	} else {
		tls["cert_pem"], tls["key_pem"] = c.TLSCert, string(c.TLSKey)
	}
	if c.ClientAuth == "RequireAndVerifyClientCert" {
		tls["client_ca_file"] = c.ClientCAs
	}
	return tls, nil
}

func buildConfig(opts Options, exps Exporters) (string, error) {
	memLimiter := map[string]any{"check_interval": "1s"}
	if opts.MemoryLimitMiB > 0 {
		memLimiter["limit_mib"] = opts.MemoryLimitMiB
		memLimiter["spike_limit_mib"] = opts.MemoryLimitMiB / 5
	} else {
		memLimiter["limit_percentage"] = opts.MemoryLimitPercentage
		memLimiter["spike_limit_percentage"] = opts.MemorySpikePercentage
	}
	pipelines := map[string]any{}
	exporters := map[string]any{}
	add := func(signal string, f exporter.Factory, procs ...string) {
		if f == nil {
			return
		}
		exporters[f.Type().String()] = nil
		pipelines[signal] = map[string]any{
			"receivers":  []string{"otlp"},
			"processors": append([]string{"memory_limiter"}, procs...),
			"exporters":  []string{f.Type().String()},
		}
	}
	add("metrics", exps.Metrics, "deltatocumulative")
	add("logs", exps.Logs)
	add("traces", exps.Traces)
	if len(pipelines) == 0 {
		return "", errors.New("collector: no exporter given")
	}

	grpc := map[string]any{
		"endpoint":               opts.GRPCEndpoint,
		"max_recv_msg_size_mib":  opts.MaxRecvMsgSizeMiB,
		"include_metadata":       true, // carries X-Scope-OrgID to the exporters
		"max_concurrent_streams": 64,
	}
	http := map[string]any{
		"endpoint":              opts.HTTPEndpoint,
		"max_request_body_size": opts.MaxRequestBodyBytes,
		"include_metadata":      true,
		"middlewares":           []map[string]any{{"id": bodyLimitType.String()}},
		// A client that never finishes its headers holds a connection and
		// a goroutine: close it, as the HTTP port does (issue 12).
		"read_header_timeout": "30s",
		"idle_timeout":        "2m",
	}
	extensions := map[string]any{
		bodyLimitType.String(): map[string]any{"max_request_body_size": opts.MaxRequestBodyBytes},
	}
	if opts.Auth != nil {
		tls, err := receiverTLS(opts.Auth.TLS())
		if err != nil {
			return "", err
		}
		for _, p := range []map[string]any{grpc, http} {
			p["auth"] = map[string]any{"authenticator": authType.String()}
			if tls != nil {
				p["tls"] = tls
			}
		}
		extensions[authType.String()] = map[string]any{}
	}
	extNames := make([]string, 0, len(extensions))
	for name := range extensions {
		extNames = append(extNames, name)
	}
	sort.Strings(extNames)

	cfg := map[string]any{
		"receivers": map[string]any{"otlp": map[string]any{"protocols": map[string]any{
			"grpc": grpc,
			"http": http,
		}}},
		"processors": map[string]any{
			"memory_limiter":    memLimiter,
			"deltatocumulative": map[string]any{},
		},
		"exporters":  exporters,
		"extensions": extensions,
		"service": map[string]any{
			"extensions": extNames,
			"pipelines":  pipelines,
			"telemetry": map[string]any{
				// Sightline exposes its own metrics on its HTTP port; the
				// collector's would otherwise open :8888.
				"metrics": map[string]any{"level": "none"},
				"logs":    map[string]any{"level": opts.LogLevel, "encoding": "json"},
			},
		},
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("marshal collector config: %w", err)
	}
	return string(out), nil
}

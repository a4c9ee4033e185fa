package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sightline-dev/sightline/alerting"
	"github.com/sightline-dev/sightline/ingest/collector"
	"github.com/sightline-dev/sightline/ingest/generator"
	"github.com/sightline-dev/sightline/ingest/lokipush"
	"github.com/sightline-dev/sightline/ingest/remotewrite"
	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/internal/limits"
	"github.com/sightline-dev/sightline/query/logsapi"
	"github.com/sightline-dev/sightline/query/promapi"
	"github.com/sightline-dev/sightline/storage/diskguard"
	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/tracestore"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

// config is everything Sightline can be told: the server's own settings
// and each component's Options. A component declares its settings once,
// as flags (Options.RegisterFlags, next to the options and their
// defaults); the YAML file of -config.file sets the same flags by name.
type config struct {
	DataDir     string
	HTTPListen  string
	LogLevel    string
	ExternalURL string
	// EnableLifecycle and EnablePprof open /-/reload and /debug/pprof/,
	// which anyone who reaches the port could use: off by default, as
	// Prometheus keeps its lifecycle API.
	EnableLifecycle bool
	EnablePprof     bool
	// GOGC is Go's garbage-collection target, unless the environment sets
	// one: the heap grows to (1 + GOGC/100) times what is live before a
	// collection, so it decides the peak memory of ingest more than any
	// data structure does. GCMinHeadroom is the least the heap may grow
	// by, for a small live heap (gcgoal).
	GOGC          int
	GCMinHeadroom int64

	Auth         auth.Options
	Disk         diskguard.Options
	Limits       limits.Options
	Collector    collector.Options
	RemoteWrite  remotewrite.Options
	LokiPush     lokipush.Options
	Metrics      tsdbstore.Options
	Logs         logstore.Options
	Traces       tracestore.Options
	Generator    generator.Options
	LogsAPI      logsapi.Options
	Engine       promapi.EngineOptions
	PromAPI      promapi.Options
	Rules        alerting.RulesOptions
	Alertmanager alerting.AlertmanagerOptions
	External     alerting.ExternalOptions
}

func defaultConfig() config {
	return config{
		DataDir:       "./data",
		HTTPListen:    ":9750",
		LogLevel:      "info",
		GOGC:          50,
		GCMinHeadroom: 128 << 20,
		Disk:          diskguard.DefaultOptions(),
		Limits:        limits.DefaultOptions(),
		Collector:     collector.DefaultOptions(),
		RemoteWrite:   remotewrite.DefaultOptions(),
		LokiPush:      lokipush.DefaultOptions(),
		Metrics:       tsdbstore.DefaultOptions(),
		Logs:          logstore.DefaultOptions(),
		Traces:        tracestore.DefaultOptions(),
		Generator:     generator.DefaultOptions(),
		LogsAPI:       logsapi.DefaultOptions(),
		Engine:        promapi.DefaultEngineOptions(),
		PromAPI:       promapi.DefaultOptions(),
		Rules:         alerting.DefaultRulesOptions(),
		Alertmanager:  alerting.DefaultAlertmanagerOptions(),
	}
}

func (c *config) registerFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data.dir", c.DataDir, "Directory for all stored data; each tenant gets <data.dir>/tenants/<tenant>.")
	fs.StringVar(&c.HTTPListen, "http.listen-address", c.HTTPListen, "Address of the HTTP port: the Prometheus, Loki, Tempo and Alertmanager APIs, remote_write, Loki push, /metrics, /-/healthy, /-/ready, and /-/reload and /debug/pprof/ when enabled.")
	fs.StringVar(&c.LogLevel, "log.level", c.LogLevel, "Log level: debug, info, warn or error.")
	fs.StringVar(&c.ExternalURL, "web.external-url", c.ExternalURL, "URL under which Sightline is reached by users; alerts and notifications link to it. Default: http://<hostname><http.listen-address>.")
	fs.BoolVar(&c.EnableLifecycle, "web.enable-lifecycle", c.EnableLifecycle, "Serve POST /-/reload (SIGHUP reloads either way).")
	fs.BoolVar(&c.EnablePprof, "web.enable-pprof", c.EnablePprof, "Serve Go's profiles under /debug/pprof/.")
	fs.IntVar(&c.GOGC, "runtime.gogc", c.GOGC, "Go's garbage-collection target percentage, used unless the GOGC environment variable is set: lower keeps less memory and takes more CPU (Prometheus uses 75, VictoriaMetrics 30).")
	flagext.Bytes(fs, &c.GCMinHeadroom, "runtime.gc-min-headroom", "The least the heap may grow by between two garbage collections, however small the live heap: a small server then collects less often, for at most this much more memory. 0 for Go's own goal, -runtime.gogc percent of the live heap. Unused when the GOGC environment variable is set.")
	c.Auth.RegisterFlags(fs)
	c.Disk.RegisterFlags(fs)
	c.Limits.RegisterFlags(fs)
	c.Collector.RegisterFlags(fs)
	c.RemoteWrite.RegisterFlags(fs)
	c.LokiPush.RegisterFlags(fs)
	c.Metrics.RegisterFlags(fs)
	c.Logs.RegisterFlags(fs)
	c.Traces.RegisterFlags(fs)
	c.Generator.RegisterFlags(fs)
	c.LogsAPI.RegisterFlags(fs)
	c.Engine.RegisterFlags(fs)
	c.PromAPI.RegisterFlags(fs)
	c.Rules.RegisterFlags(fs)
	c.Alertmanager.RegisterFlags(fs)
	c.External.RegisterFlags(fs)
}

// loadConfig parses the flags, then sets from -config.file (if given)
// every setting that no flag gave: flags win over the file.
func loadConfig(args []string, out io.Writer) (config, error) {
	cfg := defaultConfig()
	var file string
	fs := flag.NewFlagSet("sightline", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&file, "config.file", "", "Optional YAML file of settings; its keys are these flag names. Flags override it.")
	cfg.registerFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: sightline [flags]\n\nSightline: OTLP metrics, logs and traces in; the Prometheus, Loki, Tempo and Alertmanager APIs out; one binary.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if file == "" {
		return cfg, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return cfg, fmt.Errorf("read config file: %w", err)
	}
	given := map[string]bool{"config.file": true}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if err := flagext.ApplyYAML(fs, raw, given); err != nil {
		return cfg, fmt.Errorf("config file %s: %w", file, err)
	}
	return cfg, nil
}

// flagsMap is what /api/v1/status/flags shows: every setting's value.
func flagsMap(cfg config) map[string]string {
	m := map[string]string{}
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	cfg.registerFlags(fs)
	fs.VisitAll(func(f *flag.Flag) { m[f.Name] = f.Value.String() })
	return m
}

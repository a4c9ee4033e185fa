package logsexporter

import "go.opentelemetry.io/collector/component"

// Config of the sightline_logs exporter. It has no settings yet: limits and
// retention belong to the store.
type Config struct{}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration.
func (c *Config) Validate() error { return nil }

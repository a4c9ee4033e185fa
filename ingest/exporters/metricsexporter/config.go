package metricsexporter

import (
	"errors"

	"go.opentelemetry.io/collector/component"
)

// Config of the sightline_metrics exporter.
type Config struct {
	// AddMetricSuffixes appends unit and type suffixes (_seconds, _total),
	// as the OpenTelemetry specification's Prometheus compatibility asks.
	AddMetricSuffixes bool `mapstructure:"add_metric_suffixes"`
	// PromoteResourceAttributes are copied from the resource onto every
	// series, besides target_info.
	PromoteResourceAttributes []string `mapstructure:"promote_resource_attributes"`
	// KeepIdentifyingResourceAttributes keeps service.name,
	// service.namespace and service.instance.id on target_info as well as
	// in job and instance.
	KeepIdentifyingResourceAttributes bool `mapstructure:"keep_identifying_resource_attributes"`
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration.
func (c *Config) Validate() error {
	for _, a := range c.PromoteResourceAttributes {
		if a == "" {
			return errors.New("promote_resource_attributes: empty attribute name")
		}
	}
	return nil
}

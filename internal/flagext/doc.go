// Package flagext declares flags of the kinds Sightline's settings have
// beyond the standard library's: Prometheus durations (15d), byte sizes
// (16MiB, 50GB) and repeatable strings; and ApplyYAML, which reads a YAML
// file whose keys are flag names, so that every setting is declared once,
// as a flag, by the component that owns it (its Options.RegisterFlags), and
// the configuration file needs no struct of its own.
package flagext

// Command slbench benchmarks Sightline against Prometheus and
// VictoriaMetrics on identical data: `make bench` runs it with the
// defaults and writes bench/results/latest.md and its plots. Peers that are
// not installed are skipped and the report says so. See bench/README.md.
package main

// Command logbench runs the log benchmark of package harness against a
// sightline binary and writes bench/results/<name>.md: OTLP log ingest rate,
// on-disk size against raw OTLP-JSON, trace-ID lookup and single-word search
// latencies over the stored records.
package main

package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// counterSpec names a counter of a system's /metrics, optionally only the
// series whose labels contain the text filter (e.g. `type="promremotewrite"`).
type counterSpec struct {
	name, filter string
}

// acceptedCounters and rejectedCounters are each system's own count of
// samples it stored and samples it refused. A missing metric counts as 0:
// not every version has every one.
func acceptedCounters(target string) []counterSpec {
	switch kindOf(target) {
	case kindSightline:
		return []counterSpec{{name: "sightline_metrics_samples_appended_total"}}
	case kindPrometheus:
		return []counterSpec{{name: "prometheus_tsdb_head_samples_appended_total"}}
	}
	if isOTLP(target) {
		return []counterSpec{{name: "vm_rows_inserted_total", filter: `type="opentelemetry"`}}
	}
	return []counterSpec{{name: "vm_rows_inserted_total", filter: `type="promremotewrite"`}}
}

func rejectedCounters(target string) []counterSpec {
	switch kindOf(target) {
	case kindSightline:
		return []counterSpec{{name: "sightline_metrics_samples_rejected_total"}}
	case kindPrometheus:
		return []counterSpec{
			{name: "prometheus_tsdb_out_of_order_samples_total"},
			{name: "prometheus_tsdb_out_of_bound_samples_total"},
			{name: "prometheus_tsdb_too_old_samples_total"},
		}
	default:
		return []counterSpec{
			{name: "vm_rows_ignored_total"},
			{name: "vm_too_small_timestamp_rows_total"},
			{name: "vm_too_big_timestamp_rows_total"},
		}
	}
}

// metricSample is one series of a Prometheus text exposition.
type metricSample struct {
	name   string
	labels string // between the braces, as written: `level="0",x="y"`
	value  float64
}

// parseSample parses one exposition line `name{labels} value [ts]`; false
// for comments, blank and malformed lines.
func parseSample(line string) (metricSample, bool) {
	if line == "" || line[0] == '#' {
		return metricSample{}, false
	}
	var s metricSample
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, false
	}
	s.name, line = line[:i], line[i:]
	if line[0] == '{' {
		end := strings.LastIndexByte(line, '}')
		if end < 0 {
			return s, false
		}
		s.labels, line = line[1:end], line[end+1:]
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return s, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return s, false
	}
	s.value = v
	return s, true
}

// labelValue is the value of label name in an exposition's label text, or
// "" (values with escaped quotes are not unescaped: none here has any).
func labelValue(labels, name string) string {
	for labels != "" {
		// Up to the closing quote, so that a comma inside a value does not
		// split it.
		eq := strings.Index(labels, `="`)
		if eq < 0 {
			return ""
		}
		end := strings.IndexByte(labels[eq+2:], '"')
		if end < 0 {
			return ""
		}
		if labels[:eq] == name {
			return labels[eq+2 : eq+2+end]
		}
		labels = strings.TrimPrefix(labels[eq+2+end+1:], ",")
	}
	return ""
}

// scrapeSamples reads every sample of the text exposition at url.
func scrapeSamples(ctx context.Context, client *http.Client, url string) ([]metricSample, error) {
	b, err := get(ctx, client, url)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	var out []metricSample
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if s, ok := parseSample(sc.Text()); ok {
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return out, nil
}

// sumSamples adds the values of every series of each spec.
func sumSamples(ss []metricSample, specs ...counterSpec) float64 {
	total := 0.0
	for _, s := range ss {
		for _, sp := range specs {
			if s.name == sp.name && strings.Contains(s.labels, sp.filter) {
				total += s.value
			}
		}
	}
	return total
}

// scrapeCounters sums each spec over the series of the text exposition at
// url and returns the total of all specs.
func scrapeCounters(ctx context.Context, client *http.Client, url string, specs []counterSpec) (float64, error) {
	ss, err := scrapeSamples(ctx, client, url)
	if err != nil {
		return 0, err
	}
	return sumSamples(ss, specs...), nil
}

// scrapeGauge reads one unlabelled sample from a /metrics page.
func scrapeGauge(ctx context.Context, client *http.Client, u, name string) (float64, error) {
	ss, err := scrapeSamples(ctx, client, u)
	if err != nil {
		return 0, err
	}
	for _, s := range ss {
		if s.name == name && s.labels == "" {
			return s.value, nil
		}
	}
	return 0, fmt.Errorf("%s not found on %s", name, u)
}

// waitWAL polls Sightline's gauge walMetric (sightline_logs_wal_bytes,
// sightline_traces_wal_bytes) until it is at most maxBytes: a segment store
// removes a head's WAL files once the head is in a segment, so after ingest
// ends and the last head is cut (at -*.head.max-age), the WAL shrinks to
// the new, empty head's file. It returns how long it waited.
func waitWAL(ctx context.Context, client *http.Client, p *process, walMetric string, maxBytes float64, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		wal, err := scrapeGauge(ctx, client, p.url("/metrics"), walMetric)
		if err != nil {
			return 0, err
		}
		if wal <= maxBytes {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s still %.0f bytes after waiting %s for flushes", walMetric, wal, timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// waitMergesSettled waits until the counter mergesMetric (a store's
// sightline_<store>_merges_total) has not moved for quiet, for at most
// timeout, so that the disk is measured without a merge's output beside
// its sources; it returns how long it waited.
func waitMergesSettled(ctx context.Context, client *http.Client, p *process, mergesMetric string, quiet, timeout time.Duration) (time.Duration, error) {
	return waitQuiet(ctx, mergesMetric, func() (float64, error) {
		return scrapeGauge(ctx, client, p.url("/metrics"), mergesMetric)
	}, quiet, timeout)
}

// waitQuiet polls read every second until its value has not changed for
// quiet, and returns how long that took; an error after timeout.
func waitQuiet(ctx context.Context, what string, read func() (float64, error), quiet, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	last, since := -1.0, start
	for {
		n, err := read()
		if err != nil {
			return 0, err
		}
		if n != last {
			last, since = n, time.Now()
		}
		if time.Since(since) >= quiet {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("%s still moving after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

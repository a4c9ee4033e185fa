package harness

import (
	"bufio"
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
func acceptedCounters(kind string) []counterSpec {
	switch kind {
	case kindSightline:
		return []counterSpec{{name: "sightline_metrics_samples_appended_total"}}
	case kindPrometheus:
		return []counterSpec{{name: "prometheus_tsdb_head_samples_appended_total"}}
	default:
		return []counterSpec{{name: "vm_rows_inserted_total", filter: `type="promremotewrite"`}}
	}
}

func rejectedCounters(kind string) []counterSpec {
	switch kind {
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

// scrapeCounters sums each spec over the series of the text exposition at
// url and returns the total of all specs.
func scrapeCounters(ctx context.Context, client *http.Client, url string, specs []counterSpec) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	total := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		for _, s := range specs {
			v, ok := matchSample(line, s)
			if ok {
				total += v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	return total, nil
}

// matchSample parses one exposition line `name{labels} value [ts]` if it
// is a series of s.
func matchSample(line string, s counterSpec) (float64, bool) {
	if !strings.HasPrefix(line, s.name) {
		return 0, false
	}
	rest := line[len(s.name):]
	var labels string
	switch {
	case strings.HasPrefix(rest, "{"):
		end := strings.LastIndexByte(rest, '}')
		if end < 0 {
			return 0, false
		}
		labels, rest = rest[1:end], rest[end+1:]
	case strings.HasPrefix(rest, " "):
	default:
		return 0, false // a longer name with this prefix
	}
	if s.filter != "" && !strings.Contains(labels, s.filter) {
		return 0, false
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// scrapeGauge reads one unlabelled sample from a /metrics page.
func scrapeGauge(ctx context.Context, client *http.Client, u, name string) (float64, error) {
	b, err := get(ctx, client, u)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
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

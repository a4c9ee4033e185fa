package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DiskUsage is a data directory's size after the system stopped.
type DiskUsage struct {
	// Allocated is what `du` reports (allocated blocks); Apparent is the
	// sum of file sizes. They differ for preallocated or sparse files.
	Allocated, Apparent int64
	// Blocks, BlockBytes and BlockSamples describe the compacted TSDB
	// blocks alone (Prometheus and Sightline): their allocated size and the
	// samples their meta.json counts. The rest is WAL and head chunks.
	Blocks                   int
	BlockBytes, BlockSamples int64
}

// diskUsage walks dir. A file or directory under it that a running
// server removes during the walk (a merge's or compaction's sources) is
// no longer on disk and is not counted.
func diskUsage(dir string) (DiskUsage, error) {
	var u DiskUsage
	sizes := map[string]int64{} // allocated bytes by directory
	var blockDirs []string
	gone := func(path string, err error) bool { return path != dir && errors.Is(err, fs.ErrNotExist) }
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if gone(path, err) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if gone(path, err) {
				return nil
			}
			return err
		}
		alloc := info.Size()
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			alloc = st.Blocks * 512
		}
		u.Allocated += alloc
		u.Apparent += info.Size()
		sizes[filepath.Dir(path)] += alloc
		if d.Name() == "meta.json" {
			blockDirs = append(blockDirs, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		return u, fmt.Errorf("disk usage of %s: %w", dir, err)
	}
	for _, b := range blockDirs {
		raw, err := os.ReadFile(filepath.Join(b, "meta.json"))
		if err != nil {
			return u, err
		}
		var meta struct {
			Stats struct {
				NumSamples int64 `json:"numSamples"`
			} `json:"stats"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			return u, fmt.Errorf("parse %s/meta.json: %w", b, err)
		}
		u.Blocks++
		u.BlockSamples += meta.Stats.NumSamples
		for d, n := range sizes {
			if d == b || strings.HasPrefix(d, b+string(filepath.Separator)) {
				u.BlockBytes += n
			}
		}
	}
	return u, nil
}

// newClient is an HTTP client with its own connection pool, so that
// CloseIdleConnections ends every connection (and goroutine) it opened.
func newClient(timeout time.Duration, conns int) *http.Client {
	t := &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}
	if secure == nil {
		return &http.Client{Timeout: timeout, Transport: t}
	}
	t.TLSClientConfig = secure.tls
	return &http.Client{Timeout: timeout, Transport: basicAuthTransport{secure, t}}
}

// get fetches url and returns the body of a 2xx answer.
func get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("GET %s: %s: %.300s", url, resp.Status, body)
	}
	return body, nil
}

// vmMergeDone is what VictoriaMetrics logs when a forced merge finished;
// the merge runs in the background after /internal/force_merge answered.
const vmMergeDone = `forced merge for partition_prefix="" has been successfully finished`

// vmFlushAndMerge makes everything VictoriaMetrics received searchable and
// merges its parts, so its size on disk is the steady-state one.
func vmFlushAndMerge(ctx context.Context, p *process, timeout time.Duration) error {
	client := newClient(timeout, 1)
	defer client.CloseIdleConnections()
	if _, err := get(ctx, client, p.url("/internal/force_flush")); err != nil {
		return err
	}
	if _, err := get(ctx, client, p.url("/internal/force_merge")); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if strings.Contains(p.logTail(), vmMergeDone) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("victoriametrics force merge not finished after %s", timeout)
		case <-tick.C:
		}
	}
}

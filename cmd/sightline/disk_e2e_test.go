package main_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/internal/smallfs"
)

// countLines counts the log lines containing word, over the last hour.
func countLines(t *testing.T, s *server, word string, since time.Time) int {
	t.Helper()
	code, body := getJSON(t, s.url("/api/v1/logs/histogram?"+q("query", word, "start", since.Format(time.RFC3339Nano), "end", time.Now().Add(time.Minute).Format(time.RFC3339Nano), "step", "1h")))
	require.Equal(t, http.StatusOK, code, body)
	total := 0.0
	for _, b := range body["data"].(map[string]any)["buckets"].([]any) {
		total += b.(map[string]any)["count"].(float64)
	}
	return int(total)
}

// On a file system that fills up, writes are refused with 503 naming the
// reason before the disk is full, the server keeps running and serving
// reads, writes resume when space returns, and everything acknowledged
// before and after is there after kill -9 (issue 12: a full disk crashed
// the TSDB, and recovery lost every write acknowledged after it).
func TestFullDiskRefusesWritesAndLosesNothing(t *testing.T) {
	// The filler is larger than what the stores hold when writes are
	// refused (64 - 32 - 24 MiB), so that freeing it leaves the margin
	// clear even while a segment merge that was running at the refusal
	// writes its output (CI once saw writes refused again right after
	// they resumed, with a filler of 16 MiB and 24 MiB of data).
	fs := smallfs.Mount(t, 64<<20)
	filler := filepath.Join(fs, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, 32<<20), 0o644))
	s := startServer(t, filepath.Join(fs, "data"), "-storage.min-free-disk-space", "24MiB", "-logs.head.max-age", "1s")
	since := time.Now().Add(-time.Minute)

	acked, batch, samples := 0, 0, 0
	line := make([]byte, 2048)
	pushBatch := func() (int, string) {
		var entries []push.Entry
		for i := 0; i < 100; i++ {
			_, _ = rand.Read(line[:1024]) // incompressible, so the disk fills
			entries = append(entries, push.Entry{Timestamp: time.Now(), Line: fmt.Sprintf("acked %d %d %s", batch, i, hex.EncodeToString(line[:1024]))})
		}
		batch++
		return lokiPush(t, s, push.Stream{Labels: `{service_name="filling"}`, Entries: entries})
	}
	// Fill until refused.
	for {
		code, body := pushBatch()
		if code == http.StatusNoContent {
			acked += 100
			require.Less(t, acked, 100_000, "never refused")
			if remoteWrite(t, s, "", series("disk_fill", time.Now(), 1, "batch", fmt.Sprint(batch))) == nil {
				samples++
			}
			continue
		}
		require.Equal(t, http.StatusServiceUnavailable, code, body)
		require.Contains(t, body, "free disk space")
		break
	}
	require.Error(t, remoteWrite(t, s, "", series("disk_fill", time.Now(), 1, "batch", "refused")), "a sample is taken with the disk full")
	free, err := strconv.ParseFloat(metricValue(t, s, "sightline_storage_free_bytes"), 64)
	require.NoError(t, err)
	require.Greater(t, free, float64(8<<20), "writes were refused only when the disk was (nearly) full")
	// Still up: ready, and reads answer.
	resp, err := http.Get(s.url("/-/ready"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, acked, countLines(t, s, "acked", since))
	require.Equal(t, "1", metricValue(t, s, "sightline_storage_writes_refused"))

	// Space returns: writes resume by themselves.
	require.NoError(t, os.Remove(filler))
	eventually(t, 30*time.Second, "writes accepted again", func() bool {
		code, _ := pushBatch()
		if code == http.StatusNoContent {
			acked += 100
			return true
		}
		return false
	})
	for range 5 {
		code, body := pushBatch()
		require.Equal(t, http.StatusNoContent, code, body)
		acked += 100
	}

	s.kill()
	s.restart()
	require.Equal(t, acked, countLines(t, s, "acked", since), "every acknowledged line is there after kill -9")
	require.InDelta(t, float64(samples), queryScalar(t, s.prom(), `count(disk_fill)`), 0, "every acknowledged sample is there after kill -9")
}

// With no free-space threshold (-storage.min-free-disk-space 0) the stores
// themselves run out of space, the TSDB in the middle of a WAL record: those
// writes are refused, writes resume by themselves when space returns, and
// every sample and log line acknowledged before and after is there after
// kill -9 and a restart (issue 12: the failed write left a torn record in
// the TSDB's WAL, and replay after a restart deleted every sample
// acknowledged after it).
func TestOutOfSpaceLosesNothing(t *testing.T) {
	fs := smallfs.Mount(t, 48<<20)
	s := startServer(t, filepath.Join(fs, "data"), "-storage.min-free-disk-space", "0", "-logs.head.max-age", "1s")
	since := time.Now().Add(-time.Minute)
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(fs, &st))
	filler := filepath.Join(fs, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, int64(st.Bavail)*st.Bsize-(2<<20)), 0o644))

	// 500 new series a request, with label values that do not compress:
	// each request's series record spans several WAL pages, so the disk
	// fills in the middle of one. And 100 log lines that do not compress.
	samples, lines, batch := 0, 0, 0
	value := make([]byte, 100)
	write := func() (metricsErr error, logsCode int) {
		batch++
		var ts []prompb.TimeSeries
		for i := range 500 {
			_, _ = rand.Read(value)
			ts = append(ts, series("disk_enospc", time.Now(), 1, "batch", fmt.Sprint(batch), "i", fmt.Sprint(i), "v", hex.EncodeToString(value)))
		}
		if metricsErr = remoteWrite(t, s, "", ts...); metricsErr == nil {
			samples += 500
		}
		var entries []push.Entry
		for i := range 100 {
			_, _ = rand.Read(value)
			entries = append(entries, push.Entry{Timestamp: time.Now(), Line: fmt.Sprintf("enospc %d %d %s", batch, i, hex.EncodeToString(value))})
		}
		if logsCode, _ = lokiPush(t, s, push.Stream{Labels: `{service_name="enospc"}`, Entries: entries}); logsCode == http.StatusNoContent {
			lines += 100
		}
		return metricsErr, logsCode
	}
	var failed error
	logsRefused := false
	for failed == nil || !logsRefused {
		err, code := write()
		if err != nil && failed == nil {
			failed = err
		}
		if code != http.StatusNoContent {
			require.Equal(t, http.StatusServiceUnavailable, code, "a log push the disk cannot take is retryable")
			logsRefused = true
		}
		require.Less(t, batch, 1000, "the disk never filled")
	}
	require.ErrorContains(t, failed, "no space left on device")
	require.Positive(t, samples)
	require.Positive(t, lines)

	t.Logf("disk full after %d requests: %d samples and %d lines acknowledged; the refused remote_write: %v", batch, samples, lines, failed)
	require.NoError(t, os.Remove(filler))
	eventually(t, 30*time.Second, "writes accepted again", func() bool {
		err, code := write()
		return err == nil && code == http.StatusNoContent
	})
	for range 5 {
		err, code := write()
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, code)
	}
	require.InDelta(t, float64(samples), queryScalar(t, s.prom(), `count(disk_enospc)`), 0)
	require.Equal(t, lines, countLines(t, s, "enospc", since))

	s.kill()
	s.restart()
	require.InDelta(t, float64(samples), queryScalar(t, s.prom(), `count(disk_enospc)`), 0, "every acknowledged sample is there after kill -9")
	require.Equal(t, lines, countLines(t, s, "enospc", since), "every acknowledged log line is there after kill -9")
}

package main_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
)

// TestAnswersCompressedFromPool checks what a client that accepts gzip (a
// browser, Grafana) gets from the query APIs: large answers gzipped, equal
// to the plain answer once unzipped, small ones plain, and no gzip writer
// made for each request. Prometheus' API makes one per request, about 1 MB
// allocated each time; Sightline compresses through a pool.
func TestAnswersCompressedFromPool(t *testing.T) {
	s := startServer(t, t.TempDir())
	now := time.Now()
	var ts []prompb.TimeSeries
	for i := range 200 {
		ts = append(ts, series(fmt.Sprintf("compressed_answer_%03d", i), now, float64(i), "job", "gzip"))
	}
	require.NoError(t, remoteWrite(t, s, "", ts...))

	large := []string{
		"/api/v1/label/__name__/values",
		"/api/v1/query?query=" + url.QueryEscape(`{job="gzip"}`) + "&time=" + strconv.FormatInt(now.Add(time.Second).Unix(), 10),
		"/loki/api/v1/query_range?query=" + url.QueryEscape(`{job="none"}`) + "&limit=1",
	}
	for _, path := range large[:2] {
		code, h, zipped := doHTTP(t, http.MethodGet, s.url(path), nil, "Accept-Encoding", "gzip")
		require.Equal(t, http.StatusOK, code, path)
		require.Equal(t, "gzip", h.Get("Content-Encoding"), path)
		zr, err := gzip.NewReader(bytes.NewReader(zipped))
		require.NoError(t, err, path)
		unzipped, err := io.ReadAll(zr)
		require.NoError(t, err, path)
		code, h, plain := doHTTP(t, http.MethodGet, s.url(path), nil)
		require.Equal(t, http.StatusOK, code, path)
		require.Empty(t, h.Get("Content-Encoding"), path)
		require.Greater(t, len(plain), 4096, path)
		require.Less(t, len(zipped), len(plain)/2, path)
		require.True(t, bytes.Equal(plain, unzipped), "%s: unzipped answer differs from the plain one", path)
	}
	for _, path := range []string{"/api/v1/status/buildinfo", large[2]} {
		code, h, body := doHTTP(t, http.MethodGet, s.url(path), nil, "Accept-Encoding", "gzip")
		require.Equal(t, http.StatusOK, code, path)
		require.Empty(t, h.Get("Content-Encoding"), "an answer under 1 KiB goes plain: %s", path)
		require.Contains(t, string(body), `"status":"success"`, path)
	}

	// What the server allocated for 300 gzipped answers, by its own Go
	// runtime metrics; a gzip writer of its own for each would be 300 MB.
	allocated := func() float64 {
		v, err := strconv.ParseFloat(metricValue(t, s, "go_memstats_alloc_bytes_total"), 64)
		require.NoError(t, err)
		return v
	}
	before := allocated()
	const requests = 100
	for range requests {
		for _, path := range []string{large[0], "/api/v1/status/buildinfo", large[2]} {
			code, _, _ := doHTTP(t, http.MethodGet, s.url(path), nil, "Accept-Encoding", "gzip")
			require.Equal(t, http.StatusOK, code, path)
		}
	}
	perRequest := (allocated() - before) / (3 * requests)
	t.Logf("%.0f KB allocated per gzip-accepting request", perRequest/1000)
	require.Less(t, perRequest, 256e3, "bytes allocated per request")
}

// TestRemoteRead reads series back with Prometheus' own remote-read
// client, in both of its answer types (samples, and streamed chunks,
// flushed frame by frame), through the same wrappers as the query APIs.
func TestRemoteRead(t *testing.T) {
	s := startServer(t, t.TempDir())
	now := time.Now().Truncate(time.Second)
	var ts []prompb.TimeSeries
	for i := range 3 {
		ts = append(ts, series("remote_read_me", now, float64(i), "i", strconv.Itoa(i)))
	}
	require.NoError(t, remoteWrite(t, s, "", ts...))

	u, err := url.Parse(s.url("/api/v1/read"))
	require.NoError(t, err)
	for _, rt := range []prompb.ReadRequest_ResponseType{prompb.ReadRequest_SAMPLES, prompb.ReadRequest_STREAMED_XOR_CHUNKS} {
		c, err := remote.NewReadClient("test", &remote.ClientConfig{
			URL: &config_util.URL{URL: u}, Timeout: model.Duration(10 * time.Second),
			ChunkedReadLimit: promconfig.DefaultChunkedReadLimit, AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{rt},
		})
		require.NoError(t, err)
		q, err := remote.ToQuery(now.Add(-time.Minute).UnixMilli(), now.Add(time.Minute).UnixMilli(),
			[]*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "__name__", "remote_read_me")}, nil)
		require.NoError(t, err)
		set, err := c.Read(ctxT(t), q, true)
		require.NoError(t, err, rt)
		var got []string
		for set.Next() {
			it := set.At().Iterator(nil)
			for it.Next() != chunkenc.ValNone {
				tm, v := it.At()
				got = append(got, fmt.Sprintf("%s %d %g", set.At().Labels(), tm, v))
			}
			require.NoError(t, it.Err())
		}
		require.NoError(t, set.Err())
		require.Equal(t, []string{
			fmt.Sprintf(`{__name__="remote_read_me", i="0"} %d 0`, now.UnixMilli()),
			fmt.Sprintf(`{__name__="remote_read_me", i="1"} %d 1`, now.UnixMilli()),
			fmt.Sprintf(`{__name__="remote_read_me", i="2"} %d 2`, now.UnixMilli()),
		}, got, rt)
	}
}

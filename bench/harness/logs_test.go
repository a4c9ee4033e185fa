package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSentLog(t *testing.T) {
	var l sentLog
	_, _, n := l.bounds()
	require.Zero(t, n)
	l.add(100, 10) // 100..109
	l.add(50, 5)   // 50..54
	l.add(200, 0)  // nothing
	oldest, newest, n := l.bounds()
	require.EqualValues(t, 15, n)
	require.EqualValues(t, 50, oldest.UnixNano())
	require.EqualValues(t, 109, newest.UnixNano())

	for _, c := range []struct {
		from, to, want int64
	}{
		{0, 1000, 15},
		{49, 54, 5},  // (49, 54] holds 50..54
		{50, 54, 4},  // 50 is not after 50
		{54, 100, 1}, // only 100
		{104, 107, 3},
		{109, 200, 0},
		{55, 99, 0},
	} {
		require.Equal(t, c.want, l.count(c.from, c.to), "(%d, %d]", c.from, c.to)
	}

	// A count_over_time(...[1m]) every minute counts each record once;
	// [2m] every minute twice, but for records in only one window.
	var m sentLog
	base := time.Unix(1_700_000_000, 0)
	for i := range 10 {
		m.add(base.Add(time.Duration(i)*time.Minute+time.Second).UnixNano(), 3) // 3 records a minute
	}
	start, end := base.Add(time.Minute), base.Add(9*time.Minute)
	// Steps at base+1m..base+9m: windows (base, base+9m] hold minutes 0..8.
	require.EqualValues(t, 27, m.rangeCount(start, end, time.Minute, time.Minute))
	require.EqualValues(t, 27+24, m.rangeCount(start, end, time.Minute, 2*time.Minute))
	// An end between steps: the last step is the one before it.
	require.EqualValues(t, 27, m.rangeCount(start, end.Add(59*time.Second), time.Minute, time.Minute))
}

func TestParseSample(t *testing.T) {
	for line, want := range map[string]metricSample{
		`process_open_fds 13`:                                  {name: "process_open_fds", value: 13},
		`process_resident_memory_bytes 6.0485632e+07`:          {name: "process_resident_memory_bytes", value: 6.0485632e+07},
		`sightline_logs_parts{level="0"} 4`:                    {name: "sightline_logs_parts", labels: `level="0"`, value: 4},
		`vm_rows_inserted_total{type="promremotewrite"} 5 123`: {name: "vm_rows_inserted_total", labels: `type="promremotewrite"`, value: 5},
		`x{a="b}c",d="e"} 2`:                                   {name: "x", labels: `a="b}c",d="e"`, value: 2},
	} {
		got, ok := parseSample(line)
		require.True(t, ok, line)
		require.Equal(t, want, got, line)
	}
	for _, line := range []string{"", "# HELP x y", "# TYPE x counter", "x", "x{a=\"b\"", "x{} ", "x abc", "{a=\"b\"} 1"} {
		_, ok := parseSample(line)
		require.False(t, ok, "%q", line)
	}
	require.Equal(t, "0", labelValue(`level="0"`, "level"))
	require.Equal(t, "b,c", labelValue(`x="y",level="b,c",z="w"`, "level"))
	require.Equal(t, "w", labelValue(`x="y",level="b,c",z="w"`, "z"))
	require.Equal(t, "", labelValue(`x="y"`, "level"))
	require.Equal(t, "", labelValue(``, "level"))
}

// exposition is a trimmed /metrics page of Sightline.
const exposition = `# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 57
process_max_fds 20000
process_resident_memory_bytes 1.2e+08
# HELP sightline_logs_parts Segments on disk by merge level (0: flushed heads), all tenants.
sightline_logs_parts{level="0"} 5
sightline_logs_parts{level="1"} 3
sightline_logs_parts{level="10"} 1
sightline_logs_merges_total 12
sightline_logs_merge_duration_seconds_bucket{le="0.01"} 2
sightline_logs_merge_duration_seconds_sum 3.5
sightline_logs_merge_duration_seconds_count 12
sightline_logs_merged_bytes_total 1.048576e+06
sightline_logs_segments_flushed_total 40
sightline_logs_segment_bytes 2e+06
sightline_logs_wal_bytes 0
sightline_traces_parts{level="0"} 7
sightline_traces_merges_total 99
`

func TestLogStoreStats(t *testing.T) {
	var ss []metricSample
	for _, line := range strings.Split(exposition, "\n") {
		if s, ok := parseSample(line); ok {
			ss = append(ss, s)
		}
	}
	st := logStoreStats(ss)
	require.Equal(t, LogStoreStats{
		Parts: map[string]float64{"0": 5, "1": 3, "10": 1}, PartsTotal: 9,
		Flushes: 40, Merges: 12, MergeSeconds: 3.5, MergedBytes: 1 << 20,
		SegmentBytes: 2e6, WALBytes: 0, OpenFDs: 57, RSS: 1.2e8,
	}, st)
	require.Equal(t, 21.0, sumSamples(ss, counterSpec{name: "sightline_logs_parts"}, counterSpec{name: "sightline_logs_merges_total"}))
	require.Equal(t, 1.0, sumSamples(ss, counterSpec{name: "sightline_logs_parts", filter: `level="10"`}))

	var b strings.Builder
	writeStoreStatsRows(&b, st)
	require.Contains(t, b.String(), "| 9 (level 0: 5, level 1: 3, level 10: 1) |")
	require.Contains(t, b.String(), "| open files (`process_open_fds`) | 57 |")
}

func TestLokiStreams(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"streams","result":[
		{"stream":{"service_name":"cart"},"values":[["1700000000000000005","a"],["1700000000000000001","b"]]},
		{"stream":{"service_name":"ads"},"values":[["1700000000000000009","c",{"structuredMetadata":{"trace_id":"x"}}]]}
	],"stats":{}}}`
	lines, newest, err := lokiStreams([]byte(body))
	require.NoError(t, err)
	require.Equal(t, 3, lines)
	require.EqualValues(t, 1700000000000000009, newest)

	lines, _, err = lokiStreams([]byte(`{"status":"success","data":{"resultType":"streams","result":[]}}`))
	require.NoError(t, err)
	require.Zero(t, lines)
	for _, bad := range []string{
		`{"status":"success","data":{"resultType":"matrix","result":[]}}`,
		`{"status":"error"}`,
		`{"status":"success","data":{"resultType":"streams","result":[{"values":[["x","a"]]}]}}`,
		`{"status":"success","data":{"resultType":"streams","result":[{"values":[["1"]]}]}}`,
		`not json`,
	} {
		_, _, err := lokiStreams([]byte(bad))
		require.Error(t, err, bad)
	}

	// The volume query's answer is summed by summarize, whatever its
	// labels.
	s, err := summarize(QueryRange, []byte(`{"status":"success","data":{"resultType":"matrix","result":[
		{"metric":{},"values":[[1700000000,"120"],[1700000060,"80"]]},
		{"metric":{"level":"error"},"values":[[1700000000,"7"]]}
	]}}`))
	require.NoError(t, err)
	require.Equal(t, 207.0, s.Sum)
}

func TestLongrunChecks(t *testing.T) {
	sample := func(records int64, partitions int, parts, fds float64) LongrunSample {
		return LongrunSample{Records: records, Partitions: partitions, LogStoreStats: LogStoreStats{PartsTotal: parts, OpenFDs: fds}}
	}
	ss := []LongrunSample{
		sample(10, 5, 9, 40),
		sample(24, 24, 30, 100),   // day 1 done (perDay 24)
		sample(40, 40, 55, 140),   // parts +25 for 16 partitions: 1.56 each
		sample(48, 48, 62, 170),   // day 2
		sample(48, 48, 60, 168),   // settled
		sample(48, 48, 60, 168),   //
		sample(48, 48, 60, 168.0), //
	}
	days := daySamples(ss, 3, 24)
	require.Same(t, &ss[1], days[0])
	require.Same(t, &ss[3], days[1])
	require.Nil(t, days[2])

	end := &ss[len(ss)-1]
	parts := checkBounded(ss, days[0], end, func(s LongrunSample) float64 { return s.PartsTotal })
	require.Equal(t, 62.0, parts.Max)
	require.InDelta(t, 1.25, parts.PerPartitionDay1, 1e-9)
	require.InDelta(t, 30.0/24, parts.PerPartitionAfter, 1e-9)
	require.True(t, parts.OK)
	fds := checkBounded(ss, days[0], end, func(s LongrunSample) float64 { return s.OpenFDs })
	require.InDelta(t, 68.0/24, fds.PerPartitionAfter, 1e-9)
	require.True(t, fds.OK, "2.83 per partition after day 1, 4.17 before")
	// Growing with the flushes, not the partitions: 3 parts per new
	// partition against 1.25 at day 1.
	grown := sample(48, 48, 30+3*24, 0)
	require.False(t, checkBounded(ss, days[0], &grown, func(s LongrunSample) float64 { return s.PartsTotal }).OK)
	// Nothing to compare against: not met.
	require.False(t, checkBounded(ss, nil, end, func(s LongrunSample) float64 { return s.PartsTotal }).OK)

	require.False(t, settled(ss[:3]))
	require.True(t, settled(ss[4:]))
	require.False(t, settled(ss[5:]))
}

// TestLogSmoke runs both log benchmarks with tiny loads against the real
// binary and checks their figures and reports.
func TestLogSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()

	o := DefaultLogOptions()
	o.Sightline, o.WorkDir = sightlineBin, t.TempDir()
	o.Records, o.Senders, o.RecordsPerRequest = 20_000, 2, 500
	o.TraceLookups, o.SearchRuns, o.LogQLRuns, o.VolumeRuns = 20, 2, 2, 2
	o.HeadMaxAge, o.RestartRecords = time.Second, 5_000
	r, err := RunLogs(ctx, o, t.Logf)
	require.NoError(t, err)
	require.EqualValues(t, 20_000, r.Sent)
	require.Positive(t, r.DiskBytes)
	require.Zero(t, r.TraceMismatches)
	for name, q := range map[string]LogQLResult{"limit": r.Limit, "volume 1h": r.Volume1h, "volume 24h": r.Volume24h, "count by service": r.CountByService} {
		require.Len(t, q.Latencies, 2, name)
		require.Zero(t, q.Wrong, "%s: %s", name, q.FirstError)
	}
	require.EqualValues(t, 100, r.Limit.Got)
	require.EqualValues(t, 20_000, r.Volume24h.Want)
	require.EqualValues(t, 20_000, r.CountByService.Got)
	require.Positive(t, r.End.PartsTotal)
	require.Positive(t, r.End.OpenFDs)
	require.Positive(t, r.End.RSS)
	rs := r.Restart
	require.NotNil(t, rs)
	require.EqualValues(t, 5_000, rs.Records)
	require.Zero(t, rs.Flushes, "the head held every record at the kill")
	require.Empty(t, rs.CountError)
	require.Equal(t, rs.Want, rs.Counted)
	require.GreaterOrEqual(t, rs.Want, int64(5_000))
	require.Positive(t, rs.Ready)
	require.GreaterOrEqual(t, rs.LastRecord, rs.Ready)
	files, err := WriteLogReport([]*LogReport{r}, dir, "logs")
	require.NoError(t, err)
	b, err := os.ReadFile(files[0])
	require.NoError(t, err)
	for _, want := range []string{"## LogQL", logQLVolume, "## Store and process", "## Restart after kill -9", "process_open_fds"} {
		require.Contains(t, string(b), want)
	}

	lo := DefaultLongrunOptions()
	lo.Sightline, lo.WorkDir = sightlineBin, t.TempDir()
	lo.Days, lo.RecordsPerHour, lo.Rate, lo.RecordsPerRequest = 1, 500, 6_000, 500
	lo.SampleEvery, lo.SettleTimeout = 200*time.Millisecond, 30*time.Second
	lo.TraceLookups, lo.SearchRuns, lo.LogQLRuns, lo.VolumeRuns = 10, 2, 2, 2
	lr, err := RunLogsLongrun(ctx, lo, t.Logf)
	require.NoError(t, err)
	require.EqualValues(t, 24*500, lr.Sent)
	require.True(t, lr.Settled)
	require.NotEmpty(t, lr.Samples)
	last := lr.Samples[len(lr.Samples)-1]
	require.EqualValues(t, 24*500, last.Records)
	require.Positive(t, last.Partitions)
	require.Positive(t, last.PartsTotal)
	require.Zero(t, lr.Limit.Wrong, lr.Limit.FirstError)
	require.Zero(t, lr.Volume1h.Wrong, lr.Volume1h.FirstError)
	// One request of 500 records per simulated hour, at the hour: the
	// last hour's is in the volume query's range, the one before is not.
	require.EqualValues(t, 500, lr.Volume1h.Want)
	files, err = WriteLongrunReport(lr, dir, "longrun")
	require.NoError(t, err)
	require.Len(t, files, 4)
	b, err = os.ReadFile(filepath.Join(dir, "longrun.md"))
	require.NoError(t, err)
	again, err := LoadJSON[LongrunReport](filepath.Join(dir, "longrun.json"))
	require.NoError(t, err)
	require.Len(t, again.Samples, len(lr.Samples))
	for i, s := range again.Samples {
		require.True(t, s.SimTime.Equal(lr.Samples[i].SimTime))
		require.Equal(t, lr.Samples[i].LogStoreStats, s.LogStoreStats)
		require.Equal(t, lr.Samples[i].Records, s.Records)
	}
	for _, want := range []string{"## Goals", "parts stay bounded", "open files stay bounded", "## Over the simulated week", "longrun-parts.png"} {
		require.Contains(t, string(b), want)
	}
}

// TestVictoriaLogsSideBySide runs the log benchmark's load and queries
// against VictoriaLogs too, when `make bench-deps` has built it.
func TestVictoriaLogsSideBySide(t *testing.T) {
	vl := builtPeer(t, "victoria-logs")
	if vl == "" {
		t.Skip("no VictoriaLogs in bin/peers (make bench-deps builds it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := DefaultLogOptions()
	o.Sightline, o.VictoriaLogs, o.WorkDir = sightlineBin, vl, t.TempDir()
	o.Records, o.Senders, o.RecordsPerRequest = 20_000, 2, 500
	o.TraceLookups, o.SearchRuns, o.LogQLRuns, o.VolumeRuns = 20, 2, 2, 2
	o.HeadMaxAge, o.RestartRecords = time.Second, 0
	r, err := RunLogs(ctx, o, t.Logf)
	require.NoError(t, err)
	v := r.VictoriaLogs
	require.NotNil(t, v)
	require.EqualValues(t, 20_000, v.Sent)
	require.Zero(t, v.TraceMismatches, v.TraceFirstError)
	require.NotEmpty(t, v.TraceLookups)
	for _, q := range []LogQLResult{v.Limit, v.CountByService} {
		require.Zero(t, q.Wrong, q.FirstError)
	}
	require.EqualValues(t, 20_000, v.CountByService.Got)
	require.Positive(t, v.DiskBytes)
	files, err := WriteLogReport([]*LogReport{r}, t.TempDir(), "logs")
	require.NoError(t, err)
	b, err := os.ReadFile(files[0])
	require.NoError(t, err)
	require.Contains(t, string(b), "## Side by side with VictoriaLogs")
}

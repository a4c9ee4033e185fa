package logql

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

func benchmarkProcess(b *testing.B, query, line string) {
	q := mustLogQuery(b, query)
	e := Entry{Timestamp: testTime, Line: line, Labels: labels.FromStrings("app", "web", "env", "prod")}
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		q.Process(e)
	}
}

func BenchmarkProcessLineFilter(b *testing.B) {
	benchmarkProcess(b, `{app="web"} |= "error" != "debug" |~ "time.?out"`,
		`2024-05-01T12:00:00Z ERROR upstream error: request timeout after 30s path=/api/v1/users`)
}

func BenchmarkProcessJSON(b *testing.B) {
	benchmarkProcess(b, `{app="web"} | json | status >= 500`,
		`{"ts":"2024-05-01T12:00:00Z","level":"error","msg":"upstream timeout","status":504,"duration":"1.5s","request":{"method":"GET","path":"/api/v1/users"}}`)
}

func BenchmarkProcessLogfmt(b *testing.B) {
	benchmarkProcess(b, `{app="web"} | logfmt | level="error" | line_format "{{.level}} {{.msg}}"`,
		`ts=2024-05-01T12:00:00Z level=error msg="upstream timeout" status=504 duration=1.5s method=GET path=/api/v1/users`)
}

func BenchmarkEvalSumByCountOverTime(b *testing.B) {
	store := &memStore{}
	levels := []string{"info", "warn", "error", "debug"}
	for i := 0; i < 20000; i++ {
		store.add(prod, time.Duration(i)*180*time.Millisecond, fmt.Sprintf("level=%s msg=m%d", levels[i%len(levels)], i))
	}
	m, err := ParseMetricQuery(`sum by (level) (count_over_time({app="web"} | logfmt [1m]))`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		store.calls = nil
		if _, err := m.Eval(context.Background(), t0, t0.Add(time.Hour), 15*time.Second, store.fetch); err != nil {
			b.Fatal(err)
		}
	}
}

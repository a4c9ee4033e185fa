package logql

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

// lokiDocQueries are the queries of Loki's LogQL documentation
// (docs/sources/query/: log_queries, metric_queries, query_examples,
// template_functions, ip), as written there; every one must parse.
var lokiDocQueries = []string{
	// log_queries
	`{container="query-frontend",namespace="loki-dev"} |= "metrics.go" | logfmt | duration > 10s and throughput_mb < 500`,
	`{app="mysql",name="mysql-backup"}`,
	`{name =~ "mysql.+"}`, // ({name !~ "mysql.+"} alone selects every stream, which Loki refuses too)
	`{job="mysql"} |= "error"`,
	`{instance=~"kafka-[23]",name="kafka"} != "kafka.server:type=ReplicaManager"`,
	`{name="kafka"} |~ "tsdb-ops.*io:2003"`,
	"{name=\"cassandra\"} |~  `error=\\w+`",
	`{job="mysql"} |= "error" != "timeout"`,
	`{job="mysql"} |= "error" | json | line_format "{{.err}}"`,
	`{job="mysql"} | json | line_format "{{.message}}" |= "error"`,
	`{job="example"} | decolorize`,
	`{app="x"} | logfmt | duration > 1m and bytes_consumed > 20MB`,
	`{app="x"} | duration >= 20ms or size == 20KB and method!~"2.."`,
	`{app="x"} | duration >= 20ms or size == 20KB | method!~"2.."`,
	`{app="x"} | duration >= 20ms or size == 20KB , method!~"2.."`,
	`{app="x"} | duration >= 20ms or size == 20KB  method!~"2.."`,
	`{app="x"} | duration >= 20ms or method="GET" and size <= 20KB`,
	`{app="x"} | ((duration >= 20ms or method="GET") and size <= 20KB)`,
	`{app="x"} | duration >= 20ms or (method="GET" and size <= 20KB)`,
	`{app="x"} | json first_server="servers[0]", ua="request.headers[\"User-Agent\"]"`,
	`{app="x"} | json server_list="servers", headers="request.headers"`,
	`{app="x"} | json servers`,
	`{app="x"} | logfmt host, fwd_ip="fwd"`,
	`{app="x"} | logfmt --strict`, `{app="x"} | logfmt --strict host, fwd_ip="fwd"`, `{app="x"} | logfmt --keep-empty --strict host`,
	`{app="x"} | pattern "<ip> - - <_> \"<method> <uri> <_>\" <status> <size> <_> \"<agent>\" <_>"`,
	`{app="x"} | pattern ` + "`<_> msg=\"<method> <path> (<status>) <latency>\"`",
	`{app="x"} | regexp "(?P<method>\\w+) (?P<path>[\\w|/]+) \\((?P<status>\\d+?)\\) (?P<duration>.*)"`,
	`{app="x"} | unpack`,
	`{container="frontend"} | logfmt | line_format "{{.query}} {{.duration}}"`,
	`{container="frontend"} | logfmt | line_format "{{.ip}} {{.status}} {{div .duration 1000}}"`,
	`{app="x"} | label_format dst=src`, `{app="x"} | label_format dst="{{.status}} {{.query}}"`,
	`{app="x"} | label_format foo=bar | label_format foo="new"`,
	`{job="varlogs"}|json|drop level, method="GET"`, `{job="varlogs"}|json|drop __error__`,
	`{job="varlogs"}|json|drop level, path, app=~"some-api.*"`,
	`{job="varlogs"}|json|keep level, method="GET"`, `{job="varlogs"}|json|keep level, tenant, app=~"some-api.*"`,
	// metric_queries
	`count_over_time({job="mysql"}[5m])`,
	`sum by (host) (rate({job="mysql"} |= "error" != "timeout" | json | duration > 10s [1m]))`,
	`count_over_time({job="mysql"}[5m] offset 5m)`,
	`sum(count_over_time({namespace="traefik"}[5m])) or vector(0)`,
	`sum(count_over_time({namespace="traefik"}[5m])) # will return nothing
	  or
	vector(0) # will return 0`,
	`approx_topk(10, sum by (user) (count_over_time({app="x"}[5m])))`,
	// query_examples
	`{job_name="myapp"} != ip("192.168.4.5-192.168.4.20")`,
	"{job_name=\"myapp\"}\n\t\t| logfmt\n\t\t| addr = ip(\"192.168.4.5/16\")\n\t\t| addr != ip(\"192.168.4.2\")",
	"{job=\"security\"} \n    |~ \"Invalid user.*\"\n    | regexp \"(^(?P<user>\\\\S+ {1,2}){8})\"\n    | regexp \"(^(?P<ip>\\\\S+ {1,2}){10})\"\n    | line_format \"IP = {{.ip}}\\tUSER = {{.user}}\"",
	"{job=\"security\"}\n    != \"grafana_com\"\n    |= \"session opened\"\n    != \"sudo: \"\n    | regexp \"(^(?P<user>\\\\S+ {1,2}){11})\"\n    | line_format \"USER = {{.user}}\"",
	"sum by (host) (rate({job=\"mysql\"}\n    |= \"error\" != \"timeout\"\n    | json\n    | duration > 10s [1m]))",
	`{cluster="ops-tools1", namespace="loki-dev", job="loki-dev/query-frontend"} |= "metrics.go" != "out of order" | logfmt | duration > 30s or status_code != "200"`,
	`{job="loki-ops/query-frontend"} | logfmt | line_format "{{.msg}}" | regexp "(?P<method>\\w+) (?P<path>[\\w|/]+) \\((?P<status>\\d+?)\\) (?P<duration>.*)"`,
	docFormatQuery,
	"quantile_over_time(0.99,\n  {cluster=\"ops-tools1\",container=\"ingress-nginx\"}\n    | json\n    | __error__ = \"\"\n    | unwrap request_time [1m]) by (path)",
	"sum by (org_id) (\n  sum_over_time(\n  {cluster=\"ops-tools1\",container=\"loki-dev\"}\n      |= \"metrics.go\"\n      | logfmt\n      | unwrap bytes_processed [1m])\n  )",
	`topk(10,sum(rate({region="us-east1"}[5m])) by (name))`,
	`sum(count_over_time({job="mysql"}[5m])) by (level)`,
	`avg(rate(({job="nginx"} |= "GET" | json | path="/home")[10s])) by (region)`,
	// template_functions
	"{job=\"loki/querier\"} |= \"finish in prometheus\" | logfmt | line_format `{{ range $q := fromJson .queries }} {{ $q.query }} {{ end }}`",
	"{job=\"loki/querier\"} | label_format nowEpoch=`{{(unixEpoch now)}}`,createDateEpoch=`{{unixEpoch (toDate \"2006-01-02\" .createDate)}}` | label_format dateTimeDiff=`{{sub .nowEpoch .createDateEpoch}}` | dateTimeDiff > 86400",
	"{job=\"access_log\"} | json | line_format `{{.http_request_headers_x_forwarded_for | default \"-\"}}`",
	"{job=\"xyzlog\"} | line_format `{{ __line__ | count \"XYZ\"}}`",
	"{app=\"x\"} | json | line_format `from=\"{{date \"2006-01-02\" (unixToTime .from)}}\"`",
	"{app=\"x\"} | line_format `{{ if or (contains \"he\" \"hello\") (contains \"llo\" \"hello\") }} yes {{end}}`",
	"{app=\"x\"} | line_format `{{ .foo | toDateInZone \"2006-01-02T15:04:05.999999999Z\" \"UTC\" | unixEpochNanos }}`",
	"{app=\"x\"} | line_format `{{ __timestamp__ | date \"2006-01-02T15:04:05.00Z-07:00\" }}`",
}

// docFormatQuery is query_examples' "Log line formatting examples" query.
const docFormatQuery = "{cluster=\"ops-tools1\", name=\"querier\", namespace=\"loki-dev\"}\n" +
	"  |= \"metrics.go\" != \"loki-canary\"\n  | logfmt\n  | query != \"\"\n" +
	"  | label_format query=\"{{ Replace .query \\\"\\\\n\\\" \\\"\\\" -1 }}\"\n" +
	"  | line_format \"{{ .ts}}\\t{{.duration}}\\ttraceID = {{.traceID}}\\t{{ printf \\\"%-100.100s\\\" .query }} \""

func TestLokiDocQueriesParse(t *testing.T) {
	for _, q := range lokiDocQueries {
		e, err := ParseExpr(q)
		require.NoError(t, err, q)
		_, err = ParseExpr(e.String())
		require.NoError(t, err, "%s printed as %s", q, e)
	}
}

// TestLokiDocExamplesRun runs query_examples' multi-parser and line
// formatting examples over the lines the documentation gives, expecting
// its results.
func TestLokiDocExamplesRun(t *testing.T) {
	f := processTest(t)
	in := labels.FromStrings("job", "loki-ops/query-frontend")
	line := `level=debug ts=2020-10-02T10:10:42.092268913Z caller=logging.go:66 traceID=a9d4d8a928d8db1 msg="POST /api/prom/api/v1/query_range (200) 1.5s"`
	f(`{job="loki-ops/query-frontend"} | logfmt | line_format "{{.msg}}" | regexp "(?P<method>\\w+) (?P<path>[\\w|/]+) \\((?P<status>\\d+?)\\) (?P<duration>.*)"`,
		line, in, `POST /api/prom/api/v1/query_range (200) 1.5s`,
		labels.FromStrings("job", "loki-ops/query-frontend", "level", "debug", "ts", "2020-10-02T10:10:42.092268913Z",
			"caller", "logging.go:66", "traceID", "a9d4d8a928d8db1", "msg", "POST /api/prom/api/v1/query_range (200) 1.5s",
			"method", "POST", "path", "/api/prom/api/v1/query_range", "status", "200", "duration", "1.5s"))

	q := mustLogQuery(t, docFormatQuery)
	for _, c := range []struct{ line, ts, duration string }{
		{`level=info ts=2020-10-23T20:32:18.094668233Z caller=metrics.go:81 org_id=29 traceID=1980d41501b57b68 latency=fast query="{cluster=\"ops-tools1\", job=\"loki-ops/query-frontend\"} |= \"query_range\"" query_type=filter range_type=range length=15m0s step=7s duration=650.22401ms status=200 throughput_mb=1.529717 total_bytes_mb=0.994659`,
			"2020-10-23T20:32:18.094668233Z", "650.22401ms"},
		{`level=info ts=2020-10-23T20:32:18.068866235Z caller=metrics.go:81 org_id=29 traceID=1980d41501b57b68 latency=fast query="{cluster=\"ops-tools1\", job=\"loki-ops/query-frontend\"} |= \"query_range\"" query_type=filter range_type=range length=15m0s step=7s duration=624.008132ms status=200 throughput_mb=0.693449 total_bytes_mb=0.432718`,
			"2020-10-23T20:32:18.068866235Z", "624.008132ms"},
	} {
		query := `{cluster="ops-tools1", job="loki-ops/query-frontend"} |= "query_range"`
		want := c.ts + "\t" + c.duration + "\ttraceID = 1980d41501b57b68\t" + query + strings.Repeat(" ", 100-len(query)) + " "
		got, _, keep := q.Process(Entry{Line: c.line, Labels: labels.FromStrings("cluster", "ops-tools1", "name", "querier", "namespace", "loki-dev")})
		require.True(t, keep)
		require.Equal(t, want, got)
	}
}

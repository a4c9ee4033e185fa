package logql

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// conformanceCase is one of Loki's documented examples. The expected
// results are worked out by hand from Loki's documentation (docs/sources/
// query/log_queries/_index.md and template_functions.md in grafana/loki);
// each case names the section it comes from.
type conformanceCase struct {
	doc        string // the documentation section
	query      string
	line       string
	in         labels.Labels
	wantLine   string        // "" with wantLabels empty: the entry is dropped
	wantLabels labels.Labels // nil: the entry labels only (in)
}

var svc = labels.FromStrings("service_name", "checkout")

// nginxLine and friends are the lines of the documentation's examples.
const (
	jsonDocLine = `{"protocol":"HTTP/2.0","servers":["129.0.1.1","10.2.1.3"],"request":{"time":"6.032","method":"GET",` +
		`"host":"foo.grafana.net","size":"55","headers":{"Accept":"*/*","User-Agent":"curl/7.68.0"}},` +
		`"response":{"status":401,"size":"228","latency_seconds":"6.031"}}`
	patternDocLine = `0.191.12.2 - - [10/Jun/2021:09:14:29 +0000] "GET /api/plugins/versioncheck HTTP/1.1" 200 2 "-" ` +
		`"Go-http-client/2.0" "13.76.247.102, 34.120.177.193" "TLSv1.2" "US" ""`
	patternDocLine2 = `level=debug ts=2021-06-10T09:24:13.472094048Z caller=logging.go:66 traceID=0568b66ad2d9294c ` +
		`msg="POST /loki/api/v1/push (204) 16.652862ms"`
	traceLine = `level=info msg="charged card" trace_id=4bf92f3577b34da6a3ce929d0e0e4736 amount=12`

	keepDocLineGET   = `{"level": "info", "method": "GET", "path": "/", "host": "grafana.net", "status": "200"}`
	keepDocLinePOST  = `{"level": "info", "method": "POST", "path": "/", "host": "grafana.net", "status": "200"}`
	dropDocLineSome  = `{"app": "some-api-service", "level": "info", "method": "GET", "path": "/", "host": "grafana.net", "status": "200"}`
	dropDocLineOther = `{"app": "other-service", "level": "info", "method": "GET", "path": "/", "host": "grafana.net", "status": "200"}`
)

func withLabels(base labels.Labels, kv ...string) labels.Labels {
	b := labels.NewBuilder(base)
	for i := 0; i < len(kv); i += 2 {
		b.Set(kv[i], kv[i+1])
	}
	return b.Labels()
}

func conformanceCases() []conformanceCase {
	cases := []conformanceCase{
		// Grafana's default traces-to-logs query (Tempo datasource, "Logs for this span").
		{doc: "Grafana traces to logs, default query; log_queries#labels-format-expression, #label-filter-expression (or)",
			query: `{service_name="checkout"} | label_format log_line_contains_trace_id=` + "`{{ contains \"4bf92f3577b34da6a3ce929d0e0e4736\" __line__ }}`" +
				` | log_line_contains_trace_id="true" or trace_id="4bf92f3577b34da6a3ce929d0e0e4736"`,
			line: traceLine, in: svc, wantLine: traceLine,
			wantLabels: withLabels(svc, "log_line_contains_trace_id", "true")},
		{doc: "Grafana traces to logs, default query, a line of another trace",
			query: `{service_name="checkout"} | label_format log_line_contains_trace_id=` + "`{{ contains \"4bf92f3577b34da6a3ce929d0e0e4736\" __line__ }}`" +
				` | log_line_contains_trace_id="true" or trace_id="4bf92f3577b34da6a3ce929d0e0e4736"`,
			line: `level=info trace_id=0000`, in: svc},
		{doc: "Grafana traces to logs, default query, trace_id in structured metadata",
			query: `{service_name="checkout"} | label_format log_line_contains_trace_id=` + "`{{ contains \"4bf92f3577b34da6a3ce929d0e0e4736\" __line__ }}`" +
				` | log_line_contains_trace_id="true" or trace_id="4bf92f3577b34da6a3ce929d0e0e4736"`,
			line: `charged card`, in: withLabels(svc, "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), wantLine: `charged card`,
			wantLabels: withLabels(svc, "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", "log_line_contains_trace_id", "false")},
		{doc: "Grafana traces to logs, newer query: | logfmt | json | drop __error__ | trace_id=",
			query: `{service_name="checkout"} | logfmt | json | drop __error__ | trace_id="4bf92f3577b34da6a3ce929d0e0e4736"`,
			line:  traceLine, in: svc, wantLine: traceLine,
			wantLabels: withLabels(svc, "level", "info", "msg", "charged card", "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736",
				"amount", "12")},

		// log_queries#json: parameters pick fields by JSON path.
		{doc: "log_queries#json with parameters (first_server, ua)",
			query: `{app="a"} | json first_server="servers[0]", ua="request.headers[\"User-Agent\"]"`,
			line:  jsonDocLine, in: labels.FromStrings("app", "a"), wantLine: jsonDocLine,
			wantLabels: labels.FromStrings("app", "a", "first_server", "129.0.1.1", "ua", "curl/7.68.0")},
		{doc: "log_queries#json with parameters: arrays and objects as JSON text",
			query: `{app="a"} | json server_list="servers", headers="request.headers"`,
			line:  jsonDocLine, in: labels.FromStrings("app", "a"), wantLine: jsonDocLine,
			wantLabels: labels.FromStrings("app", "a", "server_list", `["129.0.1.1","10.2.1.3"]`,
				"headers", `{"Accept":"*/*","User-Agent":"curl/7.68.0"}`)},
		{doc: "log_queries#json with parameters: a bare name is its own path; numbers as written",
			query: `{app="a"} | json protocol, status="response.status", missing="nope.nope"`,
			line:  jsonDocLine, in: labels.FromStrings("app", "a"), wantLine: jsonDocLine,
			wantLabels: labels.FromStrings("app", "a", "protocol", "HTTP/2.0", "status", "401", "missing", "")},

		// log_queries#logfmt: parameters extract only the keys named.
		{doc: "log_queries#logfmt with parameters (| logfmt host, fwd_ip=\"fwd\")",
			query:    `{app="a"} | logfmt host, fwd_ip="fwd"`,
			line:     `at=info method=GET path=/ host=grafana.net fwd="124.133.124.161" service=8ms status=200`,
			in:       labels.FromStrings("app", "a"),
			wantLine: `at=info method=GET path=/ host=grafana.net fwd="124.133.124.161" service=8ms status=200`, wantLabels: labels.FromStrings("app", "a", "host", "grafana.net", "fwd_ip", "124.133.124.161")},
		{doc: "log_queries#logfmt: a standalone key requested by a parameter needs no --keep-empty; a missing one is empty",
			query: `{app="a"} | logfmt --strict flag, missing, host`, line: `flag host=h`, in: labels.FromStrings("app", "a"),
			wantLine: `flag host=h`, wantLabels: labels.FromStrings("app", "a", "flag", "", "missing", "", "host", "h")},
		{doc: "log_queries#logfmt --strict --keep-empty",
			query: `{app="a"} | logfmt --strict --keep-empty`,
			line:  `level=info empty= msg="ok"`, in: labels.FromStrings("app", "a"), wantLine: `level=info empty= msg="ok"`,
			wantLabels: labels.FromStrings("app", "a", "level", "info", "empty", "", "msg", "ok")},

		// log_queries#pattern
		{doc: "log_queries#pattern, NGINX example",
			query: `{app="a"} | pattern "<ip> - - <_> \"<method> <uri> <_>\" <status> <size> <_> \"<agent>\" <_>"`,
			line:  patternDocLine, in: labels.FromStrings("app", "a"), wantLine: patternDocLine,
			wantLabels: labels.FromStrings("app", "a", "ip", "0.191.12.2", "method", "GET", "uri", "/api/plugins/versioncheck",
				"status", "200", "size", "2", "agent", "Go-http-client/2.0")},
		{doc: "log_queries#pattern, msg example",
			query: "{app=\"a\"} | pattern `<_> msg=\"<method> <path> (<status>) <latency>\"`",
			line:  patternDocLine2, in: labels.FromStrings("app", "a"), wantLine: patternDocLine2,
			wantLabels: labels.FromStrings("app", "a", "method", "POST", "path", "/loki/api/v1/push", "status", "204", "latency", "16.652862ms")},
		{doc: "log_queries#pattern: a literal not found stops matching, the capture before it taking the rest of the line",
			query: `{app="a"} | pattern "GET <path> (<status>) <size>"`,
			line:  `GET /x 200 5`, in: labels.FromStrings("app", "a"), wantLine: `GET /x 200 5`,
			wantLabels: labels.FromStrings("app", "a", "path", "/x 200 5")},
		{doc: "log_queries#pattern: anchored at the start of the line",
			query: `{app="a"} | pattern "GET <path> <_>"`,
			line:  `POST /x 200`, in: labels.FromStrings("app", "a"), wantLine: `POST /x 200`},

		// log_queries#regular-expression
		{doc: "log_queries#regular-expression",
			query: `{app="a"} | regexp "(?P<method>\\w+) (?P<path>[\\w|/]+) \\((?P<status>\\d+?)\\) (?P<duration>.*)"`,
			line:  `POST /api/prom/api/v1/query_range (200) 1.5s`, in: labels.FromStrings("app", "a"),
			wantLine: `POST /api/prom/api/v1/query_range (200) 1.5s`,
			wantLabels: labels.FromStrings("app", "a", "method", "POST", "path", "/api/prom/api/v1/query_range",
				"status", "200", "duration", "1.5s")},
		{doc: "log_queries#regular-expression: a clash with a stream label gets _extracted",
			query: `{app="a"} | regexp "app=(?P<app>\\S+)"`, line: `app=b`, in: labels.FromStrings("app", "a"),
			wantLine: `app=b`, wantLabels: labels.FromStrings("app", "a", "app_extracted", "b")},

		// log_queries#unpack
		{doc: "log_queries#unpack",
			query: `{app="a"} | unpack`, line: `{"container":"myapp","pod":"pod-3223f","_entry":"original log message"}`,
			in: labels.FromStrings("app", "a"), wantLine: "original log message",
			wantLabels: labels.FromStrings("app", "a", "container", "myapp", "pod", "pod-3223f")},
		{doc: "log_queries#unpack: a line without _entry is left as it is",
			query: `{app="a"} | unpack`, line: `{"container":"myapp"}`, in: labels.FromStrings("app", "a"), wantLine: `{"container":"myapp"}`},
		{doc: "log_queries#unpack: not JSON",
			query: `{app="a"} | unpack`, line: `plain`, in: labels.FromStrings("app", "a"), wantLine: "plain",
			wantLabels: labels.FromStrings("app", "a", ErrorLabel, ErrJSONParser, ErrorDetailsLabel, "Malformed JSON error")},

		// log_queries#line-format-expression and template_functions
		{doc: "log_queries#line-format-expression",
			query: `{app="a"} | logfmt | line_format "{{.query}} {{.duration}}"`,
			line:  `query="sum(rate(x[1m]))" duration=1.2s`, in: labels.FromStrings("app", "a"),
			wantLine:   `sum(rate(x[1m])) 1.2s`,
			wantLabels: labels.FromStrings("app", "a", "query", "sum(rate(x[1m]))", "duration", "1.2s")},
		{doc: "template_functions#pipeline: replace, trunc, upper",
			query: `{app="a"} | line_format "{{ .path | replace \" \" \"_\" | trunc 5 | upper }}"`,
			line:  `x`, in: labels.FromStrings("app", "a", "path", "a b c d"), wantLine: `A_B_C`},
		{doc: "template_functions#ToLower and ToUpper, Replace, TrimSpace",
			query: `{app="a"} | line_format "{{ ToLower \"This is a NAME\" }}|{{ ToUpper \"up\" }}|{{ Replace \"This is a name\" \" \" \"-\" -1 }}|{{ TrimSpace \"  x  \" }}"`,
			line:  `x`, in: labels.FromStrings("app", "a"), wantLine: `this is a name|UP|This-is-a-name|x`},
		{doc: "template_functions#Trim, TrimLeft, TrimRight, TrimPrefix, TrimSuffix",
			query: `{app="a"} | line_format "{{ Trim \"abcb\" \"bc\" }}|{{ TrimLeft \"abcb\" \"ab\" }}|{{ TrimRight \"abcb\" \"bc\" }}|{{ TrimPrefix \"abcb\" \"ab\" }}|{{ TrimSuffix \"abcb\" \"cb\" }}"`,
			line:  `x`, in: labels.FromStrings("app", "a"), wantLine: `a|cb|a|cb|ab`},
		{doc: "template_functions#regexReplaceAll and regexReplaceAllLiteral",
			query: `{app="a"} | line_format "{{ regexReplaceAll \"(a*)bc\" .some_label \"${1}a\" }}|{{ regexReplaceAllLiteral \"(ts=)\" .other \"timestamp=\" }}"`,
			line:  `x`, in: labels.FromStrings("app", "a", "some_label", "aaabc", "other", "ts=1"), wantLine: `aaaa|timestamp=1`},
		{doc: "template_functions#default, contains, hasPrefix, count",
			query: `{app="a"} | line_format "{{ .missing | default \"-\" }}|{{ if .msg | contains \"err\" }}bad{{ end }}|{{ hasPrefix \"ab\" \"abc\" }}|{{ __line__ | count \"o\" }}"`,
			line:  `foo boo`, in: labels.FromStrings("app", "a", "msg", "an error"), wantLine: `-|bad|true|4`},
		{doc: "template_functions#alignLeft, alignRight, indent, nindent",
			query: `{app="a"} | line_format "{{ alignLeft 5 \"hello world\" }}|{{ alignRight 5 \"hello world\" }}|{{ indent 2 \"a\" }}|{{ nindent 1 \"b\" }}"`,
			line:  `x`, in: labels.FromStrings("app", "a"), wantLine: "hello|world|  a|\n b"},
		{doc: "template_functions#int, float64, add, sub, mul, div, mod",
			query: `{app="a"} | line_format "{{ add 3 2 5 }} {{ sub 5 3 }} {{ mul 2 3 4 }} {{ div 10 3 }} {{ mod 10 3 }} {{ .n | int | add 1 }} {{ float64 \"1.5\" }}"`,
			line:  `x`, in: labels.FromStrings("app", "a", "n", "41"), wantLine: `10 2 24 3 1 42 1.5`},
		{doc: "template_functions#addf, subf, mulf, divf, max, min, maxf, minf, ceil, floor, round",
			query: `{app="a"} | line_format "{{ addf 3.5 2 5 }} {{ subf 5.5 3 }} {{ mulf 1.5 2 2 }} {{ divf 10 4 }} {{ max 1 3 2 }} {{ min 4 2 3 }} {{ maxf 1 2.5 }} {{ minf 1.5 2 }} {{ ceil 1.1 }} {{ floor 1.9 }} {{ round 123.555555 3 }}"`,
			line:  `x`, in: labels.FromStrings("app", "a"), wantLine: `10.5 2.5 6 2.5 3 2 2.5 1.5 2 1 123.556`},
		{doc: "template_functions#date, toDate, unixEpoch, unixEpochMillis, unixToTime, __timestamp__",
			query: `{app="a"} | line_format "{{ toDate \"2006-01-02\" \"2021-11-02\" | date \"2006/01/02\" }} {{ __timestamp__ | unixEpoch }} {{ __timestamp__ | unixEpochMillis }} {{ unixToTime \"1679577215\" | date \"2006-01-02T15:04:05Z\" }} {{ __timestamp__ | date \"15:04\" }}"`,
			line:  `x`, in: labels.FromStrings("app", "a"), wantLine: `2021/11/02 1714564800 1714564800000 2023-03-23T13:13:35Z 12:00`},
		{doc: "template_functions: the documentation's outputs (trunc, substr, replace, trim*, align*, repeat, count, default, mul, subf, mulf, divf, minf, ceil, floor, round with roundOn, int, float64, title, lower, upper)",
			query: "{app=\"a\"} | line_format `{{ trunc 5 \"hello world\"}}|{{ trunc -5 \"hello world\"}}|{{ substr 0 5 \"hello world\"}}|{{ substr 6 11 \"hello world\"}}|" +
				"{{ replace \"hello\" \"world\" \"hello world\" }}|{{ trim \"   hello    \" }}|{{ trimAll \"$\" \"$5.00\" }}|{{ trimSuffix \"-\" \"hello-\" }}|{{ trimPrefix \"-\" \"-hello\" }}|" +
				"{{ alignLeft 5 \"hi\"}}|{{ alignRight 5 \"hi\"}}|{{ repeat 3 \"hello\" }}|{{ count \"a|b\" \"abab\" }}|{{ count \"o\" \"foo\" }}|{{ default \"-\" \"\" }}|{{ default \"-\" \"foo\" }}|" +
				"{{ mul 5 2 3}}|{{ subf  5.5 2 1.5 }}|{{ mulf 5.5 2 2.5 }}|{{ divf 10 2 4}}|{{ minf 1 2.5 3 }}|{{ ceil 123.001 }}|{{ floor 123.9999 }}|{{ round 123.88571428571 5 .2 }}|" +
				"{{ \"3\" | int }}|{{ \"3.5\" | float64 }}|{{ title \"hello world\"}}|{{ lower  \"HELLO\"}}|{{ upper  \"hello\"}}|{{ if and (contains \"he\" \"hello\") (contains \"llo\" \"hello\") }}yes{{end}}|{{ if eq \"hello\" \"hello\" }}yes{{end}}`",
			line: `x`, in: labels.FromStrings("app", "a"),
			wantLine: "hello|world|hello|world|world world|hello|5.00|hello|hello|hi   |   hi|hellohellohello|4|2|-|foo|30|2|27.5|1.25|1|124|123|123.88572|3|3.5|Hello World|hello|HELLO|yes|yes"},
		{doc: "template_functions#unixToTime (the documentation's from field) and #fromJson (a range over queries; invalid JSON is empty)",
			query: "{app=\"a\"} | json | line_format `from=\"{{date \"2006-01-02\" (unixToTime .from)}}\" {{ range $q := fromJson .queries }}{{ $q.query }};{{ end }} [{{ fromJson \"{\" }}] {{ unixToTime \"19440\" | date \"2006-01-02\" }}`",
			line:  `{"from": "1679577215","queries":"[{\"query\":\"a\"},{\"query\":\"b\"}]"}`, in: labels.FromStrings("app", "a"),
			wantLine:   `from="2023-03-23" a;b; [] 2023-03-24`,
			wantLabels: labels.FromStrings("app", "a", "from", "1679577215", "queries", `[{"query":"a"},{"query":"b"}]`)},
		{doc: "template_functions#bytes, duration, duration_seconds",
			query: `{app="a"} | line_format "{{ .size | bytes }} {{ .d | duration }} {{ duration_seconds \"1h\" }}"`,
			line:  `x`, in: labels.FromStrings("app", "a", "size", "10KB", "d", "1.5s"), wantLine: `10000 1.5 3600`},
		{doc: "template_functions#urlencode, urldecode, b64enc, b64dec, fromJson",
			query: `{app="a"} | line_format "{{ urlencode \"a b\" }} {{ urldecode \"a%20b\" }} {{ b64enc \"test\" }} {{ b64dec \"dGVzdA==\" }} {{ (fromJson __line__).k }}"`,
			line:  `{"k":"v"}`, in: labels.FromStrings("app", "a"), wantLine: `a+b a b dGVzdA== test v`},

		// log_queries#labels-format-expression
		{doc: "log_queries#labels-format-expression: rename",
			query: `{app="a"} | logfmt | label_format dst=src`, line: `src=v other=w`, in: labels.FromStrings("app", "a"),
			wantLine: `src=v other=w`, wantLabels: labels.FromStrings("app", "a", "dst", "v", "other", "w")},
		{doc: "log_queries#labels-format-expression: in order; a rename of a missing label does nothing; templates see the labels of the stage's first template",
			query: `{app="a"} | label_format x=nope, y=app, z="{{.y}}/{{.app}}", w="{{.z}}"`, line: `l`, in: labels.FromStrings("app", "a"),
			wantLine: `l`, wantLabels: labels.FromStrings("y", "a", "z", "a/", "w", "")},
		{doc: "template_functions#trunc counts characters",
			query: `{app="a"} | line_format "{{ trunc 2 \"héllo\" }}{{ trunc -2 \"héllö\" }}"`, line: `l`, in: labels.FromStrings("app", "a"),
			wantLine: `hélö`},
		{doc: "log_queries#labels-format-expression: template with __line__ and labels, overwriting a stream label",
			query: `{app="a"} | label_format app="{{.app}}-{{ __line__ | len }}", both="{{.app}}"`, line: `abc`,
			in: labels.FromStrings("app", "a"), wantLine: `abc`, wantLabels: labels.FromStrings("app", "a-3", "both", "a")},
		// log_queries#keep-labels-expression and #drop-labels-expression, the documentation's examples.
		{doc: "log_queries#keep-labels-expression: keep level, method=\"GET\" (GET line)",
			query: `{job="varlogs"}|json|keep level, method="GET"`, line: keepDocLineGET, in: labels.FromStrings("job", "varlogs"),
			wantLine: keepDocLineGET, wantLabels: labels.FromStrings("level", "info", "method", "GET")},
		{doc: "log_queries#keep-labels-expression: keep level, method=\"GET\" (POST line)",
			query: `{job="varlogs"}|json|keep level, method="GET"`, line: keepDocLinePOST, in: labels.FromStrings("job", "varlogs"),
			wantLine: keepDocLinePOST, wantLabels: labels.FromStrings("level", "info")},
		{doc: "log_queries#keep-labels-expression: keep level, tenant, app=~\"some-api.*\"",
			query: `{job="varlogs"}|json|keep level, tenant, app=~"some-api.*"`, line: dropDocLineSome, in: labels.FromStrings("job", "varlogs"),
			wantLine: dropDocLineSome, wantLabels: labels.FromStrings("app", "some-api-service", "level", "info")},
		{doc: "log_queries#drop-labels-expression: drop level, method=\"GET\"",
			query: `{job="varlogs"}|json|drop level, method="GET"`, line: keepDocLineGET, in: labels.FromStrings("job", "varlogs"),
			wantLine: keepDocLineGET, wantLabels: labels.FromStrings("job", "varlogs", "host", "grafana.net", "path", "/", "status", "200")},
		{doc: "log_queries#drop-labels-expression: drop level, path, app=~\"some-api.*\"",
			query: `{job="varlogs"}|json|drop level, path, app=~"some-api.*"`, line: dropDocLineOther, in: labels.FromStrings("job", "varlogs"),
			wantLine: dropDocLineOther, wantLabels: labels.FromStrings("app", "other-service", "host", "grafana.net", "job", "varlogs", "method", "GET", "status", "200")},
		{doc: "log_queries#drop-labels-expression: drop __error__",
			query: `{job="varlogs"}|json|drop __error__`, line: `INFO GET / loki.net 200`, in: labels.FromStrings("job", "varlogs"),
			wantLine: `INFO GET / loki.net 200`, wantLabels: labels.FromStrings("job", "varlogs")},
		{doc: "log_queries#keep-labels-expression: a matcher that does not match drops the label; errors stay",
			query: `{app="a"} | json | keep app, method="GET"`, line: `method=POST`,
			in: labels.FromStrings("app", "a"), wantLine: `method=POST`,
			wantLabels: labels.FromStrings("app", "a", ErrorLabel, ErrJSONParser, ErrorDetailsLabel, errJSONNotObject.Error())},

		// log_queries#decolorize
		{doc: "log_queries#decolorize",
			query: `{app="a"} | decolorize`, line: "\x1b[31merror\x1b[0m in \x1b[1;34mmodule\x1b[0m",
			in: labels.FromStrings("app", "a"), wantLine: "error in module"},

		// log_queries#line-filter-expression: pattern filters and ip()
		{doc: "log_queries#line-filter-expression: |> pattern",
			query: `{app="a"} |> "<_> level=error <_>"`, line: `ts=1 level=error msg=x`,
			in: labels.FromStrings("app", "a"), wantLine: `ts=1 level=error msg=x`},
		{doc: "log_queries#line-filter-expression: |> pattern that does not match",
			query: `{app="a"} |> "<_> level=error <_>"`, line: `ts=1 level=info msg=x`, in: labels.FromStrings("app", "a")},
		{doc: "log_queries#line-filter-expression: |> pattern ending on a literal needs the line to end there",
			query: `{app="a"} |> "<_> level=error"`, line: `ts=1 level=error msg=x`, in: labels.FromStrings("app", "a")},
		{doc: "log_queries#line-filter-expression: |> pattern, captures match at least one character",
			query: `{app="a"} |> "<_>level=error <_>"`, line: `level=error msg=x`, in: labels.FromStrings("app", "a")},
		{doc: "log_queries#line-filter-expression: !> pattern",
			query: `{app="a"} !> "<_> level=error <_>" or "<_> level=warn <_>"`, line: `ts=1 level=info msg=x`,
			in: labels.FromStrings("app", "a"), wantLine: `ts=1 level=info msg=x`},
		{doc: "ip#line-filter: |= ip(cidr)",
			query: `{app="a"} |= ip("192.168.0.0/16")`, line: `connect from 192.168.4.5:443 ok`,
			in: labels.FromStrings("app", "a"), wantLine: `connect from 192.168.4.5:443 ok`},
		{doc: "ip#line-filter: != ip(range)",
			query: `{app="a"} != ip("192.168.4.5-192.168.4.20")`, line: `connect from 192.168.4.7`, in: labels.FromStrings("app", "a")},
		{doc: "ip#label-filter: = ip(ipv6 range)",
			query: `{app="a"} | logfmt | remote_addr = ip("2001:db8::1-2001:db8::8")`, line: `remote_addr=2001:db8::5`,
			in: labels.FromStrings("app", "a"), wantLine: `remote_addr=2001:db8::5`,
			wantLabels: labels.FromStrings("app", "a", "remote_addr", "2001:db8::5")},
		{doc: "ip#label-filter: != ip(address)",
			query: `{app="a"} | logfmt | addr != ip("10.0.0.1")`, line: `addr=10.0.0.1`, in: labels.FromStrings("app", "a")},
		{doc: "log_queries#line-format-expression: math ({{div .duration 1000}})",
			query: `{container="frontend"} | logfmt | line_format "{{.ip}} {{.status}} {{div .duration 1000}}"`,
			line:  `ip=1.1.1.1 status=200 duration=3000`, in: labels.FromStrings("container", "frontend"), wantLine: `1.1.1.1 200 3`,
			wantLabels: labels.FromStrings("container", "frontend", "ip", "1.1.1.1", "status", "200", "duration", "3000")},
	}
	// ip: the documentation's access log, where |= "3.180.71.3" would also
	// match 93.180.71.3 but |= ip("3.180.71.3") does not.
	for line, kept := range map[string]bool{
		`3.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)"`:    true,
		`80.91.33.133 - - [17/May/2015:08:05:14 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.16)"`:  false,
		`93.180.71.3 - - [17/May/2015:08:05:26 +0000] "GET /downloads/product_1 HTTP/1.1" 404 324 "-" "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)"`: false,
	} {
		c := conformanceCase{doc: "ip: |= ip(\"3.180.71.3\") over " + line[:12], query: `{job_name="myapp"} |= ip("3.180.71.3")`,
			line: line, in: labels.FromStrings("job_name", "myapp")}
		if kept {
			c.wantLine = line
		}
		cases = append(cases, c)
	}
	// ip: the documentation's chained and or-ed label filters.
	for _, c := range []struct {
		query string
		kept  map[string]bool
	}{
		{`{job_name="myapp"} | logfmt | addr = ip("192.168.4.5/16") | addr != ip("192.168.4.2")`,
			map[string]bool{"192.168.9.9": true, "192.168.4.2": false, "10.10.15.3": false}},
		{`{job_name="myapp"} | logfmt | addr = ip("192.168.4.0/24") or addr = ip("10.10.15.0/24")`,
			map[string]bool{"192.168.4.200": true, "10.10.15.3": true, "192.168.5.1": false}},
	} {
		for addr, kept := range c.kept {
			cc := conformanceCase{doc: "ip: " + c.query + " over addr=" + addr, query: c.query, line: "addr=" + addr,
				in: labels.FromStrings("job_name", "myapp")}
			if kept {
				cc.wantLine, cc.wantLabels = cc.line, labels.FromStrings("job_name", "myapp", "addr", addr)
			}
			cases = append(cases, cc)
		}
	}
	// log_queries#label-filter-expression: the four forms the documentation
	// gives as equivalent, over lines on which and/or precedence does not
	// matter (the documentation says left to right; Loki's grammar binds
	// and tighter, and this package follows the grammar).
	for _, f := range []string{
		`| duration >= 20ms or size == 20KB and method!~"2.."`,
		`| duration >= 20ms or size == 20KB | method!~"2.."`,
		`| duration >= 20ms or size == 20KB , method!~"2.."`,
		`| duration >= 20ms or size == 20KB  method!~"2.."`,
	} {
		for _, l := range []struct {
			duration, size, method string
			kept                   bool
		}{{"30ms", "1kb", "500", true}, {"10ms", "20KB", "404", true}, {"10ms", "1kb", "500", false}, {"10ms", "1kb", "200", false}} {
			line := "duration=" + l.duration + " size=" + l.size + " method=" + l.method
			c := conformanceCase{doc: "log_queries#label-filter-expression: " + f + " over " + line,
				query: `{app="a"} | logfmt ` + f, line: line, in: labels.FromStrings("app", "a")}
			if l.kept {
				c.wantLine = line
				c.wantLabels = labels.FromStrings("app", "a", "duration", l.duration, "size", l.size, "method", l.method)
			}
			cases = append(cases, c)
		}
	}
	return cases
}

func TestLokiConformancePipeline(t *testing.T) {
	f := processTest(t)
	for _, c := range conformanceCases() {
		t.Run(c.doc, func(t *testing.T) {
			want := c.wantLabels
			if want.IsEmpty() && c.wantLine != "" {
				want = c.in
			}
			f(c.query, c.line, c.in, c.wantLine, want)
		})
	}
}

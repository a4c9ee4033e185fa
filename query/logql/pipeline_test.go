package logql

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
)

var testTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func mustLogQuery(t testing.TB, q string) *LogQuery {
	t.Helper()
	lq, err := ParseLogQuery(q)
	require.NoError(t, err, q)
	return lq
}

// processTest runs query over line with the given entry labels and checks
// the outcome; wantLabels nil means the entry must be dropped.
func processTest(t *testing.T) func(query, line string, entryLabels labels.Labels, wantLine string, wantLabels labels.Labels) {
	return func(query, line string, entryLabels labels.Labels, wantLine string, wantLabels labels.Labels) {
		t.Helper()
		q := mustLogQuery(t, query)
		gotLine, gotLabels, keep := q.Process(Entry{Timestamp: testTime, Line: line, Labels: entryLabels})
		if wantLabels.IsEmpty() && wantLine == "" {
			require.False(t, keep, "%s over %q: want dropped, got %q %s", query, line, gotLine, gotLabels)
			return
		}
		require.True(t, keep, "%s over %q: want kept", query, line)
		require.Equal(t, wantLine, gotLine, query)
		require.Equal(t, wantLabels.String(), gotLabels.String(), query)
	}
}

var (
	dropped = labels.EmptyLabels()
	stream  = labels.FromStrings("app", "web", "env", "prod")
)

func TestProcessJSON(t *testing.T) {
	f := processTest(t)
	line := `{"level":"error","msg":"upstream timeout","status":504,"duration":"1.5s",` +
		`"request":{"method":"GET","path":"/api/v1/users","headers":{"user-agent":"curl/8.0"}},` +
		`"tags":["a",{"b":1}],"user":null,"ok":false,"app":"web","2xx":3,"bad key!":"v","esc":"a\"b\\u00e9\n","":"x","  ":"y"}`
	f(`{app="web"} | json`, line, stream, line, labels.FromStrings(
		"app", "web", "env", "prod",
		"level", "error", "msg", "upstream timeout", "status", "504", "duration", "1.5s",
		"request_method", "GET", "request_path", "/api/v1/users", "request_headers_user_agent", "curl/8.0",
		"ok", "false", "app_extracted", "web", "_2xx", "3", "bad_key_", "v", "esc", "a\"b\\u00e9\n",
	))
	// Unicode escapes, nested clash with an entry label, duplicate keys (first wins).
	f(`{app="web"} | json`, `{"u":"caf\u00e9 \ud83d\ude00","env":{"name":"x"},"env_name":"y","k":"1","k":"2"}`,
		labels.FromStrings("app", "web", "env_name", "s"), `{"u":"caf\u00e9 \ud83d\ude00","env":{"name":"x"},"env_name":"y","k":"1","k":"2"}`,
		labels.FromStrings("app", "web", "env_name", "s", "u", "café 😀", "env_name_extracted", "x", "k", "1"))
	// Not JSON: the line is kept with the error labels.
	f(`{app="web"} | json`, `level=info msg=hello`, stream, `level=info msg=hello`, labels.FromStrings(
		"app", "web", "env", "prod", ErrorLabel, ErrJSONParser,
		ErrorDetailsLabel, "Value looks like object, but can't find closing '}' symbol"))
	// Truncated JSON: what was read before the error stays.
	f(`{app="web"} | json`, `{"a":"1","b":{"c":2},"d":`, stream, `{"a":"1","b":{"c":2},"d":`, labels.FromStrings(
		"app", "web", "env", "prod", "a", "1", "b_c", "2", ErrorLabel, ErrJSONParser, ErrorDetailsLabel, "Malformed JSON error"))
	f(`{app="web"} | json`, ``, stream, ``, labels.FromStrings(
		"app", "web", "env", "prod", ErrorLabel, ErrJSONParser,
		ErrorDetailsLabel, "Value looks like object, but can't find closing '}' symbol"))
	// | __error__="" drops the lines that failed.
	f(`{app="web"} | json | __error__=""`, `not json`, stream, "", dropped)
	f(`{app="web"} | json | __error__=""`, `{"a":1}`, stream, `{"a":1}`, labels.FromStrings("app", "web", "env", "prod", "a", "1"))
	f(`{app="web"} | json | __error__="JSONParserErr"`, `[1,2]`, stream, `[1,2]`, labels.FromStrings(
		"app", "web", "env", "prod", ErrorLabel, ErrJSONParser,
		ErrorDetailsLabel, "Value looks like object, but can't find closing '}' symbol"))
	// Filters on extracted labels.
	f(`{app="web"} | json | level="error" | status >= 500 | duration > 1s`, line, labels.FromStrings("app", "web"), line,
		labels.FromStrings("app", "web", "level", "error", "msg", "upstream timeout", "status", "504", "duration", "1.5s",
			"request_method", "GET", "request_path", "/api/v1/users", "request_headers_user_agent", "curl/8.0",
			"ok", "false", "app_extracted", "web", "_2xx", "3", "bad_key_", "v", "esc", "a\"b\\u00e9\n"))
	f(`{app="web"} | json | status < 500`, line, stream, "", dropped)
	f(`{app="web"} | json | request_path=~"/api/.*" | line_format "{{.request_method}} {{.request_path}}"`,
		line, labels.FromStrings("app", "web"), "GET /api/v1/users", labels.FromStrings(
			"app", "web", "level", "error", "msg", "upstream timeout", "status", "504", "duration", "1.5s",
			"request_method", "GET", "request_path", "/api/v1/users", "request_headers_user_agent", "curl/8.0",
			"ok", "false", "app_extracted", "web", "_2xx", "3", "bad_key_", "v", "esc", "a\"b\\u00e9\n"))
}

func TestProcessLogfmt(t *testing.T) {
	f := processTest(t)
	line := `level=info ts=2024-05-01T12:00:00Z caller=main.go:42 msg="request done" status=200 duration=23ms empty= path=/api bare app=api 9lives=1 "quoted"=x`
	base := labels.FromStrings("app", "web")
	f(`{app="web"} | logfmt`, line, base, line, labels.FromStrings(
		"app", "web", "level", "info", "ts", "2024-05-01T12:00:00Z", "caller", "main.go:42", "msg", "request done",
		"status", "200", "duration", "23ms", "path", "/api", "app_extracted", "api", "_9lives", "1"))
	f(`{app="web"} | logfmt --keep-empty`, line, base, line, labels.FromStrings(
		"app", "web", "level", "info", "ts", "2024-05-01T12:00:00Z", "caller", "main.go:42", "msg", "request done",
		"status", "200", "duration", "23ms", "empty", "", "path", "/api", "bare", "", "app_extracted", "api", "_9lives", "1"))
	// Escapes in quoted values are JSON escapes.
	f(`{app="web"} | logfmt`, `msg="say \"hi\"\n" x="\u00e9"`, base, `msg="say \"hi\"\n" x="\u00e9"`,
		labels.FromStrings("app", "web", "msg", "say \"hi\"\n", "x", "é"))
	// Malformed pairs are skipped without --strict ...
	f(`{app="web"} | logfmt`, `a=1 =bad b"c=2 d=x"y e=5 f="open`, base, `a=1 =bad b"c=2 d=x"y e=5 f="open`,
		labels.FromStrings("app", "web", "a", "1", "e", "5"))
	// ... and stop the parse with it, marking the line.
	f(`{app="web"} | logfmt --strict`, `a=1 =bad e=5`, base, `a=1 =bad e=5`, labels.FromStrings(
		"app", "web", "a", "1", ErrorLabel, ErrLogfmtParser, ErrorDetailsLabel, "logfmt syntax error at pos 5 : unexpected '='"))
	f(`{app="web"} | logfmt --strict`, `a=1 f="open`, base, `a=1 f="open`, labels.FromStrings(
		"app", "web", "a", "1", ErrorLabel, ErrLogfmtParser, ErrorDetailsLabel, "logfmt syntax error at pos 12 : unterminated quoted value"))
	f(`{app="web"} | logfmt --strict | __error__=""`, `a=1 f="open`, base, "", dropped)
	// A JSON line through logfmt gives odd keys but no error, as in Loki.
	f(`{app="web"} | logfmt | level="error"`, `level=error msg="disk full"`, base, `level=error msg="disk full"`,
		labels.FromStrings("app", "web", "level", "error", "msg", "disk full"))
	// json then logfmt: the first parser's value wins.
	f(`{app="web"} | json | logfmt`, `{"a":"1"} a=2 b=3`, base, `{"a":"1"} a=2 b=3`,
		labels.FromStrings("app", "web", "a", "1", "b", "3"))
}

func TestProcessLabelFilters(t *testing.T) {
	f := processTest(t)
	base := labels.FromStrings("app", "web")
	with := func(kv ...string) labels.Labels { return labels.FromStrings(append([]string{"app", "web"}, kv...)...) }
	line := `status=503 latency=1.2s size=12KB level=warn`
	all := with("status", "503", "latency", "1.2s", "size", "12KB", "level", "warn")
	f(`{app="web"} | logfmt | status >= 500 and latency > 1s`, line, base, line, all)
	f(`{app="web"} | logfmt | status >= 500 and latency > 2s`, line, base, "", dropped)
	f(`{app="web"} | logfmt | status >= 500 , latency > 2s or level="warn"`, line, base, line, all)
	f(`{app="web"} | logfmt | (status >= 500 , latency > 2s) or level="info"`, line, base, "", dropped)
	f(`{app="web"} | logfmt | size > 10KB | size < 12KiB | size == 12000B`, line, base, line, all)
	f(`{app="web"} | logfmt | size > 12KB`, line, base, "", dropped)
	f(`{app="web"} | logfmt | status == 503 | status != 500 | status <= 503`, line, base, line, all)
	f(`{app="web"} | logfmt | level=~"warn|error" | level!~"info"`, line, base, line, all)
	// A string filter treats a missing label as "".
	f(`{app="web"} | logfmt | missing=""`, line, base, line, all)
	f(`{app="web"} | logfmt | missing!="x"`, line, base, line, all)
	// A numeric filter drops entries without the label ...
	f(`{app="web"} | logfmt | missing > 1`, line, base, "", dropped)
	// ... and keeps those whose value does not convert, marked with an error.
	f(`{app="web"} | logfmt | level > 1`, line, base, line, labels.FromStrings(
		"app", "web", "status", "503", "latency", "1.2s", "size", "12KB", "level", "warn",
		ErrorLabel, ErrLabelFilter, ErrorDetailsLabel, `strconv.ParseFloat: parsing "warn": invalid syntax`))
	f(`{app="web"} | logfmt | level > 1 | __error__=""`, line, base, "", dropped)
	f(`{app="web"} | logfmt | status > 1s | __error__!=""`, line, base, line, labels.FromStrings(
		"app", "web", "status", "503", "latency", "1.2s", "size", "12KB", "level", "warn",
		ErrorLabel, ErrLabelFilter, ErrorDetailsLabel, `time: missing unit in duration "503"`))
	// Structured metadata is part of the entry labels.
	meta := labels.FromStrings("app", "web", "trace_id", "abc123")
	f(`{app="web"} | trace_id="abc123"`, `hello`, meta, `hello`, meta)
	f(`{app="web"} | trace_id="other"`, `hello`, meta, "", dropped)
	f(`{app="web"} | logfmt`, `trace_id=x`, meta, `trace_id=x`, labels.FromStrings("app", "web", "trace_id", "abc123", "trace_id_extracted", "x"))
	// An entry label with an empty value counts as missing for numeric filters.
	f(`{app="web"} | n > 0`, `x`, labels.FromStrings("app", "web", "n", ""), "", dropped)
}

func TestProcessLineFilters(t *testing.T) {
	f := processTest(t)
	base := labels.FromStrings("app", "web")
	f(`{app="web"} |= "error"`, `an error occurred`, base, `an error occurred`, base)
	f(`{app="web"} |= "Error"`, `an error occurred`, base, "", dropped)
	f(`{app="web"} |~ "(?i)ERROR"`, `an error occurred`, base, `an error occurred`, base)
	f(`{app="web"} |~ "err.r"`, `an error occurred`, base, `an error occurred`, base)
	f(`{app="web"} |~ "^error"`, `an error occurred`, base, "", dropped)
	f(`{app="web"} != "debug" !~ "health(z|check)"`, `GET /healthz 200`, base, "", dropped)
	f(`{app="web"} != "debug" !~ "health(z|check)"`, `GET /users 200`, base, `GET /users 200`, base)
	f(`{app="web"} |= "timeout" or "refused"`, `connection refused`, base, `connection refused`, base)
	f(`{app="web"} |= "timeout" or "refused"`, `ok`, base, "", dropped)
	f(`{app="web"} != "timeout" or "refused"`, `connection refused`, base, "", dropped)
	f(`{app="web"} != "timeout" or "refused"`, `ok`, base, `ok`, base)
	f(`{app="web"} |~ "a+" or "b+"`, `bbb`, base, `bbb`, base)
	f(`{app="web"} !~ "a+" or "b+"`, `bbb`, base, "", dropped)
	f(`{app="web"} |= ""`, ``, base, ``, base)
	f(`{app="web"} |= "x" |= "y"`, `x alone`, base, "", dropped)
}

func TestProcessLineFormat(t *testing.T) {
	f := processTest(t)
	base := labels.FromStrings("app", "web")
	line := `{"level":"error","msg":"disk full","host":"db-1"}`
	parsed := labels.FromStrings("app", "web", "level", "error", "msg", "disk full", "host", "db-1")
	f(`{app="web"} | json | line_format "{{.level}} {{.msg}}"`, line, base, "error disk full", parsed)
	f(`{app="web"} | json | line_format "{{.level | ToUpper}} [{{.app}}] {{.missing}}|{{ ToLower .msg }}"`, line, base, "ERROR [web] |disk full", parsed)
	f(`{app="web"} | json | line_format "{{ upper .host }} {{ title .msg }} {{ trunc 3 .msg }} {{ default \"-\" .missing }}"`,
		line, base, "DB-1 Disk Full dis -", parsed)
	f(`{app="web"} | json | line_format "{{ if eq .level \"error\" }}E{{ else }}I{{ end }}: {{ __line__ | len }}"`,
		line, base, "E: 49", parsed)
	f(`{app="web"} | line_format "{{ __timestamp__.Unix }} {{ Replace .app \"w\" \"W\" -1 }} {{ regexReplaceAll \"(e)\" .app \"[$1]\" }}"`,
		`x`, base, "1714564800 Web w[e]b", base)
	// Line filters after line_format see the new line.
	f(`{app="web"} | json | line_format "{{.host}}" |= "db-"`, line, base, "db-1", parsed)
	f(`{app="web"} | json | line_format "{{.host}}" |= "disk"`, line, base, "", dropped)
	// A template that fails at run time keeps the line and marks the error.
	f(`{app="web"} | line_format "{{ .app.x }}"`, `orig`, base, `orig`, labels.FromStrings(
		"app", "web", ErrorLabel, ErrTemplateFormat,
		ErrorDetailsLabel, `template: line:1:7: executing "line" at <.app.x>: can't evaluate field x in type string`))
	f(`{app="web"} | line_format "{{ repeat 2000000 .app }}"`, `orig`, base, `orig`, labels.FromStrings(
		"app", "web", ErrorLabel, ErrTemplateFormat,
		ErrorDetailsLabel, `template: line:1:3: executing "line" at <repeat 2000000 .app>: error calling repeat: repeat: result too large`))
}

func TestProcessConcurrent(t *testing.T) {
	q := mustLogQuery(t, `{app="web"} | logfmt | line_format "{{ __line__ }} {{.n}}"`)
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				line := "n=" + string(rune('a'+g))
				got, _, keep := q.Process(Entry{Line: line, Labels: labels.FromStrings("app", "web")})
				if !keep || got != line+" "+string(rune('a'+g)) {
					t.Errorf("goroutine %d: got %q", g, got)
					return
				}
			}
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

// TestParsersLokiCases replays cases from Loki's own parser tests
// (pkg/logql/log/parser_test.go) to keep the two parsers in step.
func TestParsersLokiCases(t *testing.T) {
	f := func(query, line string, entryLabels, want labels.Labels) {
		t.Helper()
		_, got, keep := mustLogQuery(t, query).Process(Entry{Line: line, Labels: entryLabels})
		require.True(t, keep)
		require.Equal(t, want.String(), got.String(), "%s over %q", query, line)
	}
	fooBar := labels.FromStrings("foo", "bar")
	with := func(kv ...string) labels.Labels { return labels.FromStrings(append([]string{"foo", "bar"}, kv...)...) }

	// json
	f(`{x="y"} | json`, `{"app":"foo","namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar"}}}`, labels.EmptyLabels(),
		labels.FromStrings("app", "foo", "namespace", "prod", "pod_uuid", "foo", "pod_deployment_ref", "foobar"))
	f(`{x="y"} | json`, `{"app":"bar","namespace":"prod","pod":{"uuid":"bar","deployment":{"ref":"foobar"}}}`,
		labels.FromStrings("app", "foo", "pod_uuid", "foo"),
		labels.FromStrings("app", "foo", "app_extracted", "bar", "namespace", "prod", "pod_uuid", "foo",
			"pod_uuid_extracted", "bar", "pod_deployment_ref", "foobar"))
	f(`{x="y"} | json`, `{"counter":1, "price": {"_net_":5.56909}}`, labels.EmptyLabels(),
		labels.FromStrings("counter", "1", "price__net_", "5.56909"))
	f(`{x="y"} | json`, `{" ": {"foo":"bar"}}`, labels.EmptyLabels(), labels.FromStrings("foo", "bar"))
	f(`{x="y"} | json`, `{"counter":1,"foo":"foo\\\"bar", "price": {"_net_":5.56909}}`, labels.EmptyLabels(),
		labels.FromStrings("counter", "1", "price__net_", "5.56909", "foo", `foo\"bar`))
	f(`{x="y"} | json`, `{"counter":1,"foo":"�", "price": {"_net_":5.56909}}`, labels.EmptyLabels(),
		labels.FromStrings("counter", "1", "price__net_", "5.56909", "foo", " "))

	f(`{x="y"} | json`, `{n}`, labels.EmptyLabels(), labels.FromStrings(ErrorLabel, ErrJSONParser,
		ErrorDetailsLabel, "Value looks like object, but can't find closing '}' symbol"))

	// logfmt, lenient and strict
	f(`{x="y"} | logfmt`, `foobar====wqe=sdad1r`, fooBar, fooBar)
	f(`{x="y"} | logfmt --strict`, `foobar====wqe=sdad1r`, fooBar,
		with(ErrorLabel, ErrLogfmtParser, ErrorDetailsLabel, "logfmt syntax error at pos 8 : unexpected '='"))
	f(`{x="y"} | logfmt`, `foo="foo bar" =notkey bar=10ms`, fooBar, with("foo_extracted", "foo bar", "bar", "10ms"))
	f(`{x="y"} | logfmt --strict`, `foo="foo bar" =notkey bar=10ms`, fooBar,
		with("foo_extracted", "foo bar", ErrorLabel, ErrLogfmtParser, ErrorDetailsLabel, "logfmt syntax error at pos 15 : unexpected '='"))
	f(`{x="y"} | logfmt`, `foo="foo bar" b�r=10ms`, fooBar, with("foo_extracted", "foo bar"))
	f(`{x="y"} | logfmt --strict`, `foo="foo bar" b�r=10ms`, fooBar,
		with("foo_extracted", "foo bar", ErrorLabel, ErrLogfmtParser, ErrorDetailsLabel, "logfmt syntax error at pos 20 : invalid key"))
	f(`{x="y"} | logfmt`, `foo="foo bar" bu"zz=10ms`, fooBar, with("foo_extracted", "foo bar"))
	f(`{x="y"} | logfmt --strict`, `foo="foo bar" bu"zz=10ms`, fooBar,
		with("foo_extracted", "foo bar", ErrorLabel, ErrLogfmtParser, ErrorDetailsLabel, `logfmt syntax error at pos 17 : unexpected '"'`))
	f(`{x="y"} | logfmt`, `bar=bu=zz foo="foo bar"`, fooBar, with("foo_extracted", "foo bar"))
	f(`{x="y"} | logfmt --strict`, `bar=bu=zz foo="foo bar"`, fooBar,
		with(ErrorLabel, ErrLogfmtParser, ErrorDetailsLabel, `logfmt syntax error at pos 7 : unexpected '='`))
	f(`{x="y"} | logfmt`, `foo bar=buzz`, fooBar, with("bar", "buzz"))
	f(`{x="y"} | logfmt --keep-empty`, `foo bar=buzz`, fooBar, with("foo_extracted", "", "bar", "buzz"))
	f(`{x="y"} | logfmt`, `foo=b�r bar=buzz`, fooBar, with("bar", "buzz", "foo_extracted", "b r"))
}

func TestProcessDrop(t *testing.T) {
	f := processTest(t)
	// Entry labels, extracted labels, and only the matching ones.
	f(`{app="web"} | logfmt | drop env, level="info", msg=~"x.*"`, `level=info msg=hello`, stream, `level=info msg=hello`,
		labels.FromStrings("app", "web", "msg", "hello"))
	f(`{app="web"} | logfmt | drop level="info"`, `level=warn`, stream, `level=warn`,
		labels.FromStrings("app", "web", "env", "prod", "level", "warn"))
	// A dropped label is missing to later filters, and an absent one is "".
	f(`{app="web"} | drop env | env=""`, `x`, stream, `x`, labels.FromStrings("app", "web"))
	f(`{app="web"} | drop env | env="prod"`, `x`, stream, "", dropped)
	f(`{app="web"} | drop nope=""`, `x`, stream, `x`, stream)
	// Dropping __error__ clears the error with its details.
	f(`{app="web"} | json | drop __error__`, `level=info`, stream, `level=info`, stream)
	f(`{app="web"} | json | drop __error__="LogfmtParserErr"`, `level=info`, stream, `level=info`, labels.FromStrings(
		"app", "web", "env", "prod", ErrorLabel, ErrJSONParser,
		ErrorDetailsLabel, "Value looks like object, but can't find closing '}' symbol"))
	// A parser after a drop sets the label again.
	f(`{app="web"} | logfmt | drop level | logfmt`, `level=info`, stream, `level=info`,
		labels.FromStrings("app", "web", "env", "prod", "level", "info"))
}

package tempoapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sightline-dev/sightline/query/traceql"
)

// tag is one key=value pair of Tempo's legacy tag search.
type tag struct{ key, value string }

// parseTags decodes the tags parameter of a search: logfmt pairs
// (key=value, key="quoted value", or a bare key with an empty value), over
// one or more lines. It follows github.com/go-logfmt/logfmt's decoder, which
// Tempo uses (pkg/api/http.go), and returns Tempo's errors: "invalid tags:
// <msg> at pos <n>" (n is 1-based within the line) and "invalid tags: tag
// <key> has been set twice".
func parseTags(s string) ([]tag, error) {
	var tags []tag
	seen := map[string]bool{}
	for line := range strings.Lines(s) {
		line = strings.TrimSuffix(line, "\n")
		line = strings.TrimSuffix(line, "\r")
		pos := 0
		for {
			key, value, ok, err := scanPair(line, &pos)
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			if seen[key] {
				return nil, fmt.Errorf("invalid tags: tag %s has been set twice", key)
			}
			seen[key] = true
			tags = append(tags, tag{key, value})
		}
	}
	return tags, nil
}

func tagSyntaxError(msg string, pos int) error {
	return fmt.Errorf("invalid tags: %s at pos %d", msg, pos+1)
}

// scanPair reads the next pair of line from *pos; ok is false at the end
// of the line.
func scanPair(line string, pos *int) (key, value string, ok bool, err error) {
	// Skip blanks and control characters, as logfmt does.
	for *pos < len(line) && line[*pos] <= ' ' {
		*pos++
	}
	if *pos >= len(line) {
		return "", "", false, nil
	}
	start := *pos
	for *pos < len(line) {
		c := line[*pos]
		if c == '=' || c <= ' ' {
			break
		}
		if c == '"' {
			return "", "", false, tagSyntaxError(`unexpected '"'`, *pos)
		}
		*pos++
	}
	key = line[start:*pos]
	if key == "" { // a pair that starts with '='
		return "", "", false, tagSyntaxError(`unexpected '='`, *pos)
	}
	if !utf8.ValidString(key) {
		return "", "", false, tagSyntaxError("invalid key", *pos)
	}
	if *pos >= len(line) || line[*pos] != '=' {
		return key, "", true, nil // a bare key
	}
	*pos++ // the '='
	if *pos >= len(line) || line[*pos] <= ' ' {
		return key, "", true, nil
	}
	if line[*pos] == '"' {
		value, err = scanQuoted(line, pos)
		return key, value, err == nil, err
	}
	start = *pos
	for *pos < len(line) && line[*pos] > ' ' {
		if c := line[*pos]; c == '=' || c == '"' {
			return "", "", false, tagSyntaxError(fmt.Sprintf("unexpected %q", rune(c)), *pos)
		}
		*pos++
	}
	return key, line[start:*pos], true, nil
}

// scanQuoted reads the quoted value at *pos. As in logfmt, a value with a
// backslash is unquoted with JSON's rules, one without is taken as it is.
func scanQuoted(line string, pos *int) (string, error) {
	start := *pos
	esc, hasEsc := false, false
	for i := start + 1; i < len(line); i++ {
		switch c := line[i]; {
		case esc:
			esc = false
		case c == '\\':
			esc, hasEsc = true, true
		case c == '"':
			*pos = i + 1
			if !hasEsc {
				return line[start+1 : i], nil
			}
			var v string
			if err := json.Unmarshal([]byte(line[start:*pos]), &v); err != nil {
				return "", tagSyntaxError("invalid quoted value", *pos)
			}
			return v, nil
		}
	}
	*pos = len(line)
	return "", tagSyntaxError("unterminated quoted value", *pos)
}

// Tempo's legacy search matches these tags by substring
// (tempodb/encoding/vparquet4/block_search.go: they have their own parquet
// columns and a SubstringPredicate), each with the TraceQL field holding
// the value.
var substringTags = map[string]traceql.Field{
	"root.name":          {Intrinsic: traceql.IntrinsicRootName},
	"root.service.name":  {Intrinsic: traceql.IntrinsicRootServiceName},
	"name":               {Intrinsic: traceql.IntrinsicName},
	"service.name":       {Scope: traceql.ScopeResource, Name: "service.name"},
	"cluster":            {Scope: traceql.ScopeResource, Name: "cluster"},
	"namespace":          {Scope: traceql.ScopeResource, Name: "namespace"},
	"pod":                {Scope: traceql.ScopeResource, Name: "pod"},
	"container":          {Scope: traceql.ScopeResource, Name: "container"},
	"k8s.cluster.name":   {Scope: traceql.ScopeResource, Name: "k8s.cluster.name"},
	"k8s.namespace.name": {Scope: traceql.ScopeResource, Name: "k8s.namespace.name"},
	"k8s.pod.name":       {Scope: traceql.ScopeResource, Name: "k8s.pod.name"},
	"k8s.container.name": {Scope: traceql.ScopeResource, Name: "k8s.container.name"},
	"http.method":        {Scope: traceql.ScopeSpan, Name: "http.method"},
	"http.url":           {Scope: traceql.ScopeSpan, Name: "http.url"},
}

// tagsQuery translates a legacy tag search into TraceQL with Tempo's
// semantics: every tag must hold for some span of the trace (not
// necessarily the same span), so each becomes its own spanset filter,
// joined by &&. The well-known tags above match by substring; status.code
// takes unset, ok or error; a numeric http.status_code compares as a
// number; any other tag matches a span or resource attribute with exactly
// that string value. minDur and maxDur (0 for none) bound the trace's
// duration. No tags and no durations is {}, every trace.
func tagsQuery(tags []tag, minDur, maxDur time.Duration) (string, error) {
	var filters []string
	for _, t := range tags {
		// The store keeps text as valid UTF-8 (invalid bytes become U+FFFD),
		// and TraceQL regexps need it.
		key := strings.ToValidUTF8(t.key, "\uFFFD")
		value := strings.ToValidUTF8(t.value, "\uFFFD")
		var cond string
		switch f, ok := substringTags[key]; {
		case ok:
			cond = f.String() + " =~ " + strconv.Quote(".*"+regexp.QuoteMeta(value)+".*")
		case key == "status.code":
			switch v := strings.ToLower(value); v {
			case "unset", "ok", "error":
				cond = "status = " + v
			default:
				return "", fmt.Errorf("invalid tags: status.code must be unset, ok or error, not %q", t.value)
			}
		case key == "http.status_code" && isInt(value):
			cond = "span.http.status_code = " + value
		default:
			// Unscoped: the span's attribute, else the resource's, as Tempo
			// looks in both.
			cond = traceql.Field{Name: key}.String() + " = " + strconv.Quote(value)
		}
		filters = append(filters, "{ "+cond+" }")
	}
	var durs []string
	if minDur > 0 {
		durs = append(durs, fmt.Sprintf("traceDuration >= %dns", minDur.Nanoseconds()))
	}
	if maxDur > 0 {
		durs = append(durs, fmt.Sprintf("traceDuration <= %dns", maxDur.Nanoseconds()))
	}
	if len(durs) > 0 {
		filters = append(filters, "{ "+strings.Join(durs, " && ")+" }")
	}
	if len(filters) == 0 {
		return "{}", nil
	}
	return strings.Join(filters, " && "), nil
}

// isInt reports whether s is a decimal integer, as Tempo's strconv.Atoi
// test of http.status_code.
func isInt(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

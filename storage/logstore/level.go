package logstore

import "strings"

// Levels are the values of the detected_level stream label, Loki's: what
// Grafana colours lines by and splits the log volume by.
const (
	LevelTrace    = "trace"
	LevelDebug    = "debug"
	LevelInfo     = "info"
	LevelWarn     = "warn"
	LevelError    = "error"
	LevelCritical = "critical"
	LevelFatal    = "fatal"
	LevelUnknown  = "unknown"
)

// DetectedLevelLabel names the stream label every record answers with its
// level, as Loki's distributors add it (discover_log_levels).
const DetectedLevelLabel = "detected_level"

// DetectedLevel is r's level, as Loki detects it at ingest: from the OTLP
// severity number (1-4 trace, 5-8 debug, 9-12 info, 13-16 warn, 17-20
// error, 21-24 fatal), else from the severity text (TRACE, DEBUG2, Info,
// WARNING, err, CRIT, ...), else from an attribute level, lvl or severity
// (Loki's structured metadata of those names), else from the line: the
// level, lvl or severity field of a JSON object or of logfmt, or else the
// first level word of the text (INFO, warn, Error:, ...); unknown when none
// of these says.
func DetectedLevel(r *Record) string {
	if l, ok := severityLevel(r.SeverityNumber, r.SeverityText); ok {
		return l
	}
	return recordLevel(r)
}

// severityNumberLevels are the levels of the OTLP severity numbers 1 to
// 24, four numbers each.
var severityNumberLevels = [...]string{LevelTrace, LevelDebug, LevelInfo, LevelWarn, LevelError, LevelFatal}

// severityNumberLevel is the level of an OTLP severity number, if it is
// one.
func severityNumberLevel(n int32) (string, bool) {
	if n >= 1 && n <= 24 {
		return severityNumberLevels[(n-1)/4], true
	}
	return "", false
}

// severityLevel is the level of an OTLP severity, if it names one.
func severityLevel(num int32, text string) (string, bool) {
	if l, ok := severityNumberLevel(num); ok {
		return l, true
	}
	if text != "" {
		return levelName(text, true)
	}
	return "", false
}

// recordLevel is the level of a record without a severity that names one:
// from its level attributes or its line.
func recordLevel(r *Record) string {
	for _, kv := range r.Attributes {
		if isLevelKey(kv.Key) {
			if l, ok := levelName(kv.Value, true); ok {
				return l
			}
		}
	}
	return lineLevel(r.Body)
}

// lineLevel is the level a line states: its JSON or logfmt level field,
// else its first level word.
func lineLevel(line string) string {
	t := strings.TrimLeft(line, " \t\r\n")
	var field string
	var ok bool
	if strings.HasPrefix(t, "{") {
		field, ok = jsonLevelField(t)
	} else if strings.IndexByte(t, '=') > 0 {
		field, ok = logfmtLevelField(t)
	}
	if ok {
		if l, ok := levelName(field, true); ok {
			return l
		}
	}
	return wordLevel(line)
}

// isLevelKey reports whether a field named key states a level: level, lvl
// or severity in any case, as the fields Loki looks at.
func isLevelKey(key string) bool {
	return strings.EqualFold(key, "level") || strings.EqualFold(key, "lvl") || strings.EqualFold(key, "severity")
}

// levelName maps a level as programs write it to a Level: any case, with
// OTLP's trailing digit (INFO2, ERROR4). field says s is a whole field
// value, where more names are taken (notice, emerg, E...) than as words of
// a line, where they would mostly be words of the message.
func levelName(s string, field bool) (string, bool) {
	if len(s) == 0 || len(s) > 13 {
		return "", false
	}
	var buf [13]byte
	b := buf[:len(s)]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	if n := len(b); n > 1 && b[n-1] >= '1' && b[n-1] <= '4' {
		b = b[:n-1]
	}
	switch string(b) {
	case "debug", "dbg":
		return LevelDebug, true
	case "info", "inf":
		return LevelInfo, true
	case "warn", "warning", "wrn":
		return LevelWarn, true
	case "error", "err", "eror":
		return LevelError, true
	case "critical", "crit":
		return LevelCritical, true
	case "fatal", "panic":
		return LevelFatal, true
	}
	if !field {
		return "", false
	}
	switch string(b) {
	case "trace", "trc", "t": // in a line, mostly trace IDs and stack traces
		return LevelTrace, true
	case "d":
		return LevelDebug, true
	case "i", "information", "informational", "notice":
		return LevelInfo, true
	case "w":
		return LevelWarn, true
	case "e", "alert":
		return LevelError, true
	case "c":
		return LevelCritical, true
	case "f", "emerg", "emergency":
		return LevelFatal, true
	}
	return "", false
}

// wordLevel is the level named by the first level word of line (a run of
// letters, digits and underscores between other characters): "2024-05-01
// WARN disk almost full", "[error] open failed", "Info: started".
func wordLevel(line string) string {
	for w := range strings.FieldsFuncSeq(line, notLevelWordRune) {
		// Level words are 3 ("err") to 8 ("critical") letters, and a digit.
		if len(w) >= 3 && len(w) <= 9 {
			if l, ok := levelName(w, false); ok {
				return l
			}
		}
	}
	return LevelUnknown
}

// notLevelWordRune separates the words of a line for wordLevel: unlike
// the tokenizer's words, underscores join words, so that trace_id or
// err_count are not level words.
func notLevelWordRune(c rune) bool {
	return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_')
}

// jsonLevelField returns the string value of the first top-level level,
// lvl or severity field of the JSON object s (which starts with '{'); ok is
// false when it has none, or is not JSON as far as it was read.
func jsonLevelField(s string) (string, bool) {
	i := 1
	for {
		i = skipJSONSpace(s, i)
		if i >= len(s) || s[i] != '"' {
			return "", false // '}', or not an object
		}
		key, next, ok := jsonString(s, i)
		if !ok {
			return "", false
		}
		i = skipJSONSpace(s, next)
		if i >= len(s) || s[i] != ':' {
			return "", false
		}
		i = skipJSONSpace(s, i+1)
		if i < len(s) && s[i] == '"' && isLevelKey(key) {
			v, _, ok := jsonString(s, i)
			return v, ok
		}
		if i = skipJSONValue(s, i); i < 0 {
			return "", false
		}
		i = skipJSONSpace(s, i)
		if i >= len(s) || s[i] != ',' {
			return "", false
		}
		i++
	}
}

func skipJSONSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// jsonString reads the string that starts at s[i] (a '"'), returning it
// with its escapes as written (level values have none) and the index
// after it.
func jsonString(s string, i int) (string, int, bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return s[i+1 : j], j + 1, true
		}
	}
	return "", 0, false
}

// skipJSONValue returns the index after the value at s[i], -1 if it ends
// first.
func skipJSONValue(s string, i int) int {
	depth := 0
	for i < len(s) {
		switch s[i] {
		case '"':
			_, next, ok := jsonString(s, i)
			if !ok {
				return -1
			}
			i = next
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object: a literal ended here
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return -1
}

// logfmtLevelField returns the value of the first level, lvl or severity
// key of the logfmt line s, quoted or bare.
func logfmtLevelField(s string) (string, bool) {
	for i := 0; i < len(s); {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		k := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' {
			i++
		}
		key := s[k:i]
		if i >= len(s) || s[i] != '=' {
			continue // a bare key, or the end
		}
		i++ // '='
		v := i
		if i < len(s) && s[i] == '"' {
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			if isLevelKey(key) && i < len(s) {
				return s[v+1 : i], true
			}
			i++
			continue
		}
		for i < len(s) && s[i] != ' ' {
			i++
		}
		if isLevelKey(key) {
			return s[v:i], true
		}
	}
	return "", false
}

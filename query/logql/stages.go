package logql

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
)

// The stages of Loki's pipeline beyond json, logfmt, line_format and drop:
// label_format, keep, decolorize, regexp, pattern, unpack, the json and
// logfmt stages with parameters, and pattern line filters.

// LabelFormat is `| label_format dst="{{ template }}", new=old`: in order,
// each assignment either renames a label (when it exists) or renders a
// template over the entry's labels, as they were when the stage's first
// template ran. A label set this way replaces any label of that name,
// stream labels included.
type LabelFormat struct {
	Formats []LabelFmt
}

// LabelFmt is one assignment of a LabelFormat: Rename moves the label
// named Value to Name; otherwise Value is a template.
type LabelFmt struct {
	Name   string
	Value  string
	Rename bool
	tmpl   *lineTemplate
}

func (s *LabelFormat) String() string {
	var sb strings.Builder
	sb.WriteString("| label_format ")
	for i, f := range s.Formats {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(f.Name + "=")
		if f.Rename {
			sb.WriteString(f.Value)
		} else {
			sb.WriteString(strconv.Quote(f.Value))
		}
	}
	return sb.String()
}

func (s *LabelFormat) process(line string, b *labelsBuilder) (string, bool) {
	var data map[string]string // for templates
	for _, f := range s.Formats {
		if f.Rename {
			if v, ok := b.get(f.Value); ok {
				b.drop(f.Value)
				b.set(f.Name, v)
			}
			continue
		}
		if data == nil {
			data = b.templateData()
		}
		out, err := f.tmpl.execute(line, b.ts, data)
		if err != nil {
			b.setErr(ErrTemplateFormat, err.Error())
			continue
		}
		b.set(f.Name, out)
	}
	return line, true
}

// Keep is `| keep a, b="v"`: it removes every label but those listed
// (those given with a matcher only when their value matches). Pipeline
// errors are kept, as in Loki.
type Keep struct {
	Labels []DropLabel
}

func (k *Keep) String() string { return "| keep " + labelListString(k.Labels) }

func (k *Keep) process(line string, b *labelsBuilder) (string, bool) {
	b.labels().Range(func(l labels.Label) {
		if l.Name == ErrorLabel || l.Name == ErrorDetailsLabel {
			return
		}
		for _, kl := range k.Labels {
			if kl.Name == l.Name && (kl.Matcher == nil || kl.Matcher.Matches(l.Value)) {
				return
			}
		}
		b.drop(l.Name)
	})
	return line, true
}

// Decolorize is `| decolorize`: it strips ANSI colour and style sequences
// from the line.
type Decolorize struct{}

func (*Decolorize) String() string { return "| decolorize" }

var ansiRe = regexp.MustCompile("\x1b\\[[0-9;:?]*[ -/]*[@-~]")

func (*Decolorize) process(line string, _ *labelsBuilder) (string, bool) {
	if !strings.Contains(line, "\x1b") {
		return line, true
	}
	return ansiRe.ReplaceAllString(line, ""), true
}

// RegexpParser is `| regexp "(?P<name>re)"`: the named groups of the first
// match become labels; a line that does not match gets none.
type RegexpParser struct {
	Regexp string
	re     *regexp.Regexp
	names  []string // by group index, "" for unnamed groups
}

func (p *RegexpParser) String() string { return "| regexp " + strconv.Quote(p.Regexp) }

func (p *RegexpParser) process(line string, b *labelsBuilder) (string, bool) {
	m := p.re.FindStringSubmatchIndex(line)
	if m == nil {
		return line, true
	}
	for i, name := range p.names {
		if name == "" || m[2*i] < 0 {
			continue
		}
		b.setExtracted(name, line[m[2*i]:m[2*i+1]])
	}
	return line, true
}

// PatternParser is `| pattern "<ip> - <_> [<ts>] <msg>"`: captures are
// matched from the start of the line (or the previous literal) to the
// next literal (or the end of the line); <_> matches without extracting.
// A pattern that starts with a literal only matches lines that start with
// it; when a later literal is not found, the capture before it takes the
// rest of the line and matching stops.
type PatternParser struct {
	Pattern string
	parts   []patternPart
}

func (p *PatternParser) String() string { return "| pattern " + strconv.Quote(p.Pattern) }

func (p *PatternParser) process(line string, b *labelsBuilder) (string, bool) {
	extractPattern(p.parts, line, b.setExtracted)
	return line, true
}

// Unpack is `| unpack`: when a JSON object line has an _entry field (the
// reverse of Promtail's pack stage), that field becomes the line and the
// other string fields become labels; a line without _entry is kept as it
// is, without labels.
type Unpack struct{}

func (*Unpack) String() string { return "| unpack" }

func (*Unpack) process(line string, b *labelsBuilder) (string, bool) {
	dec := json.NewDecoder(strings.NewReader(line))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil || fields == nil {
		b.setErr(ErrJSONParser, errJSONMalformed.Error())
		return line, true
	}
	// Keys in line order, so that the first of two names that sanitise
	// alike wins as in the json stage.
	keys := jsonObjectKeys(line)
	raw, packed := fields["_entry"]
	var entry string
	if !packed || len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &entry) != nil {
		return line, true
	}
	for _, k := range keys {
		raw, ok := fields[k]
		if !ok || len(raw) == 0 || raw[0] != '"' {
			continue
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		if k != "_entry" {
			b.setExtracted(sanitizeLabelKey(k), v)
		}
	}
	return entry, true
}

// jsonObjectKeys lists the top-level keys of a valid JSON object in order.
func jsonObjectKeys(s string) []string {
	dec := json.NewDecoder(strings.NewReader(s))
	var keys []string
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}

// JSONExpression is one parameter of `| json name="path"`: Path is a JSON
// path such as `a.b[0]` or `["a.b"].c`.
type JSONExpression struct {
	Name string
	Path string
	keys []any // string field names and int array indexes
}

// JSONExprParser is `| json a="b.c", d="e[0]", f`: only the listed paths
// are extracted; strings unquoted, objects and arrays as their JSON text,
// and a path that is missing gives an empty label.
type JSONExprParser struct {
	Exprs []JSONExpression
}

func (p *JSONExprParser) String() string {
	parts := make([]string, len(p.Exprs))
	for i, e := range p.Exprs {
		parts[i] = e.Name + "=" + strconv.Quote(e.Path)
	}
	return "| json " + strings.Join(parts, ", ")
}

func (p *JSONExprParser) process(line string, b *labelsBuilder) (string, bool) {
	var root json.RawMessage
	if err := json.Unmarshal([]byte(line), &root); err != nil || len(root) == 0 || root[0] != '{' {
		b.setErr(ErrJSONParser, "")
		return line, true
	}
	for _, e := range p.Exprs {
		b.setExtracted(e.Name, jsonPathValue(root, e.keys))
	}
	return line, true
}

// jsonPathValue follows keys into raw; "" when the path does not exist.
func jsonPathValue(raw json.RawMessage, keys []any) string {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			var obj map[string]json.RawMessage
			if json.Unmarshal(raw, &obj) != nil {
				return ""
			}
			v, ok := obj[k]
			if !ok {
				return ""
			}
			raw = v
		case int:
			var arr []json.RawMessage
			if json.Unmarshal(raw, &arr) != nil || k < 0 || k >= len(arr) {
				return ""
			}
			raw = arr[k]
		}
	}
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return ""
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	}
	return string(raw)
}

// parseJSONPath parses a json stage parameter: fields separated by dots,
// ["quoted field"] and [index].
func parseJSONPath(path string) ([]any, bool) {
	var keys []any
	i := 0
	for i < len(path) {
		switch c := path[i]; {
		case c == '.':
			i++
			if i >= len(path) || path[i] == '.' || path[i] == '[' {
				return nil, false
			}
		case c == '[':
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				return nil, false
			}
			inner := path[i+1 : i+end]
			i += end + 1
			if n, err := strconv.Atoi(inner); err == nil {
				keys = append(keys, n)
				continue
			}
			if len(inner) >= 2 && (inner[0] == '"' || inner[0] == '\'') && inner[len(inner)-1] == inner[0] {
				keys = append(keys, inner[1:len(inner)-1])
				continue
			}
			return nil, false
		default:
			start := i
			for i < len(path) && path[i] != '.' && path[i] != '[' {
				i++
			}
			keys = append(keys, path[start:i])
		}
	}
	return keys, len(keys) > 0
}

// LogfmtExprParser is `| logfmt [--strict] [--keep-empty] a="key", b`:
// only the listed keys are extracted, under the given label names; a key
// that is missing, or has no value, gives an empty label.
type LogfmtExprParser struct {
	LogfmtParser
	Exprs []LogfmtExpression
}

// LogfmtExpression is one parameter of a LogfmtExprParser: the label Name
// gets the value of Key.
type LogfmtExpression struct {
	Name, Key string
}

func (p *LogfmtExprParser) String() string {
	parts := make([]string, len(p.Exprs))
	for i, e := range p.Exprs {
		parts[i] = e.Name + "=" + strconv.Quote(e.Key)
	}
	return p.LogfmtParser.String() + " " + strings.Join(parts, ", ")
}

func (p *LogfmtExprParser) process(line string, b *labelsBuilder) (string, bool) {
	want := make(map[string][]string, len(p.Exprs))
	for _, e := range p.Exprs {
		want[e.Key] = append(want[e.Key], e.Name)
	}
	var found []string
	d := logfmtDecoder{line: line}
	for !d.eol() {
		if !d.scan() {
			if p.Strict {
				break
			}
			continue
		}
		names, ok := want[d.key]
		if !ok {
			continue
		}
		for _, n := range names {
			b.setExtracted(n, d.value)
			found = append(found, n)
		}
		delete(want, d.key)
	}
	for _, e := range p.Exprs {
		if !slices.Contains(found, e.Name) {
			b.setExtracted(e.Name, "")
		}
	}
	if p.Strict && d.err != nil {
		b.setErr(ErrLogfmtParser, d.err.Error())
	}
	return line, true
}

// PatternFilter is `|> "<_> error <_>"` or `!> "..."`: it keeps lines that
// match any (for !>, none) of the patterns, which have unnamed captures
// only. A line matches when the literals are found in order, each capture
// matches at least one character, and nothing is left after a final
// literal.
type PatternFilter struct {
	Negate   bool
	Patterns []string
	parts    [][]patternPart
}

func (f *PatternFilter) String() string {
	op := "|>"
	if f.Negate {
		op = "!>"
	}
	parts := make([]string, len(f.Patterns))
	for i, p := range f.Patterns {
		parts[i] = strconv.Quote(p)
	}
	return op + " " + strings.Join(parts, " or ")
}

func (f *PatternFilter) process(line string, _ *labelsBuilder) (string, bool) {
	for _, p := range f.parts {
		if testPattern(p, line) {
			return line, !f.Negate
		}
	}
	return line, f.Negate
}

// patternPart is a literal or, when capture is set, a capture named name
// ("_" for <_>).
type patternPart struct {
	capture bool
	text    string
}

// parsePattern splits a pattern into literals and captures. Captures are
// <name> with name a label name; two captures in a row are an error, and so
// is, for the pattern parser, a pattern without a named capture and, for
// a line filter, one with a named capture, as in Loki.
func parsePattern(s string, filter bool) ([]patternPart, string) {
	var parts []patternPart
	var lit strings.Builder
	named := map[string]bool{}
	for i := 0; i < len(s); {
		if s[i] == '<' {
			end := strings.IndexByte(s[i:], '>')
			if end > 1 && isLabelName(s[i+1:i+end]) {
				name := s[i+1 : i+end]
				if lit.Len() > 0 {
					parts = append(parts, patternPart{text: lit.String()})
					lit.Reset()
				}
				if n := len(parts); n > 0 && parts[n-1].capture {
					return nil, "found consecutive capture '" + name + "'"
				}
				if name != "_" {
					if filter {
						return nil, "only unnamed captures <_> are allowed in a line filter pattern"
					}
					if named[name] {
						return nil, "duplicate capture name (" + name + ")"
					}
					named[name] = true
				}
				parts = append(parts, patternPart{capture: true, text: name})
				i += end + 1
				continue
			}
		}
		lit.WriteByte(s[i])
		i++
	}
	if lit.Len() > 0 {
		parts = append(parts, patternPart{text: lit.String()})
	}
	if !filter && len(named) == 0 {
		return nil, "at least one capture is required"
	}
	return parts, ""
}

func isLabelName(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

// extractPattern calls capture for each named capture of parts that the
// line gives a value (see PatternParser).
func extractPattern(parts []patternPart, line string, capture func(name, value string)) {
	if line == "" || len(parts) == 0 {
		return
	}
	rest := line
	if !parts[0].capture {
		if !strings.HasPrefix(rest, parts[0].text) {
			return
		}
		rest, parts = rest[len(parts[0].text):], parts[1:]
	}
	// Captures and literals alternate from here.
	for i := 0; i < len(parts); i += 2 {
		name := parts[i].text
		value, found := rest, false
		if i+1 < len(parts) {
			lit := parts[i+1].text
			if j := strings.Index(rest, lit); j >= 0 {
				value, rest, found = rest[:j], rest[j+len(lit):], true
			}
		}
		if name != "_" {
			capture(name, value)
		}
		if !found {
			return
		}
	}
}

// testPattern reports whether a line matches a line filter pattern (see
// PatternFilter); an empty line matches only the empty pattern.
func testPattern(parts []patternPart, line string) bool {
	if line == "" || len(parts) == 0 {
		return line == "" && len(parts) == 0
	}
	off := 0
	for i, p := range parts {
		if p.capture {
			continue
		}
		j := strings.Index(line[off:], p.text)
		if j < 0 || (i > 0 && j == 0) { // not found, or an empty capture before it
			return false
		}
		off += j + len(p.text)
	}
	endsOnCapture := parts[len(parts)-1].capture
	return endsOnCapture == (off < len(line))
}

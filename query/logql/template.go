package logql

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxTemplateRepeat bounds repeat, alignLeft and alignRight so that one
// template cannot turn each line into gigabytes.
const maxTemplateRepeat = 1 << 20

// lineTemplate is a compiled line_format template. Loki's __line__ and
// __timestamp__ functions need the current entry, which text/template can
// only give through closures, so each concurrent user takes its own parsed
// instance from a pool.
type lineTemplate struct {
	pool sync.Pool // of *templateInstance
}

type templateInstance struct {
	t    *template.Template
	line string
	ts   time.Time
	buf  bytes.Buffer
}

func newLineTemplate(src string) (*lineTemplate, error) {
	inst, err := newTemplateInstance(src)
	if err != nil {
		return nil, err
	}
	lt := &lineTemplate{}
	lt.pool.New = func() any {
		i, err := newTemplateInstance(src)
		if err != nil {
			panic("BUG: line template parsed once and failed the second time: " + err.Error())
		}
		return i
	}
	lt.pool.Put(inst)
	return lt, nil
}

func newTemplateInstance(src string) (*templateInstance, error) {
	inst := &templateInstance{}
	funcs := template.FuncMap{
		"__line__":      func() string { return inst.line },
		"__timestamp__": func() time.Time { return inst.ts },
	}
	for k, v := range templateFuncs {
		funcs[k] = v
	}
	t, err := template.New("line").Option("missingkey=zero").Funcs(funcs).Parse(src)
	if err != nil {
		return nil, err
	}
	inst.t = t
	return inst, nil
}

// execute renders the template over data; errors are template runtime
// errors, which Loki turns into __error__="TemplateFormatErr".
func (lt *lineTemplate) execute(line string, ts time.Time, data map[string]string) (string, error) {
	inst := lt.pool.Get().(*templateInstance)
	defer lt.pool.Put(inst)
	inst.line, inst.ts = line, ts
	inst.buf.Reset()
	err := inst.t.Execute(&inst.buf, data)
	inst.line = ""
	if err != nil {
		return "", err
	}
	return inst.buf.String(), nil
}

var templateFuncs = template.FuncMap{
	// Loki's own functions.
	"ToLower":    strings.ToLower,
	"ToUpper":    strings.ToUpper,
	"Replace":    strings.Replace,
	"Trim":       strings.Trim,
	"TrimLeft":   strings.TrimLeft,
	"TrimRight":  strings.TrimRight,
	"TrimPrefix": strings.TrimPrefix,
	"TrimSuffix": strings.TrimSuffix,
	"TrimSpace":  strings.TrimSpace,
	"regexReplaceAll": func(re, s, repl string) (string, error) {
		r, err := regexp.Compile(re)
		if err != nil {
			return "", err
		}
		return r.ReplaceAllString(s, repl), nil
	},
	"regexReplaceAllLiteral": func(re, s, repl string) (string, error) {
		r, err := regexp.Compile(re)
		if err != nil {
			return "", err
		}
		return r.ReplaceAllLiteralString(s, repl), nil
	},
	"count": func(re, s string) (int, error) {
		r, err := regexp.Compile(re)
		if err != nil {
			return 0, err
		}
		return len(r.FindAllStringIndex(s, -1)), nil
	},
	"urldecode":  url.QueryUnescape,
	"urlencode":  url.QueryEscape,
	"b64dec":     base64Decode,
	"alignLeft":  alignLeft,
	"alignRight": alignRight,
	// The Sprig functions Loki exposes that are cheap to provide.
	"lower":      strings.ToLower,
	"upper":      strings.ToUpper,
	"title":      title,
	"trunc":      trunc,
	"substr":     substr,
	"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
	"hasPrefix":  func(prefix, s string) bool { return strings.HasPrefix(s, prefix) },
	"hasSuffix":  func(suffix, s string) bool { return strings.HasSuffix(s, suffix) },
	"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	"repeat":     repeat,
	"trim":       strings.TrimSpace,
	"trimAll":    func(cutset, s string) string { return strings.Trim(s, cutset) },
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
	"b64enc":     func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"default":    defaultValue,
	"indent":     indent,
	"nindent":    func(n int, s string) string { return "\n" + indent(n, s) },
	"fromJson":   fromJSON,
}

func init() {
	// Added here: they refer to templateFuncs' neighbours in template_funcs.go.
	for k, v := range numberTimeFuncs {
		templateFuncs[k] = v
	}
}

func base64Decode(v string) string {
	if r := len(v) % 4; r != 0 && r != 1 {
		v += strings.Repeat("=", 4-r)
	}
	data, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return err.Error()
	}
	return string(data)
}

func alignLeft(count int, s string) (string, error) {
	if count < 0 || count > maxTemplateRepeat {
		return "", fmt.Errorf("alignLeft: width %d out of range", count)
	}
	n := utf8.RuneCountInString(s)
	if n < count {
		return s + strings.Repeat(" ", count-n), nil
	}
	return string([]rune(s)[:count]), nil
}

func alignRight(count int, s string) (string, error) {
	if count < 0 || count > maxTemplateRepeat {
		return "", fmt.Errorf("alignRight: width %d out of range", count)
	}
	n := utf8.RuneCountInString(s)
	if n < count {
		return strings.Repeat(" ", count-n) + s, nil
	}
	r := []rune(s)
	return string(r[n-count:]), nil
}

// title upper-cases the first letter of every word.
func title(s string) string {
	var sb strings.Builder
	prev := ' '
	for _, r := range s {
		if unicode.IsSpace(prev) || unicode.IsPunct(prev) {
			sb.WriteRune(unicode.ToTitle(r))
		} else {
			sb.WriteRune(r)
		}
		prev = r
	}
	return sb.String()
}

// trunc keeps the first n characters, or for negative n the last -n, like
// Loki's trunc.
func trunc(n int, s string) string {
	r := []rune(s)
	switch {
	case n < 0 && len(r)+n > 0:
		return string(r[len(r)+n:])
	case n < 0:
		return s
	case n < len(r):
		return string(r[:n])
	}
	return s
}

// substr is Loki's substring, in characters, without panics on out-of-range bounds.
func substr(start, end int, s string) string {
	r := []rune(s)
	if start < 0 {
		start = 0
	}
	if end < 0 || end > len(r) {
		end = len(r)
	}
	if start > end {
		return ""
	}
	return string(r[start:end])
}

func repeat(n int, s string) (string, error) {
	if n < 0 || (len(s) > 0 && n > maxTemplateRepeat/len(s)) {
		return "", errors.New("repeat: result too large")
	}
	return strings.Repeat(s, n), nil
}

func defaultValue(def any, given ...any) any {
	if len(given) == 0 || given[0] == nil {
		return def
	}
	if s, ok := given[0].(string); ok && s == "" {
		return def
	}
	return given[0]
}

package logql

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting the json stage follows, so a hostile line
// cannot exhaust the stack.
const maxJSONDepth = 512

var (
	errJSONNotObject   = errors.New("Value looks like object, but can't find closing '}' symbol")
	errJSONMalformed   = errors.New("Malformed JSON error")
	errJSONString      = errors.New("Value is string, but can't find closing '\"' symbol")
	errJSONArray       = errors.New("Value is array, but can't find closing ']' symbol")
	errJSONValue       = errors.New("Value looks like Number/Boolean/None, but can't find its end: ',' or '}' symbol")
	errJSONTooDeep     = errors.New("JSON nesting too deep")
	duplicateSuffix    = "_extracted"
	jsonPathSeparator  = "_"
	jsonScalarEndChars = ",}] \t\r\n"
)

// parseJSON extracts the fields of a JSON object line into b, like Loki's
// json stage: scalars become labels (strings unescaped, numbers as
// written, booleans as true/false), null and arrays are skipped, nested
// objects are flattened with "_". Labels found before a syntax error are
// kept; the error marks the line with __error__="JSONParserErr".
func parseJSON(line string, b *labelsBuilder) {
	s := &jsonScanner{in: line, b: b}
	s.skipWS()
	if s.i >= len(s.in) || s.in[s.i] != '{' {
		b.setErr(ErrJSONParser, errJSONNotObject.Error())
		return
	}
	if err := s.object(nil); err != nil {
		b.setErr(ErrJSONParser, err.Error())
	}
}

type jsonScanner struct {
	in   string
	i    int
	b    *labelsBuilder
	path []string
}

func (s *jsonScanner) skipWS() {
	for s.i < len(s.in) {
		switch s.in[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object parses the object at s.i (which is '{'); path holds the keys of
// the enclosing objects.
func (s *jsonScanner) object(path []string) error {
	if len(path) >= maxJSONDepth {
		return errJSONTooDeep
	}
	s.i++ // {
	s.skipWS()
	if s.i < len(s.in) && s.in[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.skipWS()
		if s.i >= len(s.in) || s.in[s.i] != '"' {
			return errJSONNotObject
		}
		rawKey, err := s.str()
		if err != nil {
			return err
		}
		key, ok := jsonUnescape(rawKey)
		if !ok {
			key = rawKey
		}
		s.skipWS()
		if s.i >= len(s.in) || s.in[s.i] != ':' {
			return errJSONMalformed
		}
		s.i++
		s.skipWS()
		if s.i >= len(s.in) {
			return errJSONMalformed
		}
		switch c := s.in[s.i]; {
		case c == '"':
			raw, err := s.str()
			if err != nil {
				return err
			}
			v, ok := jsonUnescape(raw)
			if !ok {
				v = "" // as Loki: an undecodable string is an empty value
			}
			if strings.ContainsRune(v, utf8.RuneError) {
				v = strings.Map(replaceRuneError, v)
			}
			s.set(path, key, v)
		case c == '{':
			if err := s.object(append(path, key)); err != nil {
				return err
			}
		case c == '[':
			if err := s.skipArray(len(path)); err != nil {
				return err
			}
		case c == 't' || c == 'f' || c == 'n':
			word := s.scalar()
			switch word {
			case "true", "false":
				s.set(path, key, word)
			case "null":
			default:
				return errJSONValue
			}
		case c == '-' || (c >= '0' && c <= '9'):
			num := s.scalar()
			if _, err := strconv.ParseFloat(num, 64); err != nil && !errors.Is(err, strconv.ErrRange) {
				return errJSONValue
			}
			s.set(path, key, num)
		default:
			return errJSONValue
		}
		s.skipWS()
		if s.i >= len(s.in) {
			return errJSONNotObject
		}
		switch s.in[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errJSONNotObject
		}
	}
}

// str returns the raw contents of the string at s.i (which is '"').
func (s *jsonScanner) str() (string, error) {
	start := s.i + 1
	for j := start; j < len(s.in); j++ {
		switch s.in[j] {
		case '\\':
			j++
		case '"':
			s.i = j + 1
			return s.in[start:j], nil
		}
	}
	return "", errJSONString
}

func (s *jsonScanner) scalar() string {
	start := s.i
	for s.i < len(s.in) && !strings.ContainsRune(jsonScalarEndChars, rune(s.in[s.i])) {
		s.i++
	}
	return s.in[start:s.i]
}

// skipArray skips the array at s.i, checking brackets and strings only.
func (s *jsonScanner) skipArray(depth int) error {
	level := 0
	for s.i < len(s.in) {
		switch s.in[s.i] {
		case '"':
			if _, err := s.str(); err != nil {
				return err
			}
			continue
		case '[', '{':
			level++
			if depth+level > maxJSONDepth {
				return errJSONTooDeep
			}
		case ']', '}':
			level--
			if level == 0 {
				s.i++
				return nil
			}
		}
		s.i++
	}
	return errJSONArray
}

// set records a field as a label, with Loki's naming rules: keys are
// sanitised, nested keys joined with "_", a name that clashes with an entry
// label gets the "_extracted" suffix, and the first value of a name wins.
func (s *jsonScanner) set(path []string, key, value string) {
	var name string
	if len(path) == 0 {
		name = sanitizeLabelKey(key)
	} else {
		var sb []byte
		for _, part := range append(path, key) {
			if strings.TrimSpace(part) == "" {
				continue
			}
			if len(sb) > 0 {
				sb = append(sb, jsonPathSeparator...)
			}
			sb = appendSanitized(sb, part)
		}
		name = string(sb)
	}
	s.b.setExtracted(name, value)
}

func replaceRuneError(r rune) rune {
	if r == utf8.RuneError {
		return ' '
	}
	return r
}

// sanitizeLabelKey turns a field name into a label name as Loki does: trim
// blanks, prefix a leading digit with "_", replace every rune that is not
// [a-zA-Z0-9_] with "_".
func sanitizeLabelKey(key string) string {
	key = strings.TrimSpace(key)
	if key == "" {
		return ""
	}
	return string(appendSanitized(nil, key))
}

func appendSanitized(to []byte, key string) []byte {
	key = strings.TrimSpace(key)
	if key == "" {
		return to
	}
	if len(to) == 0 && key[0] >= '0' && key[0] <= '9' {
		to = append(to, '_')
	}
	for _, r := range key {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			to = append(to, byte(r))
		} else {
			to = append(to, '_')
		}
	}
	return to
}

// jsonUnescape decodes the escapes of a JSON string body; ok is false for
// an invalid escape.
func jsonUnescape(s string) (string, bool) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, true
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", false
		}
		switch s[i] {
		case '"', '\\', '/':
			sb.WriteByte(s[i])
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if r2, ok := hex4(s, i+3); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							sb.WriteRune(dec)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			sb.WriteRune(r)
		default:
			return "", false
		}
	}
	return sb.String(), true
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s[i:i+4], 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

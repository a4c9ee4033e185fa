package logql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// parseLogfmt extracts key=value pairs into b like Loki's logfmt stage.
// Without strict, malformed pairs are skipped; with strict, decoding stops
// at the first one and the line gets __error__="LogfmtParserErr". Keys
// without a value are dropped unless keepEmpty.
func parseLogfmt(line string, b *labelsBuilder, strict, keepEmpty bool) {
	d := logfmtDecoder{line: line}
	for !d.eol() {
		if !d.scan() {
			if strict {
				break
			}
			continue
		}
		key := sanitizeLabelKey(d.key)
		if key == "" {
			continue
		}
		if b.baseHas(key) {
			key += duplicateSuffix
		}
		val := d.value
		if strings.ContainsRune(val, utf8.RuneError) {
			val = strings.Map(replaceRuneError, val)
		}
		if !keepEmpty && val == "" {
			continue
		}
		b.setParsed(key, val)
	}
	if strict && d.err != nil {
		b.setErr(ErrLogfmtParser, d.err.Error())
	}
}

// logfmtDecoder decodes one logfmt line pair by pair. Its rules are those
// of go-logfmt as adapted by Loki: keys run up to '=' or a blank, values
// are bare (up to a blank) or double-quoted with JSON escapes.
type logfmtDecoder struct {
	line       string
	pos        int
	key, value string
	err        error
}

func (d *logfmtDecoder) eol() bool { return d.pos >= len(d.line) }

func (d *logfmtDecoder) syntaxError(msg string) {
	d.err = fmt.Errorf("logfmt syntax error at pos %d : %s", d.pos+1, msg)
}

func (d *logfmtDecoder) unexpected(c byte) { d.syntaxError(fmt.Sprintf("unexpected %q", c)) }

// skipValue moves past the rest of a malformed pair.
func (d *logfmtDecoder) skipValue() {
	for d.pos < len(d.line) && d.line[d.pos] > ' ' {
		d.pos++
	}
}

// scan decodes the next pair into key and value. It returns false at the
// end of the line and for a malformed pair (setting err).
func (d *logfmtDecoder) scan() bool {
	d.key, d.value = "", ""
	for d.pos < len(d.line) && d.line[d.pos] <= ' ' {
		d.pos++
	}
	if d.eol() {
		return false
	}
	start, multibyte := d.pos, false
	for ; d.pos < len(d.line); d.pos++ {
		c := d.line[d.pos]
		switch {
		case c == '=':
			if d.pos == start {
				d.unexpected(c)
				d.skipValue()
				return false
			}
			d.key = d.line[start:d.pos]
			if multibyte && strings.ContainsRune(d.key, utf8.RuneError) {
				d.syntaxError("invalid key")
				d.skipValue()
				return false
			}
			d.pos++
			return d.scanValue()
		case c == '"':
			d.unexpected(c)
			d.skipValue()
			return false
		case c <= ' ':
			return d.bareKey(start, multibyte)
		case c >= utf8.RuneSelf:
			multibyte = true
		}
	}
	return d.bareKey(start, multibyte)
}

// bareKey ends a key that has no '=': a key with an empty value.
func (d *logfmtDecoder) bareKey(start int, multibyte bool) bool {
	d.key = d.line[start:d.pos]
	if multibyte && strings.ContainsRune(d.key, utf8.RuneError) {
		d.key = ""
		d.syntaxError("invalid key")
		return false
	}
	return true
}

func (d *logfmtDecoder) scanValue() bool {
	if d.eol() {
		return true
	}
	switch c := d.line[d.pos]; {
	case c <= ' ':
		return true
	case c == '"':
		return d.quotedValue()
	}
	start := d.pos
	for ; d.pos < len(d.line); d.pos++ {
		c := d.line[d.pos]
		if c == '=' || c == '"' {
			d.unexpected(c)
			d.skipValue()
			return false
		}
		if c <= ' ' {
			break
		}
	}
	d.value = d.line[start:d.pos]
	return true
}

func (d *logfmtDecoder) quotedValue() bool {
	start := d.pos // the opening quote
	esc, hasEsc := false, false
	for p := start + 1; p < len(d.line); p++ {
		c := d.line[p]
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc, hasEsc = true, true
		case c == '"':
			d.pos = p + 1
			body := d.line[start+1 : p]
			if !hasEsc {
				d.value = body
				return true
			}
			v, ok := jsonUnescape(body)
			if !ok {
				d.syntaxError("invalid quoted value")
				return false
			}
			d.value = v
			return true
		}
	}
	d.pos = len(d.line)
	d.syntaxError("unterminated quoted value")
	return false
}

package logql

import (
	"regexp"
	"strings"
)

// template compiles the template of a line_format or label_format string.
func (p *parser) template(v token) (*lineTemplate, error) {
	tmpl, err := newLineTemplate(v.text)
	if err != nil {
		return nil, p.errorAt(v, "invalid template: %v", err)
	}
	return tmpl, nil
}

// parseParams parses the parameters of json and logfmt: `name` or
// `name="value"`, separated by commas. A bare name stands for itself.
func (p *parser) parseParams() (names, values []string, err error) {
	for {
		name, err := p.expect(tIdent, "IDENTIFIER")
		if err != nil {
			return nil, nil, err
		}
		value := name.text
		if p.peek().kind == tEq {
			p.next()
			v, err := p.expect(tString, "STRING")
			if err != nil {
				return nil, nil, err
			}
			value = v.text
		}
		names, values = append(names, name.text), append(values, value)
		if p.peek().kind != tComma {
			return names, values, nil
		}
		p.next()
	}
}

func (p *parser) parseJSONExprs() (Stage, error) {
	at := p.peek()
	names, paths, err := p.parseParams()
	if err != nil {
		return nil, err
	}
	j := &JSONExprParser{}
	for i, n := range names {
		keys, ok := parseJSONPath(paths[i])
		if !ok {
			return nil, p.errorAt(at, "invalid JSON expression %q", paths[i])
		}
		j.Exprs = append(j.Exprs, JSONExpression{Name: n, Path: paths[i], keys: keys})
	}
	return j, nil
}

func (p *parser) parseLogfmtExprs(lp *LogfmtParser) (Stage, error) {
	names, keys, err := p.parseParams()
	if err != nil {
		return nil, err
	}
	l := &LogfmtExprParser{LogfmtParser: *lp}
	for i, n := range names {
		l.Exprs = append(l.Exprs, LogfmtExpression{Name: n, Key: keys[i]})
	}
	return l, nil
}

// parseLabelFormat parses `dst="template"` and `dst=src` assignments; a
// label may be the target of one assignment only, as in Loki.
func (p *parser) parseLabelFormat() (Stage, error) {
	lf := &LabelFormat{}
	seen := map[string]bool{}
	for {
		name, err := p.expect(tIdent, "IDENTIFIER")
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tEq, "="); err != nil {
			return nil, err
		}
		if seen[name.text] {
			return nil, p.errorAt(name, "multiple label name '%s' not allowed in a single format operation", name.text)
		}
		if name.text == ErrorLabel {
			return nil, p.errorAt(name, "%s cannot be formatted", name.text)
		}
		seen[name.text] = true
		v := p.next()
		switch v.kind {
		case tIdent:
			lf.Formats = append(lf.Formats, LabelFmt{Name: name.text, Value: v.text, Rename: true})
		case tString:
			tmpl, err := p.template(v)
			if err != nil {
				return nil, err
			}
			lf.Formats = append(lf.Formats, LabelFmt{Name: name.text, Value: v.text, tmpl: tmpl})
		default:
			return nil, p.unexpected(v, "STRING or IDENTIFIER")
		}
		if p.peek().kind != tComma {
			return lf, nil
		}
		p.next()
	}
}

func (p *parser) parseRegexpStage() (Stage, error) {
	v, err := p.expect(tString, "STRING")
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(v.text)
	if err != nil {
		return nil, p.errorAt(v, "invalid regexp %q: %v", v.text, err)
	}
	names := re.SubexpNames()
	named := false
	for _, n := range names[1:] {
		if n == "" {
			continue
		}
		if !isLabelName(n) {
			return nil, p.errorAt(v, "invalid extracted label name '%s'", n)
		}
		named = true
	}
	if !named {
		return nil, p.errorAt(v, "at least one named capture must be supplied")
	}
	return &RegexpParser{Regexp: v.text, re: re, names: names}, nil
}

// parsePatternFilter parses |> "pattern" or !> "pattern" [or "pattern"...].
func (p *parser) parsePatternFilter() (Stage, error) {
	op := p.next()
	f := &PatternFilter{Negate: op.kind == tNotPat}
	for {
		v, err := p.expect(tString, "STRING")
		if err != nil {
			return nil, err
		}
		parts, msg := parsePattern(v.text, true)
		if msg != "" {
			return nil, p.errorAt(v, "invalid pattern %q: %s", v.text, msg)
		}
		f.Patterns = append(f.Patterns, v.text)
		f.parts = append(f.parts, parts)
		if isIdent(p.peek(), "or") && p.peekN(1).kind == tString {
			p.next()
			continue
		}
		return f, nil
	}
}

// parseIPCall parses ip("pattern").
func (p *parser) parseIPCall() (*ipMatcher, error) {
	p.next() // ip
	if _, err := p.expect(tLParen, "("); err != nil {
		return nil, err
	}
	v, err := p.expect(tString, "STRING")
	if err != nil {
		return nil, err
	}
	m, err := newIPMatcher(v.text)
	if err != nil {
		return nil, p.errorAt(v, "%s", err.Error())
	}
	if _, err := p.expect(tRParen, ")"); err != nil {
		return nil, err
	}
	return m, nil
}

// parseIPLineFilter parses the ip("...") [or ip("...")] of a line filter.
func (p *parser) parseIPLineFilter(op LineFilterOp) (Stage, error) {
	if op != LineContains && op != LineNotContains {
		return nil, p.unexpected(p.peek(), "STRING")
	}
	f := &IPLineFilter{Negate: op == LineNotContains}
	for {
		m, err := p.parseIPCall()
		if err != nil {
			return nil, err
		}
		f.IPs = append(f.IPs, m)
		if isIdent(p.peek(), "or") && isIdent(p.peekN(1), "ip") && p.peekN(2).kind == tLParen {
			p.next()
			continue
		}
		return f, nil
	}
}

func ipCallsString(ms []*ipMatcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, " or ")
}

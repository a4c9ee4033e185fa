package logql

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ipMatcher is the argument of ip(): one address ("192.168.0.1"), a CIDR
// range ("192.168.0.0/16", "::1/128") or an inclusive range
// ("192.168.0.1-192.168.0.10"), IPv4 or IPv6.
type ipMatcher struct {
	pattern  string
	prefix   netip.Prefix
	from, to netip.Addr // for a single address, from == to
}

func newIPMatcher(pattern string) (*ipMatcher, error) {
	m := &ipMatcher{pattern: pattern}
	s := strings.TrimSpace(pattern)
	switch {
	case strings.Contains(s, "/"):
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("invalid ip() CIDR %q: %v", pattern, err)
		}
		m.prefix = pf.Masked()
		return m, nil
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		from, err1 := netip.ParseAddr(strings.TrimSpace(a))
		to, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || from.Is4() != to.Is4() || to.Less(from) {
			return nil, fmt.Errorf("invalid ip() range %q", pattern)
		}
		m.from, m.to = from, to
		return m, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return nil, fmt.Errorf("invalid ip() address %q", pattern)
	}
	m.from, m.to = a, a
	return m, nil
}

func (m *ipMatcher) String() string { return "ip(" + strconv.Quote(m.pattern) + ")" }

func (m *ipMatcher) matches(a netip.Addr) bool {
	a = a.Unmap()
	if m.prefix.IsValid() {
		return m.prefix.Contains(a)
	}
	return a.Is4() == m.from.Is4() && !a.Less(m.from) && !m.to.Less(a)
}

// matchesString reports whether s is an address that matches.
func (m *ipMatcher) matchesString(s string) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	return err == nil && m.matches(a)
}

// IPLabelFilter is `| addr = ip("10.0.0.0/8")` (or !=): it keeps entries
// whose label is an address in (not in) the range.
type IPLabelFilter struct {
	Name   string
	Negate bool
	IP     *ipMatcher
}

func (f *IPLabelFilter) String() string {
	op := "="
	if f.Negate {
		op = "!="
	}
	return f.Name + op + f.IP.String()
}

func (f *IPLabelFilter) matches(b *labelsBuilder) bool {
	v, _ := b.get(f.Name)
	return f.IP.matchesString(v) != f.Negate
}

// IPLineFilter is `|= ip("...")` or `!= ip("...")`: it keeps lines that
// contain (do not contain) an address in one of the ranges.
type IPLineFilter struct {
	Negate bool
	IPs    []*ipMatcher
}

func (f *IPLineFilter) String() string {
	op := "|= "
	if f.Negate {
		op = "!= "
	}
	return op + ipCallsString(f.IPs)
}

func (f *IPLineFilter) process(line string, _ *labelsBuilder) (string, bool) {
	return line, lineHasIP(line, f.IPs) != f.Negate
}

func isIPChar(c byte) bool {
	return isDigit(c) || c == '.' || c == ':' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// lineHasIP looks at every run of address characters in line.
func lineHasIP(line string, ms []*ipMatcher) bool {
	for i := 0; i < len(line); {
		if !isIPChar(line[i]) {
			i++
			continue
		}
		j := i
		for j < len(line) && isIPChar(line[j]) {
			j++
		}
		run := strings.Trim(line[i:j], ".:")
		cands := []string{run}
		if strings.Contains(run, ".") && strings.Contains(run, ":") {
			cands = append(cands, strings.Split(run, ":")...) // 10.0.0.1:8080
		}
		for _, c := range cands {
			if a, err := netip.ParseAddr(c); err == nil {
				for _, m := range ms {
					if m.matches(a) {
						return true
					}
				}
			}
		}
		i = j
	}
	return false
}

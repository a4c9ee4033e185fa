package flagext

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Duration declares a flag of Prometheus' duration syntax (30s, 15d, 1w),
// defaulting to *p.
func Duration(fs *flag.FlagSet, p *time.Duration, name, usage string) {
	fs.Var((*duration)(p), name, usage)
}

type duration time.Duration

func (d *duration) String() string { return model.Duration(*d).String() }
func (d *duration) Set(s string) error {
	v, err := model.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: %w", s, err)
	}
	*d = duration(v)
	return nil
}

// Bytes declares a flag of a size in bytes (16MiB, 50GB), defaulting to
// *p. As in Prometheus' --storage.tsdb.retention.size, KB, MB and GB are
// powers of two like KiB, MiB and GiB; only SI's lowercase kB is 1000.
func Bytes[T ~int | ~int64](fs *flag.FlagSet, p *T, name, usage string) {
	fs.Var(&size[T]{p}, name, usage)
}

type size[T ~int | ~int64] struct{ p *T }

func (b *size[T]) String() string {
	if b.p == nil { // flag.isZeroValue makes one of the zero value
		return "0B"
	}
	return units.Base2Bytes(*b.p).String()
}

func (b *size[T]) Set(s string) error {
	v, err := units.ParseBase2Bytes(s)
	if err != nil {
		n, err2 := units.ParseMetricBytes(s)
		if err2 != nil {
			return fmt.Errorf("invalid size %q: %w", s, err)
		}
		v = units.Base2Bytes(n)
	}
	*b.p = T(v)
	return nil
}

// Strings declares a repeatable flag; each use appends to *p.
func Strings(fs *flag.FlagSet, p *[]string, name, usage string) {
	fs.Var((*stringList)(p), name, usage)
}

type stringList []string

func (s *stringList) String() string {
	if s == nil {
		return ""
	}
	return strings.Join(*s, ",")
}
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// ApplyYAML sets the flags of fs from a YAML mapping of flag names to
// values (a sequence for a repeatable flag), leaving alone the flags in
// skip, which were given on the command line and win over the file. A key
// that names no flag is an error.
func ApplyYAML(fs *flag.FlagSet, raw []byte, skip map[string]bool) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 { // an empty file
		return nil
	}
	m := doc.Content[0]
	if m.Kind == yaml.ScalarNode && m.ShortTag() == "!!null" { // "---" and nothing else
		return nil
	}
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of setting names to values", m.Line)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if fs.Lookup(k.Value) == nil {
			return fmt.Errorf("line %d: unknown setting %q", k.Line, k.Value)
		}
		if skip[k.Value] {
			continue
		}
		values := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			values = v.Content
		}
		for _, x := range values {
			if x.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: %s: want a value, not a mapping or nested list", x.Line, k.Value)
			}
			if err := fs.Set(k.Value, x.Value); err != nil {
				return fmt.Errorf("line %d: %s: %w", x.Line, k.Value, err)
			}
		}
	}
	return nil
}

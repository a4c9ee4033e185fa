package record

import (
	"strings"
	"unicode/utf8"
)

// Repairer replaces invalid UTF-8 with U+FFFD in the text it is given and
// remembers whether it did. The log and trace stores repair what they are
// sent with it: queries answer in JSON and protobuf, whose clients reject
// invalid UTF-8.
type Repairer struct{ Fixed bool }

// String repairs *s.
func (f *Repairer) String(s *string) {
	if !utf8.ValidString(*s) {
		*s = strings.ToValidUTF8(*s, "\uFFFD")
		f.Fixed = true
	}
}

// SharedKVs remembers the attribute slice repaired last. The records (or
// spans) of a request share their resource's slice, which the first repairs
// in place: the others skip it.
type SharedKVs struct{ last KVsID }

// KVs repairs kvs with f unless it is the slice repaired last; a nil s
// repairs every slice.
func (s *SharedKVs) KVs(f *Repairer, kvs []KV) {
	if s != nil {
		id := IDOf(kvs)
		if id == s.last && id != (KVsID{}) {
			return
		}
		s.last = id
	}
	f.KVs(kvs)
}

// KVs repairs keys and values (bytes values are base64 text already).
func (f *Repairer) KVs(kvs []KV) {
	for i := range kvs {
		f.String(&kvs[i].Key)
		if kvs[i].Type != TypeBytes {
			f.String(&kvs[i].Value)
		}
	}
}

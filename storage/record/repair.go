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

// KVs repairs keys and values (bytes values are base64 text already).
func (f *Repairer) KVs(kvs []KV) {
	for i := range kvs {
		f.String(&kvs[i].Key)
		if kvs[i].Type != TypeBytes {
			f.String(&kvs[i].Value)
		}
	}
}

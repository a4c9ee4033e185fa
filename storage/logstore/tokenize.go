package logstore

import (
	"fmt"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/registry"
)

// Log text is tokenised by a tokenizer of our own, registered with bleve so
// that indexing, bleve's query analysis and the per-record check all use it:
// a word is a run of ASCII letters and digits or of non-ASCII characters,
// lower-cased. Unicode word segmentation (bleve's "unicode" tokenizer) cost
// about 2.7 µs a token here, far too slow for 100k records/s; this is a
// byte loop.
const (
	tokenizerName  = "sightline_words"
	dropDigitsName = "sightline_drop_digits"
)

// indexAnalyzer is textAnalyzer without the tokens that start with a digit:
// order numbers, user IDs, durations ("4213ms") and sizes are nearly all
// unique, and indexing them made the full-text index ten times the size of
// the data. Queries for such tokens are relaxed to "every block" and
// checked record by record.
const indexAnalyzer = "sightline_index"

func init() {
	// bleve's analysis registry is global and filled at init, as bleve's own
	// analyzers are.
	if err := registry.RegisterTokenizer(tokenizerName, func(map[string]any, *registry.Cache) (analysis.Tokenizer, error) {
		return wordTokenizer{}, nil
	}); err != nil {
		panic(fmt.Sprintf("BUG: register tokenizer: %v", err))
	}
	if err := registry.RegisterTokenFilter(dropDigitsName, func(map[string]any, *registry.Cache) (analysis.TokenFilter, error) {
		return dropDigits{}, nil
	}); err != nil {
		panic(fmt.Sprintf("BUG: register token filter: %v", err))
	}
}

type wordTokenizer struct{}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// Tokenize cuts words out of a lower-cased copy of input; the tokens'
// terms share that copy.
func (wordTokenizer) Tokenize(input []byte) analysis.TokenStream {
	var out analysis.TokenStream
	pos := 1
	eachWord(input, nil, func(term []byte, start, end int) {
		term = term[:len(term):len(term)]
		typ := analysis.AlphaNumeric
		if term[0] >= '0' && term[0] <= '9' {
			typ = analysis.Numeric
		}
		out = append(out, &analysis.Token{Term: term, Start: start, End: end, Position: pos, Type: typ})
		pos++
	})
	return out
}

// eachWord calls fn with each word of input, lower-cased, and its byte
// range, using buf (if it has room) for the lower-cased copy; the words
// share it. The one definition of a word, for indexing, filters and the
// per-record check.
func eachWord[T string | []byte](input T, buf []byte, fn func(word []byte, start, end int)) []byte {
	// One pass that lowers and cuts, with a table for the byte classes:
	// on the flush path every byte of every record comes through here.
	lower := append(buf[:0], input...)
	for i := 0; i < len(lower); {
		if byteClass[lower[i]] == classSeparator {
			i++
			continue
		}
		start := i
		for ; i < len(lower); i++ {
			c := byteClass[lower[i]]
			if c == classSeparator {
				break
			}
			if c == classUpper {
				lower[i] += 'a' - 'A'
			}
		}
		fn(lower[start:i], start, i)
	}
	return lower
}

const (
	classSeparator = iota
	classWord
	classUpper // a word byte to lower
)

// byteClass classes bytes as isWordByte does.
var byteClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= 'A' && c <= 'Z':
			t[c] = classUpper
		case isWordByte(byte(c)):
			t[c] = classWord
		}
	}
	return t
}()

type dropDigits struct{}

func (dropDigits) Filter(ts analysis.TokenStream) analysis.TokenStream {
	out := ts[:0]
	for _, t := range ts {
		if t.Type != analysis.Numeric {
			out = append(out, t)
		}
	}
	return out
}

// isNumeric reports whether a term starts with a digit (not in the index).
func isNumeric(s string) bool {
	return s != "" && s[0] >= '0' && s[0] <= '9'
}

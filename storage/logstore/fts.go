package logstore

import (
	"encoding/hex"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/cespare/xxhash/v2"

	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/segment"
)

// The full-text index of a segment has one bleve document per block: the
// distinct values of each field over the block's records. A search asks
// bleve for the candidate blocks with a relaxed query (phrases become
// conjunctions of their terms, negations are dropped: a block may hold
// both matching and non-matching records) and then checks each record of
// the candidate blocks exactly with Matcher. One document per block instead
// of per record is what lets the index keep up with ingest.

// textAnalyzer tokenises text fields (body and attributes) for queries and
// for the per-record check: words in lower case, no stop words, so every
// word can be searched (see tokenize.go).
const textAnalyzer = "sightline_text"

// Field names of the index and of queries.
const (
	fieldBody           = "body"
	fieldSeverityText   = "severity_text"
	fieldSeverityNumber = "severity_number"
	fieldTraceID        = "trace_id"
	fieldSpanID         = "span_id"
	fieldScopeName      = "scope.name"
	fieldAll            = "_all"
)

// keywordFields are exact-match keys: not tokenised.
var keywordFields = []string{fieldTraceID, fieldSpanID, fieldSeverityText, fieldScopeName, "service.name", "service.namespace", "service.instance.id"}

// newIndexMapping is the mapping of every segment index.
func newIndexMapping() (*mapping.IndexMappingImpl, error) {
	im := bleve.NewIndexMapping()
	if err := im.AddCustomAnalyzer(textAnalyzer, map[string]any{
		"type":      custom.Name,
		"tokenizer": tokenizerName,
	}); err != nil {
		return nil, err
	}
	if err := im.AddCustomAnalyzer(indexAnalyzer, map[string]any{
		"type":          custom.Name,
		"tokenizer":     tokenizerName,
		"token_filters": []string{dropDigitsName},
	}); err != nil {
		return nil, err
	}
	im.DefaultAnalyzer = indexAnalyzer
	im.StoreDynamic = false
	im.DocValuesDynamic = false
	im.IndexDynamic = true
	dm := bleve.NewDocumentMapping()
	for _, f := range keywordFields {
		fm := bleve.NewKeywordFieldMapping()
		fm.Store, fm.IncludeTermVectors, fm.DocValues = false, false, false
		addField(dm, f, fm)
	}
	nm := bleve.NewNumericFieldMapping()
	nm.Store, nm.DocValues = false, false
	addField(dm, fieldSeverityNumber, nm)
	tm := bleve.NewTextFieldMapping()
	tm.Analyzer = indexAnalyzer
	tm.Store, tm.IncludeTermVectors, tm.DocValues = false, false, false
	addField(dm, fieldBody, tm)
	im.DefaultMapping = dm
	return im, nil
}

// addField maps a dotted field name through nested document mappings, the
// way bleve resolves paths.
func addField(dm *mapping.DocumentMapping, path string, fm *mapping.FieldMapping) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, ok := dm.Properties[p]
		if !ok {
			sub = bleve.NewDocumentMapping()
			dm.AddSubDocumentMapping(p, sub)
		}
		dm = sub
	}
	dm.AddFieldMappingsAt(parts[len(parts)-1], fm)
}

// fields are a record's searchable values by field name.
type fields map[string][]string

func recordFields(r *Record, f fields) {
	add := func(k, v string) {
		if v != "" {
			f[k] = append(f[k], v)
		}
	}
	add(fieldBody, r.Body)
	add(fieldSeverityText, r.SeverityText)
	if r.SeverityNumber != 0 {
		add(fieldSeverityNumber, strconv.Itoa(int(r.SeverityNumber)))
	}
	if r.HasTrace() {
		add(fieldTraceID, hex.EncodeToString(r.TraceID[:]))
	}
	if r.SpanID != ([8]byte{}) {
		add(fieldSpanID, hex.EncodeToString(r.SpanID[:]))
	}
	add(fieldScopeName, r.ScopeName)
	for _, kv := range r.Resource {
		add(kv.Key, kv.Value)
	}
	for _, kv := range r.Attributes {
		add(kv.Key, kv.Value)
	}
}

// blockTerms are what a block can be found by: per keyword field its
// distinct values, per text field its distinct indexed words (tokenised
// once, here), and the severity numbers. They make both the block's token
// filter and, in segments with a full-text index, its bleve document
// (bleve's analyzer gives back the same words). Trace and span IDs are
// left out: unique per trace or record, they would be most of the index,
// and the trace-ID index answers them already.
type blockTerms struct {
	values map[string]map[string]struct{}
	words  map[string]map[string]struct{}
	nums   map[float64]struct{}
}

func newBlockTerms(recs []*Record) *blockTerms {
	bt := &blockTerms{values: map[string]map[string]struct{}{}, words: map[string]map[string]struct{}{}, nums: map[float64]struct{}{}}
	add := func(m map[string]map[string]struct{}, k, v string) {
		set := m[k]
		if set == nil {
			set = map[string]struct{}{}
			m[k] = set
		}
		if _, ok := set[v]; !ok {
			set[v] = struct{}{}
		}
	}
	var tok wordTokenizer
	f := fields{}
	for _, r := range recs {
		clear(f)
		recordFields(r, f)
		delete(f, fieldTraceID)
		delete(f, fieldSpanID)
		for k, vs := range f {
			for _, v := range vs {
				switch {
				case k == fieldSeverityNumber:
					n, _ := strconv.ParseFloat(v, 64)
					bt.nums[n] = struct{}{}
				case isKeywordField(k):
					add(bt.values, k, v)
				default:
					for _, t := range tok.Tokenize([]byte(v)) {
						if t.Type != analysis.Numeric {
							add(bt.words, k, string(t.Term))
						}
					}
				}
			}
		}
	}
	return bt
}

// tokenHash is the filter hash of a term of field ("" for any field).
func tokenHash(field, term string) uint64 {
	return fieldTermHash(fieldHash(field), xxhash.Sum64String(term))
}

func fieldHash(field string) uint64 {
	if field == "" {
		return 0
	}
	return xxhash.Sum64String(field)
}

// fieldTermHash combines the hashes of a field and a term, so that a
// term's hash, computed once, serves for its field and for "" (splitmix64's
// finaliser spreads the bits the Bloom filter probes).
func fieldTermHash(field, term uint64) uint64 {
	x := term ^ (field + 0x9e3779b97f4a7c15)
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// tokenHasher collects the distinct filter hashes of a block's terms
// on the flush path: no per-term strings or maps of
// fields, one hash per term and field.
type tokenHasher struct {
	lower     []byte
	seen      hashSet
	fields    map[string]uint64     // fieldHash by name
	resources map[record.KVsID]bool // resources already hashed: records share them
	out       []uint64
}

// add adds term under the field of hash fh and under "".
func (h *tokenHasher) add(fh uint64, term []byte) {
	th := xxhash.Sum64(term)
	h.seen.add(fieldTermHash(fh, th))
	h.seen.add(fieldTermHash(0, th))
}

func (h *tokenHasher) value(field, v string) {
	if v == "" || field == fieldTraceID || field == fieldSpanID {
		return
	}
	fh, ok := h.fields[field] // once per value, not per word
	if !ok {
		fh = fieldHash(field)
		h.fields[field] = fh
	}
	if isKeywordField(field) {
		h.add(fh, []byte(v))
		return
	}
	h.lower = eachWord(v, h.lower, func(w []byte, _, _ int) {
		if w[0] < '0' || w[0] > '9' {
			h.add(fh, w)
		}
	})
}

// blockHashes returns the filter hashes of recs' terms.
func blockHashes(recs []*Record) []uint64 { return new(tokenHasher).hashes(recs) }

// hashes returns the filter hashes of recs' terms, reusing h's maps (and
// the returned slice) from one block to the next.
func (h *tokenHasher) hashes(recs []*Record) []uint64 {
	if h.fields == nil {
		h.fields, h.resources = map[string]uint64{}, map[record.KVsID]bool{}
	}
	h.seen.reset()
	clear(h.resources) // a block's resources may be freed after it
	for _, r := range recs {
		h.value(fieldBody, r.Body)
		h.value(fieldSeverityText, r.SeverityText)
		h.value(fieldScopeName, r.ScopeName)
		if id := record.IDOf(r.Resource); id != (record.KVsID{}) && !h.resources[id] {
			h.resources[id] = true
			for _, kv := range r.Resource {
				h.value(kv.Key, kv.Value)
			}
		}
		for _, kv := range r.Attributes {
			h.value(kv.Key, kv.Value)
		}
	}
	h.out = h.seen.appendTo(h.out[:0])
	return h.out
}

// hashSet is a set of well-mixed 64-bit hashes: open addressing with
// linear probing in a power-of-two table, reused from block to block. It
// does what a map[uint64]struct{} did at a third of the cost; adding every
// term of a block twice made the map a tenth of the flush's CPU.
type hashSet struct {
	slots   []uint64 // 0 is an empty slot; the hash 0 is hasZero
	n       int
	hasZero bool
}

func (s *hashSet) add(x uint64) {
	if x == 0 {
		s.hasZero = true
		return
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := x & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case x:
			return
		case 0:
			s.slots[i] = x
			s.n++
			return
		}
	}
}

func (s *hashSet) grow() {
	old := s.slots
	s.slots, s.n = make([]uint64, max(2*len(old), 4096)), 0
	for _, x := range old {
		if x != 0 {
			s.add(x)
		}
	}
}

func (s *hashSet) reset() {
	clear(s.slots)
	s.n, s.hasZero = 0, false
}

func (s *hashSet) appendTo(out []uint64) []uint64 {
	for _, x := range s.slots {
		if x != 0 {
			out = append(out, x)
		}
	}
	if s.hasZero {
		out = append(out, 0)
	}
	return out
}

// merge adds o's terms: a full-text document covers blocksPerDoc blocks.
func (bt *blockTerms) merge(o *blockTerms) {
	for _, m := range []struct {
		to, from map[string]map[string]struct{}
	}{{bt.values, o.values}, {bt.words, o.words}} {
		for k, set := range m.from {
			to := m.to[k]
			if to == nil {
				to = make(map[string]struct{}, len(set))
				m.to[k] = to
			}
			for v := range set {
				to[v] = struct{}{}
			}
		}
	}
	for n := range o.nums {
		bt.nums[n] = struct{}{}
	}
}

// doc is the bleve document of the blocks' terms.
func (bt *blockTerms) doc() map[string]any {
	doc := make(map[string]any, len(bt.values)+len(bt.words)+1)
	for k, set := range bt.values {
		vs := make([]string, 0, len(set))
		for v := range set {
			vs = append(vs, v)
		}
		doc[k] = vs
	}
	for k, set := range bt.words {
		var b strings.Builder
		for w := range set {
			b.WriteString(w)
			b.WriteByte(' ')
		}
		doc[k] = b.String()
	}
	if len(bt.nums) > 0 {
		ns := make([]float64, 0, len(bt.nums))
		for n := range bt.nums {
			ns = append(ns, n)
		}
		doc[fieldSeverityNumber] = ns
	}
	return doc
}

// blockTest is a relaxed query (relax) turned into a test of a block's
// token filter: false means no record of the block can match. What a
// filter cannot tell (prefixes, wildcards, regexps, numbers) passes.
type blockTest func(segment.BlockFilter) bool

func passAll(segment.BlockFilter) bool { return true }

// lineContainsTest is the block test of lines that contain every string of
// subs (LogQL's `|= "s"`, case-sensitive substrings): such a line has, as
// whole body words, every word of s that s itself bounds on both sides by
// a non-word byte (the first and last words of s may be parts of longer
// words of the line, as "dead" is of "deadlock"). Words that start with a
// digit are not in the filters; lower case is what the filters hold, which
// only makes the test looser.
func lineContainsTest(subs []string) blockTest {
	var hs []uint64
	for _, sub := range subs {
		eachWord(sub, nil, func(w []byte, start, end int) {
			whole := start > 0 && end < len(sub) && !isWordByte(sub[start-1]) && !isWordByte(sub[end])
			if whole && (w[0] < '0' || w[0] > '9') {
				hs = append(hs, tokenHash(fieldBody, string(w)))
			}
		})
	}
	if len(hs) == 0 {
		return passAll
	}
	return func(f segment.BlockFilter) bool {
		for _, h := range hs {
			if !f.MayContain(h) {
				return false
			}
		}
		return true
	}
}

func compileBlockTest(q query.Query) blockTest {
	all := func(hs []uint64) blockTest {
		return func(f segment.BlockFilter) bool {
			for _, h := range hs {
				if !f.MayContain(h) {
					return false
				}
			}
			return true
		}
	}
	field := func(f string) string {
		if f == fieldAll {
			return ""
		}
		return f
	}
	switch q := q.(type) {
	case *query.MatchNoneQuery:
		return func(segment.BlockFilter) bool { return false }
	case *query.TermQuery:
		return all([]uint64{tokenHash(field(q.FieldVal), q.Term)})
	case *query.MatchQuery:
		if q.Analyzer != "" && q.Analyzer != indexAnalyzer {
			return passAll
		}
		f := field(q.FieldVal)
		if isKeywordField(f) {
			return all([]uint64{tokenHash(f, q.Match)})
		}
		var hs []uint64
		for _, w := range strings.Fields(q.Match) { // relaxMatch: words only
			hs = append(hs, tokenHash(f, w))
		}
		if len(hs) == 0 {
			return passAll
		}
		if q.Operator == query.MatchQueryOperatorAnd {
			return all(hs)
		}
		return func(f segment.BlockFilter) bool {
			for _, h := range hs {
				if f.MayContain(h) {
					return true
				}
			}
			return false
		}
	case *query.ConjunctionQuery:
		var ts []blockTest
		for _, c := range q.Conjuncts {
			ts = append(ts, compileBlockTest(c))
		}
		return func(f segment.BlockFilter) bool {
			for _, t := range ts {
				if !t(f) {
					return false
				}
			}
			return true
		}
	case *query.DisjunctionQuery:
		var ts []blockTest
		for _, d := range q.Disjuncts {
			ts = append(ts, compileBlockTest(d))
		}
		need := max(int(q.Min), 1)
		return func(f segment.BlockFilter) bool {
			n := 0
			for _, t := range ts {
				if t(f) {
					if n++; n >= need {
						return true
					}
				}
			}
			return false
		}
	}
	return passAll
}

// blocksPerDoc is how many blocks (of 512 records) one index document
// covers. Bleve's cost grows with documents × their distinct words; four
// blocks a document halved flush time, and a search then checks the four
// blocks of each candidate document.
const blocksPerDoc = 4

func openIndex(segDir string) (bleve.Index, error) {
	return bleve.OpenUsing(filepath.Join(segDir, "fts"), map[string]any{"read_only": true})
}

// ParseQuery parses a search in bleve's query-string syntax, with the
// AND, OR and NOT keywords that Lucene and Elasticsearch users write:
// `service.name:checkout AND "payment failed" AND NOT severity_text:DEBUG`.
func ParseQuery(q string) (query.Query, error) {
	q = strings.TrimSpace(q)
	if q == "" || q == "*" {
		return query.NewMatchAllQuery(), nil
	}
	parsed, err := query.NewQueryStringQuery(booleanKeywords(q)).Parse()
	if err != nil {
		return nil, fmt.Errorf("invalid query %q: %w", q, err)
	}
	if err := checkSupported(parsed); err != nil {
		return nil, err
	}
	return parsed, nil
}

// booleanKeywords rewrites AND/OR/NOT into bleve's +/- prefixes: the
// clauses around AND become required, the one after NOT excluded, and OR
// leaves its clauses optional (bleve's default).
func booleanKeywords(q string) string {
	clauses := splitClauses(q)
	hasAnd := false
	for _, c := range clauses {
		if c == "AND" {
			hasAnd = true
		}
	}
	var out []string
	must := make([]bool, len(clauses))
	not := make([]bool, len(clauses))
	for i, c := range clauses {
		switch c {
		case "AND":
			if i > 0 {
				must[i-1] = true
			}
			if i+1 < len(clauses) {
				must[i+1] = true
			}
		case "NOT":
			if i+1 < len(clauses) {
				not[i+1] = true
			}
		}
	}
	for i, c := range clauses {
		switch {
		case c == "AND" || c == "OR" || c == "NOT":
			continue
		case not[i]:
			out = append(out, "-"+strings.TrimLeft(c, "+-"))
		case must[i] || (hasAnd && !strings.HasPrefix(c, "-")):
			out = append(out, "+"+strings.TrimLeft(c, "+"))
		default:
			out = append(out, c)
		}
	}
	return strings.Join(out, " ")
}

// splitClauses splits on spaces outside quotes and slashes (regexps).
func splitClauses(q string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	for _, c := range q {
		switch {
		case quote != 0:
			cur.WriteRune(c)
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '/':
			quote = c
			cur.WriteRune(c)
		case c == ' ' || c == '\t':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(c)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// UnsupportedQueryError names a query type the log search cannot check
// record by record.
type UnsupportedQueryError struct{ Type string }

func (e *UnsupportedQueryError) Error() string {
	return "unsupported query type in log search: " + e.Type
}

func checkSupported(q query.Query) error {
	switch q := q.(type) {
	case *query.MatchQuery, *query.MatchPhraseQuery, *query.TermQuery, *query.PrefixQuery,
		*query.WildcardQuery, *query.RegexpQuery, *query.NumericRangeQuery,
		*query.MatchAllQuery, *query.MatchNoneQuery:
		return nil
	case *query.ConjunctionQuery:
		for _, c := range q.Conjuncts {
			if err := checkSupported(c); err != nil {
				return err
			}
		}
		return nil
	case *query.DisjunctionQuery:
		for _, c := range q.Disjuncts {
			if err := checkSupported(c); err != nil {
				return err
			}
		}
		return nil
	case *query.BooleanQuery:
		for _, c := range []query.Query{q.Must, q.Should, q.MustNot, q.Filter} {
			if c != nil {
				if err := checkSupported(c); err != nil {
					return err
				}
			}
		}
		return nil
	default:
		return &UnsupportedQueryError{Type: fmt.Sprintf("%T", q)}
	}
}

// relax returns a query that matches every block holding a record that q
// matches.
func relax(q query.Query) query.Query {
	if f, ok := q.(query.FieldableQuery); ok && (f.Field() == fieldTraceID || f.Field() == fieldSpanID) {
		return query.NewMatchAllQuery() // not in the index; checked per record
	}
	switch q := q.(type) {
	case *query.MatchPhraseQuery:
		return relaxMatch(q.FieldVal, q.MatchPhrase, true)
	case *query.MatchQuery:
		return relaxMatch(q.FieldVal, q.Match, q.Operator == query.MatchQueryOperatorAnd)
	case *query.TermQuery:
		if isNumeric(q.Term) {
			return query.NewMatchAllQuery()
		}
		return q
	case *query.PrefixQuery:
		if q.Prefix == "" || q.Prefix[0] >= '0' && q.Prefix[0] <= '9' {
			return query.NewMatchAllQuery()
		}
		return q
	case *query.WildcardQuery, *query.RegexpQuery:
		// They could match digit tokens, which the index leaves out.
		if f, ok := q.(query.FieldableQuery); ok && isKeywordField(f.Field()) {
			return q
		}
		return query.NewMatchAllQuery()
	case *query.ConjunctionQuery:
		cs := make([]query.Query, len(q.Conjuncts))
		for i, c := range q.Conjuncts {
			cs[i] = relax(c)
		}
		return query.NewConjunctionQuery(cs)
	case *query.DisjunctionQuery:
		ds := make([]query.Query, len(q.Disjuncts))
		for i, d := range q.Disjuncts {
			ds[i] = relax(d)
		}
		out := query.NewDisjunctionQuery(ds)
		out.SetMin(q.Min)
		return out
	case *query.BooleanQuery:
		var parts []query.Query
		if q.Must != nil {
			parts = append(parts, relax(q.Must))
		}
		if q.Filter != nil {
			parts = append(parts, relax(q.Filter))
		}
		if q.Should != nil {
			if d, ok := q.Should.(*query.DisjunctionQuery); !ok || q.Must == nil || d.Min > 0 {
				parts = append(parts, relax(q.Should))
			}
		}
		switch len(parts) {
		case 0:
			return query.NewMatchAllQuery()
		case 1:
			return parts[0]
		}
		return query.NewConjunctionQuery(parts)
	}
	return q
}

func isKeywordField(f string) bool {
	for _, k := range keywordFields {
		if k == f {
			return true
		}
	}
	return false
}

// relaxMatch relaxes a match of text: a phrase or AND match needs every
// indexed word of it (digit tokens are not indexed); an OR match with a
// digit token could be met by that token alone, so it needs nothing.
func relaxMatch(field, text string, all bool) query.Query {
	if isKeywordField(field) {
		m := query.NewMatchQuery(text)
		m.SetField(field)
		return m
	}
	var words []string
	digits := false
	var tok wordTokenizer
	for _, t := range tok.Tokenize([]byte(text)) {
		if t.Type == analysis.Numeric {
			digits = true
			continue
		}
		words = append(words, string(t.Term))
	}
	if len(words) == 0 || (digits && !all) {
		return query.NewMatchAllQuery()
	}
	m := query.NewMatchQuery(strings.Join(words, " "))
	m.SetField(field)
	if all {
		m.SetOperator(query.MatchQueryOperatorAnd)
	}
	return m
}

// Matcher checks a query against single records exactly, analysing values
// with the index's own analyzers.
type Matcher struct {
	q       query.Query
	im      mapping.IndexMapping
	regexps map[string]*regexp.Regexp
	f       fields
	tokens  map[string][][]string // field → analysed tokens of each value, cached per record
}

func newMatcher(q query.Query, im mapping.IndexMapping) *Matcher {
	return &Matcher{q: q, im: im, regexps: map[string]*regexp.Regexp{}, f: fields{}, tokens: map[string][][]string{}}
}

// Match reports whether r matches the query.
func (m *Matcher) Match(r *Record) bool {
	clear(m.f)
	clear(m.tokens)
	recordFields(r, m.f)
	return m.match(m.q)
}

// analyzer is the field's analyzer for the exact check: the index's, but
// keeping the digit tokens the index leaves out.
func (m *Matcher) analyzer(field string) analysis.Analyzer {
	name := m.im.AnalyzerNameForPath(field)
	if name == "" || name == indexAnalyzer {
		name = textAnalyzer
	}
	return m.im.AnalyzerNamed(name)
}

func analyze(a analysis.Analyzer, s string) []string {
	ts := a.Analyze([]byte(s))
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t.Term)
	}
	return out
}

// valueTokens returns the analysed tokens of each value of field ("" or
// _all: every field).
func (m *Matcher) valueTokens(field string) [][]string {
	if field == "" || field == fieldAll {
		var all [][]string
		for k := range m.f {
			// Not valueTokens: a record's own field may be named "" (an
			// attribute with an empty key), which must not mean "all"
			// again, recursing until the stack overflows.
			all = append(all, m.fieldTokens(k)...)
		}
		return all
	}
	return m.fieldTokens(field)
}

// fieldTokens returns the analysed tokens of each value of the field named
// field, whatever its name.
func (m *Matcher) fieldTokens(field string) [][]string {
	if t, ok := m.tokens[field]; ok {
		return t
	}
	a := m.analyzer(field)
	var out [][]string
	for _, v := range m.f[field] {
		out = append(out, analyze(a, v))
	}
	m.tokens[field] = out
	return out
}

func (m *Matcher) anyToken(field string, pred func(string) bool) bool {
	for _, toks := range m.valueTokens(field) {
		for _, t := range toks {
			if pred(t) {
				return true
			}
		}
	}
	return false
}

func (m *Matcher) queryTokens(field, analyzerName, text string) []string {
	var a analysis.Analyzer
	switch {
	case analyzerName != "" && analyzerName != indexAnalyzer:
		a = m.im.AnalyzerNamed(analyzerName)
	case field == "" || field == fieldAll:
		a = m.im.AnalyzerNamed(textAnalyzer)
	default:
		a = m.analyzer(field)
	}
	if a == nil {
		a = m.im.AnalyzerNamed(keyword.Name)
	}
	return analyze(a, text)
}

func (m *Matcher) match(q query.Query) bool {
	switch q := q.(type) {
	case *query.MatchAllQuery:
		return true
	case *query.MatchNoneQuery:
		return false
	case *query.TermQuery:
		return m.anyToken(q.FieldVal, func(t string) bool { return t == q.Term })
	case *query.MatchQuery:
		toks := m.queryTokens(q.FieldVal, q.Analyzer, q.Match)
		if len(toks) == 0 {
			return false
		}
		and := q.Operator == query.MatchQueryOperatorAnd
		for _, want := range toks {
			found := m.anyToken(q.FieldVal, func(t string) bool { return t == want })
			if and && !found {
				return false
			}
			if !and && found {
				return true
			}
		}
		return and
	case *query.MatchPhraseQuery:
		want := m.queryTokens(q.FieldVal, q.Analyzer, q.MatchPhrase)
		if len(want) == 0 {
			return false
		}
		for _, toks := range m.valueTokens(q.FieldVal) {
			for i := 0; i+len(want) <= len(toks); i++ {
				if equal(toks[i:i+len(want)], want) {
					return true
				}
			}
		}
		return false
	case *query.PrefixQuery:
		return m.anyToken(q.FieldVal, func(t string) bool { return strings.HasPrefix(t, q.Prefix) })
	case *query.WildcardQuery:
		re := m.regexp("w:"+q.Wildcard, wildcardRegexp(q.Wildcard))
		return re != nil && m.anyToken(q.FieldVal, re.MatchString)
	case *query.RegexpQuery:
		re := m.regexp("r:"+q.Regexp, "^(?:"+q.Regexp+")$")
		return re != nil && m.anyToken(q.FieldVal, re.MatchString)
	case *query.NumericRangeQuery:
		for _, v := range m.f[q.FieldVal] {
			n, err := strconv.ParseFloat(v, 64)
			if err == nil && inRange(n, q) {
				return true
			}
		}
		return false
	case *query.ConjunctionQuery:
		for _, c := range q.Conjuncts {
			if !m.match(c) {
				return false
			}
		}
		return true
	case *query.DisjunctionQuery:
		need := max(int(q.Min), 1)
		n := 0
		for _, d := range q.Disjuncts {
			if m.match(d) {
				if n++; n >= need {
					return true
				}
			}
		}
		return false
	case *query.BooleanQuery:
		if q.Must != nil && !m.match(q.Must) {
			return false
		}
		if q.Filter != nil && !m.match(q.Filter) {
			return false
		}
		if q.MustNot != nil {
			if d, ok := q.MustNot.(*query.DisjunctionQuery); ok {
				for _, x := range d.Disjuncts {
					if m.match(x) {
						return false
					}
				}
			} else if m.match(q.MustNot) {
				return false
			}
		}
		if q.Should != nil {
			d, ok := q.Should.(*query.DisjunctionQuery)
			optional := q.Must != nil && (!ok || d.Min == 0)
			if !optional && !m.match(q.Should) {
				return false
			}
		}
		return q.Must != nil || q.Should != nil || q.Filter != nil || q.MustNot != nil
	}
	return false
}

func (m *Matcher) regexp(key, expr string) *regexp.Regexp {
	if re, ok := m.regexps[key]; ok {
		return re
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		re = nil
	}
	m.regexps[key] = re
	return re
}

func wildcardRegexp(w string) string {
	var b strings.Builder
	b.WriteString("^")
	for _, c := range w {
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return b.String()
}

func inRange(n float64, q *query.NumericRangeQuery) bool {
	lo, hi := math.Inf(-1), math.Inf(1)
	if q.Min != nil {
		lo = *q.Min
	}
	if q.Max != nil {
		hi = *q.Max
	}
	loOK := n > lo || (n == lo && (q.InclusiveMin == nil || *q.InclusiveMin))
	hiOK := n < hi || (n == hi && q.InclusiveMax != nil && *q.InclusiveMax)
	return loOK && hiOK
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

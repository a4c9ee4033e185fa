package logql

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// Labels and values that the pipeline adds to entries, as in Loki.
const (
	// ErrorLabel holds the kind of the first error met by the pipeline.
	ErrorLabel = "__error__"
	// ErrorDetailsLabel holds that error's message.
	ErrorDetailsLabel = "__error_details__"

	ErrJSONParser     = "JSONParserErr"
	ErrLogfmtParser   = "LogfmtParserErr"
	ErrLabelFilter    = "LabelFilterErr"
	ErrTemplateFormat = "TemplateFormatErr"
)

// Entry is one log line as the store hands it to the query engine.
type Entry struct {
	Timestamp time.Time
	Line      string
	// Labels are the stream labels plus the entry's structured metadata
	// (Loki 3 semantics: structured metadata is usable in label filters and line_format).
	Labels labels.Labels
}

// FetchFunc streams every stored entry whose stream labels match matchers,
// with from < Timestamp <= to, in ascending timestamp order, calling fn for
// each; it stops early when fn returns an error (and returns that error).
type FetchFunc func(ctx context.Context, matchers []*labels.Matcher, from, to time.Time, fn func(Entry) error) error

// CountEntry is an entry as a CountFunc hands it over: what counting and
// grouping it needs, not its line.
type CountEntry struct {
	Timestamp int64 // unix nanoseconds
	Size      int   // len(Entry.Line), the bytes bytes_over_time counts
	// Labels are Entry.Labels limited to the names asked for, without
	// empty values.
	Labels labels.Labels
	// Key numbers the distinct Labels of one call from 0 up: entries with
	// the same Labels have the same Key, so the evaluator runs the pipeline
	// and finds the series once per label set, not once per entry.
	Key int
	// N is the number of entries this stands for: 1, or more when the
	// CountFunc's together said their times fall in the same windows
	// (Timestamp is then any of theirs, and Size their total).
	N int
}

// CountFunc calls fn for every entry that a FetchFunc would with the same
// matchers and range, in any order, with only the labels in names. A store
// can do that from per-entry stream and size columns without decoding
// entries: metric queries over a volume of logs use it where the line is
// not needed (see EvalOptions.Count). together(minT, maxT) says whether
// entries with times in [minT, maxT] count alike (the same windows), so
// that a store may hand them over as one CountEntry of N entries, e.g. a
// block's entries of one label set, and skip their timestamps.
type CountFunc func(ctx context.Context, matchers []*labels.Matcher, names []string, from, to time.Time, together func(minT, maxT int64) bool, fn func(CountEntry) error) error

// Process runs the pipeline over one entry: it returns the (possibly rewritten)
// line, the resulting labels (stream labels + metadata + extracted labels) and
// whether the entry is kept. When keep is false, line and lbls are empty.
// Process is safe for concurrent use.
func (q *LogQuery) Process(e Entry) (line string, lbls labels.Labels, keep bool) {
	b := labelsBuilder{base: e.Labels, ts: e.Timestamp}
	line, keep = q.run(e.Line, &b)
	if !keep {
		return "", labels.EmptyLabels(), false
	}
	return line, b.labels(), true
}

func (q *LogQuery) run(line string, b *labelsBuilder) (string, bool) {
	for _, s := range q.Stages {
		var ok bool
		line, ok = s.process(line, b)
		if !ok {
			return "", false
		}
	}
	return line, true
}

// labelsBuilder holds an entry's labels while the pipeline runs. Entry
// labels are the base; parsers add labels without overwriting (the first
// value extracted for a name wins, as in Loki).
type labelsBuilder struct {
	base       labels.Labels
	parsed     []labels.Label
	index      map[string]int // of parsed, once it is large
	err        string
	errDetails string
	ts         time.Time
	dropped    []string // base labels that | drop removed
}

// Above this many parsed labels a map beats scanning the slice.
const parsedIndexThreshold = 16

func (b *labelsBuilder) baseHas(name string) bool { return b.base.Has(name) }

func (b *labelsBuilder) parsedIndex(name string) int {
	if b.index != nil {
		if i, ok := b.index[name]; ok {
			return i
		}
		return -1
	}
	for i := range b.parsed {
		if b.parsed[i].Name == name {
			return i
		}
	}
	return -1
}

func (b *labelsBuilder) setParsed(name, value string) {
	if b.parsedIndex(name) >= 0 {
		return
	}
	b.parsed = append(b.parsed, labels.Label{Name: name, Value: value})
	switch {
	case b.index != nil:
		b.index[name] = len(b.parsed) - 1
	case len(b.parsed) > parsedIndexThreshold:
		b.index = make(map[string]int, 2*len(b.parsed))
		for i, l := range b.parsed {
			b.index[l.Name] = i
		}
	}
}

// setExtracted adds a label found by a parser: a name that clashes with
// an entry label gets the "_extracted" suffix, and the first value of a
// name wins.
func (b *labelsBuilder) setExtracted(name, value string) {
	if name == "" {
		return
	}
	if b.baseHas(name) {
		name += duplicateSuffix
	}
	b.setParsed(name, value)
}

// set gives a label a value, replacing any label of that name (what
// label_format does).
func (b *labelsBuilder) set(name, value string) {
	switch name {
	case ErrorLabel:
		b.err = value
		return
	case ErrorDetailsLabel:
		b.errDetails = value
		return
	}
	if i := b.parsedIndex(name); i >= 0 {
		b.parsed[i].Value = value
		return
	}
	if b.base.Has(name) && !slices.Contains(b.dropped, name) {
		b.dropped = append(b.dropped, name)
	}
	b.setParsed(name, value)
}

// setErr records a pipeline error; parsers overwrite an earlier error as in
// Loki, label filters call it only when there is none.
func (b *labelsBuilder) setErr(kind, details string) {
	b.err, b.errDetails = kind, details
}

// get returns a label's value; ok is false when the label is missing (an
// entry label with an empty value counts as missing, an extracted one not).
func (b *labelsBuilder) get(name string) (string, bool) {
	switch name {
	case ErrorLabel:
		return b.err, b.err != ""
	case ErrorDetailsLabel:
		return b.errDetails, b.errDetails != ""
	}
	if i := b.parsedIndex(name); i >= 0 {
		return b.parsed[i].Value, true
	}
	if slices.Contains(b.dropped, name) {
		return "", false
	}
	v := b.base.Get(name)
	return v, v != ""
}

// drop removes a label. Dropping __error__ clears the error, and with it
// its details, which are only shown with an error.
func (b *labelsBuilder) drop(name string) {
	switch name {
	case ErrorLabel:
		b.err, b.errDetails = "", ""
		return
	case ErrorDetailsLabel:
		b.errDetails = ""
		return
	}
	if i := b.parsedIndex(name); i >= 0 {
		b.parsed = slices.Delete(b.parsed, i, i+1)
		if b.index != nil {
			b.index = make(map[string]int, 2*len(b.parsed))
			for i, l := range b.parsed {
				b.index[l.Name] = i
			}
		}
	}
	if b.base.Has(name) && !slices.Contains(b.dropped, name) {
		b.dropped = append(b.dropped, name)
	}
}

func (b *labelsBuilder) labels() labels.Labels {
	if len(b.parsed) == 0 && b.err == "" && b.errDetails == "" && len(b.dropped) == 0 {
		return b.base
	}
	sb := labels.NewScratchBuilder(b.base.Len() + len(b.parsed) + 2)
	b.base.Range(func(l labels.Label) {
		if b.parsedIndex(l.Name) >= 0 || slices.Contains(b.dropped, l.Name) || ((l.Name == ErrorLabel || l.Name == ErrorDetailsLabel) && b.err != "") {
			return
		}
		sb.Add(l.Name, l.Value)
	})
	for _, l := range b.parsed {
		if (l.Name == ErrorLabel || l.Name == ErrorDetailsLabel) && b.err != "" {
			continue
		}
		sb.Add(l.Name, l.Value)
	}
	if b.err != "" {
		sb.Add(ErrorLabel, b.err)
		if b.errDetails != "" {
			sb.Add(ErrorDetailsLabel, b.errDetails)
		}
	}
	sb.Sort()
	return sb.Labels()
}

// templateData is what line_format templates see: every current label.
func (b *labelsBuilder) templateData() map[string]string {
	m := make(map[string]string, b.base.Len()+len(b.parsed)+2)
	b.base.Range(func(l labels.Label) {
		if !slices.Contains(b.dropped, l.Name) {
			m[l.Name] = l.Value
		}
	})
	for _, l := range b.parsed {
		m[l.Name] = l.Value
	}
	if b.err != "" {
		m[ErrorLabel] = b.err
		if b.errDetails != "" {
			m[ErrorDetailsLabel] = b.errDetails
		}
	}
	return m
}

func (f *LineFilter) process(line string, _ *labelsBuilder) (string, bool) {
	switch f.Op {
	case LineContains:
		for _, v := range f.Values {
			if strings.Contains(line, v) {
				return line, true
			}
		}
		return line, false
	case LineNotContains:
		for _, v := range f.Values {
			if strings.Contains(line, v) {
				return line, false
			}
		}
		return line, true
	case LineMatches:
		for _, re := range f.res {
			if re.MatchString(line) {
				return line, true
			}
		}
		return line, false
	case LineNotMatches:
		for _, re := range f.res {
			if re.MatchString(line) {
				return line, false
			}
		}
		return line, true
	}
	panic("BUG: unknown line filter operator " + f.Op.String())
}

func (*JSONParser) process(line string, b *labelsBuilder) (string, bool) {
	parseJSON(line, b)
	return line, true
}

func (p *LogfmtParser) process(line string, b *labelsBuilder) (string, bool) {
	parseLogfmt(line, b, p.Strict, p.KeepEmpty)
	return line, true
}

func (s *LabelFilterStage) process(line string, b *labelsBuilder) (string, bool) {
	return line, s.Filter.matches(b)
}

func (d *Drop) process(line string, b *labelsBuilder) (string, bool) {
	for _, l := range d.Labels {
		if l.Matcher != nil {
			v, _ := b.get(l.Name)
			if !l.Matcher.Matches(v) {
				continue
			}
		}
		b.drop(l.Name)
	}
	return line, true
}

func (s *LineFormat) process(line string, b *labelsBuilder) (string, bool) {
	out, err := s.tmpl.execute(line, b.ts, b.templateData())
	if err != nil {
		b.setErr(ErrTemplateFormat, err.Error())
		return line, true
	}
	return out, true
}

func (f *StringLabelFilter) matches(b *labelsBuilder) bool {
	v, _ := b.get(f.Matcher.Name)
	return f.Matcher.Matches(v)
}

func (f *BinaryLabelFilter) matches(b *labelsBuilder) bool {
	l := f.Left.matches(b)
	if f.And {
		// Both sides run, as in Loki, so that conversion errors on the right
		// are recorded even when the left side already failed.
		r := f.Right.matches(b)
		return l && r
	}
	if l {
		return true
	}
	return f.Right.matches(b)
}

func (f *NumericLabelFilter) matches(b *labelsBuilder) bool {
	s, ok := b.get(f.Name)
	if !ok {
		return false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		b.filterErr(err.Error())
		return true
	}
	return compare(f.Op, cmpFloat(v, f.Value))
}

func (f *DurationLabelFilter) matches(b *labelsBuilder) bool {
	s, ok := b.get(f.Name)
	if !ok {
		return false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		b.filterErr(err.Error())
		return true
	}
	return compare(f.Op, cmp.Compare(int64(v), int64(f.Value)))
}

func (f *BytesLabelFilter) matches(b *labelsBuilder) bool {
	s, ok := b.get(f.Name)
	if !ok {
		return false
	}
	v, err := parseBytes(s)
	if err != nil {
		b.filterErr(err.Error())
		return true
	}
	switch {
	case v < f.Value:
		return compare(f.Op, -1)
	case v > f.Value:
		return compare(f.Op, 1)
	}
	return compare(f.Op, 0)
}

// filterErr records a label conversion error unless an earlier stage
// already failed: that error is likely the more useful one.
func (b *labelsBuilder) filterErr(details string) {
	if b.err == "" {
		b.setErr(ErrLabelFilter, details)
	}
}

// cmpFloat returns -1, 0, 1, or 2 when either side is NaN (unordered: only
// != holds).
func cmpFloat(a, b float64) int {
	switch {
	case math.IsNaN(a) || math.IsNaN(b):
		return 2
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(op CompareOp, c int) bool {
	switch op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case ">":
		return c == 1
	case ">=":
		return c == 1 || c == 0
	case "<":
		return c == -1
	case "<=":
		return c == -1 || c == 0
	}
	panic("BUG: unknown comparison operator " + string(op))
}

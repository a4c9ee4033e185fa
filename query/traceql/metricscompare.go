package traceql

import (
	"cmp"
	"slices"
)

// compareEvaluator evaluates compare({selection}, topN, start, end): it
// splits the matched spans into the selection (the spans the filter
// matches, started in [start, end] when both are set) and the baseline
// (the others), and counts per step, for each side, the spans of each
// value of each attribute (span and resource attributes, and the
// intrinsics name, status and kind), as Tempo does. The result has, per
// side and attribute, the topN values by total count, labelled
// {__meta_type="baseline"|"selection", <attribute>=<value>}, and the
// attribute's total {__meta_type="baseline_total"|"selection_total",
// <attribute>=nil}.
type compareEvaluator struct {
	m        *metricsPipeline
	iv       intervals
	maxCells int
	cells    int
	// sides[0] is the baseline, sides[1] the selection: attribute ->
	// value key -> counts per step.
	sides     [2]map[string]map[string]*compareCounts
	totals    [2]map[string][]float64
	truncated bool
	key       []byte
	// exemplars, per side, with the attributes of their spans: they go to
	// the totals of those attributes, as in Tempo.
	exemplars [2][]compareExemplar
	side      int      // the side of the span last observed
	attrs     []string // the attributes of the span last observed
}

type compareExemplar struct {
	step  int
	attrs []string
	ex    Exemplar
}

type compareCounts struct {
	value  Value
	counts []float64
	total  float64
}

// compareCellBudget bounds the counts compare keeps: (side, attribute,
// value) triples times steps.
const compareCellBudget = 4 << 20

func newCompareEvaluator(m *metricsPipeline, iv intervals, maxSeries int) *compareEvaluator {
	c := &compareEvaluator{m: m, iv: iv, maxCells: max(maxSeries, compareCellBudget/max(iv.n, 1))}
	for i := range c.sides {
		c.sides[i] = map[string]map[string]*compareCounts{}
		c.totals[i] = map[string][]float64{}
	}
	return c
}

func (c *compareEvaluator) observe(o *observation) bool {
	side := 0
	inWindow := c.m.start == 0 || c.m.end == 0 || (o.st.Start > c.m.start && o.st.Start <= c.m.end)
	if inWindow && (c.m.selection.cond == nil || c.m.selection.cond.match(o.tc, o.span)) {
		side = 1
	}
	c.side, c.attrs = side, c.attrs[:0]
	s := o.span
	c.add(side, "name", StringValue(s.Name), o.step)
	c.add(side, "status", StringValue(normStatus(s.StatusCode)), o.step)
	c.add(side, "kind", StringValue(normKind(s.Kind)), o.step)
	for k, v := range s.Attributes {
		c.add(side, "span."+quoteAttributeName(k, ScopeSpan), v, o.step)
	}
	for k, v := range s.Resource {
		c.add(side, "resource."+quoteAttributeName(k, ScopeResource), v, o.step)
	}
	return true
}

func (c *compareEvaluator) add(side int, attr string, v Value, step int) {
	if v.Type == 0 {
		return
	}
	c.attrs = append(c.attrs, attr)
	totals := c.totals[side][attr]
	values := c.sides[side][attr]
	if totals == nil {
		if c.cells >= c.maxCells {
			c.truncated = true
			return
		}
		totals = make([]float64, c.iv.n)
		c.totals[side][attr] = totals
		values = map[string]*compareCounts{}
		c.sides[side][attr] = values
		c.cells++
	}
	totals[step]++
	c.key = appendValueKey(c.key[:0], v)
	cc := values[string(c.key)]
	if cc == nil {
		if c.cells >= c.maxCells {
			c.truncated = true
			return
		}
		cc = &compareCounts{value: v, counts: make([]float64, c.iv.n)}
		values[string(c.key)] = cc
		c.cells++
	}
	cc.counts[step]++
	cc.total++
}

func (c *compareEvaluator) exemplar(o *observation, p *exemplarPicker) {
	if p.take(o.step) {
		c.exemplars[c.side] = append(c.exemplars[c.side], compareExemplar{step: o.step, attrs: slices.Clone(c.attrs), ex: newExemplar(o)})
	}
}

var compareSides = [2]string{"baseline", "selection"}

func (c *compareEvaluator) result() []rawSeries {
	var out []rawSeries
	for side, attrs := range c.sides {
		for attr, values := range attrs {
			all := make([]*compareCounts, 0, len(values))
			for _, cc := range values {
				all = append(all, cc)
			}
			slices.SortFunc(all, func(a, b *compareCounts) int {
				if d := cmp.Compare(b.total, a.total); d != 0 {
					return d
				}
				return cmp.Compare(a.value.String(), b.value.String())
			})
			for _, cc := range all[:min(len(all), c.m.topN)] {
				out = append(out, rawSeries{
					labels: []Label{{Key: labelMetaType, Value: StringValue(compareSides[side])}, {Key: attr, Value: cc.value}},
					values: cc.counts,
				})
			}
			totals := c.totals[side][attr]
			out = append(out, rawSeries{
				labels:    []Label{{Key: labelMetaType, Value: StringValue(compareSides[side] + "_total")}, {Key: attr}},
				values:    totals,
				exemplars: c.totalExemplars(side, attr, totals),
			})
		}
	}
	return out
}

// totalExemplars are the exemplars of a side whose spans have attr, valued
// at the total of their step.
func (c *compareEvaluator) totalExemplars(side int, attr string, totals []float64) []Exemplar {
	var out []Exemplar
	for _, ce := range c.exemplars[side] {
		if slices.Contains(ce.attrs, attr) {
			e := ce.ex
			e.Value = totals[ce.step]
			out = append(out, e)
		}
	}
	return out
}

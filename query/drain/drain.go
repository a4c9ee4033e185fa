package drain

import (
	"container/list"
	"strconv"
	"strings"
)

// Param is the template token of a variable position, as in Loki's
// patterns and LogQL's pattern syntax.
const Param = "<_>"

// Config are Drain's parameters.
type Config struct {
	// Depth is the depth of the tree: Depth-2 tokens route a line, after
	// its token count (the paper's d; at least 3).
	Depth int
	// SimThreshold is the least share of equal tokens for a line to join
	// a group (the paper's st).
	SimThreshold float64
	// MaxChildren bounds the children of an internal node; tokens past it
	// share the <_> child.
	MaxChildren int
	// MaxClusters bounds the groups kept.
	MaxClusters int
	// MaxTokens bounds the tokens of a line: the rest count as one <_>.
	MaxTokens int
}

// DefaultConfig is the paper's depth 4 with a similarity threshold of 0.5.
func DefaultConfig() Config {
	return Config{Depth: 4, SimThreshold: 0.5, MaxChildren: 100, MaxClusters: 1000, MaxTokens: 128}
}

// Cluster is a log group: its template and how many lines it took, in
// all and by the bucket the caller gave each (Train's at).
type Cluster struct {
	tokens []string
	glue   []bool // glue[i]: no space between token i and i+1
	// Count is the lines the group took.
	Count int64
	// Samples are those lines by bucket.
	Samples map[int64]int64

	leaf *node
	elem *list.Element
}

// Pattern is the group's template as Loki writes it: the tokens joined by
// spaces (or not, as in the line: key=<_>), <_> for each variable part.
func (c *Cluster) Pattern() string {
	var b strings.Builder
	for i, t := range c.tokens {
		if i > 0 && t == Param && c.glue[i-1] && c.tokens[i-1] == Param {
			continue // <_><_> is one variable part
		}
		if i > 0 && !c.glue[i-1] {
			b.WriteByte(' ')
		}
		b.WriteString(t)
	}
	return b.String()
}

type node struct {
	parent   *node
	key      string
	children map[string]*node
	clusters []*Cluster // at a leaf
}

// Drain is one parse tree. It is not safe for concurrent use.
type Drain struct {
	cfg  Config
	root *node
	lru  *list.List // of *Cluster, the most recently matched first
	toks []string
	glue []bool
}

// New returns an empty tree.
func New(cfg Config) *Drain {
	cfg.Depth = max(cfg.Depth, 3)
	cfg.MaxChildren = max(cfg.MaxChildren, 1)
	cfg.MaxClusters = max(cfg.MaxClusters, 1)
	cfg.MaxTokens = max(cfg.MaxTokens, 1)
	return &Drain{cfg: cfg, root: &node{children: map[string]*node{}}, lru: list.New()}
}

// Clusters are the groups kept, the most recently matched first.
func (d *Drain) Clusters() []*Cluster {
	out := make([]*Cluster, 0, d.lru.Len())
	for e := d.lru.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(*Cluster))
	}
	return out
}

// Train adds a line, counted in bucket at, and returns its group (nil for
// a line with no tokens).
func (d *Drain) Train(line string, at int64) *Cluster {
	d.tokenize(line)
	if len(d.toks) == 0 {
		return nil
	}
	leaf := d.leaf(d.toks)
	c := d.best(leaf, d.toks)
	if c == nil {
		c = &Cluster{tokens: append([]string(nil), d.toks...), glue: append([]bool(nil), d.glue...), Samples: map[int64]int64{}, leaf: leaf}
		leaf.clusters = append(leaf.clusters, c)
		c.elem = d.lru.PushFront(c)
		if d.lru.Len() > d.cfg.MaxClusters {
			d.evict(d.lru.Back().Value.(*Cluster))
		}
	} else {
		for i, t := range d.toks {
			if c.tokens[i] != t {
				c.tokens[i] = Param
			}
			c.glue[i] = c.glue[i] && d.glue[i]
		}
		d.lru.MoveToFront(c.elem)
	}
	c.Count++
	c.Samples[at]++
	return c
}

// tokenize splits line into d.toks at ASCII white space, and a key=value token
// into key= and value, glued, so that a pattern keeps its keys; past
// MaxTokens, the rest is one <_>.
func (d *Drain) tokenize(line string) {
	d.toks, d.glue = d.toks[:0], d.glue[:0]
	for len(line) > 0 {
		i := 0
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		j := i
		for j < len(line) && !isSpace(line[j]) {
			j++
		}
		f := line[i:j]
		line = line[j:]
		if f == "" {
			break
		}
		if len(d.toks) >= d.cfg.MaxTokens {
			d.toks[len(d.toks)-1], d.glue[len(d.glue)-1] = Param, false
			return
		}
		if i := strings.IndexByte(f, '='); i > 0 && i < len(f)-1 && len(d.toks)+1 < d.cfg.MaxTokens {
			d.toks = append(d.toks, f[:i+1], f[i+1:])
			d.glue = append(d.glue, true, false)
			continue
		}
		d.toks = append(d.toks, f)
		d.glue = append(d.glue, false)
	}
}

// leaf walks down the tree by the token count and the first Depth-2
// tokens, adding the nodes that are missing.
func (d *Drain) leaf(toks []string) *node {
	n := child(d.root, strconv.Itoa(len(toks)))
	for i := 0; i < d.cfg.Depth-2 && i < len(toks); i++ {
		key := toks[i]
		if _, ok := n.children[key]; !ok && (hasDigit(key) || len(n.children) >= d.cfg.MaxChildren) {
			key = Param
		}
		n = child(n, key)
	}
	return n
}

// isSpace reports whether c is ASCII white space, which separates tokens.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func child(n *node, key string) *node {
	c := n.children[key]
	if c == nil {
		c = &node{parent: n, key: key, children: map[string]*node{}}
		n.children[key] = c
	}
	return c
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			return true
		}
	}
	return false
}

// best is the group of leaf most like toks, if alike enough: the most
// tokens equal position by position (a <_> equals nothing), ties going to
// the template with more parameters, then to the older group.
func (d *Drain) best(leaf *node, toks []string) *Cluster {
	var best *Cluster
	bestSim, bestParams := -1.0, -1
	for _, c := range leaf.clusters {
		if len(c.tokens) != len(toks) {
			continue // never: a leaf is under its token count
		}
		eq, params := 0, 0
		for i, t := range c.tokens {
			switch {
			case t == Param:
				params++
			case t == toks[i]:
				eq++
			}
		}
		sim := float64(eq) / float64(len(toks))
		if sim > bestSim || sim == bestSim && params > bestParams {
			best, bestSim, bestParams = c, sim, params
		}
	}
	if best == nil || bestSim < d.cfg.SimThreshold {
		return nil
	}
	return best
}

// evict drops c, and the nodes it leaves empty.
func (d *Drain) evict(c *Cluster) {
	d.lru.Remove(c.elem)
	leaf := c.leaf
	for i, x := range leaf.clusters {
		if x == c {
			leaf.clusters = append(leaf.clusters[:i], leaf.clusters[i+1:]...)
			break
		}
	}
	for n := leaf; n.parent != nil && len(n.children) == 0 && len(n.clusters) == 0; n = n.parent {
		delete(n.parent.children, n.key)
	}
}

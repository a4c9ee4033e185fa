package drain

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// patterns trains a tree on lines (bucket i/10 for line i) and returns its
// patterns with their counts.
func patterns(cfg Config, lines ...string) (map[string]int64, *Drain) {
	d := New(cfg)
	for i, l := range lines {
		d.Train(l, int64(i/10))
	}
	out := map[string]int64{}
	for _, c := range d.Clusters() {
		out[c.Pattern()] += c.Count
	}
	return out, d
}

// The patterns below are worked out by hand from the paper's steps with
// DefaultConfig (depth 4: the token count and the first two tokens route;
// similarity threshold 0.5).
func TestDrain(t *testing.T) {
	got, _ := patterns(DefaultConfig(),
		// 5 tokens, routed by "connected", "to": one leaf. The second line
		// has 4 of 5 tokens equal (0.8): one group, <_> for the address.
		// The third has 3 of 5 equal to that template (a <_> equals
		// nothing): 0.6, so it joins, and the port becomes <_> too.
		"connected to 10.0.0.1 port 22",
		"connected to 10.0.0.2 port 22",
		"connected to 10.0.0.3 port 2222",
		// 4 tokens, routed by "user" and the name: alice and bob are two
		// leaves (a token without digits is a branch of its own), so two
		// groups; alice's second line has 3 of 4 equal and joins hers.
		"user alice logged in",
		"user bob logged in",
		"user alice logged out",
		// Loki's documented example: key=value splits into key= and value,
		// 12 tokens routed by "ts=" and <_> (the time has digits); 10 of
		// 12 equal.
		"ts=2024-03-30T23:03:40 caller=grpc_logging.go:66 level=info method=/cortex.Ingester/Push duration=200ms msg=gRPC",
		"ts=2024-03-30T23:03:41 caller=grpc_logging.go:66 level=info method=/cortex.Ingester/Push duration=500ms msg=gRPC",
		// Same route and count as the connected lines but 2 of 5 equal
		// (0.4): a group of its own.
		"connected to db-main as reader",
		"", // no tokens: no group
	)
	require.Equal(t, map[string]int64{
		"connected to <_> port <_>":      3,
		"user alice logged <_>":          2,
		"user bob logged in":             1,
		"connected to db-main as reader": 1,
		"ts=<_> caller=grpc_logging.go:66 level=info method=/cortex.Ingester/Push duration=<_> msg=gRPC": 2,
	}, got)
}

// Past MaxChildren distinct tokens at a node, tokens share the <_> branch,
// where their lines can group.
func TestDrainMaxChildren(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxChildren = 2
	got, _ := patterns(cfg, "user alice logged in", "user bob logged in", "user carol logged in", "user dave logged in")
	require.Equal(t, map[string]int64{"user alice logged in": 1, "user bob logged in": 1, "user <_> logged in": 2}, got)
}

// At most MaxClusters groups are kept: the least recently matched goes,
// with the nodes only it used.
func TestDrainMaxClusters(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxClusters = 2
	got, d := patterns(cfg, "a b c", "a b c", "x y z", "p q r")
	require.Equal(t, map[string]int64{"x y z": 1, "p q r": 1}, got)
	require.Len(t, d.root.children["3"].children, 2, "a's branch is gone")
	got, _ = patterns(cfg, "a b c", "x y z", "a b c", "p q r")
	require.Equal(t, map[string]int64{"a b c": 2, "p q r": 1}, got, "a was matched after x")

	for range 1000 {
		d.Train("n0 n1 n2 n3", 0)
	}
	require.LessOrEqual(t, len(d.Clusters()), 2)
}

// A line counts for at most MaxTokens tokens, the rest being one <_>; a
// variable key and its variable value are one <_>.
func TestDrainTokens(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTokens = 4
	got, _ := patterns(cfg, "a b c d e f", "a b c d")
	require.Equal(t, map[string]int64{"a b c <_>": 2}, got)

	got, _ = patterns(DefaultConfig(), "k=v1 x", "k=v2 x")
	require.Equal(t, map[string]int64{"k=<_> x": 2}, got)
	got, _ = patterns(Config{Depth: 3, SimThreshold: 0.3, MaxChildren: 10, MaxClusters: 10, MaxTokens: 10}, "x a=1", "x b=2")
	require.Equal(t, map[string]int64{"x <_>": 2}, got, "x, then a= and 1 both variable")
}

func TestDrainSamples(t *testing.T) {
	d := New(DefaultConfig())
	for i := range 25 {
		d.Train("GET /health 200", int64(i/10)*10)
	}
	cs := d.Clusters()
	require.Len(t, cs, 1)
	require.Equal(t, map[int64]int64{0: 10, 10: 10, 20: 5}, cs[0].Samples)
	require.EqualValues(t, 25, cs[0].Count)
}

func FuzzDrain(f *testing.F) {
	f.Add("connected to 10.0.0.1 port 22", "k=v x=", 3)
	f.Fuzz(func(t *testing.T, a, b string, depth int) {
		d := New(Config{Depth: depth % 8, SimThreshold: 0.5, MaxChildren: 3, MaxClusters: 4, MaxTokens: 6})
		for _, l := range []string{a, b, a + " " + b, b} {
			if c := d.Train(l, 0); c != nil {
				require.Len(t, c.glue, len(c.tokens))
				require.LessOrEqual(t, len(c.tokens), 6)
			}
		}
		require.LessOrEqual(t, len(d.Clusters()), 4)
	})
}

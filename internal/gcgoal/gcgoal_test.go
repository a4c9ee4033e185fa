package gcgoal

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name        string
		percent     int
		floor, live uint64
		want        int
	}{
		{"small heap: the floor decides", 50, 64 * mib, 45 * mib, 142},
		{"large heap: the percentage decides", 50, 64 * mib, 200 * mib, 50},
		{"where they meet", 50, 64 * mib, 128 * mib, 50},
		{"before a collection: Go's least heap", 50, 64 * mib, 0, 1600},
		{"no floor", 75, 0, 10 * mib, 75},
		{"a floor beyond Go's int32", 50, 1 << 50, 0, math.MaxInt32},
		{"a floor whose hundredfold overflows a uint64", 50, math.MaxUint64/100 + 1, 45 * mib, math.MaxInt32},
	} {
		if got := Percent(c.percent, c.floor, c.live); got != c.want {
			t.Errorf("%s: Percent(%d, %d MiB, %d MiB) = %d, want %d", c.name, c.percent, c.floor/mib, c.live/mib, got, c.want)
		}
	}
}

// TestTunerFollowsCollections checks that every collection sets the
// percentage for the live heap it found, and that Stop sets it back.
func TestTunerFollowsCollections(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	tuned := make(chan struct{}, 1)
	const percent, floor = 50, 1 << 30 // more than any live heap here
	tn := start(percent, floor, func() {
		select {
		case tuned <- struct{}{}:
		default:
		}
	})
	<-tuned // Start's own tune
	if got := gogc(t); got != Percent(percent, floor, live(t)) {
		t.Fatalf("after Start: GOGC %d, want %d", got, Percent(percent, floor, live(t)))
	}

	// A live heap of 64 MiB more lowers the percentage the floor needs.
	before := gogc(t)
	ballast := make([]byte, 64<<20)
	for range 2 { // the cleanup armed before this cycle runs after the next
		runtime.GC()
		select {
		case <-tuned:
		case <-time.After(30 * time.Second):
			t.Fatal("no tune within 30 s of a collection")
		}
	}
	runtime.KeepAlive(ballast)
	if got, want := gogc(t), Percent(percent, floor, live(t)); got != want || got >= before {
		t.Fatalf("after collections with 64 MiB more live: GOGC %d, want %d (below %d)", got, want, before)
	}

	tn.Stop()
	if got := gogc(t); got != percent {
		t.Fatalf("after Stop: GOGC %d, want %d", got, percent)
	}
	runtime.GC()
	if got := gogc(t); got != percent {
		t.Fatalf("a collection after Stop: GOGC %d, want %d", got, percent)
	}
}

func read(t *testing.T, name string) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("runtime metric %s: kind %v", name, s[0].Value.Kind())
	}
	return s[0].Value.Uint64()
}

func gogc(t *testing.T) int    { return int(read(t, "/gc/gogc:percent")) }
func live(t *testing.T) uint64 { return read(t, "/gc/heap/live:bytes") }

package gcgoal

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// minHeap is the live heap Go's pacer assumes below it: its least goal is
// 4 MiB times GOGC/100.
const minHeap = 4 << 20

// Tuner keeps the collector's heap goal at least a floor of bytes above
// the live heap.
type Tuner struct {
	percent int    // GOGC asked for
	floor   uint64 // the least headroom, in bytes
	tuned   func() // called after each tune (tests)

	mu      sync.Mutex // serialises tune and Stop
	set     int        // the percentage last set
	sample  [1]metrics.Sample
	stopped atomic.Bool
}

// Start sets the collector's percentage to percent, raised while the live
// heap is small enough that percent of it is less than floor bytes.
func Start(percent int, floor uint64) *Tuner { return start(percent, floor, nil) }

func start(percent int, floor uint64, tuned func()) *Tuner {
	t := &Tuner{percent: percent, floor: floor, tuned: tuned}
	t.sample[0].Name = "/gc/heap/live:bytes"
	t.tune()
	t.arm()
	return t
}

// Stop sets the percentage back to the one asked for and tunes no more.
func (t *Tuner) Stop() {
	t.stopped.Store(true)
	t.mu.Lock()
	defer t.mu.Unlock()
	debug.SetGCPercent(t.percent)
}

// Percent is the percentage that gives a live heap of live bytes the
// larger of two goals: percent above it, and floor bytes above it.
func Percent(percent int, floor, live uint64) int {
	// In floats: floor × 100 overflows a uint64 from 160 PiB on.
	need := float64(floor) * 100 / float64(max(live, minHeap))
	if need <= float64(percent) {
		return percent
	}
	return int(min(need, math.MaxInt32)) // Go keeps the percentage in an int32
}

func (t *Tuner) tune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.sample[:])
	if p := Percent(t.percent, t.floor, t.sample[0].Value.Uint64()); p != t.set {
		debug.SetGCPercent(p)
		t.set = p
	}
	if t.tuned != nil {
		t.tuned()
	}
}

// cycle is dropped as soon as it is made, so that the next collection
// runs its cleanup. It holds a pointer so that it is not one of Go's tiny
// allocations, whose cleanups may never run.
type cycle struct{ _ *byte }

// arm has the next collection arm again and tune: arming first, so that
// the collection after a tune is sure to tune too.
func (t *Tuner) arm() {
	runtime.AddCleanup(new(cycle), func(t *Tuner) {
		if !t.stopped.Load() {
			t.arm()
			t.tune()
		}
	}, t)
}

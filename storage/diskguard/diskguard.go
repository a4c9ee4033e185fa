package diskguard

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/flagext"
)

// ErrDiskFull is returned while the free space is below the minimum.
var ErrDiskFull = errors.New("not enough free disk space")

// Options configure the guard.
type Options struct {
	// MinFreeBytes is the free space below which writes are refused; 0
	// turns the guard off.
	MinFreeBytes int64
	// Interval is how often the free space is read.
	Interval time.Duration
}

// DefaultOptions are the embedded defaults.
func DefaultOptions() Options {
	return Options{MinFreeBytes: 128 << 20, Interval: time.Second}
}

// RegisterFlags declares the options a user sets as flags.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	flagext.Bytes(fs, &o.MinFreeBytes, "storage.min-free-disk-space", "Writes are refused (503 / Unavailable) while the data directory's file system has less free space than this; reads go on, and writes resume by themselves when space returns. 0 turns it off.")
}

// Guard reports whether writes may go on. A nil *Guard never refuses.
type Guard struct {
	dir  string
	opts Options
	log  *slog.Logger
	free atomic.Int64
	full atomic.Bool
	// last is when the free space was last read (Unix nanoseconds): Err
	// reads it again when older than recheck, so that a burst of writes
	// between two ticks cannot run through the margin.
	last atomic.Int64

	stop chan struct{}
	done sync.WaitGroup
}

// New reads the free space of dir's file system now and then every
// opts.Interval until Close; nil if opts.MinFreeBytes is 0.
func New(dir string, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Guard, error) {
	if opts.MinFreeBytes <= 0 {
		return nil, nil
	}
	g := &Guard{dir: dir, opts: opts, log: logger, stop: make(chan struct{})}
	if err := g.check(); err != nil {
		return nil, err
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sightline_storage_free_bytes", Help: "Free space of the data directory's file system, as last read."},
			func() float64 { return float64(g.free.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sightline_storage_writes_refused", Help: "1 while writes are refused for lack of free disk space (-storage.min-free-disk-space)."},
			func() float64 {
				if g.full.Load() {
					return 1
				}
				return 0
			}))
	g.done.Add(1)
	go g.loop()
	return g, nil
}

func (g *Guard) loop() {
	defer g.done.Done()
	tick := time.NewTicker(g.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-tick.C:
			if err := g.check(); err != nil {
				g.log.Error("reading free disk space", "dir", g.dir, "err", err)
			}
		}
	}
}

// recheck is the most a decision of Err may be out of date.
const recheck = 20 * time.Millisecond

// check reads the free space and decides.
func (g *Guard) check() error {
	g.last.Store(time.Now().UnixNano())
	var st syscall.Statfs_t
	if err := syscall.Statfs(g.dir, &st); err != nil {
		return fmt.Errorf("free disk space of %s: %w", g.dir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	g.free.Store(free)
	full := free < g.opts.MinFreeBytes
	if was := g.full.Swap(full); was != full {
		if full {
			g.log.Error("refusing writes: the data directory's file system is nearly full", "free_bytes", free, "min_free_bytes", g.opts.MinFreeBytes, "dir", g.dir)
		} else {
			g.log.Info("accepting writes again: free disk space is back above the minimum", "free_bytes", free)
		}
	}
	return nil
}

// Err is nil while writes may go on, and ErrDiskFull (with the figures)
// while they may not.
func (g *Guard) Err() error {
	if g == nil {
		return nil
	}
	if time.Now().UnixNano()-g.last.Load() > int64(recheck) {
		_ = g.check() // an error leaves the last decision, and the loop logs it
	}
	if !g.full.Load() {
		return nil
	}
	return fmt.Errorf("%w: %d bytes free in the data directory's file system, below -storage.min-free-disk-space=%d; reads go on, writes resume when space is freed", ErrDiskFull, g.free.Load(), g.opts.MinFreeBytes)
}

// Close stops watching.
func (g *Guard) Close() {
	if g == nil {
		return
	}
	close(g.stop)
	g.done.Wait()
}

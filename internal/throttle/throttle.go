package throttle

import (
	"log/slog"
	"sync"
	"time"
)

// Logger logs at most one message per interval and says how many it held back.
type Logger struct {
	logger   *slog.Logger
	interval time.Duration

	mu         sync.Mutex
	last       time.Time // guarded by mu
	suppressed int       // guarded by mu
}

// New returns a Logger that writes to logger at most once per interval.
func New(logger *slog.Logger, interval time.Duration) *Logger {
	return &Logger{logger: logger, interval: interval}
}

// Warn logs msg at warning level unless a message was logged less than an
// interval ago.
func (l *Logger) Warn(msg string, args ...any) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < l.interval {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed_since_last", suppressed)
	}
	l.logger.Warn(msg, args...)
}

//go:build race

package colblock

// raceDetector: sync.Pool drops items at random under the race detector,
// so allocation counts that rely on reuse through a pool do not hold.
const raceDetector = true

//go:build !race

package colblock

const raceDetector = false

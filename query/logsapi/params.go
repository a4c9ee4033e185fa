package logsapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// parseTime reads a time as Loki accepts it: Unix nanoseconds (an integer
// of more than 10 digits), Unix seconds (possibly fractional) or RFC3339.
func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if len(strings.TrimPrefix(s, "-")) > 10 {
			return time.Unix(0, n), nil
		}
		return clampTime(float64(n)), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) {
		return clampTime(f), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot parse %q as a time: use Unix seconds, Unix nanoseconds or RFC3339", s)
	}
	return clamp(t), nil
}

// The stores keep time as Unix nanoseconds in an int64 (years 1677 to
// 2262); a time outside is clamped to that range, so that no conversion to
// nanoseconds overflows into a time on the other side.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64-int64(time.Second)) // room for the fraction
)

// clamp is t within [minTime, maxTime].
func clamp(t time.Time) time.Time {
	switch {
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return t
}

// clampTime is the time sec Unix seconds after the epoch, within [minTime,
// maxTime].
func clampTime(sec float64) time.Time {
	switch {
	case sec <= float64(minTime.Unix()):
		return minTime
	case sec >= float64(maxTime.Unix()):
		return maxTime
	}
	s, frac := math.Modf(sec)
	return time.Unix(int64(s), int64(frac*1e9))
}

// parseDuration reads a step or range: a Prometheus duration (30s, 5m) or
// seconds (possibly fractional).
func parseDuration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("cannot parse %q as a duration", s)
	}
	return time.Duration(d), nil
}

func parseInt(s string, def, maxV int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("cannot parse %q as a non-negative integer", s)
	}
	if n > maxV {
		return 0, fmt.Errorf("%d is over the maximum of %d", n, maxV)
	}
	return n, nil
}

// timeRange reads start and end, by default the last hour.
func timeRange(r *http.Request) (time.Time, time.Time, error) {
	end, err := parseTime(r.FormValue("end"), time.Now())
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("invalid end: %w", err)
	}
	start, err := parseTime(r.FormValue("start"), clamp(end.Add(-time.Hour)))
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("invalid start: %w", err)
	}
	if end.Before(start) {
		return time.Time{}, time.Time{}, fmt.Errorf("end (%s) is before start (%s)", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	return start, end, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the Prometheus-style shape the native API uses.
func writeError(w http.ResponseWriter, code int, errType string, err error) {
	writeJSON(w, code, map[string]string{"status": "error", "errorType": errType, "error": err.Error()})
}

// lokiError answers as Loki does: the message as plain text.
func lokiError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(err.Error()))
}

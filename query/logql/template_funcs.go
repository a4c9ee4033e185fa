package logql

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// The number, time and conversion functions of Loki's templates (Sprig's
// arithmetic, date and conversion functions with Sprig's loose typing,
// and Loki's own unixEpoch*, unixToTime, duration and bytes). Times are in
// UTC.
var numberTimeFuncs = map[string]any{
	"int":     toInt64,
	"float64": toFloat64,
	"add": func(vs ...any) int64 {
		var s int64
		for _, v := range vs {
			s += toInt64(v)
		}
		return s
	},
	"sub": func(a, b any) int64 { return toInt64(a) - toInt64(b) },
	"mul": func(a any, vs ...any) int64 {
		p := toInt64(a)
		for _, v := range vs {
			p *= toInt64(v)
		}
		return p
	},
	"div": func(a, b any) (int64, error) {
		d := toInt64(b)
		if d == 0 {
			return 0, errors.New("integer divide by zero")
		}
		return toInt64(a) / d, nil
	},
	"mod": func(a, b any) (int64, error) {
		d := toInt64(b)
		if d == 0 {
			return 0, errors.New("integer divide by zero")
		}
		return toInt64(a) % d, nil
	},
	"addf": func(vs ...any) float64 {
		var s float64
		for _, v := range vs {
			s += toFloat64(v)
		}
		return s
	},
	"subf": func(a any, vs ...any) float64 {
		r := toFloat64(a)
		for _, v := range vs {
			r -= toFloat64(v)
		}
		return r
	},
	"mulf": func(a any, vs ...any) float64 {
		r := toFloat64(a)
		for _, v := range vs {
			r *= toFloat64(v)
		}
		return r
	},
	"divf": func(a any, vs ...any) float64 {
		r := toFloat64(a)
		for _, v := range vs {
			r /= toFloat64(v)
		}
		return r
	},
	"max": func(a any, vs ...any) int64 {
		r := toInt64(a)
		for _, v := range vs {
			r = max(r, toInt64(v))
		}
		return r
	},
	"min": func(a any, vs ...any) int64 {
		r := toInt64(a)
		for _, v := range vs {
			r = min(r, toInt64(v))
		}
		return r
	},
	"maxf": func(a any, vs ...any) float64 {
		r := toFloat64(a)
		for _, v := range vs {
			r = math.Max(r, toFloat64(v))
		}
		return r
	},
	"minf": func(a any, vs ...any) float64 {
		r := toFloat64(a)
		for _, v := range vs {
			r = math.Min(r, toFloat64(v))
		}
		return r
	},
	"ceil":  func(a any) float64 { return math.Ceil(toFloat64(a)) },
	"floor": func(a any) float64 { return math.Floor(toFloat64(a)) },
	"round": func(a any, places int, roundOn ...float64) float64 {
		on := 0.5
		if len(roundOn) > 0 {
			on = roundOn[0]
		}
		pow := math.Pow(10, float64(places))
		digit := toFloat64(a) * pow
		_, frac := math.Modf(digit)
		if frac >= on {
			return math.Ceil(digit) / pow
		}
		return math.Floor(digit) / pow
	},
	"now":  func() time.Time { return time.Now().UTC() },
	"date": func(layout string, t any) string { return toTime(t).Format(layout) },
	"toDate": func(layout, s string) time.Time {
		t, _ := time.ParseInLocation(layout, s, time.UTC)
		return t
	},
	"toDateInZone": func(layout, zone, s string) time.Time {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			loc = time.UTC
		}
		t, _ := time.ParseInLocation(layout, s, loc)
		return t
	},
	"unixEpoch":        func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) },
	"unixEpochMillis":  func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) },
	"unixEpochNanos":   func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) },
	"unixToTime":       unixToTime,
	"duration":         durationSeconds,
	"duration_seconds": durationSeconds,
	"bytes": func(s string) (string, error) {
		b, err := parseBytes(s)
		return strconv.FormatUint(b, 10), err
	},
}

// toInt64 converts like Sprig's (cast's) ToInt64: numbers truncated,
// strings parsed (0 when they do not parse), true as 1.
func toInt64(v any) int64 {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int64:
		return v
	case int32:
		return int64(v)
	case uint64:
		return int64(v)
	case float64:
		return int64(v)
	case float32:
		return int64(v)
	case bool:
		if v {
			return 1
		}
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 0, 64)
		if err == nil {
			return n
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err == nil {
			return int64(f)
		}
	}
	return 0
}

// toFloat64 converts like Sprig's toFloat64.
func toFloat64(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err == nil {
			return f
		}
		return 0
	}
	return float64(toInt64(v))
}

// toTime converts what Sprig's date accepts: a time, or Unix seconds.
func toTime(v any) time.Time {
	if t, ok := v.(time.Time); ok {
		return t.UTC()
	}
	return time.Unix(toInt64(v), 0).UTC()
}

// unixToTime reads a Unix epoch in days (5 digits), seconds (10),
// milliseconds (13), microseconds (16) or nanoseconds (19), as Loki does.
func unixToTime(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	switch len(s) {
	case 5:
		return time.Unix(n*86400, 0).UTC(), nil
	case 10:
		return time.Unix(n, 0).UTC(), nil
	case 13:
		return time.UnixMilli(n).UTC(), nil
	case 16:
		return time.UnixMicro(n).UTC(), nil
	case 19:
		return time.Unix(0, n).UTC(), nil
	}
	return time.Time{}, errors.New("unable to convert " + s + " to time: length not supported")
}

// durationSeconds converts a Go duration (time.ParseDuration, as Loki's
// duration_seconds) to seconds.
func durationSeconds(s string) (float64, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return d.Seconds(), nil
}

func indent(n int, s string) string {
	if n < 0 || n > maxTemplateRepeat {
		n = 0
	}
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// fromJSON decodes JSON for use in a template; invalid JSON gives "", as
// Loki documents.
func fromJSON(s string) any {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return ""
	}
	return v
}

package cib

import (
	"strconv"
	"strings"
)

// Infinity is Pacemaker's score bound.
const Infinity = 1000000

// ParseScore converts a score string; unknown text is 0.
func ParseScore(s string) int {
	s = strings.TrimSpace(s)
	switch strings.ToUpper(s) {
	case "INFINITY", "+INFINITY":
		return Infinity
	case "-INFINITY":
		return -Infinity
	case "":
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// leading-number parse like strtoll
		i := 0
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n, err = strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0
		}
	}
	if n > Infinity {
		return Infinity
	}
	if n < -Infinity {
		return -Infinity
	}
	return int(n)
}

// AddScore adds with Pacemaker's saturation: -INFINITY dominates.
func AddScore(a, b int) int {
	if a <= -Infinity || b <= -Infinity {
		return -Infinity
	}
	if a >= Infinity || b >= Infinity {
		return Infinity
	}
	s := a + b
	if s > Infinity {
		return Infinity
	}
	if s < -Infinity {
		return -Infinity
	}
	return s
}

// ScoreString renders a score as Pacemaker does.
func ScoreString(s int) string {
	switch {
	case s >= Infinity:
		return "INFINITY"
	case s <= -Infinity:
		return "-INFINITY"
	}
	return strconv.Itoa(s)
}

// ParseDurationMS parses an interval/timeout ("10s", "1m", "500ms", "PT5M",
// bare seconds) into milliseconds. ok is false for unparsable input.
func ParseDurationMS(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	if strings.HasPrefix(s, "P") {
		d, ok := ParseISODuration(s)
		if !ok {
			return 0, false
		}
		return d.Seconds() * 1000, true
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || (i == 0 && (s[i] == '-' || s[i] == '+'))) {
		i++
	}
	num, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, false
	}
	unit := strings.ToLower(strings.TrimSpace(s[i:]))
	mult := 1000.0
	switch unit {
	case "", "s", "sec":
		mult = 1000
	case "ms", "msec":
		mult = 1
	case "us", "usec":
		mult = 0.001
	case "m", "min":
		mult = 60000
	case "h", "hr":
		mult = 3600000
	default:
		return 0, false
	}
	return int64(num * mult), true
}

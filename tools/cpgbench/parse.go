package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseResult reads one output line (Result.String, or the C client's
// identical line) back.
func ParseResult(line string) (Result, error) {
	var r Result
	var rate float64
	seen := 0
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return r, fmt.Errorf("cpgbench: field %q without '='", f)
		}
		var err error
		switch k {
		case "size":
			r.Size, err = strconv.Atoi(v)
		case "msgs":
			r.Msgs, err = strconv.Atoi(v)
		case "msg/s":
			rate, err = strconv.ParseFloat(v, 64)
		case "MB/s":
			_, err = strconv.ParseFloat(v, 64)
		case "p50":
			r.P50, err = parseMs(v)
		case "p99":
			r.P99, err = parseMs(v)
		default:
			return r, fmt.Errorf("cpgbench: unknown field %q", k)
		}
		if err != nil {
			return r, fmt.Errorf("cpgbench: field %s: %w", k, err)
		}
		seen++
	}
	if seen != 6 || r.Size < 1 || r.Msgs < 0 || !(rate >= 0) {
		return r, fmt.Errorf("cpgbench: incomplete result line %q", line)
	}
	if rate > 0 {
		// Keep the exact rate the line reports.
		r.Elapsed = time.Duration(float64(r.Msgs) / rate * float64(time.Second))
	}
	return r, nil
}

func parseMs(v string) (time.Duration, error) {
	s, ok := strings.CutSuffix(v, "ms")
	if !ok {
		return 0, fmt.Errorf("%q is not in ms", v)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e9 {
		return 0, fmt.Errorf("bad latency %q", v)
	}
	return time.Duration(f * float64(time.Millisecond)), nil
}

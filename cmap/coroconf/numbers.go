package coroconf

import (
	"math"

	"github.com/ringfence/ringfence/cmap"
)

func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// parseCInt reads a whole string as C's strtoll/strtoull (base 10) would:
// optional leading white space and sign, at least one digit, nothing after.
// mag is the magnitude; overflow is reported separately because strtoll and
// strtoull saturate and set ERANGE.
func parseCInt(s string) (neg bool, mag uint64, overflow, ok bool) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if mag > (math.MaxUint64-d)/10 {
			overflow = true
		} else if !overflow {
			mag = mag*10 + d
		}
	}
	if i == start || i != len(s) {
		return false, 0, false, false
	}
	return neg, mag, overflow, true
}

// intRange is the range coroparse checks for a target type.
func intRange(t cmap.Type) (lo, hi int64) {
	switch t {
	case cmap.TypeInt8:
		return math.MinInt8, math.MaxInt8
	case cmap.TypeUint8:
		return 0, math.MaxUint8
	case cmap.TypeInt16:
		return math.MinInt16, math.MaxInt16
	case cmap.TypeUint16:
		return 0, math.MaxUint16
	case cmap.TypeInt32:
		return math.MinInt32, math.MaxInt32
	case cmap.TypeUint32:
		return 0, math.MaxUint32
	}
	return 0, 0
}

// safeAtoq is coroparse's integer conversion: strtoll then a range check.
func safeAtoq(s string, t cmap.Type) (int64, bool) {
	neg, mag, overflow, ok := parseCInt(s)
	if !ok || overflow {
		return 0, false
	}
	var v int64
	switch {
	case !neg && mag <= math.MaxInt64:
		v = int64(mag)
	case neg && mag <= 1<<63:
		v = -int64(mag-1) - 1
	default:
		return 0, false // strtoll would set ERANGE
	}
	lo, hi := intRange(t)
	if v < lo || v > hi {
		return 0, false
	}
	return v, true
}

// strToUll is strtoull: a leading '-' negates in unsigned arithmetic, so
// "-1" is 18446744073709551615.
func strToUll(s string) (uint64, bool) {
	neg, mag, overflow, ok := parseCInt(s)
	if !ok || overflow {
		return 0, false
	}
	if neg {
		return -mag, true
	}
	return mag, true
}

// typedValue builds the cmap value for an integer already range-checked.
func typedValue(t cmap.Type, v int64) cmap.Value {
	switch t {
	case cmap.TypeUint8:
		return cmap.U8(uint8(v))
	case cmap.TypeUint16:
		return cmap.U16(uint16(v))
	case cmap.TypeInt32:
		return cmap.I32(int32(v))
	}
	return cmap.U32(uint32(v))
}

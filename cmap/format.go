package cmap

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// FormatValue renders a value the way corosync-cmapctl prints it after the
// "= ": integers in decimal, flt and dbl with C's "%f" (six decimals, "inf",
// "nan"), strings verbatim. For bin, cmapctl prints no value at all unless
// run with -b; formatBinary gives the -b rendering.
func FormatValue(v Value) string {
	switch v.Type {
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		x, _ := v.AsInt64()
		return strconv.FormatInt(x, 10)
	case TypeUint8, TypeUint16, TypeUint32, TypeUint64:
		x, _ := v.AsUint64()
		return strconv.FormatUint(x, 10)
	case TypeFloat, TypeDouble:
		f, _ := v.AsFloat()
		return formatCFloat(f)
	case TypeString:
		return string(v.data)
	case TypeBinary:
		return formatBinary(v.data)
	}
	return ""
}

func formatCFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'f', 6, 64)
}

// formatBinary reproduces cmapctl's print_binary_key: printable ASCII as is,
// a backslash doubled, anything else as \xHH. cmapctl passes a signed char
// to printf, so bytes >= 0x80 come out sign-extended ("\xFFFFFF80"); we
// print the same so outputs compare equal.
func formatBinary(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '\\':
			sb.WriteString(`\\`)
		case c >= ' ' && c < 0x7f:
			sb.WriteByte(c)
		case c >= 0x80:
			fmt.Fprintf(&sb, `\x%08X`, uint32(int32(int8(c))))
		default:
			fmt.Fprintf(&sb, `\x%02X`, c)
		}
	}
	return sb.String()
}

// FormatEntry renders one corosync-cmapctl line (without newline):
// "key (type) = value", or "key (bin)" for binaries unless showBinary.
func FormatEntry(e Entry, showBinary bool) string {
	if e.Value.Type == TypeBinary && !showBinary {
		return e.Key + " (bin)"
	}
	return e.Key + " (" + e.Value.Type.String() + ") = " + FormatValue(e.Value)
}

// Dump writes entries (already sorted, e.g. from Iter) in cmapctl format.
func Dump(w io.Writer, entries []Entry, showBinary bool) error {
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		bw.WriteString(FormatEntry(e, showBinary))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// ParseDumpLine splits a cmapctl line into key, type name and value text.
// It is used to compare dumps taken from a real corosync with ours.
func ParseDumpLine(line string) (key, typ, value string, ok bool) {
	open := strings.Index(line, " (")
	if open < 0 {
		return "", "", "", false
	}
	rest := line[open+2:]
	closeIdx := strings.IndexByte(rest, ')')
	if closeIdx < 0 {
		return "", "", "", false
	}
	key, typ, rest = line[:open], rest[:closeIdx], rest[closeIdx+1:]
	if rest == "" && typ == "bin" {
		return key, typ, "", true
	}
	if !strings.HasPrefix(rest, " = ") {
		return "", "", "", false
	}
	return key, typ, rest[3:], true
}

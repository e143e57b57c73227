package cmap

import (
	"strings"
	"testing"
)

// FuzzFromWire: any type byte and payload a client could send either gives
// a clear error or a value that round-trips through WireBytes.
func FuzzFromWire(f *testing.F) {
	f.Add(uint8(TypeString), []byte("abc\x00"))
	f.Add(uint8(TypeUint32), []byte{1, 0, 0, 0})
	f.Add(uint8(TypeBinary), []byte{0xff, 0})
	f.Add(uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		v, err := FromWire(Type(typ), data)
		if err != nil {
			return
		}
		again, err := FromWire(v.Type, v.WireBytes())
		if err != nil || !again.Equal(v) {
			t.Fatalf("round trip of %v failed: %v", v, err)
		}
		if v.Len() != len(v.WireBytes()) {
			t.Fatalf("Len %d but %d wire bytes", v.Len(), len(v.WireBytes()))
		}
		line := FormatEntry(Entry{"fuzz.key", v}, true)
		if v.Type != TypeString && strings.Contains(line, "\n") {
			t.Fatalf("newline in %q", line)
		}
	})
}

// FuzzParseDumpLine: never panics, and lines we format parse back.
func FuzzParseDumpLine(f *testing.F) {
	f.Add("totem.token (u32) = 3000")
	f.Add("a.b (bin)")
	f.Add("x (str) = (y) = z")
	f.Fuzz(func(t *testing.T, line string) {
		ParseDumpLine(line)
		key := SanitizeKeyName(line)
		if len(key) < KeyNameMinLen || len(key) > KeyNameMaxLen {
			return
		}
		k, typ, val, ok := ParseDumpLine(FormatEntry(Entry{key, U32(7)}, false))
		if !ok || k != key || typ != "u32" || val != "7" {
			t.Fatalf("%q -> %q %q %q %v", key, k, typ, val, ok)
		}
	})
}

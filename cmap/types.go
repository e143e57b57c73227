package cmap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Type is a Corosync value type. The numbers are the ones used on the wire
// by the cmap IPC service (cmap_value_types_t), so they must not change.
type Type uint8

const (
	TypeInt8   Type = 1
	TypeUint8  Type = 2
	TypeInt16  Type = 3
	TypeUint16 Type = 4
	TypeInt32  Type = 5
	TypeUint32 Type = 6
	TypeInt64  Type = 7
	TypeUint64 Type = 8
	TypeFloat  Type = 9
	TypeDouble Type = 10
	TypeString Type = 11
	TypeBinary Type = 12
)

var typeNames = [...]string{
	TypeInt8: "i8", TypeUint8: "u8", TypeInt16: "i16", TypeUint16: "u16",
	TypeInt32: "i32", TypeUint32: "u32", TypeInt64: "i64", TypeUint64: "u64",
	TypeFloat: "flt", TypeDouble: "dbl", TypeString: "str", TypeBinary: "bin",
}

// String returns the short name corosync-cmapctl prints ("u32", "str", ...).
func (t Type) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Valid reports whether t is one of the twelve Corosync types.
func (t Type) Valid() bool { return t >= TypeInt8 && t <= TypeBinary }

// ParseType maps a cmapctl type name back to a Type.
func ParseType(name string) (Type, bool) {
	for t := TypeInt8; t <= TypeBinary; t++ {
		if typeNames[t] == name {
			return t, true
		}
	}
	return 0, false
}

// fixedSize is the byte length of a numeric type, 0 for str and bin.
func (t Type) fixedSize() int {
	switch t {
	case TypeInt8, TypeUint8:
		return 1
	case TypeInt16, TypeUint16:
		return 2
	case TypeInt32, TypeUint32, TypeFloat:
		return 4
	case TypeInt64, TypeUint64, TypeDouble:
		return 8
	}
	return 0
}

// Value is a typed cmap value. Numbers are kept in host (little-endian)
// byte order exactly as Corosync keeps them, so the bytes can be served over
// IPC unchanged. A string is kept WITHOUT its terminating NUL; WireBytes adds
// it, because Corosync counts the NUL in value_len.
type Value struct {
	Type Type
	data []byte
}

// Bytes returns the stored bytes (a string without the NUL). Do not modify.
func (v Value) Bytes() []byte { return v.data }

// Len is the value_len Corosync reports: strings include the NUL.
func (v Value) Len() int {
	if v.Type == TypeString {
		return len(v.data) + 1
	}
	return len(v.data)
}

// WireBytes returns the value as Corosync serves it (strings NUL-terminated).
func (v Value) WireBytes() []byte {
	if v.Type == TypeString {
		out := make([]byte, len(v.data)+1)
		copy(out, v.data)
		return out
	}
	return append([]byte(nil), v.data...)
}

// Equal reports same type and same bytes: the rule icmap uses to decide
// that a set changes nothing and must not notify trackers.
func (v Value) Equal(o Value) bool { return v.Type == o.Type && bytes.Equal(v.data, o.data) }

// FromWire builds a value from bytes as received from a client. For strings
// the value ends at the first NUL (corosync treats them as C strings).
func FromWire(t Type, b []byte) (Value, error) {
	if !t.Valid() {
		return Value{}, fmt.Errorf("cmap: invalid value type %d", t)
	}
	if n := t.fixedSize(); n != 0 && len(b) != n {
		return Value{}, fmt.Errorf("cmap: %s value needs %d bytes, got %d", t, n, len(b))
	}
	if t == TypeString {
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
	}
	return Value{Type: t, data: append([]byte(nil), b...)}, nil
}

func le16(x uint16) []byte { return binary.LittleEndian.AppendUint16(nil, x) }
func le32(x uint32) []byte { return binary.LittleEndian.AppendUint32(nil, x) }
func le64(x uint64) []byte { return binary.LittleEndian.AppendUint64(nil, x) }

func I8(x int8) Value     { return Value{TypeInt8, []byte{byte(x)}} }
func U8(x uint8) Value    { return Value{TypeUint8, []byte{x}} }
func I16(x int16) Value   { return Value{TypeInt16, le16(uint16(x))} }
func U16(x uint16) Value  { return Value{TypeUint16, le16(x)} }
func I32(x int32) Value   { return Value{TypeInt32, le32(uint32(x))} }
func U32(x uint32) Value  { return Value{TypeUint32, le32(x)} }
func I64(x int64) Value   { return Value{TypeInt64, le64(uint64(x))} }
func U64(x uint64) Value  { return Value{TypeUint64, le64(x)} }
func Flt(x float32) Value { return Value{TypeFloat, le32(math.Float32bits(x))} }
func Dbl(x float64) Value { return Value{TypeDouble, le64(math.Float64bits(x))} }
func Str(s string) Value  { return Value{TypeString, []byte(s)} }
func Bin(b []byte) Value  { return Value{TypeBinary, append([]byte(nil), b...)} }

// AsUint64 returns an unsigned integer value widened to 64 bits. ok is false
// for any other type.
func (v Value) AsUint64() (x uint64, ok bool) {
	switch v.Type {
	case TypeUint8:
		return uint64(v.data[0]), true
	case TypeUint16:
		return uint64(binary.LittleEndian.Uint16(v.data)), true
	case TypeUint32:
		return uint64(binary.LittleEndian.Uint32(v.data)), true
	case TypeUint64:
		return binary.LittleEndian.Uint64(v.data), true
	}
	return 0, false
}

// AsInt64 returns a signed integer value widened to 64 bits.
func (v Value) AsInt64() (x int64, ok bool) {
	switch v.Type {
	case TypeInt8:
		return int64(int8(v.data[0])), true
	case TypeInt16:
		return int64(int16(binary.LittleEndian.Uint16(v.data))), true
	case TypeInt32:
		return int64(int32(binary.LittleEndian.Uint32(v.data))), true
	case TypeInt64:
		return int64(binary.LittleEndian.Uint64(v.data)), true
	}
	return 0, false
}

// AsString returns a string value; ok is false for other types.
func (v Value) AsString() (string, bool) {
	if v.Type != TypeString {
		return "", false
	}
	return string(v.data), true
}

// AsFloat returns flt and dbl values as float64.
func (v Value) AsFloat() (float64, bool) {
	switch v.Type {
	case TypeFloat:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(v.data))), true
	case TypeDouble:
		return math.Float64frombits(binary.LittleEndian.Uint64(v.data)), true
	}
	return 0, false
}

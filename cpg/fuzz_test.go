package cpg

import (
	"bytes"
	"testing"
)

// FuzzDecode: Decode never panics, and whatever it accepts re-encodes
// to a message that decodes to the same bytes again.
func FuzzDecode(f *testing.F) {
	for _, name := range allCaptures {
		for _, c := range cpgMessages(f, name) {
			f.Add(c.Payload, false)
		}
	}
	f.Add((&JoinList{Entries: []JoinEntry{{PID: 1, Group: "g"}}}).Encode(), false)
	f.Add(bytes.Join((&PartialMcast{Group: "g", MsgLen: 9, Type: PartialFirst, Data: []byte("abc")}).Encode(), nil), true)
	f.Fuzz(func(t *testing.T, b []byte, swapped bool) {
		m, err := Decode(b, swapped)
		if err != nil || m == nil {
			return
		}
		enc := encodeAny(m)
		m2, err := Decode(enc, false)
		if err != nil {
			t.Fatalf("re-encoding of %T rejected: %v", m, err)
		}
		if !bytes.Equal(encodeAny(m2), enc) {
			t.Fatalf("%T: encode/decode not stable", m)
		}
	})
}

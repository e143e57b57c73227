package heartbeat

import (
	"errors"
	"testing"
)

func TestPacketRoundTrip(t *testing.T) {
	p := Packet{Type: TypeProbe, Link: 1, From: 0x01020304, To: 9, Seq: 77, Stamp: 1 << 62}
	b := p.Append(nil)
	if len(b) != PacketLen {
		t.Fatalf("%d bytes", len(b))
	}
	got, err := Parse(b)
	if err != nil || got != p {
		t.Fatalf("%+v %v", got, err)
	}
	a := p.Answer(9, FlagKernel)
	if a.From != 9 || a.To != p.From || a.Seq != p.Seq || a.Stamp != p.Stamp || a.Type != TypeAnswer {
		t.Fatalf("answer %+v", a)
	}
}

func TestParseRejects(t *testing.T) {
	good := Packet{Type: TypeAnswer}.Append(nil)
	bad := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		b    []byte
		want error
	}{
		{good[:10], ErrShort},
		{bad(func(b []byte) []byte { b[0] = 'X'; return b }), ErrMagic},
		{bad(func(b []byte) []byte { b[4] = 2; return b }), ErrVersion},
		{bad(func(b []byte) []byte { b[5] = 3; return b }), ErrType},
	}
	for i, c := range cases {
		if _, err := Parse(c.b); !errors.Is(err, c.want) {
			t.Errorf("case %d: %v, want %v", i, err, c.want)
		}
	}
	if _, err := Parse(append(good, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Packet{Type: TypeProbe, From: 1, To: 2, Seq: 3, Stamp: 4}.Append(nil))
	f.Add([]byte("RFHB"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		if string(p.Append(nil)) != string(b) {
			t.Fatalf("%x re-encodes to %x", b, p.Append(nil))
		}
	})
}

package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleMessages() []Message {
	r := RingID{Rep: 3, Seq: 0x1234}
	return []Message{
		&OrfToken{Header: Header{NodeID: 3}, Seq: 10, TokenSeq: 11, Aru: 9, AruAddr: 4, RingID: r, Backlog: 2, FCC: 5, RetransFlg: 1,
			RtrList: []RtrItem{{RingID: r, Seq: 7}, {RingID: r, Seq: 8}}},
		&Mcast{Header: Header{NodeID: 3, Encapsulated: EncapsulatedNormal}, SystemFrom: 3, Seq: 12, ThisSeqno: 99, RingID: r, Guarantee: 1, Payload: []byte("payload")},
		&MergeDetect{Header: Header{NodeID: 3}, SystemFrom: 3, RingID: r},
		&Join{Header: Header{NodeID: 3}, SystemFrom: 3, RingSeq: 0x1234, ProcList: []uint32{3, 4, 5}, FailedList: []uint32{6}},
		&CommitToken{Header: Header{NodeID: 3}, TokenSeq: 1, RingID: RingID{3, 0x1238}, MembIndex: 1, Addr: []uint32{3, 4},
			MembList: []CommitMember{{RingID: r, Aru: 12, HighDelivered: 12, ReceivedFlg: 1}, {}}},
		&TokenHoldCancel{Header: Header{NodeID: 4}, RingID: r},
	}
}

func TestRoundTripBothByteOrders(t *testing.T) {
	for _, big := range []bool{false, true} {
		for _, m := range sampleMessages() {
			m.Hdr().BigEndian = big
			b, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			if big && (b[0] != 0xC0 || b[1] != 0x70) || !big && (b[0] != 0x70 || b[1] != 0xC0) {
				t.Fatalf("%T big=%v: magic bytes %x", m, big, b[:2])
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("%T big=%v: %v", m, big, err)
			}
			want := m
			want.Hdr().Type = got.Hdr().Type
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("big=%v:\n got %+v\nwant %+v", big, got, want)
			}
		}
	}
}

// TestBigEndianSender checks the endian detector: a join written by a
// big-endian host decodes to the same values as its little-endian twin.
func TestBigEndianSender(t *testing.T) {
	le := []byte{0x70, 0xc0, 3, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}
	be := []byte{0xc0, 0x70, 3, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1}
	a, err := Decode(le)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode(be)
	if err != nil {
		t.Fatal(err)
	}
	ja, jb := a.(*Join), b.(*Join)
	if !jb.Header.BigEndian || ja.Header.BigEndian {
		t.Fatal("byte order not detected")
	}
	if ja.SystemFrom != 1 || jb.SystemFrom != 1 || jb.RingSeq != 5 || !reflect.DeepEqual(ja.ProcList, jb.ProcList) {
		t.Fatalf("le %+v be %+v", ja, jb)
	}
	out, _ := Encode(jb)
	if !bytes.Equal(out, be) {
		t.Fatalf("big-endian join re-encodes as %x", out)
	}
}

func TestRejections(t *testing.T) {
	join, _ := Encode(sampleMessages()[3])
	token, _ := Encode(sampleMessages()[0])
	cases := []struct {
		name string
		b    []byte
		kind error
	}{
		{"empty", nil, ErrShort},
		{"short header", join[:12], ErrShort},
		{"corosync 2 magic", append([]byte{0xff, 0xff}, join[2:]...), ErrBadMagic},
		{"version 2", append(append([]byte{}, join[:2]...), append([]byte{2}, join[3:]...)...), ErrBadVersion},
		{"type 9", append(append([]byte{}, join[:3]...), append([]byte{9}, join[4:]...)...), ErrBadType},
		{"join truncated list", join[:len(join)-1], ErrLength},
		{"join trailing byte", append(append([]byte{}, join...), 0), ErrLength},
		{"token short", token[:40], ErrShort},
		{"token lies about rtr count", func() []byte { b := append([]byte{}, token...); b[53] = 200; return b }(), ErrBadCount},
	}
	for _, c := range cases {
		_, err := Decode(c.b)
		if !errors.Is(err, c.kind) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.kind)
		}
	}
}

func TestEncodeRefusesOversizedLists(t *testing.T) {
	tok := &OrfToken{RtrList: make([]RtrItem, MaxRtrEntries+1)}
	if _, err := Encode(tok); !errors.Is(err, ErrUnencodable) {
		t.Fatalf("err %v", err)
	}
	ct := &CommitToken{Addr: []uint32{1}}
	if _, err := Encode(ct); !errors.Is(err, ErrUnencodable) {
		t.Fatalf("err %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	seen := map[string]bool{}
	for _, file := range captureFiles(f) {
		for _, p := range readCapture(f, file) {
			// Tokens and merge detects repeat by the hundred; one of each
			// shape is seed enough.
			if !seen[string(p.payload)] {
				seen[string(p.payload)] = true
				f.Add(p.payload)
			}
		}
	}
	var tok OrfToken
	var mc Mcast
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error without kind: %v", err)
			}
			return
		}
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("accepted message does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("accepted %x re-encodes as %x", b, out)
		}
		// The other byte order carries the same values.
		m.Hdr().BigEndian = !m.Hdr().BigEndian
		swapped, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(swapped)
		if err != nil {
			t.Fatalf("byte-swapped twin rejected: %v", err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("byte-swapped twin decodes as %+v, want %+v", back, m)
		}
		// The allocation-free decoders agree with Decode, whatever the
		// reused message held before.
		switch v := m.(type) {
		case *OrfToken:
			v.Header.BigEndian = !v.Header.BigEndian
			if err := DecodeOrfTokenInto(b, &tok); err != nil {
				t.Fatal(err)
			}
			got := tok
			if len(got.RtrList) == 0 {
				got.RtrList = nil
			}
			if !reflect.DeepEqual(&got, v) {
				t.Fatalf("DecodeOrfTokenInto %+v, Decode %+v", got, v)
			}
		case *Mcast:
			v.Header.BigEndian = !v.Header.BigEndian
			if err := DecodeMcastView(b, &mc); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&mc, v) {
				t.Fatalf("DecodeMcastView %+v, Decode %+v", mc, v)
			}
		}
	})
}

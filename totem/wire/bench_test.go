package wire

import "testing"

// benchToken is a token as an operational ring carries it most of the
// time: no retransmit requests.
func benchToken() *OrfToken {
	return &OrfToken{Header: Header{NodeID: 2}, Seq: 1000, TokenSeq: 5000, Aru: 998, AruAddr: 3,
		RingID: RingID{Rep: 1, Seq: 0x1c}, Backlog: 4, FCC: 12}
}

func benchMcast(n int) *Mcast {
	return &Mcast{Header: Header{NodeID: 2, Encapsulated: EncapsulatedNormal}, SystemFrom: 2, Seq: 1001,
		ThisSeqno: 77, RingID: RingID{Rep: 1, Seq: 0x1c}, Payload: make([]byte, n)}
}

func BenchmarkDecodeToken(b *testing.B) {
	buf, _ := Encode(benchToken())
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeOrfTokenInto(b *testing.B) {
	buf, _ := Encode(benchToken())
	var t OrfToken
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeOrfTokenInto(buf, &t); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeOrfTokenIntoRtr30(b *testing.B) {
	tok := benchToken()
	tok.RtrList = make([]RtrItem, MaxRtrEntries)
	buf, _ := Encode(tok)
	var t OrfToken
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeOrfTokenInto(buf, &t); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeToken(b *testing.B) {
	tok := benchToken()
	dst := make([]byte, 0, 600)
	b.SetBytes(int64(Size(tok)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = AppendEncode(dst[:0], tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMcast1K(b *testing.B) {
	buf, _ := Encode(benchMcast(1024))
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMcastView1K(b *testing.B) {
	buf, _ := Encode(benchMcast(1024))
	var m Mcast
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeMcastView(buf, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeMcast1K(b *testing.B) {
	m := benchMcast(1024)
	dst := make([]byte, 0, 2048)
	b.SetBytes(int64(Size(m)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = AppendEncode(dst[:0], m); err != nil {
			b.Fatal(err)
		}
	}
}

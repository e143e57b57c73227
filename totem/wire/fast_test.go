package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// TestIntoMatchesDecode checks the allocation-free decoders against Decode
// on every token and mcast of every capture.
func TestIntoMatchesDecode(t *testing.T) {
	var tok OrfToken
	var mc Mcast
	var tokens, mcasts int
	for _, file := range captureFiles(t) {
		for i, p := range readCapture(t, file) {
			m, err := Decode(p.payload)
			if err != nil {
				t.Fatalf("%s packet %d: %v", file, i, err)
			}
			switch want := m.(type) {
			case *OrfToken:
				tokens++
				if err := DecodeOrfTokenInto(p.payload, &tok); err != nil {
					t.Fatalf("%s packet %d: %v", file, i, err)
				}
				got := tok
				if len(got.RtrList) == 0 {
					got.RtrList = nil // Decode leaves an empty list nil
				}
				if !reflect.DeepEqual(&got, want) {
					t.Fatalf("%s packet %d:\n got %+v\nwant %+v", file, i, got, want)
				}
			case *Mcast:
				mcasts++
				if err := DecodeMcastView(p.payload, &mc); err != nil {
					t.Fatalf("%s packet %d: %v", file, i, err)
				}
				if !reflect.DeepEqual(&mc, want) {
					t.Fatalf("%s packet %d: view differs from Decode", file, i)
				}
				if len(mc.Payload) > 0 && &mc.Payload[0] != &p.payload[McastHeaderSize] {
					t.Fatalf("%s packet %d: view copied the payload", file, i)
				}
			default:
				if DecodeOrfTokenInto(p.payload, &tok) == nil || DecodeMcastView(p.payload, &mc) == nil {
					t.Fatalf("%s packet %d: %s accepted as token or mcast", file, i, m.Hdr().Type)
				}
			}
		}
	}
	if tokens == 0 || mcasts == 0 {
		t.Fatalf("captures gave %d tokens and %d mcasts", tokens, mcasts)
	}
}

func TestDecodeOrfTokenIntoAllocatesOnce(t *testing.T) {
	full := sampleMessages()[0].(*OrfToken)
	full.RtrList = make([]RtrItem, MaxRtrEntries)
	for i := range full.RtrList {
		full.RtrList[i] = RtrItem{RingID: full.RingID, Seq: uint32(100 + i)}
	}
	big, _ := Encode(full)
	small, _ := Encode(sampleMessages()[0])
	var tok OrfToken
	if err := DecodeOrfTokenInto(small, &tok); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := DecodeOrfTokenInto(big, &tok); err != nil {
			t.Fatal(err)
		}
		if err := DecodeOrfTokenInto(small, &tok); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per token pair", allocs)
	}
	if len(tok.RtrList) != 2 || tok.RtrList[1].Seq != 8 {
		t.Fatalf("last decode left %+v", tok.RtrList)
	}
}

func TestDecodeIntoLeavesMessageOnError(t *testing.T) {
	good, _ := Encode(sampleMessages()[0])
	var tok OrfToken
	if err := DecodeOrfTokenInto(good, &tok); err != nil {
		t.Fatal(err)
	}
	before := tok
	before.RtrList = append([]RtrItem(nil), tok.RtrList...)
	bad := append([]byte(nil), good...)
	bad[53] = 31 // one more retransmit entry than a token may carry
	if err := DecodeOrfTokenInto(bad, &tok); !errors.Is(err, ErrBadCount) {
		t.Fatalf("err %v", err)
	}
	if err := DecodeOrfTokenInto(good[:len(good)-1], &tok); !errors.Is(err, ErrLength) {
		t.Fatalf("err %v", err)
	}
	if !reflect.DeepEqual(tok, before) {
		t.Fatalf("rejected datagram changed the token: %+v", tok)
	}
	mc, _ := Encode(sampleMessages()[1])
	if err := DecodeOrfTokenInto(mc, &tok); !errors.Is(err, ErrBadType) {
		t.Fatalf("mcast as token: %v", err)
	}
	var m Mcast
	if err := DecodeMcastView(good, &m); !errors.Is(err, ErrBadType) {
		t.Fatalf("token as mcast: %v", err)
	}
	if err := DecodeMcastView(mc[:McastHeaderSize-1], &m); !errors.Is(err, ErrShort) {
		t.Fatalf("short mcast: %v", err)
	}
	if err := DecodeMcastView(mc, &m); err != nil || !bytes.Equal(m.Payload, []byte("payload")) {
		t.Fatalf("mcast view: %v %q", err, m.Payload)
	}
}

package transport

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"unsafe"

	"golang.org/x/sys/unix"
)

// groCmsg is the control data the kernel writes for a coalesced read.
func groCmsg(seg int) []byte {
	b := make([]byte, groCmsgSpace)
	h := (*unix.Cmsghdr)(unsafeCmsg(b))
	h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_GRO
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], uint32(seg))
	return b
}

func TestGROSize(t *testing.T) {
	if got := groSize(groCmsg(1200)); got != 1200 {
		t.Fatalf("UDP_GRO 1200 read as %d", got)
	}
	other := groCmsg(1200)
	(*unix.Cmsghdr)(unsafeCmsg(other)).Type = unix.UDP_SEGMENT
	if got := groSize(other); got != 0 {
		t.Fatalf("another cmsg read as segment size %d", got)
	}
	for _, b := range [][]byte{nil, make([]byte, 8), groCmsg(1200)[:10], groCmsg(-5)} {
		if got := groSize(b); got != 0 {
			t.Fatalf("%x read as segment size %d", b, got)
		}
	}
}

// TestReaderAcceptGRO: a coalesced read becomes one Datagram per
// segment with the same source and time; a truncated one keeps the
// segments read whole and counts the loss.
func TestReaderAcceptGRO(t *testing.T) {
	ep := newEndpoint(1500, 0)
	from := netip.MustParseAddrPort("127.0.0.1:5405")
	r := &reader{ep: &ep, source: func(netip.Addr) (uint32, bool) { return 7, true }}
	buf := append(append(frame('a', 100), frame('b', 100)...), frame('c', 30)...)
	at := time.Now()
	r.accept(from, at, len(buf), 0, buf, 100)
	if len(r.out) != 3 || ep.stats.rxGRO.Load() != 1 {
		t.Fatalf("%d datagrams, rxGRO %d", len(r.out), ep.stats.rxGRO.Load())
	}
	for i, w := range [][]byte{frame('a', 100), frame('b', 100), frame('c', 30)} {
		d := r.out[i]
		if !bytes.Equal(d.Data, w) || d.From != from || d.FromNode != 7 || !d.At.Equal(at) {
			t.Fatalf("datagram %d: %+v", i, d)
		}
	}
	r.out = r.out[:0]
	r.accept(from, at, 250, unix.MSG_TRUNC, append(buf, make([]byte, 20)...), 100)
	if len(r.out) != 2 || ep.stats.droppedTruncated.Load() != 1 || !bytes.Equal(r.out[1].Data, frame('b', 100)) {
		t.Fatalf("truncated coalesced read: %d datagrams, %d truncated", len(r.out), ep.stats.droppedTruncated.Load())
	}
	r.out = r.out[:0]
	r.accept(from, at, 100, unix.MSG_TRUNC, buf, 0)
	r.accept(from, at, 100, unix.MSG_TRUNC, buf, 100)
	if len(r.out) != 0 || ep.stats.droppedTruncated.Load() != 3 {
		t.Fatalf("truncated single reads: %d datagrams, %d truncated", len(r.out), ep.stats.droppedTruncated.Load())
	}
}

// FuzzGROSplit: whatever the control data and lengths, the split never
// panics, gives the data back whole and in order, and every datagram but
// the last has the segment size.
func FuzzGROSplit(f *testing.F) {
	f.Add(groCmsg(1200), uint16(3000))
	f.Add(groCmsg(100), uint16(100))
	f.Add(groCmsg(1), uint16(64))
	f.Add(groCmsg(0), uint16(10))
	f.Add([]byte{}, uint16(10))
	f.Add(groCmsg(70000), uint16(65535))
	f.Fuzz(func(t *testing.T, ctrl []byte, n uint16) {
		seg := groSize(ctrl)
		if seg < 0 {
			t.Fatalf("segment size %d", seg)
		}
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		var got []byte
		count := 0
		groSegments(data, seg, func(d []byte) {
			if seg > 0 && len(d) > seg || len(data) > 0 && len(d) == 0 {
				t.Fatalf("segment of %d bytes (size %d, %d in all)", len(d), seg, len(data))
			}
			if seg > 0 && len(got)+len(d) < len(data) && len(d) != seg {
				t.Fatalf("inner segment of %d bytes, size %d", len(d), seg)
			}
			got = append(got, d...)
			count++
		})
		if !bytes.Equal(got, data) {
			t.Fatalf("split of %d bytes by %d gave %d bytes back", len(data), seg, len(got))
		}
		if want := 1; seg > 0 && len(data) > seg {
			want = (len(data) + seg - 1) / seg
			if count != want {
				t.Fatalf("%d segments, want %d", count, want)
			}
		} else if count != want {
			t.Fatalf("%d segments, want 1", count)
		}
	})
}

func unsafeCmsg(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

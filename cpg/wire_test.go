package cpg

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ringfence/ringfence/exec"
	"github.com/ringfence/ringfence/exec/exectest"
	"github.com/ringfence/ringfence/totem/wire"
)

var captureDir = filepath.Join("..", "testdata", "wire")

// cpgMessages returns the cpg exec messages of a capture.
func cpgMessages(t testing.TB, name string) []exectest.Captured {
	t.Helper()
	msgs, err := exectest.ReadCapture(filepath.Join(captureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var out []exectest.Captured
	for _, c := range msgs {
		if c.InGroup(exec.GroupServices) && c.ExecID()>>16 == uint32(ServiceID) {
			out = append(out, c)
		}
	}
	return out
}

// maskName zeroes the garbage of a mar_cpg_name_t at b: the pad after
// length and the value bytes beyond length.
func maskName(b []byte) {
	n := int(le.Uint32(b))
	clear(b[4:8])
	if n <= MaxNameLength {
		clear(b[8+n : NameSize])
	}
}

// maskGarbage returns a copy of an exec message with the bytes Corosync
// leaves uninitialised zeroed: header padding and name tails.
func maskGarbage(b []byte) []byte {
	b = slices.Clone(b)
	clear(b[4:8])
	clear(b[12:16])
	switch le.Uint32(b) & 0xffff {
	case FnProcJoin, FnProcLeave, FnMcast, FnPartialMcast:
		maskName(b[16:])
	case FnJoinList:
		clear(b[20:24])
		for p := JoinListHeader; p+JoinListEntrySize <= len(b); p += JoinListEntrySize {
			maskName(b[p+8:])
		}
	}
	return b
}

func encodeAny(m any) []byte {
	switch m := m.(type) {
	case *ProcJoin:
		return m.Encode()
	case *JoinList:
		return m.Encode()
	case *Downlist:
		return m.Encode()
	case *Mcast:
		return bytes.Join(m.Encode(), nil)
	case *PartialMcast:
		return bytes.Join(m.Encode(), nil)
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

var allCaptures = []string{
	"udpu-2node-join.pcap", "udp-mcast-2node.pcap", "udpu-cpg-join-mcast-leave.pcap", "udpu-node-leave.pcap",
	"udp-mcast-3node.pcap", "udpu-3node-cpg-sizes.pcap", "udpu-3node-form.pcap", "udpu-3node-kill.pcap",
	"udpu-3node-partition-heal.pcap", "udpu-3node-rejoin.pcap",
}

// TestCaptureRoundTrip decodes every cpg exec message in every capture
// and re-encodes it; apart from the bytes Corosync never initialises the
// result must equal the captured message.
func TestCaptureRoundTrip(t *testing.T) {
	counts := map[uint32]int{}
	for _, name := range allCaptures {
		for _, c := range cpgMessages(t, name) {
			m, err := Decode(c.Payload, false)
			if err != nil {
				t.Errorf("%s frame %d: %v", name, c.Frame, err)
				continue
			}
			fn := c.ExecID() & 0xffff
			counts[fn]++
			got := encodeAny(m)
			if want := maskGarbage(c.Payload); !bytes.Equal(got, want) {
				t.Errorf("%s frame %d fn %d: re-encoding differs at byte %d (len %d/%d)", name, c.Frame, fn, firstDiff(got, want), len(got), len(want))
			}
		}
	}
	t.Logf("cpg messages by fn: %v", counts)
	// No capture holds a JOINLIST (no process was joined across a
	// membership change); TestJoinListLayout covers its layout.
	for _, fn := range []uint32{FnProcJoin, FnProcLeave, FnMcast, FnDownlist} {
		if counts[fn] == 0 {
			t.Errorf("no fn %d message in the captures", fn)
		}
	}
}

func TestCaptureGoldenFields(t *testing.T) {
	var join *ProcJoin
	var mc *Mcast
	for _, c := range cpgMessages(t, "udpu-cpg-join-mcast-leave.pcap") {
		m, err := Decode(c.Payload, false)
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *ProcJoin:
			if join == nil && !m.Leave {
				join = m
				if c.ExecID() != 0x00020000 || len(c.Payload) != 168 || le.Uint32(c.Payload[8:]) != 168 {
					t.Errorf("procjoin id %#x size %d", c.ExecID(), len(c.Payload))
				}
			}
		case *Mcast:
			if string(m.Data) == "hello-from-n2" {
				mc = m
				if c.ExecID() != 0x00020003 || le.Uint32(c.Payload[8:]) != 197 || c.Node != 2 {
					t.Errorf("mcast id %#x size %d node %d", c.ExecID(), le.Uint32(c.Payload[8:]), c.Node)
				}
			}
		}
	}
	if join == nil || join.Group != "gotest" || join.PID != 4896 || join.Reason != ReasonJoin {
		t.Errorf("procjoin %+v", join)
	}
	if mc == nil || mc.Group != "gotest" || mc.PID != 4896 || mc.Source.NodeID != 2 {
		t.Errorf("mcast %+v", mc)
	}
	var dl *Downlist
	for _, c := range cpgMessages(t, "udpu-2node-join.pcap") {
		if m, err := Decode(c.Payload, false); err == nil {
			if d, ok := m.(*Downlist); ok {
				dl = d
				if len(c.Payload) != DownlistSize {
					t.Errorf("downlist %d bytes", len(c.Payload))
				}
			}
		}
	}
	if dl == nil {
		t.Fatal("no downlist in udpu-2node-join.pcap")
	}
}

// TestSwappedDecode: a message from a big-endian sender (every integer
// byte-swapped) decodes to the same values.
func TestSwappedDecode(t *testing.T) {
	swap32 := func(b []byte, offs ...int) {
		for _, o := range offs {
			slices.Reverse(b[o : o+4])
		}
	}
	pj := (&ProcJoin{Group: "grp", PID: 77, Reason: ReasonProcDown, Leave: true}).Encode()
	swap32(pj, 0, 8, 16, 152, 160)
	got, err := Decode(pj, true)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(&ProcJoin{Group: "grp", PID: 77, Reason: ReasonProcDown, Leave: true}) {
		t.Errorf("swapped procleave: %+v %v", got, err)
	}
	jl := (&JoinList{Entries: []JoinEntry{{PID: 5, Group: "a"}, {PID: 6, Group: "bb"}}}).Encode()
	swap32(jl, 0, 8, 24, 32, 168, 176)
	got, err = Decode(jl, true)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(&JoinList{Entries: []JoinEntry{{PID: 5, Group: "a"}, {PID: 6, Group: "bb"}}}) {
		t.Errorf("swapped joinlist: %+v %v", got, err)
	}
	want := &Downlist{OldMembers: 3, Count: 2}
	want.IDs[0], want.IDs[1], want.IDs[2] = 2, 9, 0x01000000 // stale slot: not swapped
	dl := want.Encode()
	swap32(dl, 0, 8, 16, 24, 32, 36)
	got, err = Decode(dl, true)
	if d, ok := got.(*Downlist); err != nil || !ok || *d != *want || !slices.Equal(d.Left(), []uint32{2, 9}) {
		t.Errorf("swapped downlist: %v %v", got, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	pj := (&ProcJoin{Group: "g"}).Encode()
	le.PutUint32(pj[16:], 129)
	jl := (&JoinList{Entries: []JoinEntry{{PID: 1, Group: "g"}}}).Encode()
	le.PutUint32(jl[8:], 24+143)
	mc := bytes.Join((&Mcast{Group: "g", Data: []byte("xy")}).Encode(), nil)
	le.PutUint32(mc[152:], 3)
	dl := (&Downlist{}).Encode()
	le.PutUint32(dl[24:], 385)
	dl = dl[:DownlistSize]
	pm := bytes.Join((&PartialMcast{Group: "g", Data: []byte("x")}).Encode(), nil)
	le.PutUint32(pm[160:], 2)
	for name, b := range map[string][]byte{
		"long name": pj, "ragged joinlist": jl, "mcast msglen": mc, "downlist count": dl,
		"partial fraglen": pm, "short": pj[:100], "other service": make([]byte, 168),
	} {
		if _, err := Decode(b, false); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// TestJoinListLayout checks JOINLIST offsets against the layout of
// exec/cpg.c (24-byte response header, entries of pid @0 and name @8).
func TestJoinListLayout(t *testing.T) {
	b := (&JoinList{Entries: []JoinEntry{{PID: 0x11223344, Group: "alpha"}, {PID: 7, Group: "b"}}}).Encode()
	if len(b) != 24+2*144 || le.Uint32(b[0:]) != 0x00020002 || le.Uint32(b[8:]) != uint32(len(b)) || le.Uint32(b[16:]) != 0 {
		t.Fatalf("header %x", b[:24])
	}
	if le.Uint32(b[24:]) != 0x11223344 || le.Uint32(b[32:]) != 5 || string(b[40:45]) != "alpha" {
		t.Errorf("entry 0 %x", b[24:48])
	}
	if le.Uint32(b[168:]) != 7 || le.Uint32(b[176:]) != 1 || b[184] != 'b' {
		t.Errorf("entry 1 %x", b[168:192])
	}
	m, err := Decode(b, false)
	if err != nil || fmt.Sprint(m) != fmt.Sprint(&JoinList{Entries: []JoinEntry{{PID: 0x11223344, Group: "alpha"}, {PID: 7, Group: "b"}}}) {
		t.Errorf("decode %v %v", m, err)
	}
}

func wireRing(rep uint32) wire.RingID { return wire.RingID{Rep: rep, Seq: 8} }

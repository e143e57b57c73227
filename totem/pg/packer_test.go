package pg

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
)

const testMTU = 1410 // TotemMTU(1500)

func newTestPacker(t testing.TB) *Packer {
	t.Helper()
	p, err := NewPacker(testMTU)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustAdd(t testing.TB, p *Packer, out []Packet, g uint32, groups []string, iov ...[]byte) []Packet {
	t.Helper()
	out, err := p.Add(out, g, groups, iov...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func header(t testing.TB, pkt Packet) PacketHeader {
	t.Helper()
	h, err := ParsePacket(pkt.Payload, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkt.Payload) > testMTU {
		t.Fatalf("packet of %d bytes exceeds mtu %d", len(pkt.Payload), testMTU)
	}
	return h
}

func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func TestTotemMTU(t *testing.T) {
	if got := TotemMTU(DefaultNetMTU); got != 1410 {
		t.Fatalf("TotemMTU(1500) = %d, want 1410", got)
	}
	for _, bad := range []int{0, 71, 0xffff + HeaderSize + 1} {
		if _, err := NewPacker(bad); err == nil {
			t.Errorf("NewPacker(%d) accepted", bad)
		}
	}
}

func TestPackerStagesSmallMessagesUntilFlush(t *testing.T) {
	p := newTestPacker(t)
	var out []Packet
	out = mustAdd(t, p, out, Safe, []string{"a"}, []byte("hello"), []byte{}, []byte("!"))
	out = mustAdd(t, p, out, Safe, []string{"sync"}, []byte{1, 2, 3})
	if len(out) != 0 {
		t.Fatalf("%d packets before flush", len(out))
	}
	if n, b := p.Pending(); n != 2 || b != 22 {
		t.Fatalf("pending %d messages %d bytes, want 2 and 22", n, b)
	}
	out = p.Flush(out)
	if len(out) != 1 {
		t.Fatalf("%d packets after flush", len(out))
	}
	want := []byte{
		0, 0, 0, 0, // version, type
		0, 0, // fragmented, continuation
		2, 0, // msg_count
		11, 0, 11, 0, // lengths
		1, 0, 1, 0, 'a', 'h', 'e', 'l', 'l', 'o', '!',
		1, 0, 4, 0, 's', 'y', 'n', 'c', 1, 2, 3,
	}
	if !bytes.Equal(out[0].Payload, want) {
		t.Fatalf("packet\n got % x\nwant % x", out[0].Payload, want)
	}
	if out[0].Guarantee != Agreed {
		t.Errorf("flushed packet guarantee %d, corosync sends 0", out[0].Guarantee)
	}
	if out = p.Flush(out[:0]); len(out) != 0 {
		t.Errorf("second flush produced %d packets", len(out))
	}
}

// The CPG downlist seen in the captures: 1568 bytes behind group "a".
func TestPackerDownlistSplit(t *testing.T) {
	p := newTestPacker(t)
	out := mustAdd(t, p, nil, Safe, []string{"a"}, fill(1568, 7))
	if len(out) != 2 {
		t.Fatalf("%d packets, want 2", len(out))
	}
	h0, h1 := header(t, out[0]), header(t, out[1])
	if h0.Fragmented != 1 || h0.Continuation != 0 || !slices.Equal(h0.Lens, []uint16{1400}) || len(out[0].Payload) != 1410 {
		t.Errorf("first packet %+v, %d bytes", h0, len(out[0].Payload))
	}
	if h1.Fragmented != 0 || h1.Continuation != 1 || !slices.Equal(h1.Lens, []uint16{173}) {
		t.Errorf("second packet %+v", h1)
	}
	for i, pkt := range out {
		if pkt.Guarantee != Safe {
			t.Errorf("packet %d sent directly with guarantee %d, want the caller's %d", i, pkt.Guarantee, Safe)
		}
	}
	if n, _ := p.Pending(); n != 0 {
		t.Errorf("%d messages staged after a message that ended a packet", n)
	}
}

func TestPackerOneMebibyteFragmentNumbers(t *testing.T) {
	p := newTestPacker(t)
	out := mustAdd(t, p, nil, Agreed, []string{"a"}, fill(MaxMessageSize, 3))
	total := MaxMessageSize + 5
	wantPackets := (total + 1399) / 1400
	if len(out) != wantPackets {
		t.Fatalf("%d packets, want %d", len(out), wantPackets)
	}
	var prev uint8
	for i, pkt := range out {
		h := header(t, pkt)
		if h.Continuation != prev {
			t.Fatalf("packet %d continuation %d, previous fragment %d", i, h.Continuation, prev)
		}
		want := uint8(i%255 + 1) // 1..255, 0 never used
		if i == len(out)-1 {
			want = 0
		}
		if h.Fragmented != want {
			t.Fatalf("packet %d fragment %d, want %d", i, h.Fragmented, want)
		}
		prev = h.Fragmented
	}
}

func TestPackerStagedThenLarge(t *testing.T) {
	p := newTestPacker(t)
	out := mustAdd(t, p, nil, Safe, []string{"a"}, fill(32, 1))
	out = mustAdd(t, p, out, Safe, []string{"a"}, fill(2000, 2))
	if len(out) != 2 {
		t.Fatalf("%d packets, want 2", len(out))
	}
	// The staged message rides in the direct send; the table now has two
	// slots, so two bytes less room for data.
	h0, h1 := header(t, out[0]), header(t, out[1])
	if !slices.Equal(h0.Lens, []uint16{37, 1361}) || h0.Fragmented != 1 || len(out[0].Payload) != 1410 {
		t.Errorf("first packet %+v, %d bytes", h0, len(out[0].Payload))
	}
	if !slices.Equal(h1.Lens, []uint16{644}) || h1.Continuation != 1 || h1.Fragmented != 0 {
		t.Errorf("second packet %+v", h1)
	}
}

// corosync compares an iovec's full length, not what is left of it, so the
// tail of a split iovec can be staged rather than sent, and the fragment
// counter restarts at 1.
func TestPackerSplitIovecTailIsStaged(t *testing.T) {
	p := newTestPacker(t)
	out := mustAdd(t, p, nil, Agreed, []string{"a"}, fill(900, 1))
	out = mustAdd(t, p, out, Safe, []string{"a"}, fill(1000, 2), fill(10, 3))
	if len(out) != 1 {
		t.Fatalf("%d packets, want 1", len(out))
	}
	h := header(t, out[0])
	if !slices.Equal(h.Lens, []uint16{905, 493}) || h.Fragmented != 1 {
		t.Fatalf("packet %+v", h)
	}
	if n, b := p.Pending(); n != 1 || b != 522 {
		t.Fatalf("pending %d/%d, want 1 message of 522 bytes", n, b)
	}
	out = p.Flush(out)
	h = header(t, out[1])
	if h.Continuation != 1 || h.Fragmented != 0 || !slices.Equal(h.Lens, []uint16{522}) || out[1].Guarantee != Agreed {
		t.Fatalf("flushed %+v guarantee %d", h, out[1].Guarantee)
	}
	out = mustAdd(t, p, out, Agreed, []string{"a"}, fill(3000, 4))
	if h := header(t, out[2]); h.Fragmented != 1 {
		t.Errorf("fragment numbering did not restart at 1: %d", h.Fragmented)
	}
	a := NewAssembler(0)
	var msgs []Message
	for _, pkt := range out {
		var err error
		if msgs, err = a.Deliver(msgs, 9, pkt.Payload, false); err != nil {
			t.Fatal(err)
		}
	}
	if len(msgs) != 3 || len(msgs[2].Payload) != 3000 {
		t.Fatalf("%d messages assembled", len(msgs))
	}
	want := append(fill(1000, 2), fill(10, 3)...)
	if !bytes.Equal(msgs[1].Payload, want) {
		t.Errorf("split message came back wrong")
	}
}

// A non-last iovec that exactly fills the packet still marks it
// fragmented: the next iovec arrives as a continuation.
func TestPackerIovecBoundaryFragment(t *testing.T) {
	p := newTestPacker(t)
	out := mustAdd(t, p, nil, Agreed, []string{"a"}, fill(1395, 1), fill(3, 2))
	if len(out) != 1 {
		t.Fatalf("%d packets", len(out))
	}
	if h := header(t, out[0]); h.Fragmented != 1 || !slices.Equal(h.Lens, []uint16{1400}) {
		t.Fatalf("packet %+v", h)
	}
	out = p.Flush(out)
	if h := header(t, out[1]); h.Continuation != 1 || !slices.Equal(h.Lens, []uint16{3}) {
		t.Fatalf("flushed %+v", h)
	}
}

func TestPackerLimits(t *testing.T) {
	p := newTestPacker(t)
	many := make([]string, MaxGroupsPerMessage+1)
	for i := range many {
		many[i] = "g"
	}
	if _, err := p.Add(nil, 0, many, []byte{1}); err == nil {
		t.Error("33 groups accepted")
	}
	if _, err := p.Add(nil, 0, []string{""}, []byte{1}); err == nil {
		t.Error("empty group name accepted")
	}
	if _, err := p.Add(nil, 0, []string{"a"}, make([][]byte, MaxAppIovecs+1)...); err == nil {
		t.Error("33 iovecs accepted")
	}
	if n, _ := p.Pending(); n != 0 {
		t.Errorf("refused messages left %d staged", n)
	}
}

func TestQueueReservation(t *testing.T) {
	// net_mtu 1410: one slot per 1386 bytes, plus one.
	for _, c := range []struct{ size, slots int }{{0, 1}, {1385, 1}, {1386, 2}, {MaxMessageSize, 757}} {
		if got := QueueSlots(c.size, testMTU); got != c.slots {
			t.Errorf("QueueSlots(%d) = %d, want %d", c.size, got, c.slots)
		}
	}
	if got := SizeLimit(10, testMTU); got != 9*1386 {
		t.Errorf("SizeLimit = %d", got)
	}
	p := newTestPacker(t)
	if !p.CanAdd(1, 1385) || p.CanAdd(1, 1386) {
		t.Error("CanAdd disagrees with QueueSlots on an empty packer")
	}
	// Staged messages add two bytes each to the budget.
	mustAdd(t, p, nil, 0, []string{"a"}, []byte{1})
	if p.CanAdd(1, 1385) || !p.CanAdd(1, 1383) {
		t.Error("CanAdd ignores the staged length table")
	}
}

func TestGroupHeaderRoundTrip(t *testing.T) {
	b, err := AppendGroupHeader(nil, "a")
	if err != nil || !bytes.Equal(b, []byte{1, 0, 1, 0, 'a'}) {
		t.Fatalf("group a: % x %v", b, err)
	}
	b, _ = AppendGroupHeader(nil, "sync")
	if !bytes.Equal(b, []byte{1, 0, 4, 0, 's', 'y', 'n', 'c'}) {
		t.Fatalf("group sync: % x", b)
	}
	if GroupHeaderSize([]string{"a", "sync"}) != 11 {
		t.Error("GroupHeaderSize")
	}
	b, _ = AppendGroupHeader(nil, "a", "sync")
	b = append(b, 0xaa)
	names, payload, err := SplitGroups(nil, b, false)
	if err != nil || len(names) != 2 || string(names[0]) != "a" || string(names[1]) != "sync" || !bytes.Equal(payload, []byte{0xaa}) {
		t.Fatalf("split: %q % x %v", names, payload, err)
	}
	// Big-endian sender.
	be := []byte{0, 2, 0, 1, 0, 4, 'a', 's', 'y', 'n', 'c', 0xbb}
	names, payload, err = SplitGroups(nil, be, true)
	if err != nil || len(names) != 2 || string(names[1]) != "sync" || !bytes.Equal(payload, []byte{0xbb}) {
		t.Fatalf("big-endian split: %q % x %v", names, payload, err)
	}
	for _, bad := range [][]byte{{}, {1}, {2, 0, 1, 0}, {1, 0, 5, 0, 'a'}} {
		if _, _, err := SplitGroups(nil, bad, false); err == nil {
			t.Errorf("SplitGroups(% x) accepted", bad)
		}
	}
}

// bigEndianPacket rewrites a little-endian packet as a big-endian sender
// would have written it (counts, lengths, and each message's group header).
func bigEndianPacket(t testing.TB, le []byte) []byte {
	t.Helper()
	_, pieces, err := Pieces(le, false)
	if err != nil {
		t.Fatal(err)
	}
	be := slices.Clone(le)
	sw := func(off int) { binary.BigEndian.PutUint16(be[off:], binary.LittleEndian.Uint16(le[off:])) }
	sw(6)
	off := HeaderSize
	for range pieces {
		sw(off)
		off += 2
	}
	h, _ := ParsePacket(le, false)
	for i, piece := range pieces {
		if i == 0 && h.Continuation != 0 {
			off += len(piece)
			continue
		}
		n := int(binary.LittleEndian.Uint16(piece))
		for k := 0; k <= n && 2+2*k <= len(piece); k++ {
			sw(off + 2*k)
		}
		off += len(piece)
	}
	return be
}

func TestAssembleBigEndianSender(t *testing.T) {
	p := newTestPacker(t)
	out := mustAdd(t, p, nil, 0, []string{"a", "sync"}, []byte("payload-1"))
	out = mustAdd(t, p, out, 0, []string{"sync"}, []byte("payload-2"))
	out = p.Flush(out)
	be := bigEndianPacket(t, out[0].Payload)
	if bytes.Equal(be, out[0].Payload) {
		t.Fatal("conversion changed nothing")
	}
	a := NewAssembler(0)
	msgs, err := a.Deliver(nil, 4, be, true)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	if string(msgs[0].Payload) != "payload-1" || len(msgs[0].Groups) != 2 || string(msgs[0].Groups[1]) != "sync" || !msgs[0].Swapped {
		t.Errorf("message 0: %q %q swapped=%v", msgs[0].Groups, msgs[0].Payload, msgs[0].Swapped)
	}
	if string(msgs[1].Payload) != "payload-2" {
		t.Errorf("message 1: %q", msgs[1].Payload)
	}
	// Read in the wrong order the same bytes fail the length check.
	if _, err := a.Deliver(nil, 4, be, false); err == nil {
		t.Error("big-endian packet accepted as little-endian")
	}
}

func TestDispatcher(t *testing.T) {
	var d Dispatcher
	var log []string
	d.Join(func(node uint32, p []byte, sw bool) { log = append(log, "svc:"+string(p)) }, GroupServices)
	d.Join(func(node uint32, p []byte, sw bool) { log = append(log, "sync:"+string(p)) }, GroupSync)
	d.Join(func(node uint32, p []byte, sw bool) { log = append(log, "both:"+string(p)) }, GroupServices, GroupSync)

	msg := func(payload string, groups ...string) Message {
		m := Message{Node: 1, Payload: []byte(payload)}
		for _, g := range groups {
			m.Groups = append(m.Groups, []byte(g))
		}
		return m
	}
	if n := d.Dispatch(msg("x", "a")); n != 2 {
		t.Errorf("a: %d instances", n)
	}
	if n := d.Dispatch(msg("y", "a", "sync")); n != 3 {
		t.Errorf("a+sync: %d instances", n)
	}
	if n := d.Dispatch(msg("z", "other")); n != 0 {
		t.Errorf("other: %d instances", n)
	}
	if n := d.Dispatch(msg("w", "syn")); n != 0 {
		t.Errorf("prefix matched: %d instances", n)
	}
	want := []string{"both:x", "svc:x", "both:y", "sync:y", "svc:y"}
	if !slices.Equal(log, want) {
		t.Errorf("deliveries %q, want %q", log, want)
	}
}

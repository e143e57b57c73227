package pg

import (
	"errors"
	"slices"
	"testing"
)

// msgA is a complete message for group "a" with the given payload.
func msgA(payload string) []byte {
	b, _ := AppendGroupHeader(nil, "a")
	return append(b, payload...)
}

// pkt builds a totempg packet from pieces.
func pkt(frag, cont uint8, pieces ...[]byte) []byte {
	var lens []uint16
	var data []byte
	for _, p := range pieces {
		lens = append(lens, uint16(len(p)))
		data = append(data, p...)
	}
	return appendPacket(nil, frag, cont, lens, data)
}

func payloads(msgs []Message) []string {
	var s []string
	for _, m := range msgs {
		s = append(s, string(m.Payload))
	}
	return s
}

type step struct {
	node    uint32
	packet  []byte
	want    []string // payloads expected from this packet
	wantErr error
}

func runSteps(t *testing.T, a *Assembler, steps []step) {
	t.Helper()
	for i, s := range steps {
		msgs, err := a.Deliver(nil, s.node, s.packet, false)
		if s.wantErr == nil && err != nil {
			t.Fatalf("step %d: unexpected error %v", i, err)
		}
		if s.wantErr != nil {
			var pe *PacketError
			if !errors.Is(err, s.wantErr) || !errors.As(err, &pe) || pe.Node != s.node {
				t.Fatalf("step %d: error %v, want %v from node %d", i, err, s.wantErr, s.node)
			}
		}
		if got := payloads(msgs); !slices.Equal(got, s.want) {
			t.Fatalf("step %d: delivered %q, want %q", i, got, s.want)
		}
	}
}

func TestAssembleFragmentsAcrossPackets(t *testing.T) {
	m := msgA("0123456789")
	a := NewAssembler(0)
	runSteps(t, a, []step{
		{1, pkt(1, 0, msgA("x"), m[:4]), []string{"x"}, nil},               // head of m
		{2, pkt(0, 0, msgA("other")), []string{"other"}, nil},              // another node interleaves
		{1, pkt(2, 1, m[4:9]), nil, nil},                                   // middle
		{1, pkt(0, 2, m[9:], msgA("y")), []string{"0123456789", "y"}, nil}, // tail
	})
	if a.Partial(1) != 0 {
		t.Errorf("partial left: %d", a.Partial(1))
	}
}

func TestAssembleCorruptPacketsLeaveStateAlone(t *testing.T) {
	m := msgA("abcdef")
	a := NewAssembler(0)
	short := []byte{0, 0, 0, 0, 0, 0, 3}
	table := []byte{0, 0, 0, 0, 0, 0, 3, 0, 1, 0}
	mismatch := append(pkt(0, 1, m[3:]), 0xff)
	empty := pkt(1, 0)
	runSteps(t, a, []step{
		{1, pkt(1, 0, m[:3]), nil, nil},
		{1, short, nil, ErrTooShort},
		{1, table, nil, ErrTooShort},
		{1, mismatch, nil, ErrLengthMismatch},
		{1, empty, nil, ErrEmptyFragment},
		{1, pkt(0, 1, m[3:]), []string{"abcdef"}, nil},
	})
	st := a.Stats()
	if st.TooShort != 2 || st.LengthMismatch != 1 || st.EmptyFragment != 1 || st.Messages != 1 || st.Packets != 6 {
		t.Errorf("stats %+v", st)
	}
}

func TestAssembleLostContinuationThrowsAway(t *testing.T) {
	long := msgA("LLLLLLLLLLLLLLLLLLLL")
	a := NewAssembler(0)
	runSteps(t, a, []step{
		// We join mid-message: the first packet seen continues something.
		{1, pkt(3, 2, long[5:10]), nil, ErrBadContinuation},
		// Still the orphan: skipped quietly.
		{1, pkt(4, 3, long[10:15]), nil, nil},
		// The orphan ends; the rest of the packet is good.
		{1, pkt(0, 4, long[15:], msgA("after")), []string{"after"}, nil},
		{1, pkt(0, 0, msgA("next")), []string{"next"}, nil},
	})
	if st := a.Stats(); st.BadContinuation != 1 || st.DiscardedBytes != 20 {
		t.Errorf("stats %+v", st)
	}
}

func TestAssembleLostPacketMidMessage(t *testing.T) {
	m := msgA("0123456789")
	a := NewAssembler(0)
	runSteps(t, a, []step{
		{1, pkt(1, 0, m[:4]), nil, nil},
		// fragment 2 (m[4:9]) is lost
		{1, pkt(0, 2, m[9:], msgA("z")), []string{"z"}, ErrBadContinuation},
		// A clean start while a partial is pending drops the partial only.
		{1, pkt(1, 0, m[:4]), nil, nil},
		{1, pkt(0, 0, msgA("clean")), []string{"clean"}, ErrBadContinuation},
		// A new head after the orphan ends in the same packet is kept.
		{1, pkt(1, 0, m[:4]), nil, nil},
		{1, pkt(1, 5, m[9:], m[:3]), nil, ErrBadContinuation},
		{1, pkt(0, 1, m[3:]), []string{"0123456789"}, nil},
	})
}

func TestAssemblePhasesAreSeparate(t *testing.T) {
	m := msgA("regular-message")
	a := NewAssembler(0)
	if a.Phase() != PhaseTransitional {
		t.Fatal("a new assembler must start transitional, as totemsrp does")
	}
	a.SetPhase(PhaseRegular)
	runSteps(t, a, []step{{1, pkt(1, 0, m[:6]), nil, nil}})
	a.SetPhase(PhaseTransitional)
	if a.Phase() != PhaseTransitional || a.Partial(1) != 0 {
		t.Fatal("transitional phase sees the regular partial")
	}
	t2 := msgA("trans")
	runSteps(t, a, []step{
		{1, pkt(0, 0, msgA("t")), []string{"t"}, nil},
		{1, pkt(1, 0, t2[:2]), nil, nil},
	})
	a.SetPhase(PhaseRegular)
	runSteps(t, a, []step{{1, pkt(0, 1, m[6:]), []string{"regular-message"}, nil}})
	a.SetPhase(PhaseTransitional)
	runSteps(t, a, []step{{1, pkt(0, 1, t2[2:]), []string{"trans"}, nil}})
}

func TestAssembleNodesLeft(t *testing.T) {
	m := msgA("abcdef")
	a := NewAssembler(0)
	a.SetPhase(PhaseRegular)
	runSteps(t, a, []step{{1, pkt(1, 0, m[:3]), nil, nil}, {2, pkt(1, 0, m[:3]), nil, nil}})
	a.SetPhase(PhaseTransitional)
	runSteps(t, a, []step{{1, pkt(1, 0, m[:2]), nil, nil}})
	a.NodesLeft(1)
	if a.Partial(1) != 0 {
		t.Error("transitional partial survived NodesLeft")
	}
	a.SetPhase(PhaseRegular)
	if a.Partial(1) != 0 || a.Partial(2) != 3 {
		t.Errorf("partials after node 1 left: %d %d", a.Partial(1), a.Partial(2))
	}
	runSteps(t, a, []step{
		{1, pkt(0, 1, m[3:]), nil, ErrBadContinuation},
		{2, pkt(0, 1, m[3:]), []string{"abcdef"}, nil},
	})
}

func TestAssembleTooLarge(t *testing.T) {
	big := msgA(string(fill(100, 'b')))
	a := NewAssembler(50)
	runSteps(t, a, []step{
		{1, pkt(1, 0, big[:40]), nil, nil},
		{1, pkt(2, 1, big[40:80]), nil, ErrTooLarge},
		{1, pkt(0, 2, big[80:], msgA("ok")), []string{"ok"}, nil},
		{1, pkt(1, 0, big[:45]), nil, nil},
		{1, pkt(0, 1, big[45:], msgA("ok2")), []string{"ok2"}, ErrTooLarge},
	})
	if st := a.Stats(); st.TooLarge != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestAssembleBadGroupHeader(t *testing.T) {
	a := NewAssembler(0)
	runSteps(t, a, []step{
		{1, pkt(0, 0, []byte{9, 0, 1}, msgA("fine"), []byte{}), []string{"fine"}, ErrBadGroupHeader},
	})
	if st := a.Stats(); st.BadGroupHeader != 2 || st.Messages != 1 {
		t.Errorf("stats %+v", st)
	}
}

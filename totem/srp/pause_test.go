package srp

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/totem/wire"
)

// Corosync's pause detection, driven by the clock: a join that arrives
// more than half a token timeout after the pause timer was last due is
// dropped with a notice, and so is everything stepped at that instant
// (it sat in the socket during the pause); a caller that ticks late but
// within that bound never sees it.
func TestProcessPauseFlushesMembershipMessages(t *testing.T) {
	n, err := New(Config{NodeID: 1, Nodes: []uint32{1, 2, 3}, Timing: DefaultTiming(3)}, &MemRingSeqStore{Seq: 8})
	if err != nil {
		t.Fatal(err)
	}
	token := n.cfg.Timing.Token
	join := func() *wire.Join {
		return &wire.Join{Header: wire.Header{Type: wire.TypeJoin, NodeID: 2}, SystemFrom: 2, RingSeq: 8, ProcList: []uint32{1, 2}}
	}
	var notices []string
	now := time.Duration(0)
	tick := func(d time.Duration) {
		now += d
		n.Tick(now)
		notices = append(notices, n.Ready().Notices...)
		n.Advance()
	}
	step := func(m wire.Message) {
		n.Step(2, m)
		notices = append(notices, n.Ready().Notices...)
		n.Advance()
	}
	pauses := func() (got []string) {
		for _, s := range notices {
			if strings.HasPrefix(s, "Process pause") {
				got = append(got, s)
			}
		}
		return got
	}
	// A caller late by up to 90% of half the token timeout: no pause.
	for now < 5*token {
		tick(token / 2 * 9 / 10)
		step(join())
	}
	if p := pauses(); len(p) != 0 {
		t.Fatalf("pause detected without one: %q", p)
	}
	rx := n.Stats().MembJoinRx
	if rx == 0 {
		t.Fatal("joins not processed")
	}

	// Asleep for three token timeouts.
	tick(3 * token)
	step(join())
	step(join())
	step(&wire.MergeDetect{Header: wire.Header{Type: wire.TypeMergeDetect, NodeID: 2}, SystemFrom: 2})
	p := pauses()
	if len(p) != 1 {
		t.Fatalf("pause notices %q, want one", p)
	}
	m := regexp.MustCompile(`^Process pause detected for (\d+) ms, flushing membership messages\.$`).FindStringSubmatch(p[0])
	if m == nil {
		t.Fatalf("wording: %q", p[0])
	}
	// Measured from when the pause timer was last due, which is at most
	// a timer period (token/5) after the last tick before the sleep.
	ms, _ := strconv.Atoi(m[1])
	if lo, hi := (3*token - token/5).Milliseconds(), (3 * token).Milliseconds(); int64(ms) < lo || int64(ms) > hi {
		t.Fatalf("pause of %d ms reported, want %d..%d", ms, lo, hi)
	}
	if st := n.Stats(); st.MembJoinRx != rx || st.MembMergeDetectRx != 0 || st.PauseFlushes != 1 {
		t.Fatalf("flushed messages were processed: %+v", st)
	}
	// Once the clock moves on, joins count again and the pause is over.
	tick(time.Millisecond)
	step(join())
	if n.Stats().MembJoinRx != rx+1 || len(pauses()) != 1 {
		t.Fatalf("after the flush: joins %d (want %d), notices %q", n.Stats().MembJoinRx, rx+1, pauses())
	}
}

// What the caller does between New and its first Tick (open sockets,
// start the heartbeat responder) is not a pause, however long it takes.
func TestNoPauseBeforeTheFirstTick(t *testing.T) {
	n, err := New(Config{NodeID: 1, Nodes: []uint32{1, 2, 3}, Timing: DefaultTiming(3)}, &MemRingSeqStore{Seq: 8})
	if err != nil {
		t.Fatal(err)
	}
	now := 2 * n.cfg.Timing.Token
	n.Tick(now)
	n.Step(2, &wire.Join{Header: wire.Header{Type: wire.TypeJoin, NodeID: 2}, SystemFrom: 2, RingSeq: 8, ProcList: []uint32{1, 2}})
	if st := n.Stats(); st.MembJoinRx != 1 || st.PauseFlushes != 0 {
		t.Fatalf("start-up taken for a pause: %+v, notices %q", st, n.Ready().Notices)
	}
}

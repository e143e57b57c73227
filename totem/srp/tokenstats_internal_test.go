package srp

import (
	"testing"
	"time"
)

// visits feeds token visits (received at rx, done hold later, with a
// backlog) straight into the log.
func visits(n *Node, start, every, hold time.Duration, backlog uint32, count int) time.Duration {
	at := start
	for range count {
		n.now = at
		n.tokenReceived()
		n.now = at + hold
		n.cbl = backlog
		n.tokenDone()
		at += every
	}
	return at - every
}

func TestTokenTimesMeans(t *testing.T) {
	n := &Node{}
	if tt := n.TokenTimes(); tt.Tokens != 0 {
		t.Fatalf("empty log: %+v", tt)
	}
	last := visits(n, time.Second, 10*time.Millisecond, 2*time.Millisecond, 4, 5)
	n.now = last + 7*time.Millisecond
	tt := n.TokenTimes()
	// The first visit has no predecessor in the log: 4 intervals count.
	want := TokenTimes{Tokens: 4, Rotation: 10 * time.Millisecond, Hold: 2 * time.Millisecond, Backlog: 4, SinceLast: 7 * time.Millisecond}
	if tt != want {
		t.Fatalf("got %+v, want %+v", tt, want)
	}
}

func TestTokenTimesWrapsAtCorosyncSize(t *testing.T) {
	n := &Node{}
	// 150 slow visits, then 100 fast ones: only the fast ones remain,
	// and the oldest of those serves as the first predecessor.
	last := visits(n, time.Second, 50*time.Millisecond, 0, 0, 150)
	last = visits(n, last+time.Millisecond, time.Millisecond, time.Millisecond/2, 10, tokenLogSize)
	n.now = last
	tt := n.TokenTimes()
	want := TokenTimes{Tokens: tokenLogSize - 2, Rotation: time.Millisecond, Hold: time.Millisecond / 2, Backlog: 10}
	if tt != want {
		t.Fatalf("got %+v, want %+v", tt, want)
	}
	n.ClearTokenTimes()
	if tt := n.TokenTimes(); tt.Tokens != 0 || tt.SinceLast != n.now {
		t.Fatalf("after clear: %+v", tt)
	}
}

// A visit cut short (tx 0) counts with no hold instead of Corosync's
// wrapped-around difference.
func TestTokenTimesIncompleteVisit(t *testing.T) {
	n := &Node{}
	last := visits(n, time.Second, 10*time.Millisecond, 4*time.Millisecond, 0, 3)
	n.now = last + 10*time.Millisecond
	n.tokenReceived() // no tokenDone: FAILED TO RECEIVE left early
	tt := n.TokenTimes()
	if tt.Tokens != 3 || tt.Rotation != 10*time.Millisecond || tt.Hold != 8*time.Millisecond/3 {
		t.Fatalf("got %+v", tt)
	}
}

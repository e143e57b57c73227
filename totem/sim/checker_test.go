package sim

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/ringfence/ringfence/totem/srp"
	"github.com/ringfence/ringfence/totem/wire"
)

// The checker must catch each kind of violation; these tests feed it
// fabricated histories.

func payload(mid uint64) []byte {
	p := make([]byte, 8)
	binary.BigEndian.PutUint64(p, mid)
	return p
}

func ring(rep uint32, seq uint64) wire.RingID { return wire.RingID{Rep: rep, Seq: seq} }

func setup(nodes ...uint32) *Checker {
	c := NewChecker()
	for _, id := range nodes {
		c.nodeStarted(id, nil)
	}
	return c
}

func install(c *Checker, id uint32, r wire.RingID, trans, members []uint32) {
	c.conf(id, &srp.ConfChg{Type: srp.Transitional, RingID: r, Members: trans})
	c.conf(id, &srp.ConfChg{Type: srp.Regular, RingID: r, Members: members})
}

func wantViolation(t *testing.T, c *Checker, substr string) {
	t.Helper()
	if c.Err() == nil || !strings.Contains(c.Err().Error(), substr) {
		t.Fatalf("got %v, want a violation mentioning %q", c.Err(), substr)
	}
}

func TestCheckerCatchesDuplicates(t *testing.T) {
	c := setup(1)
	c.broadcast(1, 1, 7)
	d := &srp.Delivery{From: 1, Payload: payload(7), RingID: ring(1, 5), Seq: 1}
	c.deliver(1, d)
	c.deliver(1, &srp.Delivery{From: 1, Payload: payload(7), RingID: ring(1, 5), Seq: 2})
	wantViolation(t, c, "twice")
}

func TestCheckerCatchesMessagesFromNowhere(t *testing.T) {
	c := setup(1, 2)
	c.broadcast(1, 1, 7)
	c.deliver(2, &srp.Delivery{From: 2, Payload: payload(7), RingID: ring(1, 5), Seq: 1})
	wantViolation(t, c, "never sent")
}

func TestCheckerCatchesOrderInversions(t *testing.T) {
	c := setup(1)
	c.broadcast(1, 1, 7)
	c.broadcast(1, 1, 8)
	c.deliver(1, &srp.Delivery{From: 1, Payload: payload(7), RingID: ring(1, 5), Seq: 2})
	c.deliver(1, &srp.Delivery{From: 1, Payload: payload(8), RingID: ring(1, 5), Seq: 1})
	wantViolation(t, c, "order")
}

func TestCheckerCatchesDisagreeingOrder(t *testing.T) {
	c := setup(1, 2)
	c.broadcast(1, 1, 7)
	c.broadcast(1, 1, 8)
	c.deliver(1, &srp.Delivery{From: 1, Payload: payload(7), RingID: ring(1, 5), Seq: 1})
	c.deliver(2, &srp.Delivery{From: 1, Payload: payload(8), RingID: ring(1, 5), Seq: 1})
	wantViolation(t, c, "agreed order")
}

func TestCheckerCatchesMembershipDisagreement(t *testing.T) {
	c := setup(1, 2)
	install(c, 1, ring(1, 5), []uint32{1}, []uint32{1, 2})
	install(c, 2, ring(1, 5), []uint32{2}, []uint32{2})
	wantViolation(t, c, "members")
}

func TestCheckerCatchesLossInsideAConfiguration(t *testing.T) {
	c := setup(1, 2)
	install(c, 1, ring(1, 5), []uint32{1}, []uint32{1, 2})
	install(c, 2, ring(1, 5), []uint32{2}, []uint32{1, 2})
	c.broadcast(1, 1, 7)
	c.deliver(1, &srp.Delivery{From: 1, Payload: payload(7), RingID: ring(1, 5), Seq: 1})
	install(c, 1, ring(1, 9), []uint32{1, 2}, []uint32{1, 2})
	install(c, 2, ring(1, 9), []uint32{1, 2}, []uint32{1, 2})
	wantViolation(t, c, "different messages")
}

func TestCheckerCatchesMissingSelfDelivery(t *testing.T) {
	s := New(1, []uint32{1}, SimTiming(1))
	c := s.Check
	c.nodeStarted(1, nil)
	c.broadcast(1, 1, 7)
	c.CheckFinal(s)
	wantViolation(t, c, "own message")
}

func TestCheckerAcceptsAConsistentHistory(t *testing.T) {
	c := setup(1, 2)
	install(c, 1, ring(1, 5), []uint32{1}, []uint32{1, 2})
	install(c, 2, ring(1, 5), []uint32{2}, []uint32{1, 2})
	c.broadcast(1, 1, 7)
	c.broadcast(2, 1, 8)
	for _, id := range []uint32{1, 2} {
		c.deliver(id, &srp.Delivery{From: 1, Payload: payload(7), RingID: ring(1, 5), Seq: 1})
		c.deliver(id, &srp.Delivery{From: 2, Payload: payload(8), RingID: ring(1, 5), Seq: 2})
		install(c, id, ring(1, 9), []uint32{1, 2}, []uint32{1, 2})
	}
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
}
